//! Runs every example program and checks its headline result (the numbers
//! `examples/README.md` reports). Each example also asserts its own result,
//! so a run that misses it exits with code 1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Runs `diffl run examples/NAME` and returns its standard output.
fn run_example(name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .arg("run")
        .arg(examples_dir().join(name))
        .env("NO_COLOR", "1")
        .output()
        .expect("diffl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The number after `label` on the line that starts with it.
fn number_after(output: &str, label: &str) -> f64 {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line starting with {label:?} in:\n{output}"));
    let rest = &line.trim_start()[label.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn backprop_prints_the_slides_numbers() {
    let out = run_example("backprop.dl");
    // (x + y) z at (-2, 5, -4): hand-derived.
    assert!(out.contains("df/dx = -4.0   df/dy = -4.0   df/dz = 3.0"), "{out}");
    // The sigmoid neuron: (1 - f) f = 0.19661193 at w.x + b = 1.
    assert!(
        out.contains("df/dw = [-0.19661194, -0.39322388, 0.19661194]"),
        "{out}"
    );
    assert!(out.contains("df/dx = [0.39322388, -0.5898358]"), "{out}");
    // The staged example at (3, -4): the values printed on the course's slide.
    assert!(
        (number_after(&out, "backward: df/dx =") - 2.0595698).abs() < 1e-6,
        "{out}"
    );
    // The Lagrangian program: the hand-written reverse sweep and grad agree.
    let by_hand = number_after(&out, "backward: cbar =");
    assert!(by_hand > 78.0 && by_hand < 79.0);
    assert!(
        out.contains("xbar = 555.97186") && out.contains("grad(program)(x) = 555.97186"),
        "{out}"
    );

    // The derivative of `staged` as diffl source.
    let src = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .args(["grad"])
        .arg(examples_dir().join("backprop.dl"))
        .args(["--fn", "staged"])
        .output()
        .expect("diffl runs");
    let text = String::from_utf8_lossy(&src.stdout);
    assert!(
        src.status.success() && text.contains("fn staged_grad(x, y)"),
        "{text}"
    );
}

#[test]
fn reinforce_learns_to_walk_the_corridor() {
    let out = run_example("reinforce.dl");
    let before = number_after(&out, "average return of the random policy:");
    let after = number_after(&out, "average return of the trained policy:");
    assert!(before < 0.0, "{out}");
    assert!(after > 0.6, "{out}");
}

#[test]
fn init_shows_vanishing_saturating_and_stable_signals() {
    let out = run_example("init.dl");
    let line = out
        .lines()
        .find(|l| l.starts_with("last-layer std:"))
        .unwrap_or_else(|| panic!("{out}"));
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [small, large, xavier, glorot] = numbers[..] else {
        panic!("{line}")
    };
    assert!(small < 1e-6, "{line}");
    assert!(large > 0.9, "{line}");
    assert!(xavier > 0.2 && glorot > 0.1, "{line}");
}

#[test]
fn descent_methods_on_the_quadratic() {
    let out = run_example("descent.dl");
    let line = out
        .lines()
        .find(|l| l.starts_with("iterations:"))
        .unwrap_or_else(|| panic!("{out}"));
    let counts: Vec<f64> = line
        .trim_start_matches("iterations: [")
        .trim_end_matches(']')
        .split(", ")
        .map(|w| w.parse().unwrap())
        .collect();
    // Newton solves a quadratic in one step; BFGS and CG beat steepest descent.
    assert_eq!(counts[2], 1.0, "{line}");
    assert!(
        counts[3] < counts[1] && counts[4] < counts[1] && counts[1] < counts[0],
        "{line}"
    );
    assert!(examples_dir().join("descent.svg").exists());
}

#[test]
fn descent_methods_on_rosenbrock() {
    let out = run_example("rosenbrock.dl");
    // Newton (method 2) reaches the minimum (1, 1) in a handful of steps.
    let newton = out
        .lines()
        .find(|l| l.starts_with("2 |"))
        .unwrap_or_else(|| panic!("{out}"));
    let k: usize = newton.split(" | ").nth(1).unwrap().trim().parse().unwrap();
    assert!(k < 20, "{newton}");
    assert!(examples_dir().join("rosenbrock.svg").exists());
}

#[test]
fn optimizers_all_lower_the_loss() {
    let out = run_example("optimizers.dl");
    let initial = number_after(&out, "initial loss");
    let adam = out
        .lines()
        .find(|l| l.starts_with("5 |"))
        .unwrap_or_else(|| panic!("{out}"));
    let final_adam: f64 = adam.split(" | ").nth(1).unwrap().trim().parse().unwrap();
    assert!(final_adam < 0.3 * initial, "{out}");
    assert!(examples_dir().join("optimizers.svg").exists());
}

#[test]
fn mlp_digits_reaches_97_percent() {
    let out = run_example("mlp_digits.dl");
    assert!(number_after(&out, "held-out accuracy:") >= 0.97, "{out}");
}

#[test]
fn cnn_digits_reaches_98_percent() {
    let out = run_example("cnn_digits.dl");
    assert!(number_after(&out, "held-out accuracy:") >= 0.98, "{out}");
}

#[test]
fn regularization_helps_on_held_out_digits() {
    let out = run_example("regularization.dl");
    let line = out
        .lines()
        .find(|l| l.starts_with("test accuracies:"))
        .unwrap_or_else(|| panic!("{out}"));
    let acc: Vec<f64> = line
        .trim_start_matches("test accuracies: [")
        .trim_end_matches(']')
        .split(", ")
        .map(|w| w.parse().unwrap())
        .collect();
    let best = acc[1..].iter().copied().fold(f64::MIN, f64::max);
    assert!(best > acc[0], "{line}");
}

#[test]
fn rnn_learns_the_adding_problem() {
    let out = run_example("rnn.dl");
    assert!(number_after(&out, "test error after training:") < 0.01, "{out}");
}

#[test]
fn vae_improves_the_elbo() {
    let out = run_example("vae.dl");
    let before = number_after(&out, "held-out ELBO per image before training:");
    let after = number_after(&out, "held-out ELBO per image after training:");
    assert!(after > before + 10.0, "{out}");
    // 3 rows of 10 images of 8x8 pixels, plus the background.
    let svg = std::fs::read_to_string(examples_dir().join("vae_digits.svg")).unwrap();
    assert_eq!(svg.matches("<rect").count(), 3 * 10 * 64 + 1);
}

#[test]
fn gan_covers_the_modes() {
    let out = run_example("gan.dl");
    assert!(number_after(&out, "modes covered:") >= 6.0, "{out}");
    let svg = std::fs::read_to_string(examples_dir().join("gan_samples.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 800);
}

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

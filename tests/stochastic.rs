//! Randomness and stochastic derivatives: runs the `test` blocks of every
//! `tests/stochastic/*.dl` program (REINFORCE unbiasedness through calls,
//! loops and closures; the baseline's variance reduction, measured and
//! printed; replay of draws when reverse mode recomputes; seeding).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

#[test]
fn stochastic_programs_pass_their_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stochastic");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/stochastic exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
            .arg("test")
            .arg(&f)
            .env("NO_COLOR", "1")
            .output()
            .expect("diffl runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Shown with `cargo test -- --nocapture`: the measured variances.
        println!("{stdout}");
        assert!(
            out.status.success() && stdout.contains(" 0 failed"),
            "{}:\n{stdout}\n{stderr}",
            f.display()
        );
    }
}

#[test]
fn a_run_repeats_with_the_same_seed_flag() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stochastic");
    let src = dir.join("seeded_run.dl");
    let run = |seed: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
            .args(["run", "--seed", seed])
            .arg(&src)
            .output()
            .expect("diffl runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(run("3"), run("3"));
    assert_ne!(run("3"), run("4"));
}

//! The standard library's own `test` blocks: every `stdlib/*.dl` module is
//! tested as a file (`diffl test stdlib/nn.dl`) and as built into the binary
//! (`diffl test --stdlib`), and every one of its tests must pass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn diffl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffl"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("diffl runs")
}

fn modules() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("stdlib/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    files
}

/// `(passed, failed)` from the summary line.
fn summary(stdout: &str) -> (usize, usize) {
    let last = stdout.lines().last().unwrap_or("");
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 2, "no summary line in:\n{stdout}");
    (nums[0], nums[1])
}

#[test]
fn every_module_has_passing_tests_as_a_file() {
    let files = modules();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["init", "nn", "optim", "descent", "prob"] {
        assert!(names.iter().any(|n| n == want), "stdlib/{want}.dl is missing");
    }
    let mut failures = Vec::new();
    for (file, name) in files.iter().zip(&names) {
        let rel = format!("stdlib/{name}.dl");
        let out = diffl(&["test", &rel]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (passed, failed) = summary(&stdout);
        if !out.status.success() || failed > 0 || passed == 0 {
            failures.push(format!(
                "{}: exit {:?}\n{stdout}{}",
                file.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn embedded_modules_are_tested_with_the_stdlib_flag() {
    let out = diffl(&["test", "--stdlib"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (passed, failed) = summary(&stdout);
    assert_eq!(failed, 0);
    // every module on disk is in the binary, and its tests ran
    for file in modules() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let tag = format!("test stdlib/{name}.dl :: ");
        assert!(stdout.contains(&tag), "no tests of {name} ran:\n{stdout}");
    }
    let oks = stdout.lines().filter(|l| l.ends_with("... ok")).count();
    assert_eq!(oks, passed);
}

#[test]
fn stdlib_flag_combines_with_files() {
    let out = diffl(&["test", "--stdlib", "tests/programs/aggregates.dl"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test tests/programs/aggregates.dl :: "),
        "{stdout}"
    );
    assert!(stdout.contains("test stdlib/optim.dl :: "), "{stdout}");
}

#[test]
fn test_needs_a_file_or_the_stdlib_flag() {
    let out = diffl(&["test"]);
    assert_eq!(out.status.code(), Some(2));
}

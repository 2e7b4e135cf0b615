//! Golden programs: every `tests/programs/*.dl` runs on the built `diffl`.
//! A program with a sibling `.out` file is run with `diffl run` and its
//! output must match exactly; any other program is run with `diffl test` and
//! all its tests must pass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn diffl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_diffl"))
}

fn programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/programs exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    files
}

#[test]
fn golden_programs_pass() {
    let files = programs();
    assert!(files.len() >= 5, "the golden programs are missing");
    let mut failures = Vec::new();
    for file in files {
        let expected = file.with_extension("out");
        if expected.exists() {
            let out = diffl()
                .arg("run")
                .arg(&file)
                .env("NO_COLOR", "1")
                .output()
                .expect("diffl runs");
            let want = std::fs::read_to_string(&expected).expect("readable .out");
            let got = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || got != want {
                failures.push(format!(
                    "{}: exit {:?}\n--- expected\n{want}--- got\n{got}--- stderr\n{}",
                    file.display(),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        } else {
            let out = diffl()
                .arg("test")
                .arg(&file)
                .env("NO_COLOR", "1")
                .output()
                .expect("diffl runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let last = stdout.lines().last().unwrap_or("");
            if !out.status.success() || !last.ends_with(" 0 failed") || last.starts_with("0 passed") {
                failures.push(format!(
                    "{}: exit {:?}\n{stdout}{}",
                    file.display(),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn examples_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for name in ["power_iteration.dl", "newton.dl"] {
        let out = diffl()
            .arg("run")
            .arg(dir.join(name))
            .arg("--f64")
            .output()
            .expect("diffl runs");
        assert!(
            out.status.success(),
            "{name} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn test_command_counts_failures() {
    let dir = std::env::temp_dir().join(format!("diffl-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("mixed.dl");
    std::fs::write(
        &file,
        "test \"good\" { assert(1 + 1 == 2, \"ok\"); }\ntest \"bad\" { assert_close(1.0, 2.0); }\n",
    )
    .expect("write");
    let out = diffl()
        .arg("test")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("diffl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.lines().last() == Some("1 passed, 1 failed"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("assert_close failed"));
    std::fs::remove_dir_all(&dir).ok();
}

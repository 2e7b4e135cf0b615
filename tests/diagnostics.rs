//! Snapshots of the rendered diagnostic for each kind of error: every
//! `tests/errors/*.dl` is run (`diffl run`, plain text) and its exit code and
//! report are compared with `tests/snapshots/`. Review changes with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

#[test]
fn error_reports() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/errors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    assert!(files.len() >= 20);
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
            .current_dir(&dir)
            .args(["run", &name])
            .env("NO_COLOR", "1")
            .output()
            .expect("diffl runs");
        assert_eq!(out.status.code(), Some(1), "{name} should fail with exit code 1");
        let report = format!(
            "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let snap = name.trim_end_matches(".dl").to_string();
        insta::assert_snapshot!(snap, report);
    }
}

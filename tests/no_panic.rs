//! No input makes diffl panic: every file under `tests/` and in the
//! conformance suite is run, checked and tested, and none may print a panic
//! or a Rust backtrace, or exit with anything but 0, 1 or 2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn dl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            dl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "dl") {
            out.push(p);
        }
    }
}

#[test]
fn nothing_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    dl_files(&root.join("tests"), &mut files);
    dl_files(&root.join("examples"), &mut files);
    dl_files(&root.join("../shared/conformance"), &mut files);
    assert!(files.len() > 10);
    for f in &files {
        for cmd in ["run", "check", "test"] {
            let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
                .arg(cmd)
                .arg(f)
                .arg("--timeout")
                .arg("60")
                .env("NO_COLOR", "1")
                .output();
            let out = match (cmd, out) {
                // `check` has no --timeout flag: run it without.
                ("check", _) => Command::new(env!("CARGO_BIN_EXE_diffl"))
                    .arg(cmd)
                    .arg(f)
                    .env("NO_COLOR", "1")
                    .output()
                    .expect("diffl runs"),
                (_, o) => o.expect("diffl runs"),
            };
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !text.contains("panicked")
                    && !text.contains("RUST_BACKTRACE")
                    && !text.contains("stack backtrace"),
                "`diffl {cmd} {}` panicked:\n{text}",
                f.display()
            );
            assert!(
                matches!(out.status.code(), Some(0..=2)),
                "`diffl {cmd} {}` exited with {:?}",
                f.display(),
                out.status
            );
        }
    }
}

//! `plot` and `progress` as a user sees them: run through the `diffl` binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rexpect::session::spawn_command;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("diffl-output-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(file: &Path, cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffl"))
        .arg("run")
        .arg(file)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("diffl runs")
}

#[test]
fn plot_writes_an_svg_next_to_the_program() {
    let dir = temp_dir("plot");
    let prog = dir.join("prog.dl");
    std::fs::write(
        &prog,
        "let mut f = 1.0;\nlet mut fs = [f];\nfor i in 0..20 { f = f * 0.5; fs = concat([fs, [f]]); }\n\
         plot(fs, path: \"out/loss.svg\", title: \"f against iteration\", log: true);\n\
         plot(linspace(0.0, 1.0, 21), [fs, 2.0 * fs], path: \"two.svg\");\nprint(\"done\");\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    // Run from another folder: the paths are relative to the program's.
    let elsewhere = temp_dir("plot-cwd");
    let out = run(&prog, &elsewhere);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    let svg = std::fs::read_to_string(dir.join("out/loss.svg")).unwrap();
    assert!(
        svg.contains("f against iteration") && svg.contains("y (log scale)"),
        "{svg}"
    );
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1, "one data line");
    let two = std::fs::read_to_string(dir.join("two.svg")).unwrap();
    assert!(two.contains("\nx\n</text>") && two.contains("series 2"), "{two}");
    assert_eq!(two.matches("stroke-width=\"2\"").count(), 2, "two data lines");
    assert!(!elsewhere.join("two.svg").exists());
}

#[test]
fn plot_errors_name_the_call() {
    let dir = temp_dir("plot-err");
    let cases = [
        ("plot([1.0, 2.0], [1.0]);", "has 2 x values but 1 y values"),
        ("plot([1.0, -1.0], log: true);", "needs positive values"),
        ("plot([1.0], path: \"missing/x.svg\");", "cannot write the plot"),
        ("plot([[1.0]], 2.0);", "`plot` needs a vector"),
    ];
    for (i, (src, want)) in cases.iter().enumerate() {
        let prog = dir.join(format!("e{i}.dl"));
        std::fs::write(&prog, format!("let u = 1;\n{src}\n")).unwrap();
        let out = run(&prog, &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{src}: {err}");
        assert!(err.contains(want), "{src}: {err}");
        // The report points at line 2, where the call is.
        assert!(err.contains(&format!("e{i}.dl:2:")), "{src}: {err}");
    }
}

const PROGRESS: &str = "let mut s = 0;\nfor i in progress(0..3) { s = s + i; }\n\
                        for i in progress(0..0) { s = s + 100; }\nprint(\"sum\", s);\n";

#[test]
fn progress_is_silent_when_not_on_a_terminal() {
    let dir = temp_dir("progress-pipe");
    let prog = dir.join("p.dl");
    std::fs::write(&prog, PROGRESS).unwrap();
    let out = run(&prog, &dir);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sum 3\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn progress_draws_a_bar_on_a_terminal() {
    let dir = temp_dir("progress-tty");
    let prog = dir.join("p.dl");
    std::fs::write(&prog, PROGRESS).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diffl"));
    cmd.arg("run").arg(&prog).env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(60_000)).unwrap();
    // The finished bar shows every step done, then the program's output.
    p.exp_string("3/3").unwrap();
    p.exp_string("sum 3").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn progress_outside_a_for_loop_is_an_error() {
    let dir = temp_dir("progress-err");
    let prog = dir.join("p.dl");
    std::fs::write(&prog, "let r = progress(0..3);\n").unwrap();
    let out = run(&prog, &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("`progress` can only be the iterable of a `for` loop"),
        "{err}"
    );
}

//! Drives `diffl repl` through a pseudo-terminal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rexpect::session::{PtySession, spawn_command};
use std::path::Path;
use std::process::Command;

const TIMEOUT_MS: u64 = 60_000;

fn start(history: &Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_diffl"));
    cmd.arg("repl")
        .env("NO_COLOR", "1")
        .env("DIFFL_HISTORY", history)
        .env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn diffl repl");
    p.exp_string("diffl> ").expect("first prompt");
    p
}

fn history_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("diffl-repl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn quit(mut p: PtySession) {
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn multi_line_definition_and_grad() {
    let mut p = start(&history_file("grad"));
    p.send_line("fn f(x, y) =").unwrap();
    p.send_line("x * y + sin(x);").unwrap();
    p.exp_string("diffl> ").unwrap();
    p.send_line(":grad f(3.0, -4.0)").unwrap();
    p.exp_string("x = -4.98999").unwrap();
    p.exp_string("y = 3").unwrap();
    p.send_line(":grad f(3.0, -4.0) wrt y").unwrap();
    p.exp_string("y = 3").unwrap();
    quit(p);
}

#[test]
fn recovers_from_an_error() {
    let mut p = start(&history_file("error"));
    p.send_line("let z = nosuch + 1;").unwrap();
    p.exp_string("unknown name `nosuch`").unwrap();
    p.exp_string("diffl> ").unwrap();
    p.send_line("1 + 2").unwrap();
    p.exp_regex(r"\r?\n3\r?\n").unwrap();
    quit(p);
}

#[test]
fn history_is_kept_between_sessions() {
    let h = history_file("history");
    let mut p = start(&h);
    p.send_line("let a = 41;").unwrap();
    p.exp_string("diffl> ").unwrap();
    quit(p);
    let text = std::fs::read_to_string(&h).unwrap();
    assert!(text.contains("let a = 41;"), "{text}");
    let mut p = start(&h);
    // Up recalls `:quit`, Up again `let a = 41;`.
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.exp_string(":quit").unwrap();
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.exp_string("let a = 41;").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("diffl> ").unwrap();
    p.send_line("a + 1").unwrap();
    let seen = p.exp_regex(r"\r?\n42\r?\n");
    assert!(seen.is_ok(), "{seen:?}");
    quit(p);
}

#[test]
fn type_and_help() {
    let mut p = start(&history_file("type"));
    p.send_line(":type [[1.0, 2.0]]").unwrap();
    p.exp_string("f32[1, 2]").unwrap();
    p.send_line(":help").unwrap();
    p.exp_string(":grad").unwrap();
    p.exp_string(":quit").unwrap();
    quit(p);
}

#[test]
fn ctrl_d_exits() {
    let mut p = start(&history_file("eof"));
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

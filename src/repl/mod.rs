//! `diffl repl`: the interactive prompt.
//!
//! - `session` keeps the definitions and statements entered so far and
//!   evaluates new input against them;
//! - `commands` parses and runs the `:` commands (`:grad`, `:type`, …);
//! - `helper` is the line editor's helper: multi-line input while brackets
//!   are open, Tab completion and syntax highlighting.
//!
//! History is kept in `$DIFFL_HISTORY`, or `~/.diffl_history`. Ctrl-C at the
//! prompt clears the line; during an evaluation it stops the interpreter with
//! an "interrupted" error and the prompt returns. Ctrl-D or `:quit` exits.

pub mod commands;
pub mod helper;
pub mod session;

use crate::ir::DType;
use crate::pipeline::Options;
use helper::ReplHelper;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use session::Session;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;

const PROMPT: &str = "diffl> ";

/// The history file: `$DIFFL_HISTORY`, else `.diffl_history` in the home directory.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DIFFL_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".diffl_history"))
}

/// Runs the REPL until `:quit` or end of input; returns the exit code.
pub fn main(f64: bool) -> i32 {
    let no_color = std::env::var_os("NO_COLOR").is_some();
    let opts = Options {
        default_float: if f64 { DType::F64 } else { DType::F32 },
    };
    let mut session = Session::new(opts, !no_color && std::io::stderr().is_terminal());
    let flag = session.interrupt.clone();
    // Ctrl-C while the prompt is shown arrives as a key (the terminal is in raw
    // mode); during an evaluation it is a signal, which stops the interpreter.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let config = Config::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map(|b| b.build());
    let config = config.unwrap_or_default();
    let mut rl: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    let names = Rc::new(RefCell::new(Vec::new()));
    rl.set_helper(Some(ReplHelper {
        names: names.clone(),
        color: !no_color && std::io::stdout().is_terminal(),
    }));
    let history = history_path();
    if let Some(p) = &history {
        let _ = rl.load_history(p);
    }
    println!(
        "diffl {} repl: `:help` lists the commands, Ctrl-D quits",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match rl.readline(PROMPT) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line.as_str());
                if let Some(p) = &history {
                    let _ = rl.save_history(p);
                }
                if line.trim_start().starts_with(':') {
                    match commands::parse(&line) {
                        Ok(cmd) => {
                            if let commands::Flow::Quit = commands::run(&mut session, cmd) {
                                break;
                            }
                        }
                        Err(e) => eprintln!("error: {e}"),
                    }
                } else {
                    match session.eval(&line, "<repl>") {
                        Ok(Some(v)) => println!("{v}"),
                        Ok(None) => {}
                        Err(e) => eprint!("{e}"),
                    }
                }
                let _ = std::io::stdout().flush();
                *names.borrow_mut() = session.names();
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    if let Some(p) = &history {
        let _ = rl.save_history(p);
    }
    0
}

//! The command line: `diffl run | check | test | ir | grad | repl`. Parses arguments with
//! clap, reads files, runs the pipeline and renders diagnostics. Exit codes:
//! 0 success, 1 a program error, 2 a usage error.

mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "diffl",
    version,
    about = "diffl: a differentiable-programming language"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The reference interpreter.
    Interp,
    /// The interpreter, calling native code (Cranelift) for the functions it can compile.
    Jit,
    /// CUDA (not in this version).
    Cuda,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunOptions {
    /// The backend that executes the program (default: jit).
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Print the JIT's compile time per specialization and the run time to stderr.
    #[arg(long)]
    pub timings: bool,
    /// Make f64 the default float type.
    #[arg(long)]
    pub f64: bool,
    /// Stop with an error when the run takes longer than this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub timeout: Option<f64>,
}

/// A `--timeout`: a number of seconds, zero or more (`inf` for none).
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s >= 0.0 => Ok(s),
        _ => Err(format!("`{text}` is not a number of seconds (zero or more)")),
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a program.
    Run {
        file: PathBuf,
        #[command(flatten)]
        opts: RunOptions,
        /// The random seed the generator starts from (0 when not given), as `seed(n)` sets it.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Parse and check a program without running it; report every error found.
    Check {
        file: PathBuf,
        #[arg(long)]
        f64: bool,
    },
    /// Run the `test` blocks of one or more files.
    Test {
        #[arg(required_unless_present = "stdlib")]
        files: Vec<PathBuf>,
        /// Also run the tests of every standard-library module built into diffl.
        #[arg(long)]
        stdlib: bool,
        #[command(flatten)]
        opts: RunOptions,
    },
    /// Print the SSA IR of a function.
    Ir {
        file: PathBuf,
        /// The function's name (`fact`, or `nn.dense` for a module's function).
        #[arg(long = "fn", value_name = "NAME")]
        func: String,
        /// Print its derivative IR instead: the vjp with respect to every parameter.
        #[arg(long)]
        grad: bool,
        /// Print its specializations reached from the main body and the tests,
        /// and the derivatives the program takes of them, as optimized.
        #[arg(long)]
        specialized: bool,
        #[arg(long)]
        f64: bool,
    },
    /// Print the derivative of a function as readable diffl source.
    Grad {
        file: PathBuf,
        /// The function's name; its parameters must be float scalars.
        #[arg(long = "fn", value_name = "NAME")]
        func: String,
        /// Make f64 the default float type.
        #[arg(long)]
        f64: bool,
    },
    /// Start the interactive prompt.
    Repl {
        /// Make f64 the default float type.
        #[arg(long)]
        f64: bool,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main_with_args(cli: Cli) -> i32 {
    match cli.command {
        Command::Run { file, opts, seed } => commands::run(&file, &opts, seed),
        Command::Check { file, f64 } => commands::check(&file, f64),
        Command::Test { files, stdlib, opts } => commands::test(&files, stdlib, &opts),
        Command::Ir {
            file,
            func,
            grad,
            specialized,
            f64,
        } => commands::ir(&file, &func, grad, specialized, f64),
        Command::Grad { file, func, f64 } => commands::grad(&file, &func, f64),
        Command::Repl { f64 } => crate::repl::main(f64),
    }
}

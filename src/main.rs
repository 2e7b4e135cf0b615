//! The `diffl` command: see `diffl --help`.
use clap::Parser;

fn main() {
    let cli = diffl::cli::Cli::parse();
    std::process::exit(diffl::cli::main_with_args(cli));
}

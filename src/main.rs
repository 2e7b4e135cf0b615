//! The `diffl` command: see `diffl --help`.
use clap::Parser;

mod allocator;

#[global_allocator]
static GLOBAL: allocator::Mimalloc = allocator::Mimalloc;

fn main() {
    allocator::configure();
    let cli = diffl::cli::Cli::parse();
    std::process::exit(diffl::cli::main_with_args(cli));
}

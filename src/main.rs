//! The `diffl` command: see `diffl --help`.
use clap::Parser;

/// mimalloc keeps freed pages for reuse: a tensor program frees and
/// allocates buffers of the same sizes every iteration, and the system
/// allocator returned large ones to the kernel each time (page faults and
/// zeroing in every step).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = diffl::cli::Cli::parse();
    std::process::exit(diffl::cli::main_with_args(cli));
}

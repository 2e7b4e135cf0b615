//! The `diffl` command: see `diffl --help`.
use clap::Parser;

/// mimalloc keeps freed pages for reuse: a tensor program frees and
/// allocates buffers of the same sizes every iteration, and the system
/// allocator returned large ones to the kernel each time (page faults and
/// zeroing in every step).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option number for the delay before freed memory goes back to
/// the kernel (`mi_option_purge_delay` in its `mimalloc.h`).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Never: the next iteration of a loop needs the same buffers again.
    // SAFETY: sets a process-wide option of the allocator; it takes any value.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
    let cli = diffl::cli::Cli::parse();
    std::process::exit(diffl::cli::main_with_args(cli));
}

//! The binary's allocator: mimalloc, called through its plain entry points
//! where the alignment allows.
//!
//! mimalloc keeps freed pages for reuse: a tensor program frees and
//! allocates buffers of the same sizes every iteration, and the system
//! allocator returned large ones to the kernel each time (page faults and
//! zeroing in every step). The `mimalloc` crate's allocator calls the
//! aligned entry points for every request; `mi_zalloc_aligned` takes a slow,
//! over-allocating path even for an alignment of 8, and the interpreter
//! allocates small tensors at a high rate. `mi_malloc` already guarantees
//! [`MAX_PLAIN_ALIGN`], so only larger alignments need the aligned calls.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment `mi_malloc` gives every block (`MI_MAX_ALIGN_SIZE`).
const MAX_PLAIN_ALIGN: usize = 16;

/// mimalloc's option number for the delay before freed memory goes back to
/// the kernel (`mi_option_purge_delay` in its `mimalloc.h`).
const PURGE_DELAY: mi::mi_option_t = 15;

pub struct Mimalloc;

// SAFETY: every method forwards to mimalloc with a size and alignment it
// honours; blocks from either family of calls are freed by `mi_free`.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain calls for alignments mimalloc always meets.
        unsafe {
            if layout.align() <= MAX_PLAIN_ALIGN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if layout.align() <= MAX_PLAIN_ALIGN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe {
            if layout.align() <= MAX_PLAIN_ALIGN {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Sets mimalloc's options; call first thing in `main`.
pub fn configure() {
    // Never purge: the next iteration of a loop needs the same buffers again.
    // SAFETY: sets a process-wide option of the allocator; it takes any value.
    unsafe { mi::mi_option_set(PURGE_DELAY, -1) };
}

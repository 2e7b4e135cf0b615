//! Buffer reuse, seen from outside: a counting allocator records every
//! allocation of at least 1 MiB while programs run in the interpreter. A loop
//! that updates a large tensor must reuse its buffer (a few allocations in
//! all, not several per iteration), growing a tensor with `concat` must not
//! copy it whole every time, and reading rows by index must not copy the
//! tensor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use diffl::backend::interp::Interp;
use diffl::pipeline::{self, Options};
use diffl::syntax::{SourceMap, Span};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const BIG: usize = 1 << 20;

struct Counting;

static BIG_ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= BIG {
            BIG_ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= BIG {
            BIG_ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Tests run one at a time so that their counts do not mix.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `src` and returns its output and the number of big allocations
/// made while it ran (compiling excluded).
fn big_allocs(src: &str) -> (String, usize) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut sources = SourceMap::new();
    let main = sources.add("t.dl", None, src);
    let (program, diags) = pipeline::front_end(&mut sources, main);
    assert!(diags.is_empty(), "{diags:?}");
    let spec = pipeline::specialize(&program, &[program.main.unwrap()], Options::default());
    let f = spec.entries[0].clone().unwrap();
    let mut out = Vec::new();
    let before = BIG_ALLOCS.load(Ordering::SeqCst);
    Interp::new(&spec.program, &mut out)
        .call(f, Vec::new(), Span::default())
        .unwrap();
    let n = BIG_ALLOCS.load(Ordering::SeqCst) - before;
    (String::from_utf8(out).unwrap(), n)
}

#[test]
fn updates_in_a_loop_reuse_the_buffer() {
    // 400 000 f32 = 1.6 MB per tensor; 100 iterations of four elementwise
    // ops would allocate 400 buffers without reuse.
    let (out, n) = big_allocs(
        "let mut x = zeros([400000]);\n\
         for i in 0..100 { x = x * 0.5 + 1.0; x = relu(x - 0.25); }\n\
         print(max(x) < 2.0, min(x) > 1.0);",
    );
    assert_eq!(out, "true true\n");
    assert!(n <= 3, "{n} big allocations");
}

#[test]
fn updates_through_calls_and_records_reuse_the_buffer() {
    let (out, n) = big_allocs(
        "struct P { w, b }\n\
         fn step(p) = P { w: p.w * 0.5 + 1.0, b: p.b + 1.0 };\n\
         let mut p = P { w: zeros([400000]), b: 0.0 };\n\
         for i in 0..100 { p = step(p); }\n\
         print(p.b, min(p.w) > 1.9);",
    );
    assert_eq!(out, "100.0 true\n");
    assert!(n <= 3, "{n} big allocations");
}

#[test]
fn growing_with_concat_is_not_quadratic() {
    // 3000 rows of 100 f32: the result is 1.2 MB. Copying it whole on every
    // step would make over 400 big allocations; appending makes a few.
    let (out, n) = big_allocs(
        "let mut acc = zeros([0, 100]);\n\
         for i in 0..3000 { acc = concat([acc, ones([1, 100]) * float(i)]); }\n\
         print(shape(acc), acc[2999, 0]);",
    );
    assert_eq!(out, "(3000, 100) 2999.0\n");
    assert!(n <= 6, "{n} big allocations");
}

#[test]
fn reading_rows_does_not_copy_the_tensor() {
    let (out, n) = big_allocs(
        "let x = ones([2000, 300]);\n\
         let mut s = 0.0;\n\
         for i in 0..2000 { s = s + sum(x[i]); }\n\
         for row in x { s = s + row[0]; }\n\
         print(s);",
    );
    assert_eq!(out, "602000.0\n");
    // Only `ones` itself is big.
    assert!(n <= 1, "{n} big allocations");
}

#[test]
fn index_adjoints_accumulated_in_a_loop_do_not_copy_the_tensor() {
    // x has 300000 f32 (1.2 MB). Reverse mode adds the adjoint of each
    // `x[i]` into the adjoint of `x`; a full-size zero tensor per iteration
    // would make over 500 big allocations. Hand-derived: d/dx_i of
    // sum_i (x_i * x_i + sin(x_i)) over the first 600 is 2 x_i + cos(x_i),
    // with x_i = 1: 2 + cos(1) = 2.5403023.
    let (out, n) = big_allocs(
        "fn f(x) { let mut s = 0.0; for i in 0..600 { s = s + x[i] * x[i] + sin(x[i]); } s }\n\
         let g = grad(f)(ones([300000]));\n\
         print(g[0], g[599], g[600], sum(g) == 600.0 * g[0]);",
    );
    assert_eq!(out, "2.5403023 2.5403023 0.0 true\n");
    assert!(n <= 6, "{n} big allocations");
}

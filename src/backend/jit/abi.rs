//! The contract between compiled code and Rust.
//!
//! - Every compiled function takes a pointer to a [`Ctx`] first, then its
//!   parameters' slots, and returns a status (`i8`, 0 = ok) followed by its
//!   result's slots. A non-zero status means an error is recorded in the
//!   `Ctx` (a code, the index of the [`Site`] that failed, a payload); every
//!   caller passes it up unchanged, so it returns to Rust, which reports it
//!   with the site's span exactly as the interpreter would.
//! - The host enters through a wrapper per function with one fixed signature,
//!   [`EntryFn`]: arguments and results are arrays of `u64` slots.
//! - Math the machine has no instruction for (`exp`, `sin`, `pow`, …) calls
//!   the `extern "C"` helpers below, which run the very functions the
//!   interpreter's kernels use, so both backends round alike.

use super::list_runtime::{Lists, diffl_list_mark, diffl_list_new, diffl_list_push, diffl_list_release};
use crate::backend::interp::{self, RunError};
use crate::runtime::{KernelError, Real};
use crate::syntax::{Span, Symbol};
use cranelift_codegen::ir::types::{self, Type};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The state compiled code shares with Rust during one entry.
#[repr(C)]
pub struct Ctx<'a> {
    /// The number of active calls (interpreted and compiled).
    pub depth: i64,
    /// Calls and loop iterations so far; every 1024th polls [`diffl_poll`].
    pub ticks: i64,
    pub err_code: i64,
    pub err_site: i64,
    pub err_payload: i64,
    /// The length of the list a failed read indexed (with `LIST_INDEX`).
    pub err_len: i64,
    deadline: Option<(Instant, f64)>,
    interrupt: Option<&'a AtomicBool>,
    /// The buffers of the lists alive in this entry, by handle (see `list`).
    pub lists: Lists,
}

/// Byte offsets of the fields compiled code reads and writes.
pub mod offset {
    use super::Ctx;
    pub const DEPTH: i32 = std::mem::offset_of!(Ctx, depth) as i32;
    pub const TICKS: i32 = std::mem::offset_of!(Ctx, ticks) as i32;
    pub const ERR_CODE: i32 = std::mem::offset_of!(Ctx, err_code) as i32;
    pub const ERR_SITE: i32 = std::mem::offset_of!(Ctx, err_site) as i32;
    pub const ERR_PAYLOAD: i32 = std::mem::offset_of!(Ctx, err_payload) as i32;
    pub const ERR_LEN: i32 = std::mem::offset_of!(Ctx, err_len) as i32;
    /// The pointer to the list buffers, the first field of `Lists`.
    pub const LISTS: i32 = std::mem::offset_of!(Ctx, lists) as i32;
}

/// Error codes in [`Ctx::err_code`].
pub mod code {
    /// Integer `/` or `%` by zero.
    pub const DIV_ZERO: i64 = 1;
    /// Integer `**` with a negative exponent (the payload).
    pub const NEG_EXPONENT: i64 = 2;
    /// A call nested deeper than the interpreter's limit.
    pub const DEPTH: i64 = 3;
    pub const TIMEOUT: i64 = 4;
    pub const INTERRUPTED: i64 = 5;
    /// A push to a list handle that does not exist (an internal error:
    /// derivative code only pushes to lists it made).
    pub const LIST: i64 = 6;
    /// A list read out of range; the index is the payload, the length `err_len`.
    pub const LIST_INDEX: i64 = 7;
}

impl<'a> Ctx<'a> {
    pub fn new(env: &crate::backend::CallEnv<'a>) -> Ctx<'a> {
        Ctx {
            depth: env.depth as i64,
            ticks: 0,
            err_code: 0,
            err_site: 0,
            err_payload: 0,
            err_len: 0,
            deadline: env.deadline,
            interrupt: env.interrupt,
            lists: Lists::default(),
        }
    }
}

/// A place in the source where compiled code can fail.
#[derive(Clone, Debug)]
pub struct Site {
    pub span: Span,
    /// The function called there, for call sites.
    pub callee: Option<Symbol>,
}

/// The diagnostic for the error recorded in `ctx`, worded as the interpreter words it.
pub fn error_of(ctx: &Ctx, sites: &[Site]) -> RunError {
    let site = usize::try_from(ctx.err_site).ok().and_then(|i| sites.get(i));
    let span = site.map(|s| s.span).unwrap_or_default();
    let kernel = |e| interp::kernel_error(e, span);
    match ctx.err_code {
        code::DIV_ZERO => kernel(KernelError::IntDivisionByZero),
        code::NEG_EXPONENT => kernel(KernelError::NegativeIntExponent {
            exponent: ctx.err_payload,
        }),
        code::DEPTH => {
            let name = site.and_then(|s| s.callee).map(|c| c.as_str()).unwrap_or("?");
            interp::depth_error(span, name)
        }
        code::TIMEOUT => interp::timeout_error(span, ctx.deadline.map(|(_, s)| s).unwrap_or(0.0)),
        code::INTERRUPTED => interp::interrupted_error(span),
        code::LIST => crate::diag::Diagnostic::internal(span, "list index out of range"),
        code::LIST_INDEX => interp::list_index_error(span, ctx.err_payload, ctx.err_len),
        c => crate::diag::Diagnostic::internal(span, format!("compiled code failed with code {c}")),
    }
}

/// The host's way into a compiled function: `(ctx, args, results) -> status`.
pub type EntryFn = unsafe extern "C" fn(*mut Ctx, *const u64, *mut u64) -> i64;

/// Checks the deadline and the interrupt flag; records an error and returns 1
/// when the run must stop.
extern "C" fn diffl_poll(ctx: *mut Ctx, site: i64) -> i8 {
    // SAFETY: compiled code passes the `Ctx` it was entered with, which the
    // host keeps alive and does not touch while the code runs.
    let Some(ctx) = (unsafe { ctx.as_mut() }) else {
        return 0;
    };
    let stop = if ctx.interrupt.is_some_and(|f| f.load(Ordering::Relaxed)) {
        code::INTERRUPTED
    } else if ctx.deadline.is_some_and(|(d, _)| Instant::now() > d) {
        code::TIMEOUT
    } else {
        return 0;
    };
    ctx.err_code = stop;
    ctx.err_site = site;
    1
}

extern "C" fn diffl_ipow(base: i64, exp: i64) -> i64 {
    crate::runtime::int_pow(base, exp)
}

macro_rules! float_helpers {
    ($t:ty, $exp:ident, $ln:ident, $sin:ident, $cos:ident, $tan:ident, $tanh:ident, $sigmoid:ident,
     $round:ident, $pow:ident, $rem:ident) => {
        extern "C" fn $exp(x: $t) -> $t {
            Real::exp(x)
        }
        extern "C" fn $ln(x: $t) -> $t {
            Real::ln(x)
        }
        extern "C" fn $sin(x: $t) -> $t {
            Real::sin(x)
        }
        extern "C" fn $cos(x: $t) -> $t {
            Real::cos(x)
        }
        extern "C" fn $tan(x: $t) -> $t {
            Real::tan(x)
        }
        extern "C" fn $tanh(x: $t) -> $t {
            Real::tanh(x)
        }
        extern "C" fn $sigmoid(x: $t) -> $t {
            crate::runtime::sigmoid(x)
        }
        extern "C" fn $round(x: $t) -> $t {
            Real::round(x)
        }
        extern "C" fn $pow(x: $t, y: $t) -> $t {
            Real::powf(x, y)
        }
        extern "C" fn $rem(x: $t, y: $t) -> $t {
            x % y
        }
    };
}

float_helpers!(
    f32,
    diffl_exp_f32,
    diffl_ln_f32,
    diffl_sin_f32,
    diffl_cos_f32,
    diffl_tan_f32,
    diffl_tanh_f32,
    diffl_sigmoid_f32,
    diffl_round_f32,
    diffl_pow_f32,
    diffl_rem_f32
);
float_helpers!(
    f64,
    diffl_exp_f64,
    diffl_ln_f64,
    diffl_sin_f64,
    diffl_cos_f64,
    diffl_tan_f64,
    diffl_tanh_f64,
    diffl_sigmoid_f64,
    diffl_round_f64,
    diffl_pow_f64,
    diffl_rem_f64
);

/// A Rust function compiled code may call.
pub struct Helper {
    pub name: &'static str,
    pub addr: *const u8,
    pub params: &'static [Type],
    pub returns: &'static [Type],
}

/// Every helper, to declare in the module and register with the linker.
pub fn helpers() -> Vec<Helper> {
    use types::{F32, F64, I8, I64};
    let h = |name, addr: *const u8, params, returns| Helper {
        name,
        addr,
        params,
        returns,
    };
    type U32 = extern "C" fn(f32) -> f32;
    type U64 = extern "C" fn(f64) -> f64;
    type B32 = extern "C" fn(f32, f32) -> f32;
    type B64 = extern "C" fn(f64, f64) -> f64;
    let u32s: [(&'static str, U32); 8] = [
        ("diffl_exp_f32", diffl_exp_f32),
        ("diffl_ln_f32", diffl_ln_f32),
        ("diffl_sin_f32", diffl_sin_f32),
        ("diffl_cos_f32", diffl_cos_f32),
        ("diffl_tan_f32", diffl_tan_f32),
        ("diffl_tanh_f32", diffl_tanh_f32),
        ("diffl_sigmoid_f32", diffl_sigmoid_f32),
        ("diffl_round_f32", diffl_round_f32),
    ];
    let u64s: [(&'static str, U64); 8] = [
        ("diffl_exp_f64", diffl_exp_f64),
        ("diffl_ln_f64", diffl_ln_f64),
        ("diffl_sin_f64", diffl_sin_f64),
        ("diffl_cos_f64", diffl_cos_f64),
        ("diffl_tan_f64", diffl_tan_f64),
        ("diffl_tanh_f64", diffl_tanh_f64),
        ("diffl_sigmoid_f64", diffl_sigmoid_f64),
        ("diffl_round_f64", diffl_round_f64),
    ];
    let b32s: [(&'static str, B32); 2] = [("diffl_pow_f32", diffl_pow_f32), ("diffl_rem_f32", diffl_rem_f32)];
    let b64s: [(&'static str, B64); 2] = [("diffl_pow_f64", diffl_pow_f64), ("diffl_rem_f64", diffl_rem_f64)];
    let mut out = Vec::new();
    out.extend(
        u32s.iter()
            .map(|&(n, f)| h(n, f as *const u8, &[F32][..], &[F32][..])),
    );
    out.extend(
        u64s.iter()
            .map(|&(n, f)| h(n, f as *const u8, &[F64][..], &[F64][..])),
    );
    out.extend(
        b32s.iter()
            .map(|&(n, f)| h(n, f as *const u8, &[F32, F32][..], &[F32][..])),
    );
    out.extend(
        b64s.iter()
            .map(|&(n, f)| h(n, f as *const u8, &[F64, F64][..], &[F64][..])),
    );
    let ipow: extern "C" fn(i64, i64) -> i64 = diffl_ipow;
    out.push(h("diffl_ipow", ipow as *const u8, &[I64, I64], &[I64]));
    let poll: extern "C" fn(*mut Ctx, i64) -> i8 = diffl_poll;
    out.push(h("diffl_poll", poll as *const u8, &[I64, I64], &[I8]));
    let mark: extern "C" fn(*mut Ctx) -> i64 = diffl_list_mark;
    out.push(h("diffl_list_mark", mark as *const u8, &[I64], &[I64]));
    let release: extern "C" fn(*mut Ctx, i64) = diffl_list_release;
    out.push(h("diffl_list_release", release as *const u8, &[I64, I64], &[]));
    let new: extern "C" fn(*mut Ctx) -> i64 = diffl_list_new;
    out.push(h("diffl_list_new", new as *const u8, &[I64], &[I64]));
    let push: extern "C" fn(*mut Ctx, i64, i64, i64, *const u64) -> i64 = diffl_list_push;
    out.push(h("diffl_list_push", push as *const u8, &[I64; 5], &[I64]));
    out
}

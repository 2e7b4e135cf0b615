//! Backends that execute specialized IR.
//!
//! The interpreter (`interp`) defines the semantics. The JIT (`jit`) compiles
//! the functions it can to native code; the interpreter runs the rest and
//! calls compiled functions through [`Native`] (mixed mode).

pub mod interp;
pub mod jit;
pub mod staged;

use crate::ir::FuncId;
use interp::{RunError, Val};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What a call into compiled code takes over from the interpreter that makes it.
pub struct CallEnv<'a> {
    /// The number of active calls, the callee's own included.
    pub depth: usize,
    /// When the run must stop, and the timeout in seconds (for the message).
    pub deadline: Option<(Instant, f64)>,
    /// Set when the run must stop (Ctrl-C in the REPL).
    pub interrupt: Option<&'a AtomicBool>,
}

/// Compiled functions the interpreter calls instead of interpreting them.
pub trait Native {
    /// Runs `f` on `args` if it is compiled; `None` when the interpreter must run it.
    fn call(&self, f: FuncId, args: &[Val], env: &CallEnv) -> Option<Result<Val, RunError>>;

    /// A native loop for a fused group (`runtime::fused::FusedKernel::new`'s
    /// arguments, and which inputs are rank 0), or `None` when the
    /// interpreter runs it step by step.
    fn compile_fused(
        &self,
        _dtype: crate::runtime::DType,
        _input_bools: &[bool],
        _input_scalars: &[bool],
        _steps: &[crate::runtime::fused::FusedStep],
        _outputs: &[usize],
    ) -> Option<crate::runtime::fused::NativeLoop> {
        None
    }
}

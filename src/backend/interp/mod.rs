//! The reference interpreter: executes specialized IR directly on runtime
//! tensors. It defines the semantics the other backends are tested against.
//!
//! Each call gets a frame of values indexed by SSA value; structured control
//! flow is executed by recursion over blocks. Errors carry the span of the
//! instruction that failed. Recursion is limited in depth (an error, never a
//! stack overflow), and an optional deadline stops runaway programs.

mod eval;
mod prims;
mod value;

pub use eval::{Interp, MAX_DEPTH, RunError, depth_error, interrupted_error, kernel_error, timeout_error};
pub use value::Val;

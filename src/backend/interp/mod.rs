//! The reference interpreter: executes specialized IR directly on runtime
//! tensors. It defines the semantics the other backends are tested against.
//!
//! Each call gets a frame of values indexed by SSA value; structured control
//! flow is executed by recursion over blocks. Errors carry the span of the
//! instruction that failed. Recursion is limited in depth (an error, never a
//! stack overflow), and an optional deadline stops runaway programs. A value
//! read for the last time is moved out of its frame (see `plan`), so kernels
//! can reuse a buffer that nothing else holds.

pub mod data;
mod eval;
mod fusion;
mod plan;
mod plot;
mod prims;
mod progress;
mod value;

pub use eval::{
    Interp, MAX_DEPTH, RunError, depth_error, interrupted_error, kernel_error, list_index_error,
    timeout_error,
};
pub use value::Val;

//! The SSA IR with structured control flow: data structures, the op table,
//! types, the textual form (printer and parser), the verifier, shape rules,
//! specialization, and the cutting of entry points into stages.

pub mod builtin;
pub mod func;
pub mod op;
pub mod types;

pub use builtin::Builtin;
pub use func::*;
pub use op::{BinaryOp, IndexItem, Prim, RandomOp, ReduceOp, UnaryOp};
pub use types::{DType, DerivKind, Dim, FnTy, Shape, TensorTy, Ty};
pub mod parse;
pub mod print;
pub mod shapes;
pub mod specialize;
pub mod stage;
pub mod verify;

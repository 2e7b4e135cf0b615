//! The Cranelift JIT backend, in mixed mode with the interpreter.
//!
//! A specialized function whose values are all scalars (`f32`, `f64`, `int`,
//! `bool`), tuples, records and closures of them, or lists of those made and
//! consumed inside the function (loop tapes), and whose instructions are
//! scalar prims, structured control flow and direct calls of other such
//! functions, is compiled to native code (`select` draws that boundary). The
//! interpreter runs everything else and calls compiled functions through
//! [`crate::backend::Native`]; compiled code never calls the interpreter.
//!
//! - `layout`: values as flat sequences of machine scalars, host and native side;
//! - `select`: which functions are compiled, and why the others are not;
//! - `lower`: the walk over a function's instructions, calls and checks;
//! - `scalar`: prims on scalars, bit for bit as the interpreter's kernels;
//! - `control`: `if`, `for` and `while` as blocks with parameters;
//! - `fused`: the interpreter's fused groups of arithmetic as native loops;
//! - `list`: lists (loop tapes) as growable buffers owned by the context;
//! - `list_runtime`: the Rust side of lists: buffers, helpers, spare memory;
//! - `abi`: the context, error codes and Rust helpers compiled code calls;
//! - `module`: the compiled module, its entries and compile-time report.

mod abi;
mod control;
mod fused;
mod layout;
mod list;
mod list_runtime;
mod lower;
mod module;
mod scalar;
mod select;

pub use module::{Jit, Report};

#[cfg(test)]
mod tests;

//! The runtime: tensors and the reference kernels the interpreter calls.
//!
//! Every kernel takes tensors whose dtypes and (static) shapes the compiler has
//! checked, re-checks whatever depends on run-time values (sizes, indices,
//! broadcasting of run-time shapes), and returns a [`KResult`]: a kernel never
//! panics on any input. One module per family of kernels:
//! - `tensor`: the [`Tensor`] value and its conversions;
//! - `error`: [`KernelError`], with all wording in `message` and `help`;
//! - `broadcast`: NumPy broadcasting of shapes and buffers;
//! - `elementwise`: [`unary`], [`binary`], [`where_`], [`clip`], [`cast`], and
//!   the `*_owned` forms that write into an operand's unshared buffer;
//! - `matmul`: [`matmul`] (gemm for floats), [`matmul_transposed`];
//! - `reduce`: [`reduce`];
//! - `index`: [`index`];
//! - `construct`: [`full`], [`arange`], [`linspace`], [`eye`], [`stack`],
//!   [`max_close_violation`];
//! - `shape_ops`: [`reshape`], [`concat`] (and [`concat_owned`], which appends
//!   in place), [`take`], [`take_grad`];
//! - `linalg`: [`solve`], [`det`], [`cholesky`];
//! - `random`: the counter-based generator [`Rng`] and the score functions
//!   of its discrete samples;
//! - `conv`: [`conv2d`] and its transposes (im2col and gemm);
//! - `pool`: [`max_pool2d`], [`avg_pool2d`] and their adjoint helpers;
//! - `batches`: [`batches`] (minibatches of rows);
//! - `files`: CSV, NumPy `.npy` and checkpoint files (the only I/O);
//! - `format`: `Display` for tensors.

mod adjoint_ops;
mod batches;
mod broadcast;
mod construct;
mod conv;
mod elementwise;
mod error;
pub mod files;
mod format;
pub mod fused;
mod index;
mod linalg;
mod matmul;
mod parallel;
mod pool;
mod random;
mod reduce;
mod shape_ops;
mod tensor;
pub(crate) mod vmath;

pub use crate::ir::op::IndexItem;
pub use crate::ir::types::DType;
pub use adjoint_ops::{
    broadcast_like, expand_dims, extreme_mask, index_add, index_grad, index_grad_add, reshape_like, sum_like,
    transpose,
};
pub use batches::batches;
pub use broadcast::{broadcast_shapes, broadcast_to, ends_with_shape, same_shape};
pub use construct::{arange, eye, full, linspace, max_close_violation, stack};
pub use conv::{conv2d, conv2d_grad_input, conv2d_grad_weight};
pub use elementwise::{binary, binary_owned, cast, clip, unary, unary_owned, where_, where_owned};
/// Per-element functions the JIT's scalar code calls, so both backends round alike.
pub(crate) use elementwise::{int_pow, sigmoid, unary_element_fn};
pub use error::{KResult, KernelError};
pub use format::format_f64;
pub use index::{index, index_owned};
pub use linalg::{cholesky, det, solve};
pub use matmul::{matmul, matmul_transposed};
pub use pool::{avg_pool2d, max_pool2d, max_pool2d_mask, pool2d_spread};
pub use random::{Rng, score_bernoulli, score_categorical};
pub use reduce::reduce;
pub use shape_ops::{concat, concat_owned, reshape, resolve_shape, take, take_grad};
pub(crate) use tensor::Real;
pub use tensor::{Data, Tensor, checked_numel};

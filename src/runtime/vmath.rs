//! Vectorized transcendental functions over slices: `exp`, `log`, `sin`,
//! `cos` and `tanh` in f32 and f64, for whole-tensor kernels and for the
//! blocks of fused elementwise groups.
//!
//! This is the portable scalar form (each element through the standard
//! library); the vectorized kernels replace it behind the same interface.

use super::tensor::Real;
use crate::ir::op::UnaryOp;

/// Whether [`unary_in_place`] handles `op`.
pub(crate) fn is_vectorized(op: UnaryOp) -> bool {
    matches!(
        op,
        UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tanh
    )
}

/// Applies the float unary `op` to every element of `v` in place, when it
/// is one of the vectorized functions; returns false (and leaves `v` alone)
/// for any other op.
pub(crate) fn unary_in_place<T: Real>(op: UnaryOp, v: &mut [T]) -> bool {
    let f: fn(T) -> T = match op {
        UnaryOp::Exp => T::exp,
        UnaryOp::Log => T::ln,
        UnaryOp::Sin => T::sin,
        UnaryOp::Cos => T::cos,
        UnaryOp::Tanh => T::tanh,
        _ => return false,
    };
    v.iter_mut().for_each(|x| *x = f(*x));
    true
}

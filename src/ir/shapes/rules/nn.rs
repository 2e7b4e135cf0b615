//! Shape rules of the neural-network prims: `conv2d` and its two transposes,
//! `max_pool2d`, `avg_pool2d` and their derivative helpers.
//!
//! ```text
//! conv2d{stride=1,padding=0}(f32[2, 3, 8, 8], f32[4, 3, 3, 3]) -> f32[2, 4, 6, 6]
//! max_pool2d{2}(f32[2, 4, 7, 7])                              -> f32[2, 4, 3, 3]
//! ```

use super::{Operand, ShapeError, describe, tensor, tensor_ty};
use crate::ir::types::{DType, Dim, Shape, TensorTy, Ty};

const IMAGE: &str = "[batch, channels, height, width]";
const KERNEL: &str = "[out_channels, in_channels, kh, kw]";

/// The output length of one spatial axis: `(n + 2p - k) / s + 1`, `None`
/// when `n` or `k` is unknown; an error when the kernel does not fit.
fn out_len(n: Dim, k: Dim, stride: usize, padding: usize) -> Result<Dim, String> {
    let (Some(n), Some(k)) = (n, k) else {
        return Ok(None);
    };
    let padded = n + 2 * padding;
    if k > padded {
        return Err(format!("{k} > {padded}"));
    }
    Ok(Some((padded - k) / stride.max(1) + 1))
}

/// A float tensor of rank 4: the operand `i` of `op`, called `what`, laid
/// out as `layout`.
fn image<'a>(
    ops: &[Operand<'a>],
    i: usize,
    op: &str,
    what: &str,
    layout: &str,
) -> Result<&'a TensorTy, ShapeError> {
    let t = tensor(ops, i)?;
    if !t.dtype.is_float() {
        return Err(ShapeError {
            message: format!("{op} needs float tensors, found {}", describe(t)),
            operand: Some(i),
            help: Some("convert with `float(x)`".into()),
        });
    }
    if t.shape.rank() != 4 {
        return Err(ShapeError {
            message: format!(
                "{op}: the {what} must have rank 4 ({layout}), found {}",
                describe(t)
            ),
            operand: Some(i),
            help: Some("add the missing axes with `reshape`, e.g. `reshape(x, [1, 1, 8, 8])`".into()),
        });
    }
    Ok(t)
}

/// `conv2d{stride, padding}(x, w)`.
pub(super) fn conv2d(ops: &[Operand<'_>], stride: usize, padding: usize) -> Result<Ty, ShapeError> {
    let x = image(ops, 0, "conv2d", "input", IMAGE)?;
    let w = image(ops, 1, "conv2d", "kernel", KERNEL)?;
    if stride == 0 {
        return Err(ShapeError::new("conv2d: the stride must be at least 1"));
    }
    if x.dtype != w.dtype {
        return Err(ShapeError::at(
            1,
            format!(
                "conv2d: the input is {} but the kernel is {}",
                x.dtype.name(),
                w.dtype.name()
            ),
        ));
    }
    let d = |t: &TensorTy, i: usize| t.shape.0.get(i).copied().flatten();
    if let (Some(cx), Some(cw)) = (d(x, 1), d(w, 1))
        && cx != cw
    {
        return Err(ShapeError::at(
            1,
            format!(
                "conv2d: the input has {cx} channel{} but the kernel expects {cw} ({} with a kernel {})",
                if cx == 1 { "" } else { "s" },
                x.shape,
                w.shape
            ),
        ));
    }
    let too_big = |_| {
        ShapeError::at(
            1,
            format!(
                "conv2d: the kernel {} does not fit in the input {} with padding {padding}",
                w.shape, x.shape
            ),
        )
    };
    let ho = out_len(d(x, 2), d(w, 2), stride, padding).map_err(too_big)?;
    let wo = out_len(d(x, 3), d(w, 3), stride, padding).map_err(too_big)?;
    let shape = Shape(vec![d(x, 0), d(w, 0), ho, wo]);
    Ok(tensor_ty(x.dtype, shape, x.weak && w.weak))
}

/// `conv2d_grad_input(g, w, like)` and `conv2d_grad_weight(g, x, like)`:
/// the shape of `like`, the dtype of `g`.
pub(super) fn conv2d_grad(ops: &[Operand<'_>], name: &str) -> Result<Ty, ShapeError> {
    let g = image(ops, 0, name, "adjoint", IMAGE)?;
    image(ops, 1, name, "operand", "a kernel or an input")?;
    let like = image(ops, 2, name, "result", "a kernel or an input")?;
    Ok(tensor_ty(g.dtype, like.shape.clone(), g.weak))
}

/// `max_pool2d{k}(x)`, `avg_pool2d{k}(x)`.
pub(super) fn pool2d(ops: &[Operand<'_>], k: usize, name: &str) -> Result<Ty, ShapeError> {
    let x = image(ops, 0, name, "input", IMAGE)?;
    if k == 0 {
        return Err(ShapeError::new(format!("{name}: the window must be at least 1")));
    }
    let d = |i: usize| x.shape.0.get(i).copied().flatten();
    for i in [2, 3] {
        if let Some(n) = d(i)
            && n < k
        {
            return Err(ShapeError::at(
                0,
                format!("{name}: the window {k}x{k} is larger than the input {}", x.shape),
            ));
        }
    }
    let shape = Shape(vec![d(0), d(1), d(2).map(|n| n / k), d(3).map(|n| n / k)]);
    Ok(tensor_ty(x.dtype, shape, x.weak))
}

/// `max_pool2d_mask{k}(x)`: a bool mask of `x`'s shape.
pub(super) fn pool2d_mask(ops: &[Operand<'_>], k: usize) -> Result<Ty, ShapeError> {
    pool2d(ops, k, "max_pool2d_mask")?;
    let x = tensor(ops, 0)?;
    Ok(Ty::Tensor(TensorTy::new(DType::Bool, x.shape.clone())))
}

/// `pool2d_spread{k}(g, like)`: the shape of `like`, the dtype of `g`.
pub(super) fn pool2d_spread(ops: &[Operand<'_>], k: usize) -> Result<Ty, ShapeError> {
    let g = image(ops, 0, "pool2d_spread", "adjoint", IMAGE)?;
    let like = image(ops, 1, "pool2d_spread", "result", IMAGE)?;
    if k == 0 {
        return Err(ShapeError::new("pool2d_spread: the window must be at least 1"));
    }
    Ok(tensor_ty(g.dtype, like.shape.clone(), g.weak))
}

//! 2-D pooling over the last two axes of `x [batch, channels, h, w]`, with
//! window and stride `k`, for f32 and f64.
//!
//! The result is `[batch, channels, h / k, w / k]`: rows and columns that do
//! not fill a window are dropped (as in PyTorch). [`max_pool2d`] takes the
//! first maximum of each window in row-major order (the first NaN if there
//! is one), and [`max_pool2d_mask`] marks that same element, so the adjoint
//! goes wholly to it; [`avg_pool2d`] takes the mean; [`pool2d_spread`] is the
//! transpose of summing windows (each value copied to its window).

use super::error::{KResult, KernelError};
use super::tensor::{Data, Real, Tensor, checked_numel, filled};
use std::sync::Arc;

/// The sizes of one pooling.
#[derive(Clone, Copy, Debug)]
struct Pool {
    /// `batch * channels`: the number of planes.
    planes: usize,
    h: usize,
    w: usize,
    k: usize,
    ho: usize,
    wo: usize,
}

impl Pool {
    fn new(op: &'static str, x: &[usize], k: usize) -> KResult<Pool> {
        let bad = || KernelError::Pool { op, x: x.to_vec(), k };
        let &[b, c, h, w] = x else { return Err(bad()) };
        if k == 0 || h < k || w < k {
            return Err(bad());
        }
        checked_numel(x)?;
        Ok(Pool {
            planes: b * c,
            h,
            w,
            k,
            ho: h / k,
            wo: w / k,
        })
    }

    fn out_shape(&self, x: &[usize]) -> Vec<usize> {
        let mut s: Vec<usize> = x.iter().take(2).copied().collect();
        s.extend([self.ho, self.wo]);
        s
    }

    /// The flat offset, within a plane, of the first element of row `u` of
    /// window `(i, j)`.
    #[inline]
    fn row_start(&self, i: usize, j: usize, u: usize) -> usize {
        (i * self.k + u) * self.w + j * self.k
    }

    /// Calls `f(i, j, o)` for each window `(i, j)`, `o` being its flat index
    /// in a plane of the result.
    #[inline]
    fn each_window(&self, mut f: impl FnMut(usize, usize, usize)) {
        for i in 0..self.ho {
            for j in 0..self.wo {
                f(i, j, i * self.wo + j);
            }
        }
    }
}

/// The maximum of each `k x k` window.
pub fn max_pool2d(x: &Tensor, k: usize) -> KResult<Tensor> {
    let p = Pool::new("max_pool2d", x.shape(), k)?;
    let data = match x.data() {
        Data::F32(v) => <f32 as Real>::wrap(pool_values(v, &p, max_of)?),
        Data::F64(v) => <f64 as Real>::wrap(pool_values(v, &p, max_of)?),
        d => return Err(dtype_error("max_pool2d", d)),
    };
    Tensor::new(p.out_shape(x.shape()), data)
}

/// The mean of each `k x k` window.
pub fn avg_pool2d(x: &Tensor, k: usize) -> KResult<Tensor> {
    let p = Pool::new("avg_pool2d", x.shape(), k)?;
    let data = match x.data() {
        Data::F32(v) => <f32 as Real>::wrap(pool_values(v, &p, mean_of)?),
        Data::F64(v) => <f64 as Real>::wrap(pool_values(v, &p, mean_of)?),
        d => return Err(dtype_error("avg_pool2d", d)),
    };
    Tensor::new(p.out_shape(x.shape()), data)
}

/// A bool tensor of `x`'s shape, true at the element [`max_pool2d`] picks
/// in each window.
pub fn max_pool2d_mask(x: &Tensor, k: usize) -> KResult<Tensor> {
    let p = Pool::new("max_pool2d", x.shape(), k)?;
    let mask = match x.data() {
        Data::F32(v) => mask_of(v, &p, x.shape())?,
        Data::F64(v) => mask_of(v, &p, x.shape())?,
        d => return Err(dtype_error("max_pool2d", d)),
    };
    Tensor::new(x.shape().to_vec(), Data::Bool(Arc::new(mask)))
}

/// A tensor of `shape` with each element of `g` (one per window of
/// `k x k` pooling over `shape`) copied to its window, zero in the remainder.
pub fn pool2d_spread(g: &Tensor, shape: &[usize], k: usize) -> KResult<Tensor> {
    let p = Pool::new("pool2d_spread", shape, k)?;
    if g.shape() != p.out_shape(shape).as_slice() {
        return Err(KernelError::Internal(format!(
            "pool2d_spread of shape {:?} onto {:?} with window {k}",
            g.shape(),
            shape
        )));
    }
    let data = match g.data() {
        Data::F32(v) => <f32 as Real>::wrap(spread(v, &p, shape)?),
        Data::F64(v) => <f64 as Real>::wrap(spread(v, &p, shape)?),
        d => return Err(dtype_error("pool2d_spread", d)),
    };
    Tensor::new(shape.to_vec(), data)
}

fn dtype_error(op: &'static str, d: &Data) -> KernelError {
    KernelError::DType { op, dtype: d.dtype() }
}

/// The position within `plane` of the first NaN of window `(i, j)`, or else
/// of its first maximum.
fn argmax_in<R: Real>(plane: &[R], p: &Pool, i: usize, j: usize) -> Option<usize> {
    let mut best: Option<(usize, R)> = None;
    for u in 0..p.k {
        let start = p.row_start(i, j, u);
        let Some(row) = plane.get(start..start + p.k) else {
            continue;
        };
        for (v, &x) in row.iter().enumerate() {
            if x.is_nan() {
                return Some(start + v);
            }
            if best.is_none_or(|(_, b)| x > b) {
                best = Some((start + v, x));
            }
        }
    }
    best.map(|(at, _)| at)
}

fn max_of<R: Real>(plane: &[R], p: &Pool, i: usize, j: usize) -> R {
    argmax_in(plane, p, i, j)
        .and_then(|at| plane.get(at))
        .copied()
        .unwrap_or(R::NAN)
}

fn mean_of<R: Real>(plane: &[R], p: &Pool, i: usize, j: usize) -> R {
    let mut s = R::ZERO;
    for u in 0..p.k {
        let start = p.row_start(i, j, u);
        for &x in plane.get(start..start + p.k).unwrap_or(&[]) {
            s = s + x;
        }
    }
    s / R::from_f64((p.k * p.k) as f64)
}

/// One value per window, from `f(plane, pool, i, j)`.
fn pool_values<R: Real>(x: &[R], p: &Pool, f: fn(&[R], &Pool, usize, usize) -> R) -> KResult<Vec<R>> {
    let per = p.ho * p.wo;
    let shape = [p.planes, p.ho, p.wo];
    let mut out = filled(p.planes * per, R::ZERO, &shape)?;
    if per == 0 || p.h * p.w == 0 {
        return Ok(out);
    }
    for (plane, dst) in x.chunks_exact(p.h * p.w).zip(out.chunks_exact_mut(per)) {
        p.each_window(|i, j, o| {
            if let Some(d) = dst.get_mut(o) {
                *d = f(plane, p, i, j);
            }
        });
    }
    Ok(out)
}

fn mask_of<R: Real>(x: &[R], p: &Pool, shape: &[usize]) -> KResult<Vec<bool>> {
    let mut mask = filled(x.len(), false, shape)?;
    let size = p.h * p.w;
    if size == 0 {
        return Ok(mask);
    }
    for (plane, m) in x.chunks_exact(size).zip(mask.chunks_exact_mut(size)) {
        p.each_window(|i, j, _| {
            if let Some(slot) = argmax_in(plane, p, i, j).and_then(|at| m.get_mut(at)) {
                *slot = true;
            }
        });
    }
    Ok(mask)
}

fn spread<R: Real>(g: &[R], p: &Pool, shape: &[usize]) -> KResult<Vec<R>> {
    let size = p.h * p.w;
    let mut out = filled(p.planes * size, R::ZERO, shape)?;
    let per = p.ho * p.wo;
    if size == 0 || per == 0 {
        return Ok(out);
    }
    for (src, dst) in g.chunks_exact(per).zip(out.chunks_exact_mut(size)) {
        p.each_window(|i, j, o| {
            let value = src.get(o).copied().unwrap_or(R::ZERO);
            for u in 0..p.k {
                let at = p.row_start(i, j, u);
                if let Some(row) = dst.get_mut(at..at + p.k) {
                    row.fill(value);
                }
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;

//! Reductions: `sum mean prod max min argmax argmin logsumexp norm`.
//!
//! Takes a tensor and either one axis (already normalized to `0..rank`; an axis
//! out of range is still an error) or none (every axis). Guarantees: `sum`,
//! `prod`, `max`, `min` keep the dtype (ints wrap on overflow); `mean`,
//! `logsumexp`, `norm` need floats; `argmax`/`argmin` give int indices (the first
//! extreme element on ties, the flat index when reducing every axis, the first
//! NaN if there is one). Float sums are pairwise in `f64` (f32 data is summed
//! with f64 partials and rounded once), `logsumexp` subtracts the maximum and
//! `norm` scales by the largest magnitude, so none overflows needlessly.
//! `max`/`min`/`argmax`/`argmin` of an empty axis are errors; NaN propagates
//! through `max` and `min` as in NumPy.

use super::DType;
use super::error::{KResult, KernelError};
use super::parallel::PARALLEL_MIN;
use super::tensor::{Data, Real, Tensor, checked_numel};
use crate::ir::op::{Prim, ReduceOp};
use std::sync::Arc;

/// Reduces `x` over `axis` (or every axis), keeping reduced axes as 1 if
/// `keepdims`.
pub fn reduce(op: ReduceOp, x: &Tensor, axis: Option<usize>, keepdims: bool) -> KResult<Tensor> {
    let shape = x.shape();
    let rank = shape.len();
    let (outer, len, inner, out_shape) = match axis {
        None => (1, x.numel(), 1, if keepdims { vec![1; rank] } else { Vec::new() }),
        Some(a) => {
            let Some(&len) = shape.get(a) else {
                return Err(KernelError::AxisOutOfRange { axis: a, rank });
            };
            let outer = checked_numel(shape.get(..a).unwrap_or(&[]))?;
            let inner = checked_numel(shape.get(a + 1..).unwrap_or(&[]))?;
            let mut out_shape = shape.to_vec();
            if keepdims {
                if let Some(d) = out_shape.get_mut(a) {
                    *d = 1;
                }
            } else {
                out_shape.remove(a);
            }
            (outer, len, inner, out_shape)
        }
    };
    let name = Prim::Reduce { op, axis, keepdims }.info().name;
    let needs_element = match op {
        ReduceOp::Max | ReduceOp::Min | ReduceOp::Argmax | ReduceOp::Argmin => true,
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Prod | ReduceOp::Logsumexp | ReduceOp::Norm => false,
    };
    let n_out = checked_numel(&out_shape)?;
    if needs_element && len == 0 && n_out > 0 {
        return Err(KernelError::EmptyReduction { op: name });
    }
    // Reserve the result once up front, so an impossible size is an error.
    let mut probe: Vec<f64> = Vec::new();
    probe
        .try_reserve_exact(n_out)
        .map_err(|_| KernelError::SizeOverflow {
            shape: out_shape.clone(),
        })?;
    drop(probe);
    let lanes = Lanes { outer, len, inner };
    let data = match x.data() {
        Data::F32(v) => float_reduce(op, v, lanes),
        Data::F64(v) => float_reduce(op, v, lanes),
        Data::I64(v) => int_reduce(op, name, v, lanes)?,
        Data::Bool(_) => {
            return Err(KernelError::DType {
                op: name,
                dtype: DType::Bool,
            });
        }
    };
    Tensor::new(out_shape, data)
}

/// The data viewed as `[outer, len, inner]`, reduced over the middle axis.
#[derive(Clone, Copy)]
struct Lanes {
    outer: usize,
    len: usize,
    inner: usize,
}

impl Lanes {
    /// `f` of every lane, in row-major order of the result.
    fn map<T: Copy, R>(self, data: &[T], mut f: impl FnMut(&[T]) -> R) -> Vec<R> {
        let Lanes { outer, len, inner } = self;
        let mut out = Vec::with_capacity(outer * inner);
        if len == 0 {
            out.extend((0..outer * inner).map(|_| f(&[])));
        } else if inner == 1 {
            out.extend(data.chunks_exact(len).map(f));
        } else {
            let mut buf = Vec::with_capacity(len);
            for block in data.chunks_exact(len * inner) {
                for i in 0..inner {
                    buf.clear();
                    buf.extend(block.iter().skip(i).step_by(inner).copied());
                    out.push(f(&buf));
                }
            }
        }
        out
    }

    /// Sums of every lane in `f64`: pairwise along contiguous lanes, row by row
    /// (f64 accumulators) along strided ones.
    fn sums<T: Real>(self, data: &[T]) -> Vec<f64> {
        let Lanes { len, inner, .. } = self;
        if inner == 1 || len == 0 {
            return self.map(data, |lane| pairwise(lane, &|x: T| x.to_f64()));
        }
        let mut out = Vec::with_capacity(self.outer * inner);
        for block in data.chunks_exact(len * inner) {
            let mut acc = vec![0.0f64; inner];
            for row in block.chunks_exact(inner) {
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a += x.to_f64();
                }
            }
            out.extend(acc);
        }
        out
    }
}

/// `sum(f(x))` in `f64`, pairwise over blocks of 128; each block is summed
/// in eight interleaved partial sums (so the adds pipeline), added pairwise.
/// Large halves are summed on two threads; the order of the additions is
/// the same on any number of cores.
pub(crate) fn pairwise<T: Copy + Sync>(xs: &[T], f: &(impl Fn(T) -> f64 + Sync)) -> f64 {
    const BLOCK: usize = 128;
    if xs.len() <= BLOCK {
        let mut lanes = [0.0f64; 8];
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += f(x);
            }
        }
        for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
            *l += f(x);
        }
        let [a, b, c, d, e, g, h, k] = lanes;
        ((a + b) + (c + d)) + ((e + g) + (h + k))
    } else {
        let (l, r) = xs.split_at(xs.len() / 2);
        if xs.len() >= PARALLEL_MIN {
            let (a, b) = rayon::join(|| pairwise(l, f), || pairwise(r, f));
            a + b
        } else {
            pairwise(l, f) + pairwise(r, f)
        }
    }
}

/// The index of the first NaN, or of the first element `better` than all
/// before it. `lane` must not be empty (0 otherwise).
fn arg_extreme<T: Real>(lane: &[T], better: impl Fn(T, T) -> bool) -> i64 {
    let mut best: Option<(usize, T)> = None;
    for (i, &x) in lane.iter().enumerate() {
        if x.is_nan() {
            return i as i64;
        }
        match best {
            Some((_, b)) if !better(x, b) => {}
            _ => best = Some((i, x)),
        }
    }
    best.map_or(0, |(i, _)| i as i64)
}

/// The maximum (or minimum) of a float lane; NaN if any element is NaN.
fn extreme<T: Real>(lane: &[T], better: impl Fn(T, T) -> bool) -> T {
    let i = arg_extreme(lane, better);
    usize::try_from(i)
        .ok()
        .and_then(|i| lane.get(i))
        .copied()
        .unwrap_or(T::NAN)
}

fn logsumexp<T: Real>(lane: &[T]) -> f64 {
    let m = extreme(lane, |a, b| a > b).to_f64();
    if lane.is_empty() {
        return f64::NEG_INFINITY;
    }
    if !m.is_finite() {
        // NaN, +inf (the sum is +inf) or every element -inf (the sum is -inf).
        return m;
    }
    m + pairwise(lane, &|x: T| (x.to_f64() - m).exp()).ln()
}

fn norm<T: Real>(lane: &[T]) -> f64 {
    let m = lane.iter().fold(0.0f64, |acc, &x| {
        let a = x.to_f64().abs();
        if a.is_nan() || acc.is_nan() {
            f64::NAN
        } else {
            acc.max(a)
        }
    });
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    if (1e-150..=1e150).contains(&m) {
        // No square can overflow or underflow: sum them directly.
        return pairwise(lane, &|x: T| x.to_f64() * x.to_f64()).sqrt();
    }
    m * pairwise(lane, &|x: T| {
        let s = x.to_f64() / m;
        s * s
    })
    .sqrt()
}

fn float_reduce<T: Real>(op: ReduceOp, v: &[T], lanes: Lanes) -> Data {
    let len = lanes.len as f64;
    let wrap64 = |xs: Vec<f64>| T::wrap(xs.into_iter().map(T::from_f64).collect());
    match op {
        ReduceOp::Sum => wrap64(lanes.sums(v)),
        ReduceOp::Mean => wrap64(lanes.sums(v).into_iter().map(|s| s / len).collect()),
        ReduceOp::Prod => wrap64(lanes.map(v, |l| l.iter().fold(1.0, |a, &x| a * x.to_f64()))),
        ReduceOp::Max => T::wrap(lanes.map(v, |l| extreme(l, |a, b| a > b))),
        ReduceOp::Min => T::wrap(lanes.map(v, |l| extreme(l, |a, b| a < b))),
        ReduceOp::Argmax => Data::I64(Arc::new(lanes.map(v, |l| arg_extreme(l, |a, b| a > b)))),
        ReduceOp::Argmin => Data::I64(Arc::new(lanes.map(v, |l| arg_extreme(l, |a, b| a < b)))),
        ReduceOp::Logsumexp => wrap64(lanes.map(v, logsumexp)),
        ReduceOp::Norm => wrap64(lanes.map(v, norm)),
    }
}

/// The index of the first element `better` than all before it (0 if empty).
fn int_arg(lane: &[i64], better: impl Fn(i64, i64) -> bool) -> i64 {
    let mut best: Option<(usize, i64)> = None;
    for (i, &x) in lane.iter().enumerate() {
        match best {
            Some((_, b)) if !better(x, b) => {}
            _ => best = Some((i, x)),
        }
    }
    best.map_or(0, |(i, _)| i as i64)
}

fn int_reduce(op: ReduceOp, name: &'static str, v: &[i64], lanes: Lanes) -> KResult<Data> {
    let ints = |xs: Vec<i64>| Data::I64(Arc::new(xs));
    Ok(match op {
        ReduceOp::Sum => ints(lanes.map(v, |l| l.iter().fold(0i64, |a, &x| a.wrapping_add(x)))),
        ReduceOp::Prod => ints(lanes.map(v, |l| l.iter().fold(1i64, |a, &x| a.wrapping_mul(x)))),
        ReduceOp::Max => ints(lanes.map(v, |l| l.iter().copied().max().unwrap_or(i64::MIN))),
        ReduceOp::Min => ints(lanes.map(v, |l| l.iter().copied().min().unwrap_or(i64::MAX))),
        ReduceOp::Argmax => ints(lanes.map(v, |l| int_arg(l, |a, b| a > b))),
        ReduceOp::Argmin => ints(lanes.map(v, |l| int_arg(l, |a, b| a < b))),
        ReduceOp::Mean | ReduceOp::Logsumexp | ReduceOp::Norm => {
            return Err(KernelError::DType {
                op: name,
                dtype: DType::I64,
            });
        }
    })
}

#[cfg(test)]
#[path = "reduce_tests.rs"]
mod tests;

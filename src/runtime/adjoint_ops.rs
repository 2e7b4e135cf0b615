//! Shape kernels that derivative rules use: explicit broadcasting and its
//! transpose, reshaping, transposition, axis insertion, the transpose of
//! indexing, and the masks of first extreme elements.
//!
//! Every kernel re-checks the shapes it is given and returns an error instead of
//! panicking. [`sum_like`] accumulates floats in `f64` and ints with wrapping
//! adds; [`index_grad`] normalizes its items exactly as [`super::index`] does,
//! so it is the transpose of that kernel; [`extreme_mask`] picks the same
//! element as `argmax`/`argmin` (the first extreme, the first NaN if any).

use super::broadcast::same_shape;
use super::error::shape_str;
use super::index::{Dims, at_range, index_box, row_major_strides};
use super::parallel::for_pieces;
use super::reduce::pairwise;
use super::tensor::{Real, filled, map_data};
use super::{
    DType, Data, IndexItem, KResult, KernelError, Tensor, broadcast_shapes, broadcast_to, checked_numel,
};
use std::sync::Arc;

/// `x` broadcast (NumPy rules) to `shape`.
pub fn broadcast_like(x: &Tensor, shape: &[usize]) -> KResult<Tensor> {
    let mismatch = || KernelError::Broadcast {
        a: x.shape().to_vec(),
        b: shape.to_vec(),
    };
    if broadcast_shapes(x.shape(), shape).map_err(|_| mismatch())? != shape {
        return Err(mismatch());
    }
    let data = map_data!(x.data(), v => broadcast_to(v, x.shape(), shape)?);
    Tensor::new(shape.to_vec(), data)
}

/// `x` summed down to `shape`: sums leading extra axes, and axes where `shape`
/// has length 1 and `x` does not (the transpose of broadcasting).
pub fn sum_like(x: &Tensor, shape: &[usize]) -> KResult<Tensor> {
    let from = x.shape();
    let mismatch = || KernelError::Broadcast {
        a: shape.to_vec(),
        b: from.to_vec(),
    };
    if shape.len() > from.len() || broadcast_shapes(shape, from).map_err(|_| mismatch())? != from {
        return Err(mismatch());
    }
    if let Data::Bool(_) = x.data() {
        return Err(KernelError::DType {
            op: "sum_like",
            dtype: DType::Bool,
        });
    }
    if shape == from {
        return Ok(x.clone());
    }
    // Strides of the result, seen from the axes of `x` (0 on summed axes).
    let pad = from.len() - shape.len();
    let padded: Vec<usize> = std::iter::repeat_n(1, pad).chain(shape.iter().copied()).collect();
    let mut strides = row_major_strides(&padded);
    for ((s, &d), &dx) in strides.iter_mut().zip(&padded).zip(from) {
        if d != dx {
            *s = 0;
        }
    }
    let n = checked_numel(shape)?;
    let data = match x.data() {
        Data::F32(v) => float_sum_into(v, from, &strides, n, shape)?,
        Data::F64(v) => float_sum_into(v, from, &strides, n, shape)?,
        Data::I64(v) => {
            let mut acc = filled(n, 0i64, shape)?;
            scatter(v, from, &strides, 0, &mut acc, |a, b| a.wrapping_add(b))?;
            Data::I64(Arc::new(acc))
        }
        Data::Bool(_) => {
            return Err(KernelError::DType {
                op: "sum_like",
                dtype: DType::Bool,
            });
        }
    };
    Tensor::new(shape.to_vec(), data)
}

/// Sums of float data of shape `from` into `n` slots (offsets by `strides`),
/// accumulated in `f64` and rounded once.
fn float_sum_into<T: Real>(
    v: &[T],
    from: &[usize],
    strides: &[usize],
    n: usize,
    shape: &[usize],
) -> KResult<Data> {
    if n == 1 {
        // The whole tensor to one element: as `sum` does it.
        return Ok(T::wrap(vec![T::from_f64(pairwise(v, &|x: T| x.to_f64()))]));
    }
    let mut acc = filled(n, 0.0f64, shape)?;
    // Summing leading axes only (a bias's adjoint): whole rows at a time.
    let lead = strides.iter().take_while(|&&s| s == 0).count();
    if n > 0
        && strides
            .get(lead..)
            .is_some_and(|rest| rest.iter().all(|&s| s != 0))
    {
        for row in v.chunks_exact(n) {
            acc.iter_mut().zip(row).for_each(|(a, &b)| *a += b.to_f64());
        }
    } else {
        scatter(v, from, strides, 0, &mut acc, |a, b: T| a + b.to_f64())?;
    }
    Ok(T::wrap(acc.into_iter().map(T::from_f64).collect()))
}

/// `x` with the same elements in row-major order, in `shape`.
pub fn reshape_like(x: &Tensor, shape: &[usize]) -> KResult<Tensor> {
    if checked_numel(shape)? != x.numel() {
        return Err(KernelError::DataLength {
            shape: shape.to_vec(),
            len: x.numel(),
        });
    }
    Tensor::new(shape.to_vec(), x.data().clone())
}

/// Axes permuted: result axis `i` is input axis `perm[i]`.
pub fn transpose(x: &Tensor, perm: &[usize]) -> KResult<Tensor> {
    let shape = x.shape();
    let rank = shape.len();
    let not_perm = || {
        KernelError::Internal(format!(
            "transpose: {} is not a permutation of the axes of a tensor of rank {rank}",
            shape_str(perm)
        ))
    };
    if perm.len() != rank {
        return Err(not_perm());
    }
    let in_strides = row_major_strides(shape);
    let mut seen = vec![false; rank];
    let mut out_shape = Vec::with_capacity(rank);
    let mut strides = Vec::with_capacity(rank);
    for &p in perm {
        let (Some(&d), Some(&s), Some(flag)) = (shape.get(p), in_strides.get(p), seen.get_mut(p)) else {
            return Err(KernelError::AxisOutOfRange { axis: p, rank });
        };
        if *flag {
            return Err(not_perm());
        }
        *flag = true;
        out_shape.push(d);
        strides.push(s);
    }
    // Swapping the last two axes (the transposes of matrix products) goes
    // block by block, which keeps both sides in cache.
    let swaps_last = rank >= 2
        && perm
            .get(..rank - 2)
            .is_some_and(|p| p.iter().enumerate().all(|(i, &a)| i == a))
        && perm.get(rank - 2..) == Some(&[rank - 1, rank - 2][..]);
    let data = if swaps_last {
        let rows = shape.get(rank - 2).copied().unwrap_or(0);
        let cols = shape.get(rank - 1).copied().unwrap_or(0);
        map_data!(x.data(), v => swap_last_two(v, rows, cols)?)
    } else {
        map_data!(x.data(), v => gather(v, &out_shape, &strides)?)
    };
    Tensor::new(out_shape, data)
}

/// Each `[rows, cols]` matrix of `data` transposed: eight source rows are
/// read side by side, so the reads stream and each write fills eight
/// neighbouring elements of a result row. Large matrices are split by result
/// rows (source columns) over the cores.
pub(crate) fn swap_last_two<T: Copy + Send + Sync>(data: &[T], rows: usize, cols: usize) -> KResult<Vec<T>> {
    let size = rows * cols;
    let Some(&fill) = data.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    out.try_reserve_exact(data.len())
        .map_err(|_| KernelError::SizeOverflow {
            shape: vec![data.len()],
        })?;
    out.resize(data.len(), fill);
    let short = || KernelError::Internal("transpose: data shorter than its shape".to_string());
    for (src, dst) in data.chunks_exact(size).zip(out.chunks_exact_mut(size)) {
        let failed = std::sync::atomic::AtomicBool::new(false);
        for_pieces(dst, rows, |piece, start| {
            let c0 = start / rows.max(1);
            if transpose_columns(src, rows, cols, c0, piece).is_none() {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        if failed.into_inner() {
            return Err(short());
        }
    }
    Ok(out)
}

/// Writes source columns `c0..` of the `[rows, cols]` matrix `src` as the
/// rows of `dst` (as many as it holds); `None` if the sizes disagree.
fn transpose_columns<T: Copy>(src: &[T], rows: usize, cols: usize, c0: usize, dst: &mut [T]) -> Option<()> {
    const R: usize = 8;
    let nc = dst.len() / rows.max(1);
    let mut i0 = 0;
    for strip in src.chunks_exact(R * cols) {
        let r = |k: usize| strip.get(k * cols + c0..k * cols + c0 + nc);
        let (r0, r1, r2, r3) = (r(0)?, r(1)?, r(2)?, r(3)?);
        let (r4, r5, r6, r7) = (r(4)?, r(5)?, r(6)?, r(7)?);
        let cols_iter = r0.iter().zip(r1).zip(r2).zip(r3).zip(r4).zip(r5).zip(r6).zip(r7);
        for (j, (((((((a, b), c), d), e), f), g), h)) in cols_iter.enumerate() {
            let o = dst.get_mut(j * rows + i0..j * rows + i0 + R)?;
            o.copy_from_slice(&[*a, *b, *c, *d, *e, *f, *g, *h]);
        }
        i0 += R;
    }
    // The last rows, fewer than eight.
    for (i, row) in src.chunks_exact(cols).enumerate().skip(i0) {
        for (j, &v) in row.get(c0..c0 + nc)?.iter().enumerate() {
            *dst.get_mut(j * rows + i)? = v;
        }
    }
    Some(())
}

/// A new axis of length 1 at `axis` (`0..=rank`).
pub fn expand_dims(x: &Tensor, axis: usize) -> KResult<Tensor> {
    let rank = x.rank();
    if axis > rank {
        return Err(KernelError::AxisOutOfRange { axis, rank: rank + 1 });
    }
    let mut shape = x.shape().to_vec();
    shape.insert(axis, 1);
    Tensor::new(shape, x.data().clone())
}

/// Zeros of `shape` (dtype of `g`) with `g` added into the region that
/// `index(_, items, operands)` selects.
pub fn index_grad(g: &Tensor, shape: &[usize], items: &[IndexItem], operands: &[i64]) -> KResult<Tensor> {
    let zeros = match g.dtype() {
        DType::Bool => {
            return Err(KernelError::DType {
                op: "index_grad",
                dtype: DType::Bool,
            });
        }
        d => super::full(shape, 0.0, d)?,
    };
    index_grad_add(zeros, g, items, operands)
}

/// `acc + index_grad(g, acc.shape(), items, operands)`: `g` added into the
/// region of `acc` that the index selects, in `acc`'s own buffer when no one
/// else holds it. So the adjoint of an index accumulated across a loop costs
/// the size of the index per iteration, not the size of `acc`.
pub fn index_grad_add(mut acc: Tensor, g: &Tensor, items: &[IndexItem], operands: &[i64]) -> KResult<Tensor> {
    if let Some(range) = at_range(acc.shape(), items, operands) {
        return add_at_range(acc, g, range?, items.len());
    }
    let shape = Dims::from_slice(acc.shape());
    let (starts, lens, out_shape) = index_box(&shape, items, operands)?;
    if !same_shape(g.shape(), &out_shape) {
        return Err(KernelError::Internal(format!(
            "index_grad: a gradient of shape {} for an index result of shape {}",
            shape_str(g.shape()),
            shape_str(&out_shape)
        )));
    }
    let strides = row_major_strides(&shape);
    let base = starts
        .iter()
        .zip(&strides)
        .fold(0usize, |acc, (&b, &s)| acc.saturating_add(b.saturating_mul(s)));
    match (acc.data_mut(), g.data()) {
        (Data::I64(a), Data::I64(v)) => scatter(
            v,
            &lens,
            &strides,
            base,
            Arc::make_mut(a).as_mut_slice(),
            i64::wrapping_add,
        )?,
        (Data::F32(a), Data::F32(v)) => scatter(
            v,
            &lens,
            &strides,
            base,
            Arc::make_mut(a).as_mut_slice(),
            |a, b| a + b,
        )?,
        (Data::F64(a), Data::F64(v)) => scatter(
            v,
            &lens,
            &strides,
            base,
            Arc::make_mut(a).as_mut_slice(),
            |a, b| a + b,
        )?,
        (_, v) => {
            return Err(KernelError::DType {
                op: "index_grad",
                dtype: v.dtype(),
            });
        }
    }
    Ok(acc)
}

/// `acc + index_grad(g, like, items, operands)`: [`index_grad_add`] when
/// `acc` has `like`'s shape and `g`'s dtype, else the sum as written (with
/// its broadcasting and its errors).
pub fn index_add(
    acc: Tensor,
    g: &Tensor,
    like: &Tensor,
    items: &[IndexItem],
    operands: &[i64],
) -> KResult<Tensor> {
    if same_shape(acc.shape(), like.shape()) && acc.dtype() == g.dtype() {
        return index_grad_add(acc, g, items, operands);
    }
    let grad = index_grad(g, like.shape(), items, operands)?;
    super::binary(crate::ir::op::BinaryOp::Add, &acc, &grad)
}

/// `index_grad_add` of an index whose items are all `At`: `g` added to the
/// contiguous `range` of `acc` (the rows past the first `axes` axes).
fn add_at_range(mut acc: Tensor, g: &Tensor, range: std::ops::Range<usize>, axes: usize) -> KResult<Tensor> {
    let rest = acc.shape().get(axes..).unwrap_or_default();
    if !same_shape(g.shape(), rest) {
        return Err(KernelError::Internal(format!(
            "index_grad: a gradient of shape {} for an index result of shape {}",
            shape_str(g.shape()),
            shape_str(rest)
        )));
    }
    fn add<T: Copy>(
        a: &mut Arc<Vec<T>>,
        v: &[T],
        range: std::ops::Range<usize>,
        f: impl Fn(T, T) -> T,
    ) -> KResult<()> {
        let region = Arc::make_mut(a)
            .get_mut(range)
            .ok_or_else(|| KernelError::Internal("index_grad: position outside the data".to_string()))?;
        region.iter_mut().zip(v).for_each(|(a, &b)| *a = f(*a, b));
        Ok(())
    }
    match (acc.data_mut(), g.data()) {
        (Data::I64(a), Data::I64(v)) => add(a, v, range, i64::wrapping_add)?,
        (Data::F32(a), Data::F32(v)) => add(a, v, range, |a, b| a + b)?,
        (Data::F64(a), Data::F64(v)) => add(a, v, range, |a, b| a + b)?,
        (_, v) => {
            return Err(KernelError::DType {
                op: "index_grad",
                dtype: v.dtype(),
            });
        }
    }
    Ok(acc)
}

/// A bool tensor of `x`'s shape, true at the first maximum (`min`: minimum)
/// along `axis`, or at the first extreme of all elements when `axis` is None.
pub fn extreme_mask(x: &Tensor, min: bool, axis: Option<usize>) -> KResult<Tensor> {
    let shape = x.shape();
    let n = x.numel();
    let (len, inner) = match axis {
        None => (n, 1),
        Some(a) => {
            let Some(&len) = shape.get(a) else {
                return Err(KernelError::AxisOutOfRange {
                    axis: a,
                    rank: shape.len(),
                });
            };
            (len, checked_numel(shape.get(a + 1..).unwrap_or(&[]))?)
        }
    };
    let mut mask = filled(n, false, shape)?;
    match x.data() {
        Data::F32(v) => mark_extremes(v, &mut mask, len, inner, min, f32::is_nan),
        Data::F64(v) => mark_extremes(v, &mut mask, len, inner, min, f64::is_nan),
        Data::I64(v) => mark_extremes(v, &mut mask, len, inner, min, |_| false),
        Data::Bool(_) => {
            return Err(KernelError::DType {
                op: "extreme_mask",
                dtype: DType::Bool,
            });
        }
    }
    Tensor::new(shape.to_vec(), Data::Bool(Arc::new(mask)))
}

/// Sets `mask` at the first extreme of every lane of `data` viewed as
/// `[outer, len, inner]` (lanes along the middle axis).
fn mark_extremes<T: Copy + PartialOrd>(
    data: &[T],
    mask: &mut [bool],
    len: usize,
    inner: usize,
    min: bool,
    is_nan: impl Fn(T) -> bool,
) {
    let block = len.saturating_mul(inner);
    if block == 0 {
        return;
    }
    for (db, mb) in data.chunks_exact(block).zip(mask.chunks_exact_mut(block)) {
        for i in 0..inner {
            let lane = db.iter().skip(i).step_by(inner).copied();
            if let Some(k) = first_extreme(lane, min, &is_nan)
                && let Some(m) = mb.get_mut(k * inner + i)
            {
                *m = true;
            }
        }
    }
}

/// The position of the first NaN, or else of the first element strictly
/// greater (`min`: smaller) than all before it; None for an empty lane.
fn first_extreme<T: Copy + PartialOrd>(
    lane: impl Iterator<Item = T>,
    min: bool,
    is_nan: &impl Fn(T) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, x) in lane.enumerate() {
        if is_nan(x) {
            return Some(i);
        }
        match best {
            Some((_, b)) if !(if min { x < b } else { x > b }) => {}
            _ => best = Some((i, x)),
        }
    }
    best.map(|(i, _)| i)
}

/// Row-major strides of `shape` (saturating; only used for valid shapes).
/// Advances the row-major position `idx` over `dims` by one, keeping `off`
/// equal to the sum of `idx[k] * strides[k]` (plus its base).
fn step(idx: &mut [usize], dims: &[usize], strides: &[usize], off: &mut usize) {
    for ((i, &d), &s) in idx.iter_mut().zip(dims).zip(strides).rev() {
        *i += 1;
        *off = off.wrapping_add(s);
        if *i < d {
            return;
        }
        *off = off.wrapping_sub(s.wrapping_mul(d));
        *i = 0;
    }
}

/// The elements of `data` at offsets `strides` over a box of `dims`, in
/// row-major order of the box.
fn gather<T: Copy>(data: &[T], dims: &[usize], strides: &[usize]) -> KResult<Vec<T>> {
    let n = checked_numel(dims)?;
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| KernelError::SizeOverflow { shape: dims.to_vec() })?;
    let mut idx = vec![0usize; dims.len()];
    let mut off = 0usize;
    for _ in 0..n {
        let v = data
            .get(off)
            .ok_or_else(|| KernelError::Internal("transpose: position outside the data".to_string()))?;
        out.push(*v);
        step(&mut idx, dims, strides, &mut off);
    }
    Ok(out)
}

/// Combines each element of `src` (row-major over `dims`) into `dst` at
/// `base` plus the offsets `strides`, with `add`.
fn scatter<S: Copy, D: Copy>(
    src: &[S],
    dims: &[usize],
    strides: &[usize],
    base: usize,
    dst: &mut [D],
    add: impl Fn(D, S) -> D,
) -> KResult<()> {
    if src.len() != checked_numel(dims)? {
        return Err(KernelError::DataLength {
            shape: dims.to_vec(),
            len: src.len(),
        });
    }
    // Row by row along the last axis, so a contiguous row is one tight loop.
    let Some(((&inner, outer_dims), (&stride, outer_strides))) = dims.split_last().zip(strides.split_last())
    else {
        // Rank 0: one element, at `base`.
        return match (src.first(), dst.get_mut(base)) {
            (Some(&v), Some(slot)) => {
                *slot = add(*slot, v);
                Ok(())
            }
            _ => Err(outside()),
        };
    };
    if src.is_empty() || inner == 0 {
        return Ok(());
    }
    let mut idx = vec![0usize; outer_dims.len()];
    let mut off = base;
    for row in src.chunks_exact(inner) {
        if stride == 1 {
            let end = off.checked_add(inner).ok_or_else(outside)?;
            let slots = dst.get_mut(off..end).ok_or_else(outside)?;
            for (slot, &v) in slots.iter_mut().zip(row) {
                *slot = add(*slot, v);
            }
        } else {
            let mut at = off;
            for &v in row {
                let slot = dst.get_mut(at).ok_or_else(outside)?;
                *slot = add(*slot, v);
                at = at.wrapping_add(stride);
            }
        }
        step(&mut idx, outer_dims, outer_strides, &mut off);
    }
    Ok(())
}

fn outside() -> KernelError {
    KernelError::Internal("scatter: position outside the result".to_string())
}

#[cfg(test)]
#[path = "adjoint_ops_tests.rs"]
mod tests;

//! Shape kernels of the surface language: `reshape` (with one inferred `-1`),
//! `concat` along an axis, `take` (gather along an axis with an int index
//! tensor) and its transpose `take_grad` (scatter-add into zeros).

use super::error::shape_str;
use super::tensor::{filled, map_data};
use super::{DType, Data, KResult, KernelError, Tensor, checked_numel};
use std::sync::Arc;

/// `x` with shape `to`, where one entry may be `-1` (inferred).
pub fn reshape(x: &Tensor, to: &[i64]) -> KResult<Tensor> {
    let shape = resolve_shape(x.shape(), to)?;
    Tensor::new(shape, x.data().clone())
}

/// The concrete shape `to` (one `-1` inferred) for a tensor of shape `from`.
pub fn resolve_shape(from: &[usize], to: &[i64]) -> KResult<Vec<usize>> {
    let bad = || KernelError::Reshape {
        from: from.to_vec(),
        to: to.to_vec(),
    };
    let n = checked_numel(from)?;
    let mut known = 1usize;
    let mut infer = None;
    for (i, &d) in to.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(bad());
            }
            infer = Some(i);
        } else if d < 0 {
            return Err(bad());
        } else {
            known = known.checked_mul(d as usize).ok_or_else(bad)?;
        }
    }
    let mut shape: Vec<usize> = to.iter().map(|&d| d.max(0) as usize).collect();
    match infer {
        Some(i) => {
            if known == 0 || !n.is_multiple_of(known) {
                return Err(bad());
            }
            if let Some(slot) = shape.get_mut(i) {
                *slot = n / known;
            }
        }
        None if known != n => return Err(bad()),
        None => {}
    }
    Ok(shape)
}

/// The shape of `concat(xs, axis)`, after checking that the parts agree.
fn concat_shape(xs: &[Tensor], axis: usize) -> KResult<Vec<usize>> {
    let Some(first) = xs.first() else {
        return Err(KernelError::Internal("concat of no tensors".into()));
    };
    let rank = first.rank();
    if axis >= rank {
        return Err(KernelError::AxisOutOfRange { axis, rank });
    }
    let mut out_shape = first.shape().to_vec();
    let mut total = 0usize;
    for x in xs {
        let agrees = x.rank() == rank
            && x.shape()
                .iter()
                .zip(first.shape())
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !agrees {
            return Err(KernelError::Internal(format!(
                "concat: shape {} does not match {} outside axis {axis}",
                shape_str(x.shape()),
                shape_str(first.shape())
            )));
        }
        if x.dtype() != first.dtype() {
            return Err(KernelError::DTypeMismatch {
                op: "concat",
                a: first.dtype(),
                b: x.dtype(),
            });
        }
        total = total.saturating_add(x.shape().get(axis).copied().unwrap_or(0));
    }
    if let Some(slot) = out_shape.get_mut(axis) {
        *slot = total;
    }
    Ok(out_shape)
}

/// `concat(xs, axis)`, appending to the first part's buffer when the parts
/// are contiguous blocks of the result (every axis before `axis` has length
/// one) and no one else holds it. A loop that grows a tensor this way copies
/// each new row once (the buffer grows geometrically), not the whole tensor
/// on every step.
pub fn concat_owned(xs: Vec<Tensor>, axis: usize) -> KResult<Tensor> {
    let out_shape = concat_shape(&xs, axis)?;
    let contiguous = xs
        .first()
        .is_some_and(|f| f.shape().iter().take(axis).all(|&d| d == 1) && f.is_unique());
    if !contiguous {
        return concat(&xs, axis);
    }
    let mut parts = xs.into_iter();
    let Some(first) = parts.next() else {
        return Err(KernelError::Internal("concat of no tensors".into()));
    };
    let (_, mut data) = first.into_parts();
    macro_rules! append {
        ($variant:ident, $v:expr) => {{
            let Some(v) = Arc::get_mut($v) else {
                return Err(KernelError::Internal("concat: shared buffer".into()));
            };
            for p in parts {
                let Data::$variant(w) = p.data() else {
                    return Err(KernelError::Internal("concat: mixed dtypes".into()));
                };
                v.try_reserve(w.len()).map_err(|_| KernelError::SizeOverflow {
                    shape: out_shape.clone(),
                })?;
                v.extend_from_slice(w);
            }
        }};
    }
    match &mut data {
        Data::Bool(v) => append!(Bool, v),
        Data::I64(v) => append!(I64, v),
        Data::F32(v) => append!(F32, v),
        Data::F64(v) => append!(F64, v),
    }
    Tensor::new(out_shape, data)
}

/// The tensors `xs` (same rank and dtype, equal lengths except along `axis`)
/// joined along `axis`.
pub fn concat(xs: &[Tensor], axis: usize) -> KResult<Tensor> {
    let out_shape = concat_shape(xs, axis)?;
    let Some(first) = xs.first() else {
        return Err(KernelError::Internal("concat of no tensors".into()));
    };
    let outer: usize = first.shape().iter().take(axis).product();
    let inner: usize = first.shape().iter().skip(axis + 1).product();
    let n = checked_numel(&out_shape)?;
    // The length of each part's chunk per outer index.
    let chunks: Vec<usize> = xs
        .iter()
        .map(|x| x.shape().get(axis).copied().unwrap_or(0) * inner)
        .collect();
    macro_rules! join {
        ($variant:ident) => {{
            let mut out = Vec::new();
            out.try_reserve_exact(n).map_err(|_| KernelError::SizeOverflow {
                shape: out_shape.clone(),
            })?;
            for o in 0..outer {
                for (x, &c) in xs.iter().zip(&chunks) {
                    let Data::$variant(v) = x.data() else {
                        return Err(KernelError::Internal("concat: mixed dtypes".into()));
                    };
                    let part = v
                        .get(o * c..(o + 1) * c)
                        .ok_or_else(|| KernelError::Internal("concat: short data".into()))?;
                    out.extend_from_slice(part);
                }
            }
            Data::$variant(Arc::new(out))
        }};
    }
    let data = match first.data() {
        Data::Bool(_) => join!(Bool),
        Data::I64(_) => join!(I64),
        Data::F32(_) => join!(F32),
        Data::F64(_) => join!(F64),
    };
    Tensor::new(out_shape, data)
}

/// Normalized indices (negative ones count from the end) for an axis of `len`.
fn normalize(idx: &Tensor, axis: usize, len: usize) -> KResult<Vec<usize>> {
    if idx.dtype() != DType::I64 {
        return Err(KernelError::DType {
            op: "take",
            dtype: idx.dtype(),
        });
    }
    idx.to_i64_vec()
        .into_iter()
        .map(|i| {
            let n = len as i64;
            let k = if i < 0 { i + n } else { i };
            if k < 0 || k >= n {
                Err(KernelError::IndexOutOfRange { axis, index: i, len })
            } else {
                Ok(k as usize)
            }
        })
        .collect()
}

/// The shape of `take(x, idx, axis)`: `idx`'s shape replaces axis `axis`.
fn take_shape(x: &[usize], idx: &[usize], axis: usize) -> Vec<usize> {
    let mut s: Vec<usize> = x.iter().take(axis).copied().collect();
    s.extend_from_slice(idx);
    s.extend(x.iter().skip(axis + 1).copied());
    s
}

/// `x` gathered along `axis` at the int indices `idx` (any shape).
pub fn take(x: &Tensor, idx: &Tensor, axis: usize) -> KResult<Tensor> {
    let rank = x.rank();
    let Some(&len) = x.shape().get(axis) else {
        return Err(KernelError::AxisOutOfRange { axis, rank });
    };
    let ks = normalize(idx, axis, len)?;
    let outer: usize = x.shape().iter().take(axis).product();
    let inner: usize = x.shape().iter().skip(axis + 1).product();
    let shape = take_shape(x.shape(), idx.shape(), axis);
    checked_numel(&shape)?;
    let data = map_data!(x.data(), v => {
        let mut out = Vec::with_capacity(outer * ks.len() * inner);
        for o in 0..outer {
            for &k in &ks {
                let start = (o * len + k) * inner;
                let part = v
                    .get(start..start + inner)
                    .ok_or_else(|| KernelError::Internal("take: short data".into()))?;
                out.extend_from_slice(part);
            }
        }
        out
    });
    Tensor::new(shape, data)
}

/// The transpose of [`take`]: zeros of `shape` with each slice of `g` added at
/// the position its index names (repeated indices accumulate).
pub fn take_grad(g: &Tensor, shape: &[usize], idx: &Tensor, axis: usize) -> KResult<Tensor> {
    let rank = shape.len();
    let Some(&len) = shape.get(axis) else {
        return Err(KernelError::AxisOutOfRange { axis, rank });
    };
    let ks = normalize(idx, axis, len)?;
    if g.shape() != take_shape(shape, idx.shape(), axis).as_slice() {
        return Err(KernelError::Internal(format!(
            "take_grad: adjoint of shape {} for a result of {}",
            shape_str(g.shape()),
            shape_str(shape)
        )));
    }
    let outer: usize = shape.iter().take(axis).product();
    let inner: usize = shape.iter().skip(axis + 1).product();
    let n = checked_numel(shape)?;
    let gv = g.to_f64_vec();
    let mut acc = filled(n, 0.0f64, shape)?;
    let mut src = gv.iter();
    for o in 0..outer {
        for &k in &ks {
            let start = (o * len + k) * inner;
            for slot in acc.iter_mut().skip(start).take(inner) {
                *slot += src.next().copied().unwrap_or(0.0);
            }
        }
    }
    match g.dtype() {
        d @ (DType::F32 | DType::F64) => Tensor::from_f64s(d, shape.to_vec(), acc),
        d => Err(KernelError::DType {
            op: "take_grad",
            dtype: d,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn v(shape: Vec<usize>, xs: Vec<f64>) -> Tensor {
        Tensor::from_f64s(DType::F64, shape, xs).unwrap()
    }

    #[test]
    fn reshape_infers_one_axis() {
        let x = v(vec![6], (0..6).map(f64::from).collect());
        assert_eq!(reshape(&x, &[2, -1]).unwrap().shape(), &[2, 3]);
        assert_eq!(reshape(&x, &[3, 2]).unwrap().to_f64_vec(), x.to_f64_vec());
        assert!(reshape(&x, &[4, -1]).is_err());
        assert!(reshape(&x, &[-1, -1]).is_err());
        assert!(
            reshape(&x, &[5])
                .unwrap_err()
                .message()
                .contains("cannot reshape")
        );
    }

    #[test]
    fn concat_along_each_axis() {
        let a = v(vec![1, 2], vec![1.0, 2.0]);
        let b = v(vec![2, 2], vec![3.0, 4.0, 5.0, 6.0]);
        let c = concat(&[a.clone(), b], 0).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_f64_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let d = v(vec![1, 1], vec![9.0]);
        let e = concat(&[a, d], 1).unwrap();
        assert_eq!(e.shape(), &[1, 3]);
        assert_eq!(e.to_f64_vec(), vec![1.0, 2.0, 9.0]);
    }

    #[test]
    fn owned_concat_appends_to_an_unshared_buffer() {
        let mut acc = v(vec![0, 2], vec![]);
        let mut grew = 0;
        let mut addr = acc.buffer_addr();
        for i in 0..100 {
            let row = v(vec![1, 2], vec![f64::from(i), -f64::from(i)]);
            acc = concat_owned(vec![acc, row], 0).unwrap();
            if acc.buffer_addr() != addr {
                grew += 1;
                addr = acc.buffer_addr();
            }
        }
        assert_eq!(acc.shape(), &[100, 2]);
        assert_eq!(acc.to_f64_vec()[198..], [99.0, -99.0]);
        // The buffer grows geometrically: a handful of moves, not one per row.
        assert!(grew < 12, "{grew} reallocations");
        // Shared, or not contiguous blocks (axis 1 of several rows): a copy.
        let keep = acc.clone();
        let more = concat_owned(vec![acc, v(vec![1, 2], vec![1.0, 2.0])], 0).unwrap();
        assert_eq!(keep.shape(), &[100, 2]);
        assert_eq!(more.shape(), &[101, 2]);
        let m = v(vec![2, 1], vec![1.0, 2.0]);
        let j = concat_owned(vec![m, v(vec![2, 1], vec![3.0, 4.0])], 1).unwrap();
        assert_eq!(j.to_f64_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn take_and_its_transpose() {
        let x = v(vec![3], vec![10.0, 20.0, 30.0]);
        let i = Tensor::from_i64s(vec![3], vec![2, 0, 2]).unwrap();
        assert_eq!(take(&x, &i, 0).unwrap().to_f64_vec(), vec![30.0, 10.0, 30.0]);
        let g = v(vec![3], vec![1.0, 2.0, 3.0]);
        assert_eq!(
            take_grad(&g, &[3], &i, 0).unwrap().to_f64_vec(),
            vec![2.0, 0.0, 4.0]
        );
        // Along axis 1 of a matrix, with a negative index.
        let m = v(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let j = Tensor::from_i64s(vec![2], vec![-1, 0]).unwrap();
        let t = take(&m, &j, 1).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.to_f64_vec(), vec![3.0, 1.0, 6.0, 4.0]);
        let bad = Tensor::from_i64s(vec![1], vec![3]).unwrap();
        assert!(take(&x, &bad, 0).is_err());
    }
}

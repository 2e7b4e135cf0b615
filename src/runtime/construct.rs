//! Constructors (`full`, `arange`, `linspace`, `eye`, `stack`) and the
//! comparison behind `assert_close`.
//!
//! Takes sizes as the user wrote them (ints that may be negative or huge) and
//! guarantees an error instead of a panic or an abort: a negative size is
//! [`KernelError::NegativeSize`], a size whose element count overflows or
//! cannot be allocated is [`KernelError::SizeOverflow`]. Values are converted
//! to the requested dtype once (bool: `!= 0`, int: truncation).

use super::DType;
use super::elementwise::cast;
use super::error::{KResult, KernelError};
use super::tensor::{Data, Tensor, checked_numel, filled};
use std::sync::Arc;

/// A tensor of `shape` filled with `value` converted to `dtype`.
pub fn full(shape: &[usize], value: f64, dtype: DType) -> KResult<Tensor> {
    let n = checked_numel(shape)?;
    let data = match dtype {
        DType::Bool => Data::Bool(Arc::new(filled(n, value != 0.0, shape)?)),
        DType::I64 => Data::I64(Arc::new(filled(n, value as i64, shape)?)),
        DType::F32 => Data::F32(Arc::new(filled(n, value as f32, shape)?)),
        DType::F64 => Data::F64(Arc::new(filled(n, value, shape)?)),
    };
    Tensor::new(shape.to_vec(), data)
}

/// A size given as an int: an error if negative.
fn size(what: &'static str, n: i64) -> KResult<usize> {
    usize::try_from(n).map_err(|_| KernelError::NegativeSize { what, value: n })
}

/// The int tensor `[0, 1, …, n-1]`.
pub fn arange(n: i64) -> KResult<Tensor> {
    let len = size("the length of arange", n)?;
    let mut v = filled(len, 0i64, &[len])?;
    for (slot, i) in v.iter_mut().zip(0i64..) {
        *slot = i;
    }
    Tensor::from_i64s(vec![len], v)
}

/// `n` evenly spaced values from `a` to `b` inclusive (`[a]` when `n` is 1),
/// computed in f64 and converted to `dtype`; the last value is exactly `b`.
pub fn linspace(a: f64, b: f64, n: i64, dtype: DType) -> KResult<Tensor> {
    let len = size("the number of points of linspace", n)?;
    let mut v = filled(len, 0.0f64, &[len])?;
    let step = if len > 1 { (b - a) / (len - 1) as f64 } else { 0.0 };
    for (i, slot) in v.iter_mut().enumerate() {
        *slot = a + step * i as f64;
    }
    if len > 1
        && let Some(last) = v.last_mut()
    {
        *last = b;
    }
    Tensor::from_f64s(dtype, vec![len], v)
}

/// The `n`×`n` identity matrix of `dtype`.
pub fn eye(n: i64, dtype: DType) -> KResult<Tensor> {
    let len = size("the size of eye", n)?;
    let shape = vec![len, len];
    let t = full(&shape, 0.0, DType::F64)?;
    let mut v = t.to_f64_vec();
    for slot in v.iter_mut().step_by(len + 1) {
        *slot = 1.0;
    }
    Tensor::from_f64s(dtype, shape, v)
}

/// Stacks tensors of one shape along a new leading axis, converting each to
/// `dtype`. `literal` makes a shape mismatch speak of the rows of a tensor
/// literal rather than the elements of `stack`. No tensors give shape `[0]`.
pub fn stack(xs: &[Tensor], dtype: DType, literal: bool) -> KResult<Tensor> {
    let Some(first) = xs.first() else {
        return full(&[0], 0.0, dtype);
    };
    for (i, x) in xs.iter().enumerate() {
        if x.shape() != first.shape() {
            return Err(KernelError::Ragged {
                literal,
                row: i + 1,
                shape: x.shape().to_vec(),
                first_row: 1,
                first_shape: first.shape().to_vec(),
            });
        }
    }
    let mut shape = Vec::with_capacity(first.rank() + 1);
    shape.push(xs.len());
    shape.extend_from_slice(first.shape());
    let n = checked_numel(&shape)?;
    fn gather<T: Copy>(
        xs: &[Tensor],
        n: usize,
        shape: &[usize],
        dtype: DType,
        pick: fn(&Data) -> Option<&[T]>,
    ) -> KResult<Vec<T>> {
        let mut out = Vec::new();
        out.try_reserve_exact(n).map_err(|_| KernelError::SizeOverflow {
            shape: shape.to_vec(),
        })?;
        for x in xs {
            // Of the same dtype already: read where it lies.
            if let Some(part) = pick(x.data()) {
                out.extend_from_slice(part);
                continue;
            }
            let c = cast(x, dtype);
            let part = pick(c.data())
                .ok_or_else(|| KernelError::Internal("stack: cast gave another dtype".to_string()))?;
            out.extend_from_slice(part);
        }
        Ok(out)
    }
    let data = match dtype {
        DType::Bool => Data::Bool(Arc::new(gather(xs, n, &shape, dtype, |d| match d {
            Data::Bool(v) => Some(v.as_slice()),
            Data::I64(_) | Data::F32(_) | Data::F64(_) => None,
        })?)),
        DType::I64 => Data::I64(Arc::new(gather(xs, n, &shape, dtype, |d| match d {
            Data::I64(v) => Some(v.as_slice()),
            Data::Bool(_) | Data::F32(_) | Data::F64(_) => None,
        })?)),
        DType::F32 => Data::F32(Arc::new(gather(xs, n, &shape, dtype, |d| match d {
            Data::F32(v) => Some(v.as_slice()),
            Data::Bool(_) | Data::I64(_) | Data::F64(_) => None,
        })?)),
        DType::F64 => Data::F64(Arc::new(gather(xs, n, &shape, dtype, |d| match d {
            Data::F64(v) => Some(v.as_slice()),
            Data::Bool(_) | Data::I64(_) | Data::F32(_) => None,
        })?)),
    };
    Tensor::new(shape, data)
}

/// For `assert_close(a, b, tol)`: the first flat index where
/// `|a - b| > tol * (1 + |b|)`, with the two values. Equal values (including
/// equal infinities) and two NaNs pass; one NaN fails. Shapes must be equal.
pub fn max_close_violation(a: &Tensor, b: &Tensor, tol: f64) -> KResult<Option<(usize, f64, f64)>> {
    if a.shape() != b.shape() {
        return Err(KernelError::CloseShapes {
            a: a.shape().to_vec(),
            b: b.shape().to_vec(),
        });
    }
    let (av, bv) = (a.to_f64_vec(), b.to_f64_vec());
    Ok(av
        .iter()
        .zip(&bv)
        .enumerate()
        .find(|&(_, (&x, &y))| {
            let ok = x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol * (1.0 + y.abs());
            !ok
        })
        .map(|(i, (&x, &y))| (i, x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_sizes() {
        let t = full(&[2, 3], 1.5, DType::F32).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.dtype(), DType::F32);
        assert_eq!(t.to_f64_vec(), vec![1.5; 6]);
        assert_eq!(full(&[2], 2.9, DType::I64).unwrap().to_i64_vec(), vec![2, 2]);
        assert_eq!(full(&[1], 0.5, DType::Bool).unwrap().as_scalar_bool(), None);
        assert_eq!(full(&[], 0.5, DType::Bool).unwrap().as_scalar_bool(), Some(true));
        assert!(matches!(
            full(&[usize::MAX, 2], 0.0, DType::F64),
            Err(KernelError::SizeOverflow { .. })
        ));
        assert!(matches!(
            full(&[usize::MAX / 2], 0.0, DType::F64),
            Err(KernelError::SizeOverflow { .. })
        ));
        assert_eq!(full(&[0, usize::MAX], 0.0, DType::F64).unwrap().numel(), 0);
    }

    #[test]
    fn arange_linspace_eye() {
        let a = arange(4).unwrap();
        assert_eq!(a.dtype(), DType::I64);
        assert_eq!(a.to_i64_vec(), vec![0, 1, 2, 3]);
        assert_eq!(arange(0).unwrap().shape(), &[0]);
        let e = arange(-1).unwrap_err();
        assert_eq!(
            e,
            KernelError::NegativeSize {
                what: "the length of arange",
                value: -1
            }
        );
        let l = linspace(0.0, 1.0, 5, DType::F64).unwrap();
        assert_eq!(l.to_f64_vec(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let l = linspace(0.0, 0.3, 4, DType::F64).unwrap().to_f64_vec();
        assert_eq!(l.last().copied(), Some(0.3));
        assert_eq!(linspace(2.0, 5.0, 1, DType::F32).unwrap().to_f64_vec(), vec![2.0]);
        assert_eq!(linspace(2.0, 5.0, 0, DType::F32).unwrap().shape(), &[0]);
        assert!(linspace(0.0, 1.0, -3, DType::F32).is_err());
        let i = eye(3, DType::I64).unwrap();
        assert_eq!(i.shape(), &[3, 3]);
        assert_eq!(i.to_i64_vec(), vec![1, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(eye(0, DType::F32).unwrap().shape(), &[0, 0]);
        assert!(eye(-2, DType::F32).is_err());
        assert!(eye(i64::MAX, DType::F32).is_err());
    }

    #[test]
    fn stacking() {
        let a = Tensor::from_i64s(vec![2], vec![1, 2]).unwrap();
        let b = Tensor::from_f64s(DType::F64, vec![2], vec![2.5, 3.0]).unwrap();
        let s = stack(&[a.clone(), b], DType::F64, true).unwrap();
        assert_eq!(s.shape(), &[2, 2]);
        assert_eq!(s.dtype(), DType::F64);
        assert_eq!(s.to_f64_vec(), vec![1.0, 2.0, 2.5, 3.0]);
        let c = Tensor::from_i64s(vec![1], vec![3]).unwrap();
        let e = stack(&[a.clone(), c.clone()], DType::I64, true).unwrap_err();
        assert_eq!(
            e.message(),
            "ragged tensor literal: row 2 has shape [1], row 1 has [2]"
        );
        let e = stack(&[a.clone(), c], DType::I64, false).unwrap_err();
        assert!(e.message().contains("element 2 has shape [1]"));
        let s = stack(&[], DType::F32, true).unwrap();
        assert_eq!(s.shape(), &[0]);
        assert_eq!(s.dtype(), DType::F32);
        let scalars = [Tensor::scalar_i64(1), Tensor::scalar_i64(0)];
        let s = stack(&scalars, DType::Bool, true).unwrap();
        assert_eq!(s.shape(), &[2]);
        assert_eq!(s.to_i64_vec(), vec![1, 0]);
    }

    #[test]
    fn close() {
        let a = Tensor::from_f64s(DType::F64, vec![3], vec![1.0, 2.0, f64::NAN]).unwrap();
        let b = Tensor::from_f64s(DType::F64, vec![3], vec![1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!(max_close_violation(&a, &b, 1e-5).unwrap(), None);
        let c = Tensor::from_f64s(DType::F64, vec![3], vec![1.0, 2.1, f64::NAN]).unwrap();
        assert_eq!(max_close_violation(&a, &c, 1e-5).unwrap(), Some((1, 2.0, 2.1)));
        assert_eq!(max_close_violation(&a, &c, 0.1).unwrap(), None);
        let d = Tensor::from_f64s(DType::F64, vec![3], vec![1.0, 2.0, 0.0]).unwrap();
        let r = max_close_violation(&a, &d, 1e-5).unwrap().unwrap();
        assert_eq!(r.0, 2);
        let inf = Tensor::scalar_float(f64::INFINITY, DType::F32);
        assert_eq!(max_close_violation(&inf, &inf, 0.0).unwrap(), None);
        let e = max_close_violation(&a, &Tensor::scalar_i64(1), 1e-5).unwrap_err();
        assert!(matches!(e, KernelError::CloseShapes { .. }));
        let i = Tensor::from_i64s(vec![3], vec![1, 2, 3]).unwrap();
        let f = Tensor::from_f64s(DType::F32, vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(max_close_violation(&i, &f, 0.0).unwrap(), None);
    }
}

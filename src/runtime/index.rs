//! Basic indexing `t[i, a:b, …]`.
//!
//! Takes a tensor, one [`IndexItem`] per leading axis (at most the rank), and the
//! int operands in order: one per `At`, one per present slice bound. `At` removes
//! its axis and must be in `-len..len` (negative counts from the end), else
//! [`KernelError::IndexOutOfRange`] with the index as written. Slices follow
//! Python: negative bounds count from the end, bounds clamp to `0..=len`, and a
//! slice with `hi <= lo` is empty. Axes past the items are kept whole. The
//! result is a new contiguous tensor.

use super::error::{KResult, KernelError};
use super::tensor::{Data, Tensor, checked_numel, map_data};
use crate::ir::op::IndexItem;
use smallvec::SmallVec;
use std::sync::Arc;

/// Per-axis numbers (starts, lengths, strides) of the small ranks tensors
/// have, inline: indexing a row of a small tensor is cheaper than the
/// allocations a `Vec` each would cost.
pub(crate) type Dims = SmallVec<[usize; 4]>;

/// `x[items]`, with `operands` supplying the ints the items consume.
pub fn index(x: &Tensor, items: &[IndexItem], operands: &[i64]) -> KResult<Tensor> {
    let shape = x.shape();
    if let Some(range) = at_range(shape, items, operands) {
        let range = range?;
        let rest = shape.get(items.len()..).unwrap_or_default().to_vec();
        let missing = || KernelError::Internal("index: position outside the data".to_string());
        let data = map_data!(x.data(), v => v.get(range.clone()).ok_or_else(missing)?.to_vec());
        return Tensor::new(rest, data);
    }
    let (starts, lens, out_shape) = index_box(shape, items, operands)?;
    let data = map_data!(x.data(), v => copy_box(v, shape, &starts, &lens)?);
    Tensor::new(out_shape.into_vec(), data)
}

/// [`index`] of a tensor the caller gives up: a slice of the first axis
/// alone (`t[lo:hi]`), of a buffer no one else holds, keeps that buffer,
/// cut to the rows it selects, rather than copying them. A loop that drops
/// the last row of an accumulator on every step copies nothing.
pub fn index_owned(mut x: Tensor, items: &[IndexItem], operands: &[i64]) -> KResult<Tensor> {
    let (&[IndexItem::Slice { lo, hi }], Some(&rows)) = (items, x.shape().first()) else {
        return index(&x, items, operands);
    };
    if !x.is_unique() || operands.len() != usize::from(lo) + usize::from(hi) {
        return index(&x, items, operands);
    }
    let mut ops = operands.iter().copied();
    let lo = if lo { ops.next() } else { None };
    let hi = if hi { ops.next() } else { None };
    let (start, count) = slice_bounds(lo, hi, rows);
    let row: usize = x.shape().iter().skip(1).product();
    let (from, to) = (start * row, (start + count) * row);
    fn cut<T>(v: &mut Arc<Vec<T>>, from: usize, to: usize) -> bool {
        match Arc::get_mut(v) {
            Some(v) if to <= v.len() => {
                v.truncate(to);
                v.drain(..from);
                true
            }
            _ => false,
        }
    }
    let done = match x.data_mut() {
        Data::Bool(v) => cut(v, from, to),
        Data::I64(v) => cut(v, from, to),
        Data::F32(v) => cut(v, from, to),
        Data::F64(v) => cut(v, from, to),
    };
    if !done {
        return index(&x, items, operands);
    }
    let mut shape = x.shape().to_vec();
    if let Some(first) = shape.first_mut() {
        *first = count;
    }
    let (_, data) = x.into_parts();
    Tensor::new(shape, data)
}

/// The elements that `items` select from a row-major tensor of `shape` when
/// every item is `At` (`t[i]`, `t[i, j]`): the trailing axes are whole, so
/// the selection is one contiguous range. `None` for any other index (and
/// for more items than axes, which [`index_box`] reports).
pub(crate) fn at_range(
    shape: &[usize],
    items: &[IndexItem],
    operands: &[i64],
) -> Option<KResult<std::ops::Range<usize>>> {
    if items.len() > shape.len() || operands.len() != items.len() || items.iter().any(|&i| i != IndexItem::At)
    {
        return None;
    }
    let (outer, inner) = shape.split_at(items.len());
    // The tensor exists, so the product of its axes cannot overflow.
    let size: usize = inner.iter().product();
    let mut row = 0usize;
    for (axis, (&len, &i)) in outer.iter().zip(operands).enumerate() {
        match at_position(i, axis, len) {
            Ok(p) => row = row * len + p,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(row * size..(row + 1) * size))
}

/// The box that `index` selects from a tensor of `shape`: its start and length
/// on every axis, and the shape of the result (without the `At` axes).
pub(crate) fn index_box(
    shape: &[usize],
    items: &[IndexItem],
    operands: &[i64],
) -> KResult<(Dims, Dims, Dims)> {
    if items.len() > shape.len() {
        return Err(KernelError::TooManyIndices {
            given: items.len(),
            rank: shape.len(),
        });
    }
    let mut ops = operands.iter().copied();
    let mut next = || {
        ops.next()
            .ok_or_else(|| KernelError::Internal("index: fewer operands than the items need".to_string()))
    };
    let mut starts = Dims::new();
    let mut lens = Dims::new();
    let mut out_shape = Dims::new();
    for (axis, &len) in shape.iter().enumerate() {
        match items.get(axis) {
            Some(IndexItem::At) => {
                let i = next()?;
                starts.push(at_position(i, axis, len)?);
                lens.push(1);
            }
            Some(&IndexItem::Slice { lo, hi }) => {
                let lo = if lo { Some(next()?) } else { None };
                let hi = if hi { Some(next()?) } else { None };
                let (start, count) = slice_bounds(lo, hi, len);
                starts.push(start);
                lens.push(count);
                out_shape.push(count);
            }
            None => {
                starts.push(0);
                lens.push(len);
                out_shape.push(len);
            }
        }
    }
    if next().is_ok() {
        return Err(KernelError::Internal(
            "index: more operands than the items need".to_string(),
        ));
    }
    Ok((starts, lens, out_shape))
}

/// The position `t[i]` selects on an axis of length `len`.
fn at_position(i: i64, axis: usize, len: usize) -> KResult<usize> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let j = if i < 0 { i.saturating_add(n) } else { i };
    if j < 0 || j >= n {
        return Err(KernelError::IndexOutOfRange { axis, index: i, len });
    }
    usize::try_from(j).map_err(|_| KernelError::IndexOutOfRange { axis, index: i, len })
}

/// The start and length of `lo:hi` on an axis of length `len`, as in Python.
pub(crate) fn slice_bounds(lo: Option<i64>, hi: Option<i64>, len: usize) -> (usize, usize) {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let norm = |v: i64| {
        let v = if v < 0 { v.saturating_add(n) } else { v };
        v.clamp(0, n)
    };
    let start = lo.map_or(0, norm);
    let end = hi.map_or(n, norm);
    let count = end.saturating_sub(start).max(0);
    (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(count).unwrap_or(0),
    )
}

/// The sub-box `starts[i] .. starts[i] + lens[i]` of row-major `data` of `shape`.
/// The element strides of a row-major tensor of `shape`.
pub(crate) fn row_major_strides(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(1, shape.len());
    let mut acc = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d);
    }
    strides
}

fn copy_box<T: Copy>(data: &[T], shape: &[usize], starts: &[usize], lens: &[usize]) -> KResult<Vec<T>> {
    let n = checked_numel(lens)?;
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| KernelError::SizeOverflow { shape: lens.to_vec() })?;
    if n == 0 {
        return Ok(out);
    }
    let strides = row_major_strides(shape);
    copy_rec(data, &strides, starts, lens, 0, &mut out)?;
    Ok(out)
}

fn copy_rec<T: Copy>(
    data: &[T],
    strides: &[usize],
    starts: &[usize],
    lens: &[usize],
    offset: usize,
    out: &mut Vec<T>,
) -> KResult<()> {
    let missing = || KernelError::Internal("index: position outside the data".to_string());
    match (strides.split_first(), starts.split_first(), lens.split_first()) {
        (Some((&s, rs)), Some((&b, rb)), Some((&l, rl))) => {
            let base = offset + b * s;
            if rs.is_empty() {
                out.extend_from_slice(data.get(base..base + l).ok_or_else(missing)?);
            } else {
                for i in 0..l {
                    copy_rec(data, rs, rb, rl, base + i * s, out)?;
                }
            }
        }
        _ => out.push(*data.get(offset).ok_or_else(missing)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::DType;

    fn t23() -> Tensor {
        Tensor::from_i64s(vec![2, 3], vec![0, 1, 2, 3, 4, 5]).unwrap()
    }

    const S: IndexItem = IndexItem::Slice { lo: true, hi: true };
    const ALL: IndexItem = IndexItem::Slice { lo: false, hi: false };

    #[test]
    fn an_owned_first_axis_slice_cuts_its_buffer_in_place() {
        let rows = || Tensor::from_i64s(vec![4, 2], (0..8).collect()).unwrap();
        // Bounds as `index` takes them: present, absent, negative, clamped.
        let cases: [(&[IndexItem], &[i64]); 5] = [
            (&[S], &[1, 3]),
            (&[S], &[0, -1]),
            (&[S], &[-3, 10]),
            (&[IndexItem::Slice { lo: false, hi: true }], &[2]),
            (&[IndexItem::Slice { lo: true, hi: false }], &[3]),
        ];
        for (items, ops) in cases {
            let want = index(&rows(), items, ops).unwrap();
            let x = rows();
            let addr = x.buffer_addr();
            let got = index_owned(x, items, ops).unwrap();
            assert_eq!((got.shape(), got.to_i64_vec()), (want.shape(), want.to_i64_vec()));
            assert_eq!(got.buffer_addr(), addr, "{ops:?}: the buffer is kept");
        }
        // A shared buffer is copied, and the other holder sees no change.
        let x = rows();
        let held = x.clone();
        let got = index_owned(x, &[S], &[1, 3]).unwrap();
        assert_eq!(got.to_i64_vec(), vec![2, 3, 4, 5]);
        assert_eq!(held.to_i64_vec(), (0..8).collect::<Vec<i64>>());
        assert_ne!(got.buffer_addr(), held.buffer_addr());
        // Other indexes copy as `index` does.
        let got = index_owned(rows(), &[ALL, IndexItem::At], &[1]).unwrap();
        assert_eq!(got.to_i64_vec(), vec![1, 3, 5, 7]);
    }

    #[test]
    fn at_and_negative() {
        let r = index(&t23(), &[IndexItem::At], &[1]).unwrap();
        assert_eq!(r.shape(), &[3]);
        assert_eq!(r.to_i64_vec(), vec![3, 4, 5]);
        let r = index(&t23(), &[IndexItem::At], &[-1]).unwrap();
        assert_eq!(r.to_i64_vec(), vec![3, 4, 5]);
        let r = index(&t23(), &[IndexItem::At, IndexItem::At], &[-2, -1]).unwrap();
        assert_eq!(r.shape(), &[] as &[usize]);
        assert_eq!(r.as_scalar_i64(), Some(2));
        let r = index(&t23(), &[ALL, IndexItem::At], &[1]).unwrap();
        assert_eq!(r.shape(), &[2]);
        assert_eq!(r.to_i64_vec(), vec![1, 4]);
    }

    #[test]
    fn out_of_range() {
        let e = index(&t23(), &[IndexItem::At], &[5]).unwrap_err();
        assert_eq!(e.message(), "index 5 is out of range for axis 0 of length 2");
        let e = index(&t23(), &[IndexItem::At], &[-3]).unwrap_err();
        assert_eq!(
            e,
            KernelError::IndexOutOfRange {
                axis: 0,
                index: -3,
                len: 2
            }
        );
        let e = index(&t23(), &[ALL, IndexItem::At], &[3]).unwrap_err();
        assert!(matches!(e, KernelError::IndexOutOfRange { axis: 1, .. }));
        let e = index(&t23(), &[IndexItem::At, IndexItem::At, IndexItem::At], &[0, 0, 0]).unwrap_err();
        assert!(e.message().contains("too many indices"));
        assert!(index(&t23(), &[IndexItem::At], &[]).unwrap_err().is_internal());
        assert!(
            index(&t23(), &[IndexItem::At], &[0, 1])
                .unwrap_err()
                .is_internal()
        );
        assert!(index(&t23(), &[IndexItem::At], &[i64::MIN]).is_err());
    }

    #[test]
    fn slices() {
        let r = index(&t23(), &[ALL, S], &[1, 3]).unwrap();
        assert_eq!(r.shape(), &[2, 2]);
        assert_eq!(r.to_i64_vec(), vec![1, 2, 4, 5]);
        let r = index(&t23(), &[ALL, S], &[-2, 100]).unwrap();
        assert_eq!(r.to_i64_vec(), vec![1, 2, 4, 5]);
        let r = index(&t23(), &[ALL, IndexItem::Slice { lo: false, hi: true }], &[-1]).unwrap();
        assert_eq!(r.to_i64_vec(), vec![0, 1, 3, 4]);
        let r = index(&t23(), &[IndexItem::Slice { lo: true, hi: false }], &[1]).unwrap();
        assert_eq!(r.shape(), &[1, 3]);
        assert_eq!(r.to_i64_vec(), vec![3, 4, 5]);
        let r = index(&t23(), &[ALL, S], &[2, 1]).unwrap();
        assert_eq!(r.shape(), &[2, 0]);
        assert_eq!(r.numel(), 0);
        let r = index(&t23(), &[S], &[-100, -1]).unwrap();
        assert_eq!(r.to_i64_vec(), vec![0, 1, 2]);
        let r = index(&t23(), &[S, IndexItem::At], &[i64::MIN, i64::MAX, -1]).unwrap();
        assert_eq!(r.to_i64_vec(), vec![2, 5]);
        assert_eq!(slice_bounds(None, None, 4), (0, 4));
        assert_eq!(slice_bounds(Some(3), Some(1), 4), (3, 0));
    }

    #[test]
    fn other_dtypes_and_rank0() {
        let f = Tensor::from_f64s(DType::F32, vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        let r = index(&f, &[IndexItem::At], &[-1]).unwrap();
        assert_eq!(r.dtype(), DType::F32);
        assert_eq!(r.as_scalar_f64(), Some(3.0));
        let s = Tensor::scalar_bool(true);
        assert_eq!(index(&s, &[], &[]).unwrap(), s);
        let e = Tensor::from_i64s(vec![0, 2], vec![]).unwrap();
        let r = index(&e, &[ALL, IndexItem::At], &[1]).unwrap();
        assert_eq!(r.shape(), &[0]);
    }
}

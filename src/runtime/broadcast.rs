//! NumPy broadcasting: shape rules and materializing a buffer at a larger shape.
//!
//! [`broadcast_shapes`] takes any two shapes and returns the broadcast shape or
//! [`KernelError::Broadcast`]; [`broadcast_to`] takes a buffer whose length
//! matches its shape and a target shape that shape broadcasts to, and returns a
//! row-major buffer of the target shape (copying whole rows where it can). Both
//! are panic-free: inconsistent inputs are internal errors.

use super::error::{KResult, KernelError};
use super::tensor::checked_numel;

/// Whether two shapes are equal. Slices' `==` calls libc's `memcmp`, whose
/// setup costs more than comparing the one to four dimensions a shape has;
/// interpreted code on small tensors compares shapes at every operation.
#[inline]
pub fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whether `shape` ends with the dimensions of `tail` ([`same_shape`]'s
/// reason for not using the slice method).
#[inline]
pub fn ends_with_shape(shape: &[usize], tail: &[usize]) -> bool {
    shape
        .len()
        .checked_sub(tail.len())
        .and_then(|start| shape.get(start..))
        .is_some_and(|end| same_shape(end, tail))
}

/// The shape two operands broadcast to, matching axes from the right.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> KResult<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0usize; rank];
    for (i, slot) in out.iter_mut().rev().enumerate() {
        let da = dim_from_right(a, i);
        let db = dim_from_right(b, i);
        *slot = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(KernelError::Broadcast {
                    a: a.to_vec(),
                    b: b.to_vec(),
                });
            }
        };
    }
    Ok(out)
}

/// The `i`-th dimension counted from the right (0 = last), 1 beyond the rank.
fn dim_from_right(shape: &[usize], i: usize) -> usize {
    if i < shape.len() {
        shape.get(shape.len() - 1 - i).copied().unwrap_or(1)
    } else {
        1
    }
}

/// `data` (of shape `from`) repeated along broadcast axes to shape `to`.
pub fn broadcast_to<T: Copy>(data: &[T], from: &[usize], to: &[usize]) -> KResult<Vec<T>> {
    if from == to {
        return Ok(data.to_vec());
    }
    let n = checked_numel(to)?;
    if checked_numel(from)? != data.len() || from.len() > to.len() {
        return Err(KernelError::Internal(
            "broadcast_to: inconsistent shapes".to_string(),
        ));
    }
    // Left-pad `from` with ones and compute its strides (0 on broadcast axes).
    let pad = to.len() - from.len();
    let full_from: Vec<usize> = std::iter::repeat_n(1, pad).chain(from.iter().copied()).collect();
    let mut strides = vec![0usize; to.len()];
    let mut acc = 1usize;
    for ((s, &df), &dt) in strides.iter_mut().zip(&full_from).zip(to).rev() {
        if df == dt {
            *s = acc;
        } else if df == 1 {
            *s = 0;
        } else {
            return Err(KernelError::Broadcast {
                a: from.to_vec(),
                b: to.to_vec(),
            });
        }
        acc = acc.saturating_mul(df);
    }
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| KernelError::SizeOverflow { shape: to.to_vec() })?;
    if n == 0 {
        return Ok(out);
    }
    fill(data, to, &strides, 0, &mut out)?;
    Ok(out)
}

/// Appends the sub-box of `data` starting at `offset` over axes `to` (with
/// input strides `strides`) to `out`.
fn fill<T: Copy>(
    data: &[T],
    to: &[usize],
    strides: &[usize],
    offset: usize,
    out: &mut Vec<T>,
) -> KResult<()> {
    let missing = || KernelError::Internal("broadcast_to: offset out of range".to_string());
    match (to.split_first(), strides.split_first()) {
        (None, _) | (_, None) => {
            out.push(*data.get(offset).ok_or_else(missing)?);
        }
        (Some((&d, rest_to)), Some((&s, rest_strides))) => {
            if rest_to.is_empty() {
                if s == 1 {
                    let row = data.get(offset..offset + d).ok_or_else(missing)?;
                    out.extend_from_slice(row);
                } else {
                    let v = *data.get(offset).ok_or_else(missing)?;
                    out.extend(std::iter::repeat_n(v, d));
                }
            } else {
                for i in 0..d {
                    fill(data, rest_to, rest_strides, offset + i * s, out)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(broadcast_shapes(&[2, 3], &[3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes(&[2, 1], &[1, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes(&[], &[4, 5]).unwrap(), vec![4, 5]);
        assert_eq!(broadcast_shapes(&[5, 1, 4], &[3, 1]).unwrap(), vec![5, 3, 4]);
        assert_eq!(broadcast_shapes(&[0], &[1]).unwrap(), vec![0]);
        let e = broadcast_shapes(&[2], &[3]).unwrap_err();
        assert_eq!(e.message(), "cannot broadcast shapes [2] and [3]");
    }

    #[test]
    fn materialize() {
        assert_eq!(
            broadcast_to(&[1, 2, 3], &[3], &[2, 3]).unwrap(),
            vec![1, 2, 3, 1, 2, 3]
        );
        assert_eq!(
            broadcast_to(&[1, 2], &[2, 1], &[2, 3]).unwrap(),
            vec![1, 1, 1, 2, 2, 2]
        );
        assert_eq!(broadcast_to(&[7], &[], &[2, 2]).unwrap(), vec![7; 4]);
        assert_eq!(
            broadcast_to(&[1, 2], &[2, 1, 1], &[2, 2, 2]).unwrap(),
            vec![1, 1, 1, 1, 2, 2, 2, 2]
        );
        assert_eq!(
            broadcast_to::<i32>(&[], &[0], &[3, 0]).unwrap(),
            Vec::<i32>::new()
        );
        assert!(broadcast_to(&[1, 2], &[2], &[3]).is_err());
        assert!(broadcast_to(&[1, 2], &[3], &[2, 3]).is_err());
    }
}

//! `batches(x, y, size)`: minibatches of rows for training loops.

use super::error::{KResult, KernelError};
use super::{Tensor, take};

/// Splits `x` and `y` along their first axis into pairs of `size` rows (the
/// last pair shorter when `size` does not divide the row count), taking the
/// rows in `order` (a permutation of the rows, for shuffling) or in order.
pub fn batches(x: &Tensor, y: &Tensor, size: i64, order: Option<&[usize]>) -> KResult<Vec<(Tensor, Tensor)>> {
    let (Some(&n), Some(&m)) = (x.shape().first(), y.shape().first()) else {
        return Err(KernelError::Internal("batches of a scalar".into()));
    };
    if n != m {
        return Err(KernelError::BatchRows { x: n, y: m });
    }
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or(KernelError::BatchSize { size })?;
    let rows: Vec<i64> = match order {
        Some(p) if p.len() == n => p.iter().map(|&i| i as i64).collect(),
        Some(_) => {
            return Err(KernelError::Internal(
                "batches: the permutation has the wrong length".into(),
            ));
        }
        None => (0..n as i64).collect(),
    };
    rows.chunks(size)
        .map(|chunk| {
            let idx = Tensor::from_i64s(vec![chunk.len()], chunk.to_vec())?;
            Ok((take(x, &idx, 0)?, take(y, &idx, 0)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_row_once_with_a_short_last_batch() {
        let x = Tensor::from_i64s(vec![5, 2], (0..10).collect()).unwrap();
        let y = Tensor::from_i64s(vec![5], (0..5).collect()).unwrap();
        let bs = batches(&x, &y, 2, None).unwrap();
        let shapes: Vec<_> = bs
            .iter()
            .map(|(a, b)| (a.shape().to_vec(), b.shape().to_vec()))
            .collect();
        assert_eq!(
            shapes,
            vec![
                (vec![2, 2], vec![2]),
                (vec![2, 2], vec![2]),
                (vec![1, 2], vec![1])
            ]
        );
        assert_eq!(bs[2].0.to_i64_vec(), vec![8, 9]);
        let shuffled = batches(&x, &y, 3, Some(&[4, 0, 3, 1, 2])).unwrap();
        assert_eq!(shuffled[0].1.to_i64_vec(), vec![4, 0, 3]);
        assert_eq!(shuffled[0].0.to_i64_vec(), vec![8, 9, 0, 1, 6, 7]);
    }

    #[test]
    fn bad_sizes_and_rows_are_errors() {
        let x = Tensor::from_i64s(vec![3], vec![1, 2, 3]).unwrap();
        let y = Tensor::from_i64s(vec![2], vec![1, 2]).unwrap();
        assert_eq!(
            batches(&x, &y, 1, None).unwrap_err(),
            KernelError::BatchRows { x: 3, y: 2 }
        );
        assert_eq!(
            batches(&x, &x, 0, None).unwrap_err(),
            KernelError::BatchSize { size: 0 }
        );
    }
}

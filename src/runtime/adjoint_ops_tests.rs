//! Tests of the adjoint shape kernels against hand-derived values, and of the
//! transpose pairs (broadcast/sum, index/index_grad) through inner products.

use super::*;
use crate::runtime::index;

fn ints(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::from_i64s(shape.to_vec(), v.to_vec()).unwrap()
}

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

fn f32s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F32, shape.to_vec(), v.to_vec()).unwrap()
}

fn bools(t: &Tensor) -> Vec<bool> {
    match t.data() {
        Data::Bool(v) => v.to_vec(),
        other => panic!("expected a bool tensor, got {:?}", other.dtype()),
    }
}

/// Deterministic, varied values for a tensor of `shape`.
fn pseudo(shape: &[usize], seed: u64) -> Tensor {
    let n = checked_numel(shape).unwrap();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 1000) as f64 / 100.0 - 5.0
        })
        .collect();
    f64s(shape, &v)
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .map(|(x, y)| x * y)
        .sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

const AT: IndexItem = IndexItem::At;
const ALL: IndexItem = IndexItem::Slice { lo: false, hi: false };
const S: IndexItem = IndexItem::Slice { lo: true, hi: true };
const LO: IndexItem = IndexItem::Slice { lo: true, hi: false };
const HI: IndexItem = IndexItem::Slice { lo: false, hi: true };

#[test]
fn broadcast_like_rows_and_columns() {
    let r = broadcast_like(&ints(&[3], &[1, 2, 3]), &[2, 3]).unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_i64_vec(), vec![1, 2, 3, 1, 2, 3]);
    let r = broadcast_like(&f64s(&[2, 1], &[1.5, -2.0]), &[2, 3]).unwrap();
    assert_eq!(r.dtype(), DType::F64);
    assert_eq!(r.to_f64_vec(), vec![1.5, 1.5, 1.5, -2.0, -2.0, -2.0]);
    let r = broadcast_like(&Tensor::scalar_bool(true), &[2, 2]).unwrap();
    assert_eq!(bools(&r), vec![true; 4]);
    let r = broadcast_like(&f32s(&[], &[0.5]), &[]).unwrap();
    assert_eq!(r.shape(), &[] as &[usize]);
    assert_eq!(r.as_scalar_f64(), Some(0.5));
    let r = broadcast_like(&ints(&[2, 3], &[0, 1, 2, 3, 4, 5]), &[2, 3]).unwrap();
    assert_eq!(r.to_i64_vec(), vec![0, 1, 2, 3, 4, 5]);
    let r = broadcast_like(&ints(&[1], &[4]), &[0]).unwrap();
    assert_eq!(r.shape(), &[0]);
    // Not to exactly that shape: [2, 3] would need [2, 3] → [3] (shrinking).
    assert!(matches!(
        broadcast_like(&ints(&[2, 3], &[0; 6]), &[3]),
        Err(KernelError::Broadcast { .. })
    ));
    assert!(matches!(
        broadcast_like(&ints(&[2], &[0; 2]), &[3]),
        Err(KernelError::Broadcast { .. })
    ));
    assert!(broadcast_like(&ints(&[2, 3], &[0; 6]), &[1, 3]).is_err());
}

#[test]
fn sum_like_rows_columns_and_scalars() {
    let x = f64s(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let r = sum_like(&x, &[3]).unwrap();
    assert_eq!(r.shape(), &[3]);
    assert_eq!(r.to_f64_vec(), vec![3.0, 5.0, 7.0]);
    let r = sum_like(&x, &[2, 1]).unwrap();
    assert_eq!(r.shape(), &[2, 1]);
    assert_eq!(r.to_f64_vec(), vec![3.0, 12.0]);
    let r = sum_like(&x, &[1, 3]).unwrap();
    assert_eq!(r.to_f64_vec(), vec![3.0, 5.0, 7.0]);
    let r = sum_like(&x, &[]).unwrap();
    assert_eq!(r.shape(), &[] as &[usize]);
    assert_eq!(r.as_scalar_f64(), Some(15.0));
    let r = sum_like(&x, &[1, 1]).unwrap();
    assert_eq!(r.shape(), &[1, 1]);
    assert_eq!(r.to_f64_vec(), vec![15.0]);
    let r = sum_like(&x, &[2, 3]).unwrap();
    assert_eq!(r, x);
    let r = sum_like(&ints(&[2, 3], &[0, 1, 2, 3, 4, 5]), &[2, 1]).unwrap();
    assert_eq!(r.dtype(), DType::I64);
    assert_eq!(r.to_i64_vec(), vec![3, 12]);
    let r = sum_like(&ints(&[2], &[i64::MAX, 1]), &[]).unwrap();
    assert_eq!(r.as_scalar_i64(), Some(i64::MIN));
    let r = sum_like(&f32s(&[4], &[0.1, 0.2, 0.3, 0.4]), &[1]).unwrap();
    assert_eq!(r.dtype(), DType::F32);
    let want = [0.1f32, 0.2, 0.3, 0.4].iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
    assert_eq!(r.to_f64_vec(), vec![f64::from(want)]);
    // A 3-D case: [2, 2, 3] → [2, 1, 1] and → [1, 3].
    let y = ints(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(sum_like(&y, &[2, 1, 1]).unwrap().to_i64_vec(), vec![21, 57]);
    assert_eq!(sum_like(&y, &[1, 3]).unwrap().to_i64_vec(), vec![22, 26, 30]);
    // Empty inputs sum to zero.
    let r = sum_like(&f64s(&[0, 2], &[]), &[2]).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0, 0.0]);
    // Round trip with broadcast_like.
    let b = broadcast_like(&ints(&[2, 1], &[1, 2]), &[2, 3]).unwrap();
    assert_eq!(sum_like(&b, &[2, 1]).unwrap().to_i64_vec(), vec![3, 6]);
}

#[test]
fn sum_like_errors() {
    let x = f64s(&[2, 3], &[0.0; 6]);
    assert!(matches!(sum_like(&x, &[2]), Err(KernelError::Broadcast { .. })));
    assert!(matches!(
        sum_like(&x, &[1, 2, 3]),
        Err(KernelError::Broadcast { .. })
    ));
    assert!(matches!(
        sum_like(&x, &[4, 3]),
        Err(KernelError::Broadcast { .. })
    ));
    let e = sum_like(&Tensor::scalar_bool(true), &[]).unwrap_err();
    assert!(e.is_internal());
}

#[test]
fn sum_like_is_the_transpose_of_broadcast_like() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3], &[2, 3]),
        (&[2, 1], &[2, 3]),
        (&[], &[2, 3]),
        (&[1, 4, 1], &[3, 2, 4, 5]),
        (&[2, 1, 3], &[2, 4, 3]),
        (&[1], &[5]),
        (&[2, 3], &[2, 3]),
    ];
    for (k, &(small, big)) in cases.iter().enumerate() {
        let a = pseudo(small, 2 * k as u64);
        let b = pseudo(big, 2 * k as u64 + 1);
        let lhs = dot(&broadcast_like(&a, big).unwrap(), &b);
        let rhs = dot(&a, &sum_like(&b, small).unwrap());
        assert!(close(lhs, rhs), "{small:?} -> {big:?}: {lhs} vs {rhs}");
    }
}

#[test]
fn reshape_like_keeps_data() {
    let x = ints(&[2, 3], &[0, 1, 2, 3, 4, 5]);
    let r = reshape_like(&x, &[3, 2]).unwrap();
    assert_eq!(r.shape(), &[3, 2]);
    assert_eq!(r.to_i64_vec(), vec![0, 1, 2, 3, 4, 5]);
    let r = reshape_like(&x, &[6]).unwrap();
    assert_eq!(r.shape(), &[6]);
    let r = reshape_like(&Tensor::scalar_i64(7), &[1, 1]).unwrap();
    assert_eq!(r.shape(), &[1, 1]);
    assert_eq!(reshape_like(&r, &[]).unwrap().as_scalar_i64(), Some(7));
    assert!(matches!(
        reshape_like(&x, &[4]),
        Err(KernelError::DataLength { len: 6, .. })
    ));
    assert!(reshape_like(&x, &[usize::MAX, 2]).is_err());
}

#[test]
fn transpose_matrix_and_3d() {
    let x = ints(&[2, 3], &[0, 1, 2, 3, 4, 5]);
    let r = transpose(&x, &[1, 0]).unwrap();
    assert_eq!(r.shape(), &[3, 2]);
    assert_eq!(r.to_i64_vec(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(transpose(&x, &[0, 1]).unwrap(), x);
    // x[a, b, c] = 100a + 10b + c with shape [2, 3, 4].
    let v: Vec<f64> = (0..2)
        .flat_map(|a| (0..3).flat_map(move |b| (0..4).map(move |c| f64::from(100 * a + 10 * b + c))))
        .collect();
    let x = f32s(&[2, 3, 4], &v);
    // Result axis i is input axis perm[i]: r[c, a, b] = x[a, b, c].
    let r = transpose(&x, &[2, 0, 1]).unwrap();
    assert_eq!(r.shape(), &[4, 2, 3]);
    assert_eq!(r.dtype(), DType::F32);
    let want: Vec<f64> = (0..4)
        .flat_map(|c| (0..2).flat_map(move |a| (0..3).map(move |b| f64::from(100 * a + 10 * b + c))))
        .collect();
    assert_eq!(r.to_f64_vec(), want);
    assert_eq!(
        &r.to_f64_vec()[..8],
        &[0.0, 10.0, 20.0, 100.0, 110.0, 120.0, 1.0, 11.0]
    );
    // Transposing back with the inverse permutation.
    assert_eq!(transpose(&r, &[1, 2, 0]).unwrap(), x);
    let r = transpose(&Tensor::scalar_bool(false), &[]).unwrap();
    assert_eq!(r.as_scalar_bool(), Some(false));
    let r = transpose(&ints(&[0, 2], &[]), &[1, 0]).unwrap();
    assert_eq!(r.shape(), &[2, 0]);
}

#[test]
fn transpose_errors() {
    let x = ints(&[2, 3], &[0; 6]);
    assert!(transpose(&x, &[0]).unwrap_err().is_internal());
    assert!(transpose(&x, &[0, 0]).unwrap_err().is_internal());
    assert!(matches!(
        transpose(&x, &[0, 2]),
        Err(KernelError::AxisOutOfRange { axis: 2, rank: 2 })
    ));
}

#[test]
fn expand_dims_at_ends() {
    let x = ints(&[2, 3], &[0, 1, 2, 3, 4, 5]);
    let r = expand_dims(&x, 0).unwrap();
    assert_eq!(r.shape(), &[1, 2, 3]);
    assert_eq!(r.to_i64_vec(), x.to_i64_vec());
    assert_eq!(expand_dims(&x, 1).unwrap().shape(), &[2, 1, 3]);
    assert_eq!(expand_dims(&x, 2).unwrap().shape(), &[2, 3, 1]);
    assert_eq!(expand_dims(&Tensor::scalar_i64(1), 0).unwrap().shape(), &[1]);
    assert!(matches!(
        expand_dims(&x, 3),
        Err(KernelError::AxisOutOfRange { axis: 3, .. })
    ));
}

#[test]
fn index_grad_hand_values() {
    let g = ints(&[2], &[7, 8]);
    let r = index_grad(&g, &[2, 3], &[ALL, AT], &[1]).unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.dtype(), DType::I64);
    assert_eq!(r.to_i64_vec(), vec![0, 7, 0, 0, 8, 0]);
    let g = f64s(&[3], &[1.0, 2.0, 3.0]);
    let r = index_grad(&g, &[2, 3], &[AT], &[-1]).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
    let g = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let r = index_grad(&g, &[2, 3], &[ALL, S], &[-2, 100]).unwrap();
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_f64_vec(), vec![0.0, 1.0, 2.0, 0.0, 3.0, 4.0]);
    let r = index_grad(&f64s(&[], &[9.0]), &[2, 3], &[AT, AT], &[-2, -1]).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0, 0.0, 9.0, 0.0, 0.0, 0.0]);
    let r = index_grad(&f64s(&[2, 0], &[]), &[2, 3], &[ALL, S], &[2, 1]).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0; 6]);
    let r = index_grad(&f64s(&[], &[2.5]), &[], &[], &[]).unwrap();
    assert_eq!(r.as_scalar_f64(), Some(2.5));
}

#[test]
fn index_grad_errors() {
    let g = f64s(&[3], &[0.0; 3]);
    // g does not have the shape of the index result ([3]).
    assert!(
        index_grad(&f64s(&[2], &[0.0; 2]), &[2, 3], &[AT], &[0])
            .unwrap_err()
            .is_internal()
    );
    assert!(matches!(
        index_grad(&g, &[2, 3], &[AT], &[2]),
        Err(KernelError::IndexOutOfRange {
            axis: 0,
            index: 2,
            len: 2
        })
    ));
    assert!(matches!(
        index_grad(&g, &[2, 3], &[AT], &[-3]),
        Err(KernelError::IndexOutOfRange { index: -3, .. })
    ));
    assert!(matches!(
        index_grad(&g, &[3], &[AT, AT], &[0, 0]),
        Err(KernelError::TooManyIndices { given: 2, rank: 1 })
    ));
    assert!(index_grad(&g, &[2, 3], &[AT], &[]).unwrap_err().is_internal());
    assert!(index_grad(&g, &[2, 3], &[AT], &[0, 1]).unwrap_err().is_internal());
    let b = Tensor::from_bools(vec![3], vec![true; 3]).unwrap();
    assert!(index_grad(&b, &[2, 3], &[AT], &[0]).unwrap_err().is_internal());
}

#[test]
fn index_grad_is_the_transpose_of_index() {
    let shape = [3usize, 4, 5];
    let cases: &[(&[IndexItem], &[i64])] = &[
        (&[], &[]),
        (&[AT], &[1]),
        (&[AT], &[-1]),
        (&[S], &[1, 3]),
        (&[ALL, AT], &[-2]),
        (&[LO, HI, AT], &[1, -1, 4]),
        (&[AT, AT, AT], &[2, -4, 0]),
        (&[S, S, S], &[-100, 100, 1, -1, 3, 2]),
        (&[ALL, LO, S], &[2, -3, -1]),
        (&[HI, AT], &[2, 3]),
        (&[AT, ALL, AT], &[-3, -5]),
    ];
    for (k, &(items, ops)) in cases.iter().enumerate() {
        let x = pseudo(&shape, 10 + k as u64);
        let y = index(&x, items, ops).unwrap();
        let g = pseudo(y.shape(), 100 + k as u64);
        let gx = index_grad(&g, &shape, items, ops).unwrap();
        assert_eq!(gx.shape(), &shape);
        let lhs = dot(&y, &g);
        let rhs = dot(&x, &gx);
        assert!(close(lhs, rhs), "{items:?} {ops:?}: {lhs} vs {rhs}");
        // The gradient of an index of ones counts how often each element is used.
        let ones = f64s(y.shape(), &vec![1.0; y.numel()]);
        let count = index_grad(&ones, &shape, items, ops).unwrap();
        assert!(count.to_f64_vec().iter().all(|&c| c == 0.0 || c == 1.0));
        assert_eq!(count.to_f64_vec().iter().sum::<f64>(), y.numel() as f64);
        // For ints too.
        let gi = Tensor::from_f64s(DType::I64, y.shape().to_vec(), g.to_f64_vec()).unwrap();
        let xi = Tensor::from_f64s(DType::I64, shape.to_vec(), x.to_f64_vec()).unwrap();
        let yi = index(&xi, items, ops).unwrap();
        let gxi = index_grad(&gi, &shape, items, ops).unwrap();
        assert_eq!(dot(&yi, &gi), dot(&xi, &gxi));
    }
}

/// [[1, 3, 3], [5, 0, 5]]
fn m23(dtype: DType) -> Tensor {
    Tensor::from_f64s(dtype, vec![2, 3], vec![1.0, 3.0, 3.0, 5.0, 0.0, 5.0]).unwrap()
}

#[test]
fn extreme_mask_axes_and_ties() {
    for dtype in [DType::I64, DType::F32, DType::F64] {
        let x = m23(dtype);
        let r = extreme_mask(&x, false, Some(0)).unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        assert_eq!(r.dtype(), DType::Bool);
        assert_eq!(bools(&r), vec![false, true, false, true, false, true]);
        let r = extreme_mask(&x, false, Some(1)).unwrap();
        assert_eq!(bools(&r), vec![false, true, false, true, false, false]);
        let r = extreme_mask(&x, false, None).unwrap();
        assert_eq!(bools(&r), vec![false, false, false, true, false, false]);
        let r = extreme_mask(&x, true, None).unwrap();
        assert_eq!(bools(&r), vec![false, false, false, false, true, false]);
        let r = extreme_mask(&x, true, Some(1)).unwrap();
        assert_eq!(bools(&r), vec![true, false, false, false, true, false]);
        let r = extreme_mask(&x, true, Some(0)).unwrap();
        assert_eq!(bools(&r), vec![true, false, true, false, true, false]);
    }
    // All equal: the first wins.
    let r = extreme_mask(&ints(&[4], &[2, 2, 2, 2]), true, Some(0)).unwrap();
    assert_eq!(bools(&r), vec![true, false, false, false]);
    // A 3-D middle axis: x[a, b, c] with lanes along b.
    let x = ints(&[2, 2, 2], &[1, 9, 4, 2, 7, 7, 7, 8]);
    let r = extreme_mask(&x, false, Some(1)).unwrap();
    assert_eq!(
        bools(&r),
        vec![false, true, true, false, true, false, false, true]
    );
    // Scalars have one element, which is the extreme.
    let r = extreme_mask(&Tensor::scalar_i64(3), false, None).unwrap();
    assert_eq!(bools(&r), vec![true]);
}

#[test]
fn extreme_mask_nan_and_empty() {
    let x = f64s(&[4], &[1.0, f64::NAN, 3.0, f64::NAN]);
    for min in [false, true] {
        let r = extreme_mask(&x, min, None).unwrap();
        assert_eq!(bools(&r), vec![false, true, false, false]);
    }
    let x = f32s(&[2, 2], &[f64::NAN, 1.0, 2.0, f64::NAN]);
    let r = extreme_mask(&x, false, Some(0)).unwrap();
    assert_eq!(bools(&r), vec![true, false, false, true]);
    let r = extreme_mask(&x, true, Some(1)).unwrap();
    assert_eq!(bools(&r), vec![true, false, false, true]);
    let r = extreme_mask(&f64s(&[2, 0], &[]), false, Some(1)).unwrap();
    assert_eq!(r.shape(), &[2, 0]);
    assert_eq!(r.numel(), 0);
    let r = extreme_mask(&f64s(&[0, 3], &[]), true, None).unwrap();
    assert_eq!(r.shape(), &[0, 3]);
    let r = extreme_mask(&ints(&[0], &[]), true, Some(0)).unwrap();
    assert_eq!(r.numel(), 0);
}

#[test]
fn extreme_mask_errors() {
    let x = ints(&[2, 3], &[0; 6]);
    assert!(matches!(
        extreme_mask(&x, false, Some(2)),
        Err(KernelError::AxisOutOfRange { axis: 2, rank: 2 })
    ));
    let b = Tensor::from_bools(vec![2], vec![true, false]).unwrap();
    assert!(extreme_mask(&b, false, None).unwrap_err().is_internal());
}

#[test]
fn transpose_of_the_last_two_axes_in_blocks() {
    // Sizes that are not multiples of the block, with a batch axis:
    // r[a, c, b] = x[a, b, c] = 10000a + 100b + c.
    let (na, nb, nc) = (2, 37, 45);
    let v: Vec<i64> = (0..na)
        .flat_map(|a| (0..nb).flat_map(move |b| (0..nc).map(move |c| 10000 * a + 100 * b + c)))
        .collect();
    let x = ints(&[na as usize, nb as usize, nc as usize], &v);
    let r = transpose(&x, &[0, 2, 1]).unwrap();
    assert_eq!(r.shape(), &[2, 45, 37]);
    let want: Vec<i64> = (0..na)
        .flat_map(|a| (0..nc).flat_map(move |c| (0..nb).map(move |b| 10000 * a + 100 * b + c)))
        .collect();
    assert_eq!(r.to_i64_vec(), want);
    assert_eq!(transpose(&r, &[0, 2, 1]).unwrap(), x);
    let empty = ints(&[0, 3], &[]);
    assert_eq!(transpose(&empty, &[1, 0]).unwrap().shape(), &[3, 0]);
}

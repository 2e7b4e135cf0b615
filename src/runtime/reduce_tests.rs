//! Tests of the reductions against hand-derived values.

use super::*;

fn ints(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::from_i64s(shape.to_vec(), v.to_vec()).unwrap()
}

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

fn f32s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F32, shape.to_vec(), v.to_vec()).unwrap()
}

/// [[0, 1, 2], [3, 4, 5]]
fn m23() -> Tensor {
    f64s(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
}

#[test]
fn axes_and_keepdims() {
    let x = m23();
    let r = reduce(ReduceOp::Sum, &x, None, false).unwrap();
    assert_eq!(r.shape(), &[] as &[usize]);
    assert_eq!(r.as_scalar_f64(), Some(15.0));
    let r = reduce(ReduceOp::Sum, &x, None, true).unwrap();
    assert_eq!(r.shape(), &[1, 1]);
    let r = reduce(ReduceOp::Sum, &x, Some(0), false).unwrap();
    assert_eq!(r.shape(), &[3]);
    assert_eq!(r.to_f64_vec(), vec![3.0, 5.0, 7.0]);
    let r = reduce(ReduceOp::Sum, &x, Some(1), true).unwrap();
    assert_eq!(r.shape(), &[2, 1]);
    assert_eq!(r.to_f64_vec(), vec![3.0, 12.0]);
    let r = reduce(ReduceOp::Mean, &x, Some(0), true).unwrap();
    assert_eq!(r.shape(), &[1, 3]);
    assert_eq!(r.to_f64_vec(), vec![1.5, 2.5, 3.5]);
    let r = reduce(ReduceOp::Prod, &x, Some(1), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0, 60.0]);
    let r = reduce(ReduceOp::Max, &x, Some(0), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![3.0, 4.0, 5.0]);
    let r = reduce(ReduceOp::Min, &x, Some(1), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0, 3.0]);
    let r = reduce(ReduceOp::Argmax, &x, Some(1), false).unwrap();
    assert_eq!(r.dtype(), DType::I64);
    assert_eq!(r.to_i64_vec(), vec![2, 2]);
    let r = reduce(ReduceOp::Argmin, &x, None, false).unwrap();
    assert_eq!(r.as_scalar_i64(), Some(0));
    let r = reduce(ReduceOp::Norm, &f64s(&[2], &[3.0, 4.0]), None, false).unwrap();
    assert_eq!(r.as_scalar_f64(), Some(5.0));
    let r = reduce(ReduceOp::Norm, &x, Some(0), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![3.0, 17f64.sqrt(), 29f64.sqrt()]);
    // axis out of range
    assert!(matches!(
        reduce(ReduceOp::Sum, &x, Some(2), false).unwrap_err(),
        KernelError::AxisOutOfRange { axis: 2, rank: 2 }
    ));
}

#[test]
fn three_axes() {
    let x = ints(&[2, 3, 2], &(0..12).collect::<Vec<_>>());
    let r = reduce(ReduceOp::Sum, &x, Some(1), false).unwrap();
    assert_eq!(r.shape(), &[2, 2]);
    // [0,2,4]->6, [1,3,5]->9, [6,8,10]->24, [7,9,11]->27
    assert_eq!(r.to_i64_vec(), vec![6, 9, 24, 27]);
    let r = reduce(ReduceOp::Argmax, &x, Some(1), true).unwrap();
    assert_eq!(r.shape(), &[2, 1, 2]);
    assert_eq!(r.to_i64_vec(), vec![2, 2, 2, 2]);
    let xf = cast_f64(&x);
    let r = reduce(ReduceOp::Mean, &xf, Some(2), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.5, 2.5, 4.5, 6.5, 8.5, 10.5]);
    let r = reduce(ReduceOp::Max, &xf, Some(0), false).unwrap();
    assert_eq!(r.to_f64_vec(), (6..12).map(f64::from).collect::<Vec<_>>());
}

fn cast_f64(x: &Tensor) -> Tensor {
    Tensor::from_f64s(DType::F64, x.shape().to_vec(), x.to_f64_vec()).unwrap()
}

#[test]
fn ints_keep_dtype() {
    let x = ints(&[4], &[3, -1, 4, -1]);
    let s = reduce(ReduceOp::Sum, &x, None, false).unwrap();
    assert_eq!(s.dtype(), DType::I64);
    assert_eq!(s.as_scalar_i64(), Some(5));
    assert_eq!(
        reduce(ReduceOp::Prod, &x, None, false).unwrap().as_scalar_i64(),
        Some(12)
    );
    assert_eq!(
        reduce(ReduceOp::Max, &x, None, false).unwrap().as_scalar_i64(),
        Some(4)
    );
    assert_eq!(
        reduce(ReduceOp::Min, &x, None, false).unwrap().as_scalar_i64(),
        Some(-1)
    );
    // ties: the first extreme element
    assert_eq!(
        reduce(ReduceOp::Argmin, &x, None, false).unwrap().as_scalar_i64(),
        Some(1)
    );
    assert!(reduce(ReduceOp::Mean, &x, None, false).unwrap_err().is_internal());
    let b = Tensor::from_bools(vec![1], vec![true]).unwrap();
    assert!(reduce(ReduceOp::Sum, &b, None, false).unwrap_err().is_internal());
}

#[test]
fn argmax_ties_and_nan() {
    let x = f32s(&[5], &[1.0, 3.0, 2.0, 3.0, 0.0]);
    assert_eq!(
        reduce(ReduceOp::Argmax, &x, None, false).unwrap().as_scalar_i64(),
        Some(1)
    );
    let x = f64s(&[2, 3], &[5.0, 5.0, 1.0, 0.0, 7.0, 7.0]);
    assert_eq!(
        reduce(ReduceOp::Argmax, &x, None, false).unwrap().as_scalar_i64(),
        Some(4)
    );
    assert_eq!(
        reduce(ReduceOp::Argmax, &x, Some(1), false).unwrap().to_i64_vec(),
        vec![0, 1]
    );
    assert_eq!(
        reduce(ReduceOp::Argmin, &x, Some(0), false).unwrap().to_i64_vec(),
        vec![1, 0, 0]
    );
    let x = f64s(&[3], &[1.0, f64::NAN, 2.0]);
    assert_eq!(
        reduce(ReduceOp::Argmax, &x, None, false).unwrap().as_scalar_i64(),
        Some(1)
    );
    assert!(
        reduce(ReduceOp::Max, &x, None, false)
            .unwrap()
            .as_scalar_f64()
            .unwrap()
            .is_nan()
    );
    assert!(
        reduce(ReduceOp::Min, &x, None, false)
            .unwrap()
            .as_scalar_f64()
            .unwrap()
            .is_nan()
    );
}

#[test]
fn logsumexp_is_stable() {
    let x = f64s(&[2], &[1000.0, 1000.0]);
    let r = reduce(ReduceOp::Logsumexp, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert!((r - (1000.0 + 2f64.ln())).abs() < 1e-12);
    let x = f32s(&[2], &[1000.0, 1000.0]);
    let r = reduce(ReduceOp::Logsumexp, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert_eq!(r, f64::from((1000.0 + 2f64.ln()) as f32));
    let x = f64s(&[2], &[f64::NEG_INFINITY, f64::NEG_INFINITY]);
    let r = reduce(ReduceOp::Logsumexp, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert_eq!(r, f64::NEG_INFINITY);
    let x = f64s(&[2], &[f64::INFINITY, 1.0]);
    let r = reduce(ReduceOp::Logsumexp, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert_eq!(r, f64::INFINITY);
    let x = f64s(&[2, 2], &[0.0, 0.0, -1000.0, 1.0]);
    let r = reduce(ReduceOp::Logsumexp, &x, Some(1), false)
        .unwrap()
        .to_f64_vec();
    assert!((r[0] - 2f64.ln()).abs() < 1e-15);
    assert_eq!(r[1], 1.0);
    let r = reduce(ReduceOp::Logsumexp, &x, Some(0), false)
        .unwrap()
        .to_f64_vec();
    assert!((r[1] - (1.0 + (1.0 + (-1f64).exp()).ln())).abs() < 1e-15);
}

#[test]
fn norm_does_not_overflow() {
    let x = f64s(&[2], &[3e200, 4e200]);
    let r = reduce(ReduceOp::Norm, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert!((r / 5e200 - 1.0).abs() < 1e-15);
    let z = f32s(&[2], &[0.0, 0.0]);
    assert_eq!(
        reduce(ReduceOp::Norm, &z, None, false).unwrap().as_scalar_f64(),
        Some(0.0)
    );
}

#[test]
fn empty_axes() {
    let e = f64s(&[0, 3], &[]);
    let r = reduce(ReduceOp::Sum, &e, Some(0), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![0.0; 3]);
    let r = reduce(ReduceOp::Prod, &e, Some(0), false).unwrap();
    assert_eq!(r.to_f64_vec(), vec![1.0; 3]);
    let r = reduce(ReduceOp::Max, &e, Some(1), false).unwrap();
    assert_eq!(r.shape(), &[0]);
    let err = reduce(ReduceOp::Max, &e, Some(0), false).unwrap_err();
    assert_eq!(err.message(), "max of an empty axis");
    assert!(reduce(ReduceOp::Argmax, &e, None, false).is_err());
    let ie = ints(&[0], &[]);
    assert!(reduce(ReduceOp::Min, &ie, None, false).is_err());
    assert_eq!(
        reduce(ReduceOp::Sum, &ie, None, false).unwrap().as_scalar_i64(),
        Some(0)
    );
    let r = reduce(ReduceOp::Mean, &f32s(&[0], &[]), None, false).unwrap();
    assert!(r.as_scalar_f64().unwrap().is_nan());
    let r = reduce(ReduceOp::Logsumexp, &f32s(&[0], &[]), None, false).unwrap();
    assert_eq!(r.as_scalar_f64(), Some(f64::NEG_INFINITY));
    // a zero-length axis with huge neighbours: no overflow, an error
    let big = Tensor::from_i64s(vec![usize::MAX, 0, 2], vec![]).unwrap();
    assert!(reduce(ReduceOp::Sum, &big, Some(1), false).is_err());
}

#[test]
fn f32_sum_is_pairwise() {
    let n = 1_000_000usize;
    let exact: f64 = (0..n).map(|i| 1.0 / (i as f64 + 1.0)).sum();
    let vals: Vec<f64> = (0..n)
        .map(|i| f64::from((1.0 / (i as f64 + 1.0)) as f32))
        .collect();
    let exact32: f64 = vals.iter().sum();
    let x = f32s(&[n], &vals);
    let s = reduce(ReduceOp::Sum, &x, None, false).unwrap();
    assert_eq!(s.dtype(), DType::F32);
    let s = s.as_scalar_f64().unwrap();
    assert!((s - exact).abs() / exact < 1e-6, "{s} vs {exact}");
    assert!((s - exact32).abs() / exact32 < 1e-7, "{s} vs {exact32}");
    // a naive f32 running sum is much worse: the test can tell the difference
    let naive = vals.iter().fold(0f32, |a, &v| a + v as f32);
    assert!((f64::from(naive) - exact).abs() / exact > 1e-6);
    // the same along a strided axis
    let x2 = f32s(&[n / 2, 2], &vals);
    let s2 = reduce(ReduceOp::Sum, &x2, Some(0), false).unwrap().to_f64_vec();
    let exact_even: f64 = vals.iter().step_by(2).sum();
    assert!((s2[0] - exact_even).abs() / exact_even < 1e-7);
    let m = reduce(ReduceOp::Mean, &x, None, false)
        .unwrap()
        .as_scalar_f64()
        .unwrap();
    assert!((m - exact / n as f64).abs() / (exact / n as f64) < 1e-6);
}

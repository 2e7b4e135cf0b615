//! Tests of the matrix product against a naive triple loop.

use super::*;
use crate::runtime::{eye, stack};

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

/// `[m, k] @ [k, n]` by the textbook loop, in f64.
fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                out[i * n + j] += a[i * k + p] * b[p * n + j];
            }
        }
    }
    out
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn vector_and_matrix_forms() {
    let a = f64s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let v3 = f64s(&[3], &[1.0, 0.0, -1.0]);
    let v2 = f64s(&[2], &[1.0, 2.0]);
    // vector . vector
    let r = matmul(&v3, &v3).unwrap();
    assert_eq!(r.shape(), &[] as &[usize]);
    assert_eq!(r.as_scalar_f64(), Some(2.0));
    // matrix . vector
    let r = matmul(&a, &v3).unwrap();
    assert_eq!(r.shape(), &[2]);
    assert_eq!(r.to_f64_vec(), vec![-2.0, -2.0]);
    // vector . matrix
    let r = matmul(&v2, &a).unwrap();
    assert_eq!(r.shape(), &[3]);
    assert_eq!(r.to_f64_vec(), vec![9.0, 12.0, 15.0]);
    // matrix . matrix
    let b = f64s(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let r = matmul(&a, &b).unwrap();
    assert_eq!(r.shape(), &[2, 2]);
    assert_eq!(r.to_f64_vec(), vec![22.0, 28.0, 49.0, 64.0]);
    // int
    let ai = Tensor::from_i64s(vec![2, 3], vec![1, 2, 3, 4, 5, 6]).unwrap();
    let bi = Tensor::from_i64s(vec![3, 2], vec![1, 2, 3, 4, 5, 6]).unwrap();
    let r = matmul(&ai, &bi).unwrap();
    assert_eq!(r.dtype(), DType::I64);
    assert_eq!(r.to_i64_vec(), vec![22, 28, 49, 64]);
    let r = matmul(&Tensor::from_i64s(vec![3], vec![1, 2, 3]).unwrap(), &bi).unwrap();
    assert_eq!(r.to_i64_vec(), vec![22, 28]);
    // f32
    let af = Tensor::from_f64s(DType::F32, vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let r = matmul(&af, &af).unwrap();
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_f64_vec(), vec![7.0, 10.0, 15.0, 22.0]);
}

#[test]
fn errors() {
    let a = f64s(&[1, 2], &[1.0, 2.0]);
    let e = matmul(&a, &a).unwrap_err();
    assert_eq!(
        e,
        KernelError::MatMul {
            a: vec![1, 2],
            b: vec![1, 2]
        }
    );
    assert_eq!(
        e.message(),
        "matrix product: inner dimensions differ ([1, 2] @ [1, 2]: 2 vs 1)"
    );
    let v = f64s(&[3], &[1.0, 2.0, 3.0]);
    assert!(matches!(matmul(&a, &v).unwrap_err(), KernelError::MatMul { .. }));
    assert!(matmul(&Tensor::scalar_float(1.0, DType::F64), &v).is_err());
    let b1 = f64s(&[2, 2, 2], &[0.0; 8]);
    let b2 = f64s(&[3, 2, 2], &[0.0; 12]);
    assert!(matches!(
        matmul(&b1, &b2).unwrap_err(),
        KernelError::MatMulBatch { .. }
    ));
    let i = Tensor::from_i64s(vec![2], vec![1, 2]).unwrap();
    let f = f64s(&[2], &[1.0, 2.0]);
    assert!(matmul(&i, &f).unwrap_err().is_internal());
    let b = Tensor::from_bools(vec![2], vec![true, false]).unwrap();
    assert!(matmul(&b, &b).unwrap_err().is_internal());
}

#[test]
fn batched_broadcasting() {
    // stack([a, eye(2)]) @ a
    let a = f64s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let s = stack(&[a.clone(), eye(2, DType::F64).unwrap()], DType::F64, false).unwrap();
    assert_eq!(s.shape(), &[2, 2, 2]);
    let r = matmul(&s, &a).unwrap();
    assert_eq!(r.shape(), &[2, 2, 2]);
    let av = a.to_f64_vec();
    let mut expect = naive(&av, &av, 2, 2, 2);
    expect.extend(av.clone());
    assert_eq!(r.to_f64_vec(), expect);
    // a 2-D left operand against a batch
    let r = matmul(&a, &s).unwrap();
    let mut expect = naive(&av, &av, 2, 2, 2);
    expect.extend(av.clone());
    assert_eq!(r.to_f64_vec(), expect);
    // batch axes broadcast against each other: [2, 1, 2, 3] @ [4, 3, 1]
    let x = values(12, 1);
    let y = values(12, 2);
    let r = matmul(&f64s(&[2, 1, 2, 3], &x), &f64s(&[4, 3, 1], &y)).unwrap();
    assert_eq!(r.shape(), &[2, 4, 2, 1]);
    let rv = r.to_f64_vec();
    for bi in 0..2 {
        for bj in 0..4 {
            let want = naive(&x[bi * 6..bi * 6 + 6], &y[bj * 3..bj * 3 + 3], 2, 3, 1);
            let got = &rv[(bi * 4 + bj) * 2..(bi * 4 + bj) * 2 + 2];
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12);
            }
        }
    }
    // batched matrix . vector
    let r = matmul(&s, &f64s(&[2], &[1.0, 1.0])).unwrap();
    assert_eq!(r.shape(), &[2, 2]);
    assert_eq!(r.to_f64_vec(), vec![3.0, 7.0, 1.0, 1.0]);
    // batched int
    let si = Tensor::from_i64s(vec![2, 1, 2], vec![1, 2, 3, 4]).unwrap();
    let r = matmul(&si, &Tensor::from_i64s(vec![2, 2], vec![1, 0, 0, 1]).unwrap()).unwrap();
    assert_eq!(r.shape(), &[2, 1, 2]);
    assert_eq!(r.to_i64_vec(), vec![1, 2, 3, 4]);
}

#[test]
fn empty_dimensions() {
    let a = f64s(&[2, 0], &[]);
    let b = f64s(&[0, 3], &[]);
    let r = matmul(&a, &b).unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_f64_vec(), vec![0.0; 6]);
    let r = matmul(&b, &f64s(&[3, 4], &[1.0; 12])).unwrap();
    assert_eq!(r.shape(), &[0, 4]);
    let r = matmul(&f64s(&[0, 2, 2], &[]), &f64s(&[2, 2], &[1.0; 4])).unwrap();
    assert_eq!(r.shape(), &[0, 2, 2]);
}

fn check_large(dtype: DType, tol: f64) {
    let (m, k, n) = (70, 80, 90);
    let x = values(m * k, 3);
    let y = values(k * n, 4);
    let a = Tensor::from_f64s(dtype, vec![m, k], x).unwrap();
    let b = Tensor::from_f64s(dtype, vec![k, n], y).unwrap();
    // the naive loop on the values as stored (rounded to f32 where f32)
    let want = naive(&a.to_f64_vec(), &b.to_f64_vec(), m, k, n);
    let r = matmul(&a, &b).unwrap();
    assert_eq!(r.shape(), &[m, n]);
    assert_eq!(r.dtype(), dtype);
    for (g, w) in r.to_f64_vec().iter().zip(&want) {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{g} vs {w}");
    }
}

#[test]
fn gemm_path_f32_and_f64() {
    // 70*80*90 = 504000 > 64^3: the multi-threaded path
    check_large(DType::F64, 1e-12);
    check_large(DType::F32, 1e-5);
    // an odd small size through the single-threaded path
    let (m, k, n) = (5, 7, 3);
    let x = values(m * k, 5);
    let y = values(k * n, 6);
    let r = matmul(&f64s(&[m, k], &x), &f64s(&[k, n], &y)).unwrap();
    for (g, w) in r.to_f64_vec().iter().zip(&naive(&x, &y, m, k, n)) {
        assert!((g - w).abs() < 1e-12);
    }
}

#[test]
fn transposed_operands_are_read_in_place() {
    // a: [3, 2] read as its transpose [2, 3]; b: [4, 3] read as [3, 4].
    let av: Vec<f64> = (0..6).map(|i| f64::from(i) * 0.5 - 1.0).collect();
    let bv: Vec<f64> = (0..12).map(|i| f64::from(i % 5) - 1.5).collect();
    let a = f64s(&[3, 2], &av);
    let b = f64s(&[4, 3], &bv);
    let at = crate::runtime::transpose(&a, &[1, 0]).unwrap();
    let bt = crate::runtime::transpose(&b, &[1, 0]).unwrap();
    let want = naive(&at.to_f64_vec(), &bt.to_f64_vec(), 2, 3, 4);
    let got = matmul_transposed(&a, true, &b, true).unwrap();
    assert_eq!(got.shape(), &[2, 4]);
    assert_eq!(got.to_f64_vec(), want);
    // One side at a time, against the copying form.
    let c = f64s(&[3, 4], &bv);
    assert_eq!(
        matmul_transposed(&a, true, &c, false).unwrap(),
        matmul(&at, &c).unwrap()
    );
    let d = f64s(&[5, 2], &(0..10).map(f64::from).collect::<Vec<_>>());
    assert_eq!(
        matmul_transposed(&d, false, &a, true).unwrap(),
        matmul(&d, &at).unwrap()
    );
    // Mismatched inner sizes are an error, not a panic; a vector falls back.
    assert!(matmul_transposed(&a, false, &b, true).is_err());
    let v = f64s(&[3], &[1.0, 2.0, 3.0]);
    assert_eq!(
        matmul_transposed(&a, true, &v, false).unwrap(),
        matmul(&at, &v).unwrap()
    );
    // f32 through gemm, large enough to run on every core.
    let n = 80;
    let x: Vec<f64> = (0..n * n).map(|i| f64::from((i % 7) as u32) - 3.0).collect();
    let xm = Tensor::from_f64s(DType::F32, vec![n, n], x.clone()).unwrap();
    let xt = crate::runtime::transpose(&xm, &[1, 0]).unwrap();
    assert_eq!(
        matmul_transposed(&xm, true, &xm, false).unwrap(),
        matmul(&xt, &xm).unwrap()
    );
}

#[test]
fn batched_left_operands_are_read_transposed_in_place() {
    // a: [2, 3, 4] read as [2, 4, 3]; against a materialized transpose and
    // the naive product of each batch element; batch axes broadcast.
    let a = f64s(&[2, 3, 4], &values(24, 3));
    let at = crate::runtime::transpose(&a, &[0, 2, 1]).unwrap();
    let b = f64s(&[2, 3, 5], &values(30, 4));
    let got = matmul_transposed(&a, true, &b, false).unwrap();
    assert_eq!(got.shape(), &[2, 4, 5]);
    assert_eq!(got, matmul(&at, &b).unwrap());
    let (av, bv, gv) = (at.to_f64_vec(), b.to_f64_vec(), got.to_f64_vec());
    for k in 0..2 {
        let want = naive(&av[k * 12..(k + 1) * 12], &bv[k * 15..(k + 1) * 15], 4, 3, 5);
        for (g, w) in gv[k * 20..(k + 1) * 20].iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{g} {w}");
        }
    }
    let shared = f64s(&[3, 5], &values(15, 5));
    assert_eq!(
        matmul_transposed(&a, true, &shared, false).unwrap(),
        matmul(&at, &shared).unwrap()
    );
    let f32s = Tensor::from_f64s(DType::F32, vec![2, 3, 4], values(24, 6)).unwrap();
    let f32b = Tensor::from_f64s(DType::F32, vec![1, 3, 2], values(6, 7)).unwrap();
    let f32t = crate::runtime::transpose(&f32s, &[0, 2, 1]).unwrap();
    assert_eq!(
        matmul_transposed(&f32s, true, &f32b, false).unwrap(),
        matmul(&f32t, &f32b).unwrap()
    );
    // Mismatched inner sizes and batches are errors naming the transpose's shape.
    let bad = f64s(&[2, 4, 5], &values(40, 8));
    let err = matmul_transposed(&a, true, &bad, false).unwrap_err();
    assert_eq!(
        err,
        KernelError::MatMul {
            a: vec![2, 4, 3],
            b: vec![2, 4, 5]
        }
    );
    let bad_batch = f64s(&[3, 3, 5], &values(45, 9));
    assert!(matches!(
        matmul_transposed(&a, true, &bad_batch, false),
        Err(KernelError::MatMulBatch { .. })
    ));
}

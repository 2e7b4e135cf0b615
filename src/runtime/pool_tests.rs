//! Tests of the pooling kernels: hand-worked windows and ties, a NumPy
//! reference with remainders, and the adjoint identity of spreading.

use super::*;
use crate::runtime::DType;

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn hand_worked_windows() {
    // [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    let x = f64s(&[1, 1, 4, 4], &(1..=16).map(f64::from).collect::<Vec<_>>());
    let m = max_pool2d(&x, 2).unwrap();
    assert_eq!(m.shape(), &[1, 1, 2, 2]);
    assert_eq!(m.to_f64_vec(), vec![6.0, 8.0, 14.0, 16.0]);
    let a = avg_pool2d(&x, 2).unwrap();
    assert_eq!(a.to_f64_vec(), vec![3.5, 5.5, 11.5, 13.5]);
    // k = 3 on 4x4: one window, the last row and column dropped.
    assert_eq!(max_pool2d(&x, 3).unwrap().to_f64_vec(), vec![11.0]);
    assert_eq!(avg_pool2d(&x, 3).unwrap().to_f64_vec(), vec![6.0]);
    // k = 1 is the identity.
    assert_eq!(max_pool2d(&x, 1).unwrap(), x);
}

/// x = ((arange(70) * 7 % 11) - 5) / 4 as [1, 2, 5, 7]; NumPy (float64):
///   c = x[:, :, :5//k*k, :7//k*k].reshape(1, 2, 5//k, k, 7//k, k)
///   c.max(axis=(3, 5)), c.mean(axis=(3, 5))
#[test]
fn matches_numpy_with_remainders() {
    let x: Vec<f64> = (0..70).map(|i| f64::from((i * 7 % 11) - 5) / 4.0).collect();
    let x = f64s(&[1, 2, 5, 7], &x);
    let m = max_pool2d(&x, 2).unwrap();
    assert_eq!(m.shape(), &[1, 2, 2, 3]);
    close(
        &m.to_f64_vec(),
        &[0.5, 1.25, 0.5, 1.25, 1.0, 1.25, 1.25, 0.5, 1.25, 1.0, 1.25, 1.0],
    );
    close(
        &avg_pool2d(&x, 2).unwrap().to_f64_vec(),
        &[
            -0.4375, 0.3125, -0.3125, 0.0, 0.0625, 0.125, 0.3125, -0.3125, 0.4375, 0.0625, 0.125, 0.1875,
        ],
    );
    close(
        &max_pool2d(&x, 3).unwrap().to_f64_vec(),
        &[1.25, 1.25, 1.25, 1.25],
    );
    close(
        &avg_pool2d(&x, 3).unwrap().to_f64_vec(),
        &[
            -0.08333333333333333,
            -0.027777777777777776,
            0.05555555555555555,
            0.1111111111111111,
        ],
    );
}

#[test]
fn mask_marks_the_first_maximum() {
    // Window 1: a tie of 5s at (0, 1) and (1, 0): the first in row-major order.
    // Window 2: all equal: the first element. Remainder column: never marked.
    let x = f64s(&[1, 1, 2, 5], &[1.0, 5.0, 2.0, 2.0, 9.0, 5.0, 0.0, 2.0, 2.0, 9.0]);
    let m = max_pool2d_mask(&x, 2).unwrap();
    assert_eq!(m.dtype(), DType::Bool);
    assert_eq!(
        m.to_f64_vec(),
        vec![0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(max_pool2d(&x, 2).unwrap().to_f64_vec(), vec![5.0, 2.0]);
}

#[test]
fn nan_wins_its_window() {
    let x = f64s(&[1, 1, 2, 2], &[1.0, f64::NAN, 3.0, f64::NAN]);
    assert!(max_pool2d(&x, 2).unwrap().to_f64_vec()[0].is_nan());
    assert_eq!(
        max_pool2d_mask(&x, 2).unwrap().to_f64_vec(),
        vec![0.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn spread_is_the_transpose_of_window_sums() {
    let g = f64s(&[1, 2, 2, 1], &[1.0, 2.0, 3.0, 4.0]);
    let s = pool2d_spread(&g, &[1, 2, 5, 3], 2).unwrap();
    assert_eq!(s.shape(), &[1, 2, 5, 3]);
    #[rustfmt::skip]
    let want = [
        1.0, 1.0, 0.0,  1.0, 1.0, 0.0,  2.0, 2.0, 0.0,  2.0, 2.0, 0.0,  0.0, 0.0, 0.0,
        3.0, 3.0, 0.0,  3.0, 3.0, 0.0,  4.0, 4.0, 0.0,  4.0, 4.0, 0.0,  0.0, 0.0, 0.0,
    ];
    assert_eq!(s.to_f64_vec(), want);
    // <spread(g), x> = <g, 4 * avg_pool(x)>
    let xv: Vec<f64> = (0..30).map(|i| f64::from(i % 7) - 2.5).collect();
    let x = f64s(&[1, 2, 5, 3], &xv);
    let lhs: f64 = want.iter().zip(&xv).map(|(a, b)| a * b).sum();
    let avg = avg_pool2d(&x, 2).unwrap().to_f64_vec();
    let rhs: f64 = g.to_f64_vec().iter().zip(&avg).map(|(a, b)| a * b * 4.0).sum();
    assert!((lhs - rhs).abs() < 1e-12);
}

#[test]
fn f32_pools() {
    let x = Tensor::from_f32s(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.5]).unwrap();
    let m = max_pool2d(&x, 2).unwrap();
    assert_eq!(m.dtype(), DType::F32);
    assert_eq!(m.to_f64_vec(), vec![4.5]);
    assert_eq!(avg_pool2d(&x, 2).unwrap().to_f64_vec(), vec![2.625]);
}

#[test]
fn shape_errors() {
    let x = f64s(&[1, 1, 2, 3], &[0.0; 6]);
    let e = max_pool2d(&x, 3).unwrap_err();
    assert_eq!(
        e.message(),
        "max_pool2d: the window 3x3 is larger than the input [1, 1, 2, 3]"
    );
    assert!(avg_pool2d(&x, 0).unwrap_err().message().contains("at least 1"));
    let v = f64s(&[4], &[0.0; 4]);
    assert!(avg_pool2d(&v, 2).unwrap_err().message().contains("rank 4"));
    let i = Tensor::from_i64s(vec![1, 1, 2, 2], vec![0; 4]).unwrap();
    assert!(max_pool2d(&i, 2).unwrap_err().is_internal());
    let g = f64s(&[1, 1, 2, 2], &[0.0; 4]);
    assert!(pool2d_spread(&g, &[1, 1, 2, 2], 2).unwrap_err().is_internal());
}

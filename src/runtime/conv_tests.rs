//! Tests of `conv2d` and its transposes: hand-worked cases, a NumPy
//! reference, the adjoint identities against a naive loop on pseudo-random
//! data, and shape errors.

use super::*;
use crate::runtime::DType;

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 52) as f64) - 1.0
        })
        .collect()
}

/// `conv2d` by the definition, one output at a time.
fn naive(x: &[f64], xs: [usize; 4], w: &[f64], ws: [usize; 4], s: usize, p: usize) -> Vec<f64> {
    let [b, c, h, wd] = xs;
    let [o, _, kh, kw] = ws;
    let (ho, wo) = ((h + 2 * p - kh) / s + 1, (wd + 2 * p - kw) / s + 1);
    let mut out = vec![0.0; b * o * ho * wo];
    for n in 0..b {
        for m in 0..o {
            for i in 0..ho {
                for j in 0..wo {
                    let mut acc = 0.0;
                    for ch in 0..c {
                        for u in 0..kh {
                            for v in 0..kw {
                                let (r, q) = (
                                    (i * s + u) as isize - p as isize,
                                    (j * s + v) as isize - p as isize,
                                );
                                if r < 0 || q < 0 || r >= h as isize || q >= wd as isize {
                                    continue;
                                }
                                let xi = ((n * c + ch) * h + r as usize) * wd + q as usize;
                                acc += x[xi] * w[((m * c + ch) * kh + u) * kw + v];
                            }
                        }
                    }
                    out[((n * o + m) * ho + i) * wo + j] = acc;
                }
            }
        }
    }
    out
}

#[test]
fn hand_worked_difference_kernel() {
    // x[i, j] = 4i + j on a 4x4 image; w = [[1, 0], [0, -1]] gives
    // x[i, j] - x[i+1, j+1] = -5 everywhere.
    let x = f64s(&[1, 1, 4, 4], &(0..16).map(f64::from).collect::<Vec<_>>());
    let w = f64s(&[1, 1, 2, 2], &[1.0, 0.0, 0.0, -1.0]);
    let y = conv2d(&x, &w, 1, 0).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    assert_eq!(y.to_f64_vec(), vec![-5.0; 9]);
    // Stride 2, padding 1: windows start at -1 and 1; out[i, j] =
    // x[2i-1, 2j-1] - x[2i, 2j] with x = 0 outside.
    let y = conv2d(&x, &w, 2, 1).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    assert_eq!(
        y.to_f64_vec(),
        vec![0.0, -2.0, 0.0, -8.0, -5.0, 7.0, 0.0, 13.0, 15.0]
    );
}

#[test]
fn channels_sum_and_outputs_stack() {
    // Two input channels (ones and twos), a 1x1 kernel per output channel.
    let mut xv = vec![1.0; 4];
    xv.extend([2.0; 4]);
    let x = f64s(&[1, 2, 2, 2], &xv);
    let w = f64s(&[3, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let y = conv2d(&x, &w, 1, 0).unwrap();
    assert_eq!(y.shape(), &[1, 3, 2, 2]);
    let mut want = vec![1.0; 4];
    want.extend([2.0; 4]);
    want.extend([3.0; 4]);
    assert_eq!(y.to_f64_vec(), want);
}

/// x = ((arange(120) * 7 % 11) - 5) / 4 as [2, 3, 5, 4]; w = ((arange(36) * 5 % 7) - 3) / 2
/// as [2, 3, 3, 2]; stride 2, padding 1; g = ((arange(36) * 3 % 5) - 2) / 2 shaped like
/// the result. Reference values from NumPy (float64), by explicit loops over output
/// positions with `np.pad` and `np.einsum`:
///   out[:, :, i, j] = einsum('bcuv,ocuv->bo', xp[:, :, 2i:2i+3, 2j:2j+2], w)
///   dxp[:, :, 2i:2i+3, 2j:2j+2] += einsum('bo,ocuv->bcuv', g[:, :, i, j], w)
///   dw += einsum('bo,bcuv->ocuv', g[:, :, i, j], xp[:, :, 2i:2i+3, 2j:2j+2])
fn numpy_case() -> (Tensor, Tensor, Tensor) {
    let x: Vec<f64> = (0..120).map(|i| f64::from((i * 7 % 11) - 5) / 4.0).collect();
    let w: Vec<f64> = (0..36).map(|i| f64::from((i * 5 % 7) - 3) / 2.0).collect();
    let g: Vec<f64> = (0..36).map(|i| f64::from((i * 3 % 5) - 2) / 2.0).collect();
    (
        f64s(&[2, 3, 5, 4], &x),
        f64s(&[2, 3, 3, 2], &w),
        f64s(&[2, 2, 3, 3], &g),
    )
}

#[test]
fn matches_numpy_forward() {
    let (x, w, _) = numpy_case();
    let y = conv2d(&x, &w, 2, 1).unwrap();
    assert_eq!(y.shape(), &[2, 2, 3, 3]);
    close(
        &y.to_f64_vec(),
        &[
            1.875, 1.5, 1.625, 3.75, 6.125, 2.625, 2.625, 4.625, -0.125, 2.875, -2.0, -0.25, 3.0, 0.75,
            3.375, 1.625, 2.0, 2.25, 2.375, 3.375, 1.625, 3.75, -0.125, 0.5, 2.125, -2.375, -3.875, 1.875,
            1.375, 2.75, 3.875, 0.75, 3.875, 2.75, 1.375, 1.875,
        ],
    );
}

#[test]
fn matches_numpy_transposes() {
    let (x, w, g) = numpy_case();
    let dx = conv2d_grad_input(&g, &w, x.shape(), 2, 1).unwrap();
    assert_eq!(dx.shape(), x.shape());
    close(
        &dx.to_f64_vec(),
        &[
            1.0, 0.5, 1.0, -0.25, 0.25, 1.25, 0.75, 1.25, -0.25, -0.5, -1.5, 0.0, 0.5, 2.5, -0.25, -3.75,
            1.0, -0.25, -0.25, 0.25, 0.0, 0.0, 0.5, -0.25, -3.75, 0.0, 1.25, 0.25, 0.25, 0.5, -0.5, -1.0,
            -1.25, -1.75, 2.5, 1.0, 0.5, -0.25, -0.25, 0.75, -1.0, -2.25, 0.0, 1.5, 1.0, 0.5, 0.0, -0.75,
            0.75, 1.5, 0.5, 1.5, 0.5, -0.75, -1.75, 0.5, 0.0, 1.5, -0.25, -2.25, -0.25, -0.5, -1.5, 0.0, 0.5,
            2.5, -0.25, -3.75, 1.0, -0.25, -0.25, 0.25, 0.75, 1.25, -1.25, -1.25, -1.5, 0.0, 1.0, 0.5, 0.25,
            0.5, -0.5, -1.0, -1.25, -1.75, 2.5, 1.0, 0.5, -0.25, -0.25, 0.75, 1.25, 0.25, 1.25, 0.5, -0.5,
            -1.0, 0.0, 0.0, 0.75, 1.5, 0.5, 1.5, 0.5, -0.75, -1.75, 0.5, 0.0, 1.5, -0.25, -2.25, 0.0, -0.75,
            0.25, 0.5, 0.5, 1.5, -1.0, -2.25,
        ],
    );
    let dw = conv2d_grad_weight(&g, &x, w.shape(), 2, 1).unwrap();
    assert_eq!(dw.shape(), w.shape());
    close(
        &dw.to_f64_vec(),
        &[
            1.5, 1.875, 0.0, -2.0, -0.375, 2.5, 1.875, -2.25, -1.625, 1.75, 2.125, 0.0, -6.0, -2.25, 0.875,
            2.75, 0.5, -1.125, -2.25, 0.625, 4.375, 2.25, -0.375, -3.125, 0.5, 1.625, 1.25, -3.25, -4.25,
            1.375, 3.25, 1.25, -1.875, 0.875, 2.875, 1.75,
        ],
    );
}

/// Random shapes, strides and paddings: the forward kernel agrees with the
/// naive loop, and `<conv(x, w), g> = <x, grad_input(g, w)> = <w, grad_weight(g, x)>`.
#[test]
fn random_cases_match_naive_and_adjoints() {
    let cases: [([usize; 4], [usize; 4], usize, usize); 6] = [
        ([2, 3, 8, 8], [4, 3, 3, 3], 1, 0),
        ([3, 2, 7, 6], [2, 2, 3, 2], 2, 1),
        ([1, 1, 5, 5], [1, 1, 5, 5], 1, 2),
        ([2, 1, 6, 9], [3, 1, 2, 4], 3, 0),
        ([4, 2, 4, 4], [5, 2, 1, 1], 1, 0),
        ([1, 3, 3, 3], [2, 3, 3, 3], 2, 3),
    ];
    for (k, (xs, ws, s, p)) in cases.into_iter().enumerate() {
        let xv = values(xs.iter().product(), 10 + k as u64);
        let wv = values(ws.iter().product(), 20 + k as u64);
        let x = f64s(&xs, &xv);
        let w = f64s(&ws, &wv);
        let y = conv2d(&x, &w, s, p).unwrap();
        close(&y.to_f64_vec(), &naive(&xv, xs, &wv, ws, s, p));
        let gv = values(y.numel(), 30 + k as u64);
        let g = f64s(y.shape(), &gv);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let lhs = dot(&y.to_f64_vec(), &gv);
        let dx = conv2d_grad_input(&g, &w, &xs, s, p).unwrap();
        let dw = conv2d_grad_weight(&g, &x, &ws, s, p).unwrap();
        assert!(
            (lhs - dot(&xv, &dx.to_f64_vec())).abs() < 1e-10,
            "case {k}: grad_input"
        );
        assert!(
            (lhs - dot(&wv, &dw.to_f64_vec())).abs() < 1e-10,
            "case {k}: grad_weight"
        );
    }
}

#[test]
fn f32_agrees_with_f64() {
    let (xs, ws) = ([2usize, 2, 6, 6], [3usize, 2, 3, 3]);
    let xv = values(144, 1);
    let wv = values(54, 2);
    let to32 = |s: &[usize], v: &[f64]| {
        Tensor::from_f32s(s.to_vec(), v.iter().map(|&a| a as f32).collect()).unwrap()
    };
    let y = conv2d(&to32(&xs, &xv), &to32(&ws, &wv), 1, 1).unwrap();
    assert_eq!(y.dtype(), DType::F32);
    let want = naive(&xv, xs, &wv, ws, 1, 1);
    for (a, b) in y.to_f64_vec().iter().zip(&want) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

/// A small patch budget splits the batch into several chunks (the last one
/// partial); the results are those of one chunk.
#[test]
fn chunked_batches_match_naive() {
    let (xs, ws) = ([7usize, 2, 6, 5], [3usize, 2, 3, 3]);
    let mut g = Geom::new(&xs, &ws, 1, 1).unwrap();
    g.budget = 3 * g.patch() * g.pixels();
    assert_eq!(g.chunk(), 3);
    let xv = values(xs.iter().product(), 5);
    let wv = values(ws.iter().product(), 6);
    let y = forward(&xv, &wv, &g).unwrap();
    close(&y, &naive(&xv, xs, &wv, ws, 1, 1));
    let gv = values(y.len(), 7);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let lhs = dot(&y, &gv);
    let dw = grad_weight(&gv, &xv, &g).unwrap();
    let dx = grad_input(&gv, &wv, &g).unwrap();
    assert!((lhs - dot(&wv, &dw)).abs() < 1e-10);
    assert!((lhs - dot(&xv, &dx)).abs() < 1e-10);
    let whole = Geom::new(&xs, &ws, 1, 1).unwrap();
    close(&dw, &grad_weight(&gv, &xv, &whole).unwrap());
    close(&dx, &grad_input(&gv, &wv, &whole).unwrap());
}

#[test]
fn empty_batch_and_channels() {
    let x = f64s(&[0, 2, 4, 4], &[]);
    let w = f64s(&[3, 2, 2, 2], &[0.0; 24]);
    assert_eq!(conv2d(&x, &w, 1, 0).unwrap().shape(), &[0, 3, 3, 3]);
    let x = f64s(&[1, 0, 4, 4], &[]);
    let w = f64s(&[2, 0, 2, 2], &[]);
    let y = conv2d(&x, &w, 1, 0).unwrap();
    assert_eq!(y.to_f64_vec(), vec![0.0; 18]);
}

#[test]
fn shape_errors() {
    let x = f64s(&[1, 2, 4, 4], &[0.0; 32]);
    let msg = |e: KernelError| e.message();
    let w = f64s(&[1, 3, 2, 2], &[0.0; 12]);
    assert_eq!(
        msg(conv2d(&x, &w, 1, 0).unwrap_err()),
        "conv2d: the input has 2 channels but the kernel expects 3 ([1, 2, 4, 4] with a kernel [1, 3, 2, 2])"
    );
    let w = f64s(&[1, 2, 5, 2], &[0.0; 20]);
    assert!(msg(conv2d(&x, &w, 1, 0).unwrap_err()).contains("does not fit"));
    assert!(conv2d(&x, &w, 1, 1).is_ok());
    let w = f64s(&[2, 2], &[0.0; 4]);
    assert!(msg(conv2d(&x, &w, 1, 0).unwrap_err()).contains("kernel must have rank 4"));
    let w = f64s(&[1, 2, 2, 2], &[0.0; 8]);
    assert!(msg(conv2d(&x, &w, 0, 0).unwrap_err()).contains("stride"));
    let i = Tensor::from_i64s(vec![1, 2, 4, 4], vec![0; 32]).unwrap();
    assert!(conv2d(&i, &w, 1, 0).unwrap_err().is_internal());
    // An adjoint of the wrong shape is a compiler bug, reported as such.
    let g = f64s(&[1, 1, 2, 2], &[0.0; 4]);
    assert!(
        conv2d_grad_input(&g, &w, x.shape(), 1, 0)
            .unwrap_err()
            .is_internal()
    );
}

//! Dense linear algebra on square matrices: [`solve`] (LU with partial
//! pivoting), [`det`] and [`cholesky`]. Inputs are f32 or f64; every kernel
//! computes in f64 and returns the input's dtype. A pivot that is zero or
//! negligible relative to the matrix's largest entry makes `solve` fail with
//! "matrix is singular"; `det` of a singular matrix is 0.

use super::{DType, KResult, KernelError, Tensor};

/// Relative size below which a pivot counts as zero.
const SINGULAR_EPS: f64 = 1e-13;

/// The side length of a square float matrix, or an error.
fn square(a: &Tensor, op: &'static str) -> KResult<usize> {
    if !a.dtype().is_float() {
        return Err(KernelError::DType { op, dtype: a.dtype() });
    }
    match a.shape() {
        [n, m] if n == m => Ok(*n),
        s => Err(KernelError::Internal(format!(
            "{op} needs a square matrix, found shape {}",
            super::error::shape_str(s)
        ))),
    }
}

/// An LU factorization with partial pivoting: `P A = L U`, stored in one
/// row-major matrix (unit lower part implicit), with the row permutation and
/// its sign. `None` when a pivot is (numerically) zero.
struct Lu {
    n: usize,
    lu: Vec<f64>,
    perm: Vec<usize>,
    sign: f64,
}

fn at(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(0.0)
}

fn lu(a: &[f64], n: usize) -> Option<Lu> {
    let mut m = a.to_vec();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut sign = 1.0;
    let scale = a.iter().fold(0.0f64, |s, x| s.max(x.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return None;
    }
    for k in 0..n {
        // The row with the largest entry in column k.
        let mut p = k;
        for i in k + 1..n {
            if at(&m, i * n + k).abs() > at(&m, p * n + k).abs() {
                p = i;
            }
        }
        let pivot = at(&m, p * n + k);
        if pivot.abs() <= SINGULAR_EPS * scale {
            return None;
        }
        if p != k {
            for j in 0..n {
                m.swap(k * n + j, p * n + j);
            }
            perm.swap(k, p);
            sign = -sign;
        }
        for i in k + 1..n {
            let f = at(&m, i * n + k) / pivot;
            if let Some(s) = m.get_mut(i * n + k) {
                *s = f;
            }
            for j in k + 1..n {
                let u = at(&m, k * n + j);
                if let Some(s) = m.get_mut(i * n + j) {
                    *s -= f * u;
                }
            }
        }
    }
    Some(Lu { n, lu: m, perm, sign })
}

impl Lu {
    /// Solves `A x = b` for one right-hand side.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut x: Vec<f64> = self.perm.iter().map(|&p| at(b, p)).collect();
        for i in 0..n {
            let mut s = at(&x, i);
            for j in 0..i {
                s -= at(&self.lu, i * n + j) * at(&x, j);
            }
            if let Some(slot) = x.get_mut(i) {
                *slot = s;
            }
        }
        for i in (0..n).rev() {
            let mut s = at(&x, i);
            for j in i + 1..n {
                s -= at(&self.lu, i * n + j) * at(&x, j);
            }
            if let Some(slot) = x.get_mut(i) {
                *slot = s / at(&self.lu, i * n + i);
            }
        }
        x
    }
}

/// `x` with `a @ x = b`, for `b` a vector `[n]` or a matrix `[n, k]`.
pub fn solve(a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    let n = square(a, "solve")?;
    if a.dtype() != b.dtype() {
        return Err(KernelError::DTypeMismatch {
            op: "solve",
            a: a.dtype(),
            b: b.dtype(),
        });
    }
    let k = match b.shape() {
        [m] if *m == n => None,
        [m, k] if *m == n => Some(*k),
        s => {
            return Err(KernelError::Internal(format!(
                "solve: right-hand side of shape {} for a matrix of size {n}",
                super::error::shape_str(s)
            )));
        }
    };
    if n == 0 {
        return Ok(b.clone());
    }
    let f = lu(&a.to_f64_vec(), n).ok_or(KernelError::Singular { op: "solve" })?;
    let bv = b.to_f64_vec();
    let out = match k {
        None => f.solve(&bv),
        Some(k) => {
            let mut out = vec![0.0; n * k];
            for c in 0..k {
                let col: Vec<f64> = (0..n).map(|i| at(&bv, i * k + c)).collect();
                for (i, v) in f.solve(&col).into_iter().enumerate() {
                    if let Some(slot) = out.get_mut(i * k + c) {
                        *slot = v;
                    }
                }
            }
            out
        }
    };
    if out.iter().any(|v| !v.is_finite()) && bv.iter().all(|v| v.is_finite()) {
        return Err(KernelError::Singular { op: "solve" });
    }
    Tensor::from_f64s(b.dtype(), b.shape().to_vec(), out)
}

/// The determinant of a square matrix (0 for a singular one).
pub fn det(a: &Tensor) -> KResult<Tensor> {
    let n = square(a, "det")?;
    let d = if n == 0 {
        1.0
    } else {
        match lu(&a.to_f64_vec(), n) {
            Some(f) => (0..n).fold(f.sign, |p, i| p * at(&f.lu, i * n + i)),
            None => 0.0,
        }
    };
    Ok(Tensor::scalar_float(d, a.dtype()))
}

/// The lower-triangular `l` with `l @ transpose(l) = a`, for a symmetric
/// positive definite `a`. The factor is that of the symmetric part
/// `(a + transpose(a)) / 2`, so that the derivative rules (which assume a
/// symmetric perturbation) are exact for any input.
pub fn cholesky(a: &Tensor) -> KResult<Tensor> {
    let n = square(a, "cholesky")?;
    let raw = a.to_f64_vec();
    let mut av = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if let Some(slot) = av.get_mut(i * n + j) {
                *slot = 0.5 * (at(&raw, i * n + j) + at(&raw, j * n + i));
            }
        }
    }
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut d = at(&av, j * n + j);
        for k in 0..j {
            d -= at(&l, j * n + k) * at(&l, j * n + k);
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(KernelError::NotPositiveDefinite);
        }
        let djj = d.sqrt();
        if let Some(slot) = l.get_mut(j * n + j) {
            *slot = djj;
        }
        for i in j + 1..n {
            let mut s = at(&av, i * n + j);
            for k in 0..j {
                s -= at(&l, i * n + k) * at(&l, j * n + k);
            }
            if let Some(slot) = l.get_mut(i * n + j) {
                *slot = s / djj;
            }
        }
    }
    match a.dtype() {
        d @ (DType::F32 | DType::F64) => Tensor::from_f64s(d, vec![n, n], l),
        d => Err(KernelError::DType {
            op: "cholesky",
            dtype: d,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn m(shape: Vec<usize>, v: Vec<f64>) -> Tensor {
        Tensor::from_f64s(DType::F64, shape, v).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn solve_vector_and_matrix() {
        // [[4, 1], [1, 3]] x = [1, 2]: x = [1/11, 7/11].
        let a = m(vec![2, 2], vec![4.0, 1.0, 1.0, 3.0]);
        let x = solve(&a, &m(vec![2], vec![1.0, 2.0])).unwrap();
        close(&x.to_f64_vec(), &[1.0 / 11.0, 7.0 / 11.0]);
        // The inverse: [[3, -1], [-1, 4]] / 11.
        let inv = solve(&a, &m(vec![2, 2], vec![1.0, 0.0, 0.0, 1.0])).unwrap();
        close(
            &inv.to_f64_vec(),
            &[3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0],
        );
        // Pivoting: a zero in the top-left corner.
        let p = m(vec![2, 2], vec![0.0, 1.0, 2.0, 0.0]);
        let x = solve(&p, &m(vec![2], vec![3.0, 4.0])).unwrap();
        close(&x.to_f64_vec(), &[2.0, 3.0]);
    }

    #[test]
    fn singular_matrices_fail() {
        let s = m(vec![2, 2], vec![1.0, 2.0, 2.0, 4.0]);
        let e = solve(&s, &m(vec![2], vec![1.0, 1.0])).unwrap_err();
        assert!(e.message().contains("matrix is singular"));
        assert_eq!(det(&s).unwrap().to_f64_vec(), vec![0.0]);
    }

    #[test]
    fn determinants() {
        let a = m(vec![2, 2], vec![4.0, 1.0, 1.0, 3.0]);
        close(&det(&a).unwrap().to_f64_vec(), &[11.0]);
        // A row swap flips the sign.
        let p = m(vec![2, 2], vec![0.0, 1.0, 1.0, 0.0]);
        close(&det(&p).unwrap().to_f64_vec(), &[-1.0]);
        let t = m(vec![3, 3], vec![2.0, 0.0, 1.0, 1.0, 3.0, 0.0, 0.0, 1.0, 4.0]);
        // 2*(12-0) - 0 + 1*(1-0) = 25
        close(&det(&t).unwrap().to_f64_vec(), &[25.0]);
    }

    #[test]
    fn cholesky_factors() {
        // [[4, 2], [2, 3]] = [[2, 0], [1, sqrt 2]] [[2, 1], [0, sqrt 2]].
        let a = m(vec![2, 2], vec![4.0, 2.0, 2.0, 3.0]);
        let l = cholesky(&a).unwrap();
        close(&l.to_f64_vec(), &[2.0, 0.0, 1.0, 2f64.sqrt()]);
        let bad = m(vec![2, 2], vec![1.0, 2.0, 2.0, 1.0]);
        assert!(
            cholesky(&bad)
                .unwrap_err()
                .message()
                .contains("not positive definite")
        );
    }

    #[test]
    fn f32_keeps_its_dtype() {
        let a = Tensor::from_f32s(vec![2, 2], vec![2.0, 0.0, 0.0, 4.0]).unwrap();
        let b = Tensor::from_f32s(vec![2], vec![1.0, 1.0]).unwrap();
        let x = solve(&a, &b).unwrap();
        assert_eq!(x.dtype(), DType::F32);
        close(&x.to_f64_vec(), &[0.5, 0.25]);
    }
}

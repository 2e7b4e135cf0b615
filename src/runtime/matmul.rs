//! The matrix product `a @ b`.
//!
//! Takes two tensors of one dtype (f32, f64 or int), each of rank at least 1.
//! A rank-1 left operand is a row vector and a rank-1 right operand a column
//! vector, and their axis is dropped from the result (so vector·vector is a
//! scalar); axes before the last two are batch axes, which broadcast like
//! elementwise shapes. Guarantees the shape rules above, an error (never a
//! panic) on mismatched inner or batch dimensions, float products through
//! `gemm` (multi-threaded when `m*n*k` exceeds 64³), also with a transposed
//! operand read in place ([`matmul_transposed`]), and an exact wrapping
//! integer product by a plain loop.

use super::DType;
use super::broadcast::{broadcast_shapes, broadcast_to};
use super::error::{KResult, KernelError};
use super::tensor::{Data, Real, Tensor, checked_numel, filled};
use gemm::Parallelism;
use std::sync::Arc;

/// Above this many multiply-adds, gemm runs on every core.
const PARALLEL_THRESHOLD: usize = 64 * 64 * 64;

/// The matrix product of `a` and `b`, with vector and batched forms.
pub fn matmul(a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    let (sa, sb) = (a.shape(), b.shape());
    let inner_err = || KernelError::MatMul {
        a: sa.to_vec(),
        b: sb.to_vec(),
    };
    let (a_batch, m, ka) = match sa {
        [] => return Err(inner_err()),
        [k] => (&[][..], 1, *k),
        [batch @ .., m, k] => (batch, *m, *k),
    };
    let (b_batch, kb, n) = match sb {
        [] => return Err(inner_err()),
        [k] => (&[][..], *k, 1),
        [batch @ .., k, n] => (batch, *k, *n),
    };
    if ka != kb {
        return Err(inner_err());
    }
    let batch = broadcast_shapes(a_batch, b_batch).map_err(|_| KernelError::MatMulBatch {
        a: sa.to_vec(),
        b: sb.to_vec(),
    })?;
    let mut out_shape = batch.clone();
    if sa.len() > 1 {
        out_shape.push(m);
    }
    if sb.len() > 1 {
        out_shape.push(n);
    }
    let total = checked_numel(&out_shape)?;
    // For each batch element of the result, the batch element of each operand.
    let ia = broadcast_to(&(0..checked_numel(a_batch)?).collect::<Vec<_>>(), a_batch, &batch)?;
    let ib = broadcast_to(&(0..checked_numel(b_batch)?).collect::<Vec<_>>(), b_batch, &batch)?;
    let dims = Dims { m, k: ka, n };
    let data = match (a.data(), b.data()) {
        (Data::F32(x), Data::F32(y)) => Data::F32(Arc::new(batched(
            x, y, &ia, &ib, dims, total, &out_shape, gemm_real,
        )?)),
        (Data::F64(x), Data::F64(y)) => Data::F64(Arc::new(batched(
            x, y, &ia, &ib, dims, total, &out_shape, gemm_real,
        )?)),
        (Data::I64(x), Data::I64(y)) => Data::I64(Arc::new(batched(
            x, y, &ia, &ib, dims, total, &out_shape, int_kernel,
        )?)),
        (Data::Bool(_), Data::Bool(_)) => {
            return Err(KernelError::DType {
                op: "matmul",
                dtype: DType::Bool,
            });
        }
        (x, y) => {
            return Err(KernelError::DTypeMismatch {
                op: "matmul",
                a: x.dtype(),
                b: y.dtype(),
            });
        }
    };
    Tensor::new(out_shape, data)
}

/// The sizes of one product: `[m, k] @ [k, n]`.
#[derive(Clone, Copy)]
struct Dims {
    m: usize,
    k: usize,
    n: usize,
}

/// Runs `kernel` on each batch element; `ia[i]`/`ib[i]` pick the operands'
/// matrices for result matrix `i`.
#[allow(clippy::too_many_arguments)]
fn batched<T: Copy + Default>(
    x: &[T],
    y: &[T],
    ia: &[usize],
    ib: &[usize],
    d: Dims,
    total: usize,
    out_shape: &[usize],
    kernel: fn(&mut [T], &[T], &[T], Dims),
) -> KResult<Vec<T>> {
    let mut out = filled(total, T::default(), out_shape)?;
    let (mk, kn, mn) = (d.m * d.k, d.k * d.n, d.m * d.n);
    if mn == 0 || d.k == 0 {
        return Ok(out);
    }
    let missing = || KernelError::Internal("matmul: operand shorter than its shape".to_string());
    for (dst, (&i, &j)) in out.chunks_exact_mut(mn).zip(ia.iter().zip(ib)) {
        let lhs = x.get(i * mk..(i + 1) * mk).ok_or_else(missing)?;
        let rhs = y.get(j * kn..(j + 1) * kn).ok_or_else(missing)?;
        kernel(dst, lhs, rhs, d);
    }
    Ok(out)
}

/// `dst = lhs @ rhs` for row-major `lhs: [m, k]`, `rhs: [k, n]` through gemm.
/// The caller guarantees the slice lengths (`m*n`, `m*k`, `k*n`).
fn gemm_real<T: Real>(dst: &mut [T], lhs: &[T], rhs: &[T], d: Dims) {
    gemm_strided(dst, lhs, rhs, d, false);
}

/// `dst = op(lhs) @ rhs` through gemm, where `op` transposes `lhs` stored
/// row-major as `[k, m]` when `ta`, by reading it with swapped strides
/// (without a copy). Does nothing unless the slice lengths are `m*n`, `m*k`
/// and `k*n`.
fn gemm_strided<T: Real>(dst: &mut [T], lhs: &[T], rhs: &[T], d: Dims, ta: bool) {
    let Dims { m, k, n } = d;
    if dst.len() != m * n || lhs.len() != m * k || rhs.len() != k * n {
        return;
    }
    // (column stride, row stride) of each operand as gemm reads it.
    let (lhs_cs, lhs_rs) = if ta { (m, 1) } else { (1, k) };
    let (rhs_cs, rhs_rs) = (1, n);
    let work = m.saturating_mul(n).saturating_mul(k);
    let parallelism = if work > PARALLEL_THRESHOLD {
        Parallelism::Rayon(threads())
    } else {
        Parallelism::None
    };
    // SAFETY: with these strides each operand addresses exactly the elements
    // of a buffer of its length (checked above): row-major `[m, k]` or its
    // transpose `[k, m]`, and so on. `dst` does not alias the operands (it
    // is a unique borrow), and `T` is f32 or f64, which gemm supports. With
    // `read_dst = false`, gemm writes `dst = beta * lhs @ rhs` (gemm 0.19:
    // beta scales the product).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The threads gemm splits a large product over: every core.
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |p| p.get()))
}

/// `op(a) @ op(b)` for matrices, where `op` transposes `a` when `ta` and `b`
/// when `tb`: the product `transpose(a) @ b` (and so on) without a separate
/// transpose instruction. A transposed `a` is read in place with swapped
/// strides; a transposed `b` is copied by the blocked transpose first, which
/// measured faster with gemm. Other ranks, and ints, transpose first and
/// call [`matmul`].
pub fn matmul_transposed(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> KResult<Tensor> {
    let float = matches!(
        (a.data(), b.data()),
        (Data::F32(_), Data::F32(_)) | (Data::F64(_), Data::F64(_))
    );
    let (Some((m, ka)), Some((kb, n)), true) = (dims2(a.shape(), ta), dims2(b.shape(), tb), float) else {
        let swap = |x: &Tensor, t: bool| -> KResult<Tensor> {
            if t {
                let r = x.rank();
                let mut perm: Vec<usize> = (0..r).collect();
                if r >= 2 {
                    perm.swap(r - 2, r - 1);
                }
                super::transpose(x, &perm)
            } else {
                Ok(x.clone())
            }
        };
        return matmul(&swap(a, ta)?, &swap(b, tb)?);
    };
    if ka != kb {
        let t = |x: &Tensor, t: bool| {
            let mut s = x.shape().to_vec();
            if t {
                s.reverse();
            }
            s
        };
        return Err(KernelError::MatMul {
            a: t(a, ta),
            b: t(b, tb),
        });
    }
    if tb {
        // gemm reading a transposed right operand took half as long again
        // as the plain product here; a blocked copy first is cheaper.
        let bt = super::transpose(b, &[1, 0])?;
        return matmul_transposed(a, ta, &bt, false);
    }
    let d = Dims { m, k: ka, n };
    let out_shape = vec![m, n];
    let total = checked_numel(&out_shape)?;
    let data = match (a.data(), b.data()) {
        (Data::F32(x), Data::F32(y)) => {
            let mut out = filled(total, 0.0f32, &out_shape)?;
            if d.k > 0 && total > 0 {
                gemm_strided(&mut out, x, y, d, ta);
            }
            Data::F32(Arc::new(out))
        }
        (Data::F64(x), Data::F64(y)) => {
            let mut out = filled(total, 0.0f64, &out_shape)?;
            if d.k > 0 && total > 0 {
                gemm_strided(&mut out, x, y, d, ta);
            }
            Data::F64(Arc::new(out))
        }
        _ => return Err(KernelError::Internal("matmul_transposed: dtypes".into())),
    };
    Tensor::new(out_shape, data)
}

/// The `(rows, cols)` of a matrix operand after an optional transpose.
fn dims2(shape: &[usize], t: bool) -> Option<(usize, usize)> {
    match shape {
        [r, c] if t => Some((*c, *r)),
        [r, c] => Some((*r, *c)),
        _ => None,
    }
}

/// `dst = lhs @ rhs` for ints, wrapping on overflow.
fn int_kernel(dst: &mut [i64], lhs: &[i64], rhs: &[i64], d: Dims) {
    if d.k == 0 || d.n == 0 {
        return;
    }
    for (orow, arow) in dst.chunks_exact_mut(d.n).zip(lhs.chunks_exact(d.k)) {
        for (&aip, brow) in arow.iter().zip(rhs.chunks_exact(d.n)) {
            for (o, &bpj) in orow.iter_mut().zip(brow) {
                *o = o.wrapping_add(aip.wrapping_mul(bpj));
            }
        }
    }
}

#[cfg(test)]
#[path = "matmul_tests.rs"]
mod tests;

//! The matrix product `a @ b`.
//!
//! Takes two tensors of one dtype (f32, f64 or int), each of rank at least 1.
//! A rank-1 left operand is a row vector and a rank-1 right operand a column
//! vector, and their axis is dropped from the result (so vector·vector is a
//! scalar); axes before the last two are batch axes, which broadcast like
//! elementwise shapes. Guarantees the shape rules above, an error (never a
//! panic) on mismatched inner or batch dimensions, float products through
//! `gemm` (multi-threaded when `m*n*k` exceeds 64³), and an exact wrapping
//! integer product by a plain loop.

use super::DType;
use super::broadcast::{broadcast_shapes, broadcast_to};
use super::error::{KResult, KernelError};
use super::parallel::threads;
use super::tensor::{Data, Real, Tensor, checked_numel, filled};
use gemm::Parallelism;
use std::sync::Arc;

/// Above this many multiply-adds, gemm runs on every core.
const PARALLEL_THRESHOLD: usize = 128 * 128 * 128;

/// The matrix product of `a` and `b`, with vector and batched forms.
pub fn matmul(a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    product(a, false, b)
}

/// `a @ b`, or (`ta`, float operands of rank 2 or more) `transpose(a) @ b`
/// with `a`'s last two axes swapped as gemm reads it, without a copy.
fn product(a: &Tensor, ta: bool, b: &Tensor) -> KResult<Tensor> {
    let mut logical_a = a.shape().to_vec();
    if ta && let [.., x, y] = logical_a.as_mut_slice() {
        std::mem::swap(x, y);
    }
    let (sa, sb) = (logical_a.as_slice(), b.shape());
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
            x,
            y,
            &ia,
            &ib,
            dims,
            total,
            &out_shape,
            if ta { gemm_left_transposed } else { gemm_real },
        )?)),
        (Data::F64(x), Data::F64(y)) => Data::F64(Arc::new(batched(
            x,
            y,
            &ia,
            &ib,
            dims,
            total,
            &out_shape,
            if ta { gemm_left_transposed } else { gemm_real },
        )?)),
        (Data::I64(_), Data::I64(_)) if ta => {
            return Err(KernelError::Internal("a transposed product of ints".into()));
        }
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
    let lhs = Strided {
        data: lhs,
        row: d.k,
        col: 1,
    };
    let rhs = Strided {
        data: rhs,
        row: d.n,
        col: 1,
    };
    gemm_strided(dst, lhs, rhs, d.m, d.n, d.k, false);
}

/// `dst = transpose(lhs) @ rhs` for `lhs` stored row-major as `[k, m]`.
fn gemm_left_transposed<T: Real>(dst: &mut [T], lhs: &[T], rhs: &[T], d: Dims) {
    gemm_strided(
        dst,
        view(lhs, d.m, d.k, true),
        view(rhs, d.k, d.n, false),
        d.m,
        d.n,
        d.k,
        false,
    );
}

/// A matrix stored in a slice with a step between rows and between columns
/// (a transposed view swaps the two).
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a, T> {
    pub data: &'a [T],
    pub row: usize,
    pub col: usize,
}

impl<T> Strided<'_, T> {
    /// Whether every element of a `rows x cols` matrix lies inside the slice.
    fn covers(&self, rows: usize, cols: usize) -> bool {
        if rows == 0 || cols == 0 {
            return true;
        }
        let last = (rows - 1)
            .checked_mul(self.row)
            .zip((cols - 1).checked_mul(self.col))
            .and_then(|(a, b)| a.checked_add(b));
        last.is_some_and(|l| l < self.data.len()) && isize::try_from(self.row.max(self.col)).is_ok()
    }
}

/// `dst = lhs @ rhs` (or `dst += lhs @ rhs` when `accumulate`) for a
/// row-major `dst: [m, n]` and strided `lhs: [m, k]`, `rhs: [k, n]`, through
/// gemm (multi-threaded for large products). Does nothing if a slice is too
/// short for its shape; callers size them exactly.
pub(crate) fn gemm_strided<T: Real>(
    dst: &mut [T],
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if dst.len() != m * n || !lhs.covers(m, k) || !rhs.covers(k, n) {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::ZERO);
        }
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    let parallelism = if work > PARALLEL_THRESHOLD {
        Parallelism::Rayon(threads())
    } else {
        Parallelism::None
    };
    // SAFETY: `covers` checked that every element gemm addresses through these
    // strides lies inside each operand slice (and that the strides fit in
    // `isize`), `dst` is exactly `m*n` row-major elements, `dst` does not alias
    // the operands (it is a unique borrow), and `T` is f32 or f64, which gemm
    // supports. gemm 0.19 computes `dst = alpha * dst + beta * lhs @ rhs`,
    // reading `dst` only when `read_dst` is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col as isize,
            lhs.row as isize,
            rhs.data.as_ptr(),
            rhs.col as isize,
            rhs.row as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
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
    if float && ta && !tb && a.rank() >= 2 && b.rank() >= 2 && (a.rank(), b.rank()) != (2, 2) {
        return product(a, true, b);
    }
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
                gemm_strided(&mut out, view(x, m, ka, ta), view(y, kb, n, tb), m, n, ka, false);
            }
            Data::F32(Arc::new(out))
        }
        (Data::F64(x), Data::F64(y)) => {
            let mut out = filled(total, 0.0f64, &out_shape)?;
            if d.k > 0 && total > 0 {
                gemm_strided(&mut out, view(x, m, ka, ta), view(y, kb, n, tb), m, n, ka, false);
            }
            Data::F64(Arc::new(out))
        }
        _ => return Err(KernelError::Internal("matmul_transposed: dtypes".into())),
    };
    Tensor::new(out_shape, data)
}

/// A row-major buffer read as a `rows x cols` matrix, or (`transposed`) a
/// buffer holding the `cols x rows` matrix read with swapped strides.
fn view<T>(data: &[T], rows: usize, cols: usize, transposed: bool) -> Strided<'_, T> {
    if transposed {
        Strided {
            data,
            row: 1,
            col: rows,
        }
    } else {
        Strided {
            data,
            row: cols,
            col: 1,
        }
    }
}

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

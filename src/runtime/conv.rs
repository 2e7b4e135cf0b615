//! 2-D convolution (cross-correlation, as in PyTorch and JAX) and its two
//! transposes, for f32 and f64.
//!
//! `x` is `[batch, c_in, h, w]`, the kernel `w` is `[c_out, c_in, kh, kw]`,
//! and the result `[batch, c_out, ho, wo]` with `ho = (h + 2p - kh) / s + 1`
//! (likewise `wo`): `out[b, o, i, j] = sum over c, u, v of
//! w[o, c, u, v] * x[b, c, i*s + u - p, j*s + v - p]`, reading zero outside
//! `x` (zero padding of `p` on all four sides).
//!
//! All three kernels lower to one matrix product per chunk of the batch:
//! `im2col` lays the input patches out as a `[c_in*kh*kw, n]` matrix
//! (`n` = output pixels of the chunk), which is multiplied with the kernel
//! seen as `[c_out, c_in*kh*kw]` through gemm. Chunks bound the patch
//! matrix's memory; buffers are allocated once per call. Shapes are
//! re-checked here and a mismatch is an error, never a panic.

use super::error::{KResult, KernelError};
use super::matmul::{Strided, gemm_strided};
use super::tensor::{Data, Real, Tensor, checked_numel, filled};

/// The most elements of the patch matrix built at once.
const PATCH_BUDGET: usize = 1 << 22;

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    padding: usize,
    ho: usize,
    wo: usize,
    /// The most elements of the patch matrix built at once.
    budget: usize,
}

impl Geom {
    /// Checks the shapes of `x` and `w` and works out the output size.
    fn new(x: &[usize], w: &[usize], stride: usize, padding: usize) -> KResult<Geom> {
        let bad = || KernelError::Conv {
            x: x.to_vec(),
            w: w.to_vec(),
            stride,
            padding,
        };
        let (&[batch, c_in, h, wd], &[c_out, wc, kh, kw]) = (x, w) else {
            return Err(bad());
        };
        if wc != c_in || stride == 0 {
            return Err(bad());
        }
        let len = |n: usize, k: usize| -> KResult<usize> {
            let padded = padding
                .checked_mul(2)
                .and_then(|p| p.checked_add(n))
                .ok_or_else(bad)?;
            let room = padded.checked_sub(k).ok_or_else(bad)?;
            Ok(room / stride + 1)
        };
        let g = Geom {
            batch,
            c_in,
            h,
            w: wd,
            c_out,
            kh,
            kw,
            stride,
            padding,
            ho: len(h, kh)?,
            wo: len(wd, kw)?,
            budget: PATCH_BUDGET,
        };
        // Every buffer size below is a product of these; check them once.
        checked_numel(&[batch, c_out.max(c_in), g.ho.max(h), g.wo.max(wd)])?;
        checked_numel(&[c_in, kh, kw, batch, g.ho, g.wo])?;
        Ok(g)
    }

    fn out_shape(&self) -> Vec<usize> {
        vec![self.batch, self.c_out, self.ho, self.wo]
    }

    /// Rows of the patch matrix: `c_in * kh * kw`.
    fn patch(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Output pixels of one image: `ho * wo`.
    fn pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// How many images each chunk holds.
    fn chunk(&self) -> usize {
        (self.budget / (self.patch() * self.pixels()).max(1)).clamp(1, self.batch.max(1))
    }

    /// Whether the result has no elements or every output is an empty sum.
    fn degenerate(&self) -> bool {
        self.batch == 0 || self.c_out == 0 || self.pixels() == 0 || self.patch() == 0
    }
}

/// `conv2d(x, w)` with this stride and zero padding.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> KResult<Tensor> {
    let g = Geom::new(x.shape(), w.shape(), stride, padding)?;
    let data = match (x.data(), w.data()) {
        (Data::F32(a), Data::F32(b)) => <f32 as Real>::wrap(forward(a, b, &g)?),
        (Data::F64(a), Data::F64(b)) => <f64 as Real>::wrap(forward(a, b, &g)?),
        (a, b) => return Err(dtype_error("conv2d", a, b)),
    };
    Tensor::new(g.out_shape(), data)
}

/// The adjoint of `x` in `conv2d(x, w)` given the adjoint `g` of the result:
/// a tensor of `x_shape`.
pub fn conv2d_grad_input(
    g: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    stride: usize,
    padding: usize,
) -> KResult<Tensor> {
    let geom = Geom::new(x_shape, w.shape(), stride, padding)?;
    check_adjoint(g, &geom)?;
    let data = match (g.data(), w.data()) {
        (Data::F32(a), Data::F32(b)) => <f32 as Real>::wrap(grad_input(a, b, &geom)?),
        (Data::F64(a), Data::F64(b)) => <f64 as Real>::wrap(grad_input(a, b, &geom)?),
        (a, b) => return Err(dtype_error("conv2d_grad_input", a, b)),
    };
    Tensor::new(x_shape.to_vec(), data)
}

/// The adjoint of `w` in `conv2d(x, w)` given the adjoint `g` of the result:
/// a tensor of `w_shape`.
pub fn conv2d_grad_weight(
    g: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    stride: usize,
    padding: usize,
) -> KResult<Tensor> {
    let geom = Geom::new(x.shape(), w_shape, stride, padding)?;
    check_adjoint(g, &geom)?;
    let data = match (g.data(), x.data()) {
        (Data::F32(a), Data::F32(b)) => <f32 as Real>::wrap(grad_weight(a, b, &geom)?),
        (Data::F64(a), Data::F64(b)) => <f64 as Real>::wrap(grad_weight(a, b, &geom)?),
        (a, b) => return Err(dtype_error("conv2d_grad_weight", a, b)),
    };
    Tensor::new(w_shape.to_vec(), data)
}

fn dtype_error(op: &'static str, a: &Data, b: &Data) -> KernelError {
    if a.dtype() == b.dtype() {
        KernelError::DType { op, dtype: a.dtype() }
    } else {
        KernelError::DTypeMismatch {
            op,
            a: a.dtype(),
            b: b.dtype(),
        }
    }
}

/// The adjoint of the result must have the result's shape.
fn check_adjoint(g: &Tensor, geom: &Geom) -> KResult<()> {
    let want = geom.out_shape();
    if g.shape() != want.as_slice() {
        return Err(KernelError::Internal(format!(
            "conv2d adjoint of shape {:?}, expected {:?}",
            g.shape(),
            want
        )));
    }
    Ok(())
}

fn forward<R: Real>(x: &[R], w: &[R], g: &Geom) -> KResult<Vec<R>> {
    let shape = g.out_shape();
    let mut out = filled(checked_numel(&shape)?, R::ZERO, &shape)?;
    if g.degenerate() {
        return Ok(out);
    }
    let (patch, pixels, chunk) = (g.patch(), g.pixels(), g.chunk());
    let mut cols = filled(patch * pixels * chunk, R::ZERO, &shape)?;
    let mut prod = filled(g.c_out * pixels * chunk, R::ZERO, &shape)?;
    let image = g.c_out * pixels;
    for (ci, out_chunk) in out.chunks_mut(image * chunk).enumerate() {
        let b0 = ci * chunk;
        let nb = out_chunk.len() / image;
        let n = nb * pixels;
        let cols = cols.get_mut(..patch * n).ok_or_else(short)?;
        im2col(x, g, b0, nb, cols);
        let prod = prod.get_mut(..g.c_out * n).ok_or_else(short)?;
        let lhs = Strided {
            data: w,
            row: patch,
            col: 1,
        };
        let rhs = Strided {
            data: &*cols,
            row: n,
            col: 1,
        };
        gemm_strided(prod, lhs, rhs, g.c_out, n, patch, false);
        // prod is [c_out, nb * pixels]; the result wants [nb, c_out, pixels].
        unpermute(prod, out_chunk, g.c_out, nb, pixels);
    }
    Ok(out)
}

fn grad_input<R: Real>(gy: &[R], w: &[R], g: &Geom) -> KResult<Vec<R>> {
    let shape = [g.batch, g.c_in, g.h, g.w];
    let mut dx = filled(checked_numel(&shape)?, R::ZERO, &shape)?;
    if g.degenerate() {
        return Ok(dx);
    }
    let (patch, pixels, chunk) = (g.patch(), g.pixels(), g.chunk());
    let mut cols = filled(patch * pixels * chunk, R::ZERO, &shape)?;
    let mut gp = filled(g.c_out * pixels * chunk, R::ZERO, &shape)?;
    let image = g.c_out * pixels;
    for (ci, g_chunk) in gy.chunks(image * chunk).enumerate() {
        let b0 = ci * chunk;
        let nb = g_chunk.len() / image;
        let n = nb * pixels;
        let gp = gp.get_mut(..g.c_out * n).ok_or_else(short)?;
        permute(g_chunk, gp, g.c_out, nb, pixels);
        let cols = cols.get_mut(..patch * n).ok_or_else(short)?;
        // cols [patch, n] = wᵀ [patch, c_out] @ gp [c_out, n]
        let lhs = Strided {
            data: w,
            row: 1,
            col: patch,
        };
        let rhs = Strided {
            data: &*gp,
            row: n,
            col: 1,
        };
        gemm_strided(cols, lhs, rhs, patch, n, g.c_out, false);
        col2im(cols, g, b0, nb, &mut dx);
    }
    Ok(dx)
}

fn grad_weight<R: Real>(gy: &[R], x: &[R], g: &Geom) -> KResult<Vec<R>> {
    let shape = [g.c_out, g.c_in, g.kh, g.kw];
    let mut dw = filled(checked_numel(&shape)?, R::ZERO, &shape)?;
    if g.degenerate() {
        return Ok(dw);
    }
    let (patch, pixels, chunk) = (g.patch(), g.pixels(), g.chunk());
    let mut cols = filled(patch * pixels * chunk, R::ZERO, &shape)?;
    let mut gp = filled(g.c_out * pixels * chunk, R::ZERO, &shape)?;
    let image = g.c_out * pixels;
    for (ci, g_chunk) in gy.chunks(image * chunk).enumerate() {
        let b0 = ci * chunk;
        let nb = g_chunk.len() / image;
        let n = nb * pixels;
        let gp = gp.get_mut(..g.c_out * n).ok_or_else(short)?;
        permute(g_chunk, gp, g.c_out, nb, pixels);
        let cols = cols.get_mut(..patch * n).ok_or_else(short)?;
        im2col(x, g, b0, nb, cols);
        // dw [c_out, patch] += gp [c_out, n] @ colsᵀ [n, patch]
        let lhs = Strided {
            data: &*gp,
            row: n,
            col: 1,
        };
        let rhs = Strided {
            data: &*cols,
            row: 1,
            col: n,
        };
        gemm_strided(&mut dw, lhs, rhs, g.c_out, patch, n, ci > 0);
    }
    Ok(dw)
}

fn short() -> KernelError {
    KernelError::Internal("conv2d: a buffer is shorter than its shape".to_string())
}

/// The input row (or column) read by kernel offset `u` at output position
/// `i`: `i*s + u - p`, or `None` in the padding.
fn source(i: usize, u: usize, g: &Geom, len: usize) -> Option<usize> {
    (i * g.stride + u).checked_sub(g.padding).filter(|&r| r < len)
}

/// The output positions `lo..hi` (of `out` along an axis of input length
/// `len`) whose kernel offset `v` reads inside the input, and the input
/// index that `lo` reads; positions outside the range read the padding.
fn inside(v: usize, g: &Geom, len: usize, out: usize) -> (usize, usize, usize) {
    let s = g.stride;
    let lo = g.padding.saturating_sub(v).div_ceil(s).min(out);
    let hi = match (len + g.padding).checked_sub(v + 1) {
        Some(last) => (last / s + 1).min(out),
        None => 0,
    };
    let hi = hi.max(lo);
    (lo, hi, (lo * s + v).saturating_sub(g.padding))
}

/// Fills `cols` (`[c_in*kh*kw, nb*ho*wo]`) with the patches of images
/// `b0..b0+nb` of `x`: row `(c, u, v)`, column `(b, i, j)` holds
/// `x[b0+b, c, i*s+u-p, j*s+v-p]`, or zero in the padding.
fn im2col<R: Real>(x: &[R], g: &Geom, b0: usize, nb: usize, cols: &mut [R]) {
    let (pixels, plane, kk) = (g.pixels(), g.h * g.w, g.kh * g.kw);
    if pixels == 0 || nb == 0 || kk == 0 {
        return;
    }
    for (r, row) in cols.chunks_exact_mut(nb * pixels).enumerate() {
        let (c, u, v) = (r / kk, (r % kk) / g.kw, r % g.kw);
        let (lo, hi, first) = inside(v, g, g.w, g.wo);
        for (b, dst) in row.chunks_exact_mut(pixels).enumerate() {
            let base = ((b0 + b) * g.c_in + c) * plane;
            let src = x.get(base..base + plane).unwrap_or(&[]);
            for (i, dst_row) in dst.chunks_exact_mut(g.wo).enumerate() {
                let line = source(i, u, g, g.h).and_then(|ih| src.get(ih * g.w + first..(ih + 1) * g.w));
                let Some(line) = line else {
                    dst_row.fill(R::ZERO);
                    continue;
                };
                // Padding on both sides of the columns `lo..hi` read from `line`.
                let Some((head, tail)) = dst_row.split_at_mut_checked(hi) else {
                    continue;
                };
                tail.fill(R::ZERO);
                let Some((left, mid)) = head.split_at_mut_checked(lo) else {
                    continue;
                };
                left.fill(R::ZERO);
                if g.stride == 1
                    && let Some(seg) = line.get(..mid.len())
                {
                    mid.copy_from_slice(seg);
                } else {
                    for (d, &x) in mid.iter_mut().zip(line.iter().step_by(g.stride)) {
                        *d = x;
                    }
                }
            }
        }
    }
}

/// The transpose of [`im2col`]: adds each entry of `cols` to the element of
/// `dx` (shaped like `x`) it was read from.
fn col2im<R: Real>(cols: &[R], g: &Geom, b0: usize, nb: usize, dx: &mut [R]) {
    let (pixels, plane, kk) = (g.pixels(), g.h * g.w, g.kh * g.kw);
    if pixels == 0 || nb == 0 || kk == 0 {
        return;
    }
    for (r, row) in cols.chunks_exact(nb * pixels).enumerate() {
        let (c, u, v) = (r / kk, (r % kk) / g.kw, r % g.kw);
        let (lo, hi, first) = inside(v, g, g.w, g.wo);
        for (b, src) in row.chunks_exact(pixels).enumerate() {
            let base = ((b0 + b) * g.c_in + c) * plane;
            let Some(dst) = dx.get_mut(base..base + plane) else {
                continue;
            };
            for (i, src_row) in src.chunks_exact(g.wo).enumerate() {
                let Some(ih) = source(i, u, g, g.h) else {
                    continue;
                };
                let (Some(line), Some(mid)) =
                    (dst.get_mut(ih * g.w + first..(ih + 1) * g.w), src_row.get(lo..hi))
                else {
                    continue;
                };
                for (d, &s) in line.iter_mut().step_by(g.stride).zip(mid) {
                    *d = *d + s;
                }
            }
        }
    }
}

/// `src [c, nb, p]` into `dst [nb, c, p]`.
fn unpermute<R: Real>(src: &[R], dst: &mut [R], c: usize, nb: usize, p: usize) {
    if p == 0 || c == 0 {
        return;
    }
    for (b, image) in dst.chunks_exact_mut(c * p).take(nb).enumerate() {
        for (o, d) in image.chunks_exact_mut(p).enumerate() {
            let at = (o * nb + b) * p;
            if let Some(s) = src.get(at..at + p) {
                d.copy_from_slice(s);
            }
        }
    }
}

/// `src [nb, c, p]` into `dst [c, nb, p]`.
fn permute<R: Real>(src: &[R], dst: &mut [R], c: usize, nb: usize, p: usize) {
    if p == 0 || c == 0 {
        return;
    }
    for (b, image) in src.chunks_exact(c * p).take(nb).enumerate() {
        for (o, s) in image.chunks_exact(p).enumerate() {
            let at = (o * nb + b) * p;
            if let Some(d) = dst.get_mut(at..at + p) {
                d.copy_from_slice(s);
            }
        }
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;

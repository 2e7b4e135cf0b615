//! Vectorized transcendental functions over slices: `exp`, `log`, `sin`,
//! `cos` and `tanh` in f32 and f64, for whole-tensor kernels and for the
//! blocks of fused elementwise groups.
//!
//! Each function is a branch-free kernel of one element (Cody–Waite range
//! reduction, then a fixed polynomial evaluated with fused multiply-adds;
//! selects instead of branches) applied by a plain loop that LLVM
//! vectorizes. The loops are compiled three times: with AVX-512
//! (`avx512f,avx512vl,avx512dq,avx2,fma`), with AVX2 + FMA, and portably
//! (the only form off x86-64); the first one the CPU supports is chosen at
//! the first call. A slice's tail (its length modulo 16 f32 or 8 f64 lanes)
//! is padded to a full lane array and goes through the same loop. An
//! element's result therefore depends only on its value: not on the slice's
//! length, the element's position, or the path (every path performs the
//! same IEEE operations, and `mul_add` is always a fused multiply-add:
//! without FMA hardware it is a correctly rounded library call, slow but
//! identical).
//!
//! Maximum errors in ulps of the result, as `vmath_tests.rs` asserts them:
//! f32 against the f64 function (so the f32 rounding is included; measured
//! over every f32 argument by the ignored test `every_f32_argument`), f64 as
//! the distance from the platform's f64 function (over dense and random
//! samples of the ranges):
//!
//! | function | f32 bound (every f32) | f64 bound, from libm | method |
//! |----------|-----------------------|----------------------|--------|
//! | exp      | 1 (0.99)              | 1 | `x = n ln2 + r`, polynomial of degree 7 / 12, `2^n` as two factors |
//! | log      | 1 (0.83)              | 1 | `x = 2^k m`, m in [√½, √2): polynomial in `m - 1` (f32), `atanh` series (f64) |
//! | sin, cos | 1 (0.80)              | 1 | `x = q π/2 + r` with `r` in two parts, sine and cosine polynomials |
//! | tanh     | 1.5 (1.33)            | 2 | `x + x³p(x²)` (f64: `x³P/Q`) below 0.625, else `1 - 2/(e^{2x} + 1)` |
//!
//! Special values mean what the standard library's do: `exp` overflows to
//! `+inf` and underflows through the subnormals (rounded once, as a
//! correctly rounded result would be) to `0`, `exp(-inf) = 0`;
//! `log(±0) = -inf`, `log(x < 0) = NaN`, `log(+inf) = +inf`, and subnormal
//! arguments are scaled first; `sin`/`cos` of `±inf` are NaN and
//! `sin(-0) = -0`; `tanh(±large) = ±1`, `tanh(-0) = -0`; NaN gives NaN.
//! `sin` and `cos` reduce accurately for |x| up to [`k32::TRIG_MAX`] (2^17)
//! in f32 and [`k64::TRIG_MAX`] (2^28) in f64: a block of 256 elements
//! holding an argument beyond that (or a non-finite one) is done element by
//! element, those arguments by the standard library's function, so their
//! results are std's and the other elements' results do not change.

use super::tensor::Real;
use crate::ir::op::UnaryOp;
use std::any::TypeId;
use std::sync::OnceLock;

/// Whether [`unary_in_place`] handles `op`.
pub(crate) fn is_vectorized(op: UnaryOp) -> bool {
    Func::of(op).is_some()
}

/// Applies the float unary `op` to every element of `v` in place, when it
/// is one of the vectorized functions; returns false (and leaves `v` alone)
/// for any other op.
pub(crate) fn unary_in_place<T: Real>(op: UnaryOp, v: &mut [T]) -> bool {
    let Some(f) = Func::of(op) else {
        return false;
    };
    apply(Path::detected(), f, v);
    true
}

/// The functions this module computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Exp,
    Log,
    Sin,
    Cos,
    Tanh,
}

impl Func {
    fn of(op: UnaryOp) -> Option<Func> {
        Some(match op {
            UnaryOp::Exp => Func::Exp,
            UnaryOp::Log => Func::Log,
            UnaryOp::Sin => Func::Sin,
            UnaryOp::Cos => Func::Cos,
            UnaryOp::Tanh => Func::Tanh,
            _ => return None,
        })
    }
}

/// A compiled form of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Avx512,
    Avx2,
    Portable,
}

impl Path {
    /// The fastest path this CPU runs, detected once.
    fn detected() -> Path {
        static PATH: OnceLock<Path> = OnceLock::new();
        *PATH.get_or_init(|| {
            [Path::Avx512, Path::Avx2]
                .into_iter()
                .find(|p| p.available())
                .unwrap_or(Path::Portable)
        })
    }

    /// Whether this CPU has the path's instructions.
    fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Path::Avx512 => {
                    has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx2") && has!("fma")
                }
                Path::Avx2 => has!("avx2") && has!("fma"),
                Path::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Path::Portable
        }
    }
}

/// Runs `f` over `v` on `path` (the portable path when the CPU lacks
/// `path`'s instructions).
fn apply<T: Real>(path: Path, f: Func, v: &mut [T]) {
    if let Some(v) = cast_mut::<T, f32>(v) {
        run_f32(path, f, v);
    } else if let Some(v) = cast_mut::<T, f64>(v) {
        run_f64(path, f, v);
    } else {
        let g: fn(T) -> T = match f {
            Func::Exp => T::exp,
            Func::Log => T::ln,
            Func::Sin => T::sin,
            Func::Cos => T::cos,
            Func::Tanh => T::tanh,
        };
        v.iter_mut().for_each(|x| *x = g(*x));
    }
}

/// `v` as a slice of `U` when `T` is `U`.
fn cast_mut<T: 'static, U: 'static>(v: &mut [T]) -> Option<&mut [U]> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        // SAFETY: `T` and `U` are the same type, so the slice is unchanged.
        Some(unsafe { &mut *(v as *mut [T] as *mut [U]) })
    } else {
        None
    }
}

/// Lane counts: one 512-bit register of each type.
const LANES32: usize = 16;
const LANES64: usize = 8;

macro_rules! paths {
    ($run:ident, $body:ident, $avx512:ident, $avx2:ident, $t:ty) => {
        fn $run(path: Path, f: Func, v: &mut [$t]) {
            #[cfg(target_arch = "x86_64")]
            {
                if path == Path::Avx512 && path.available() {
                    // SAFETY: the CPU has the target features (checked above).
                    return unsafe { $avx512(f, v) };
                }
                if path == Path::Avx2 && path.available() {
                    // SAFETY: the CPU has the target features (checked above).
                    return unsafe { $avx2(f, v) };
                }
            }
            let _ = path;
            $body(f, v)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        fn $avx512(f: Func, v: &mut [$t]) {
            $body(f, v)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2(f: Func, v: &mut [$t]) {
            $body(f, v)
        }
    };
}

paths!(run_f32, body_f32, avx512_f32, avx2_f32, f32);
paths!(run_f64, body_f64, avx512_f64, avx2_f64, f64);

#[inline(always)]
fn body_f32(f: Func, v: &mut [f32]) {
    match f {
        Func::Exp => map::<f32, LANES32>(v, k32::exp),
        Func::Log => map::<f32, LANES32>(v, k32::log),
        Func::Sin => map_checked::<f32, LANES32>(v, k32::sin, k32::trig_in_range, f32::sin),
        Func::Cos => map_checked::<f32, LANES32>(v, k32::cos, k32::trig_in_range, f32::cos),
        Func::Tanh => map::<f32, LANES32>(v, k32::tanh),
    }
}

#[inline(always)]
fn body_f64(f: Func, v: &mut [f64]) {
    match f {
        Func::Exp => map::<f64, LANES64>(v, k64::exp),
        Func::Log => map::<f64, LANES64>(v, k64::log),
        Func::Sin => map_checked::<f64, LANES64>(v, k64::sin, k64::trig_in_range, f64::sin),
        Func::Cos => map_checked::<f64, LANES64>(v, k64::cos, k64::trig_in_range, f64::cos),
        Func::Tanh => map::<f64, LANES64>(v, k64::tanh),
    }
}

// The drivers and kernels below are `#[inline(always)]` and use plain
// loops, so that all of their code lands in the `#[target_feature]`
// functions that call them (code outside those is compiled without FMA,
// where `mul_add` becomes a library call).

/// Applies `k` to every element: the longest prefix that is a multiple of
/// `N` elements in one loop (which LLVM vectorizes), then the tail padded
/// with zeros to `N` lanes.
#[inline(always)]
fn map<T: Copy + Default, const N: usize>(v: &mut [T], k: impl Fn(T) -> T) {
    let (chunks, tail) = v.as_chunks_mut::<N>();
    for x in chunks.as_flattened_mut() {
        *x = k(*x);
    }
    if !tail.is_empty() {
        let mut buf = [T::default(); N];
        for (b, x) in buf.iter_mut().zip(tail.iter()) {
            *b = *x;
        }
        for b in buf.iter_mut() {
            *b = k(*b);
        }
        for (x, b) in tail.iter_mut().zip(buf.iter()) {
            *x = *b;
        }
    }
}

/// Elements per range check in [`map_checked`].
const BLOCK: usize = 256;

/// [`map`], except that elements for which `in_range` is false get
/// `exact` instead of `k`.
#[inline(always)]
fn map_checked<T: Copy + Default, const N: usize>(
    v: &mut [T],
    k: impl Fn(T) -> T + Copy,
    in_range: impl Fn(T) -> bool + Copy,
    exact: fn(T) -> T,
) {
    let (chunks, tail) = v.as_chunks_mut::<N>();
    for b in chunks.as_flattened_mut().chunks_mut(BLOCK) {
        checked_block(b, k, in_range, exact);
    }
    if !tail.is_empty() {
        let mut buf = [T::default(); N];
        for (b, x) in buf.iter_mut().zip(tail.iter()) {
            *b = *x;
        }
        checked_block(&mut buf, k, in_range, exact);
        for (x, b) in tail.iter_mut().zip(buf.iter()) {
            *x = *b;
        }
    }
}

/// One block of [`map_checked`]: checked first, and vectorized when every
/// element is in range.
#[inline(always)]
fn checked_block<T: Copy>(b: &mut [T], k: impl Fn(T) -> T, in_range: impl Fn(T) -> bool, exact: fn(T) -> T) {
    let mut all = true;
    for &x in b.iter() {
        all &= in_range(x);
    }
    if all {
        for x in b.iter_mut() {
            *x = k(*x);
        }
    } else {
        for x in b.iter_mut() {
            *x = if in_range(*x) { k(*x) } else { call(exact, *x) };
        }
    }
}

/// `f(x)`, out of line, so that `f` is only evaluated where needed (a
/// standard-library function called inline may be computed speculatively
/// for every lane).
#[inline(never)]
fn call<T>(f: fn(T) -> T, x: T) -> T {
    f(x)
}

/// Horner's rule with fused multiply-adds, highest coefficient first:
/// `horner!(x; c0, c1, c2)` is `(c0 x + c1) x + c2`.
macro_rules! horner {
    ($x:expr; $c0:expr $(, $c:expr)* $(,)?) => {{
        let x = $x;
        let acc = $crate::runtime::vmath::same_type(x, $c0);
        $(let acc = acc.mul_add(x, $c);)*
        acc
    }};
}

/// `v`, typed like `_x` (for the literal coefficients of `horner!`).
#[inline(always)]
pub(crate) fn same_type<T>(_x: T, v: T) -> T {
    v
}

/// The f32 kernels.
pub(crate) mod k32 {
    use std::f32::consts::{FRAC_1_SQRT_2, FRAC_2_PI, LOG2_E};

    /// 1.5 * 2^23: `y + MAGIC` rounds `y` to an integer held in the low
    /// mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    const SIGN: u32 = 0x8000_0000;
    /// ln 2 in two parts (Cephes): `n * LN2_HI` is exact.
    const LN2_HI: f32 = 355.0 / 512.0;
    const LN2_LO: f32 = -2.121_944_4e-4;

    /// `2^n` for `n` in the normal range.
    #[inline(always)]
    fn pow2(n: i32) -> f32 {
        f32::from_bits((n.wrapping_add(127) as u32) << 23)
    }

    /// `x = n ln2 + r`, |r| <= ln2/2; `exp(r) = 1 + r + r^2 p(r)` with
    /// SLEEF's degree-5 `p`.
    #[inline(always)]
    pub(crate) fn exp(x: f32) -> f32 {
        // Beyond these, the result is inf or 0 anyway; NaN passes.
        let x = if x > 89.0 { 89.0 } else { x };
        let x = if x < -104.0 { -104.0 } else { x };
        let t = x.mul_add(LOG2_E, MAGIC);
        let n = t - MAGIC;
        let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
        let r = n.mul_add(-LN2_HI, x);
        let r = n.mul_add(-LN2_LO, r);
        let p = horner!(r; 1.985_276_2e-4, 1.393_043_6e-3, 8.333_361e-3, 4.166_648_5e-2, 0.166_666_67, 0.5);
        let y = (r * r).mul_add(p, r) + 1.0;
        // 2^n in two factors, so that overflow, subnormals and underflow
        // come from one final rounding.
        let n1 = ni >> 1;
        let y = y * pow2(n1) * pow2(ni.wrapping_sub(n1));
        // A NaN argument gives itself, quieted, as libm does (the
        // arithmetic above mixes in NaNs made from the bits of `t`).
        if x.is_nan() { x + x } else { y }
    }

    /// `x = 2^e m`, m in [√½, √2); `log(1 + f) = f - f^2/2 + f^3 p(f)` with
    /// Cephes' degree-8 `p`.
    #[inline(always)]
    pub(crate) fn log(x: f32) -> f32 {
        let sub = x < f32::MIN_POSITIVE;
        let xs = if sub { x * 8_388_608.0 } else { x };
        let bits = xs.to_bits();
        let e = (bits >> 23) as i32 - if sub { 126 + 23 } else { 126 };
        // x = 2^e m with m in [0.5, 1), then m in [√½, √2).
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
        let low = m < FRAC_1_SQRT_2;
        let e = (e - i32::from(low)) as f32;
        let f = if low { m + m } else { m } - 1.0;
        let z = f * f;
        let p = horner!(f;
            7.037_683_6e-2, -0.115_146_1, 0.116_769_984, -0.124_201_41, 0.142_493_23,
            -0.166_680_57, 0.200_007_14, -0.249_999_94, 0.333_333_3
        );
        let y = e.mul_add(LN2_LO, f * z * p);
        let y = z.mul_add(-0.5, y);
        let r = e.mul_add(LN2_HI, f + y);
        let r = if x == f32::INFINITY { x } else { r };
        let r = if x == 0.0 { f32::NEG_INFINITY } else { r };
        // Below zero, the NaN of `0 * inf` (the platform's default NaN, as
        // libm returns; a NaN argument's own payload).
        if x >= 0.0 { r } else { x * 0.0 * f32::INFINITY }
    }

    /// Largest |x| that `sin`/`cos` reduce accurately.
    pub(crate) const TRIG_MAX: f32 = 131_072.0;
    /// π/2 in three parts.
    const PIO2_1: f32 = 1.570_796_4;
    const PIO2_2: f32 = -4.371_139e-8;
    const PIO2_3: f32 = -1.715_124_5e-15;

    /// `sin(a + offset π/2)` for a >= 0: `a = q π/2 + r`, |r| <= π/4, with
    /// `r` carried in two parts, and Cephes' sine and cosine polynomials.
    #[inline(always)]
    fn sin_quadrant(a: f32, offset: u32) -> f32 {
        let t = a.mul_add(FRAC_2_PI, MAGIC);
        let q = t - MAGIC;
        let qi = t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(offset);
        // a - q π/2 = rh + rl: `u` is exact, `u - p` is split exactly
        // (TwoSum), and so is the product `q PIO2_2 = p + pe`.
        let u = q.mul_add(-PIO2_1, a);
        let p = q * PIO2_2;
        let pe = q.mul_add(PIO2_2, -p);
        let rh = u - p;
        let bv = rh - u;
        let e = (u - (rh - bv)) + (-p - bv);
        let rl = q.mul_add(-PIO2_3, e - pe);
        // sin(rh + rl) = sin rh + rl cos rh, cos(rh + rl) = cos rh - rl sin rh.
        let z = rh * rh;
        let ps = horner!(z; -1.951_529_6e-4, 8.332_161e-3, -0.166_666_55);
        let s = rh + (rh * z).mul_add(ps, rl * z.mul_add(-0.5, 1.0));
        // 1 - r^2/2 + r^4 q(r^2), with the roundings of rh^2 and of
        // 1 - z/2 carried.
        let zl = rh.mul_add(rh, -z);
        let hz = 0.5 * z;
        let w = 1.0 - hz;
        let pc = horner!(z; 2.443_315_7e-5, -1.388_731_6e-3, 4.166_664_6e-2);
        let tail = (z * z).mul_add(pc, (-0.5f32).mul_add(zl, -rl * rh));
        let c = w + (((1.0 - w) - hz) + tail);
        let v = if qi & 1 == 0 { s } else { c };
        f32::from_bits(v.to_bits() ^ ((qi & 2) << 30))
    }

    #[inline(always)]
    pub(crate) fn sin(x: f32) -> f32 {
        f32::from_bits(sin_quadrant(x.abs(), 0).to_bits() ^ (x.to_bits() & SIGN))
    }

    #[inline(always)]
    pub(crate) fn cos(x: f32) -> f32 {
        sin_quadrant(x.abs(), 1)
    }

    #[inline(always)]
    pub(crate) fn trig_in_range(x: f32) -> bool {
        x.abs() <= TRIG_MAX
    }

    /// `x + x^3 p(x^2)` (Cephes' degree-4 `p`) for |x| < 0.625, else
    /// `1 - 2/(e^{2x} + 1)`.
    #[inline(always)]
    pub(crate) fn tanh(x: f32) -> f32 {
        let a = x.abs();
        let z = a * a;
        let p = horner!(z; -5.704_988_7e-3, 2.063_908_8e-2, -5.373_971_5e-2, 0.133_314_42, -0.333_332_8);
        let small = (a * z).mul_add(p, a);
        let large = 1.0 - 2.0 / (exp(a + a) + 1.0);
        let y = if a < 0.625 { small } else { large };
        f32::from_bits(y.to_bits() | (x.to_bits() & SIGN))
    }
}

/// The f64 kernels.
pub(crate) mod k64 {
    use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_PI, FRAC_PI_2, LOG2_E};

    /// 1.5 * 2^52: `y + MAGIC` rounds `y` to an integer held in the low
    /// mantissa bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const SIGN: u64 = 0x8000_0000_0000_0000;
    /// ln 2 in two parts (fdlibm): `n * LN2_HI` is exact.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

    /// `2^n` for `n` in the normal range.
    #[inline(always)]
    fn pow2(n: i64) -> f64 {
        f64::from_bits((n.wrapping_add(1023) as u64) << 52)
    }

    /// `n` as f64, for |n| < 2^51 (without a conversion instruction, which
    /// AVX2 lacks).
    #[inline(always)]
    fn int_to_f64(n: i64) -> f64 {
        f64::from_bits(MAGIC.to_bits().wrapping_add(n as u64)) - MAGIC
    }

    /// `x = n ln2 + r`, |r| <= ln2/2, with `r = rh + rl` in two parts;
    /// `exp(r) = 1 + r + r^2 p(r)` with SLEEF's degree-10 `p`, and only the
    /// final addition rounded noticeably.
    #[inline(always)]
    pub(crate) fn exp(x: f64) -> f64 {
        let x = if x > 710.0 { 710.0 } else { x };
        let x = if x < -746.0 { -746.0 } else { x };
        let t = x.mul_add(LOG2_E, MAGIC);
        let n = t - MAGIC;
        let ni = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
        // `u` is exact; `u - rh` too, unless |r| < 2^-21, where `rl` no
        // longer matters.
        let u = n.mul_add(-LN2_HI, x);
        let rh = n.mul_add(-LN2_LO, u);
        let rl = n.mul_add(-LN2_LO, u - rh);
        let p = horner!(rh;
            2.088_606_211_072_837e-9, 2.511_129_308_928_765_2e-8, 2.755_739_112_349_004_7e-7,
            2.755_723_629_119_288_3e-6, 2.480_158_715_923_547_3e-5, 1.984_126_989_605_092e-4,
            1.388_888_888_897_745e-3, 8.333_333_333_316_527e-3, 4.166_666_666_666_650_5e-2,
            0.166_666_666_666_666_85, 0.5
        );
        // exp(rh + rl) = 1 + rh + (rh^2 p + rl (1 + rh)), with 1 + rh split
        // exactly (Fast2Sum).
        let q = (rh * rh).mul_add(p, rl.mul_add(rh, rl));
        let s = 1.0 + rh;
        let y = s + (((1.0 - s) + rh) + q);
        let n1 = ni >> 1;
        let y = y * pow2(n1) * pow2(ni.wrapping_sub(n1));
        // A NaN argument gives itself, quieted, as libm does (the
        // arithmetic above mixes in NaNs made from the bits of `t`).
        if x.is_nan() { x + x } else { y }
    }

    /// `x = 2^k m`, m in [√½, √2), `f = m - 1`; `log(1 + f) = 2 atanh(s)`,
    /// `s = f/(2 + f)`, as in fdlibm's `log`.
    #[inline(always)]
    pub(crate) fn log(x: f64) -> f64 {
        let sub = x < f64::MIN_POSITIVE;
        let xs = if sub { x * 18_014_398_509_481_984.0 } else { x };
        let bits = xs.to_bits();
        let e = (bits >> 52) as i64 - if sub { 1022 + 54 } else { 1022 };
        let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000);
        let low = m < FRAC_1_SQRT_2;
        let k = int_to_f64(e - i64::from(low));
        let f = if low { m + m } else { m } - 1.0;
        let s = f / (2.0 + f);
        let z = s * s;
        let w = z * z;
        let t1 = w * horner!(w; 0.153_138_376_992_093_73, 0.222_221_984_321_497_84, 0.399_999_999_994_094_2);
        let t2 = z
            * horner!(w;
                0.147_981_986_051_165_86, 0.181_835_721_616_180_5, 0.285_714_287_436_623_9, 0.666_666_666_666_673_5
            );
        let hfsq = 0.5 * f * f;
        let r = k.mul_add(LN2_HI, -((hfsq - s.mul_add(hfsq + (t1 + t2), k * LN2_LO)) - f));
        let r = if x == f64::INFINITY { x } else { r };
        let r = if x == 0.0 { f64::NEG_INFINITY } else { r };
        // Below zero, the NaN of `0 * inf` (the platform's default NaN, as
        // libm returns; a NaN argument's own payload).
        if x >= 0.0 { r } else { x * 0.0 * f64::INFINITY }
    }

    /// Largest |x| that `sin`/`cos` reduce accurately.
    pub(crate) const TRIG_MAX: f64 = 268_435_456.0;
    /// π/2 in three parts.
    const PIO2_1: f64 = FRAC_PI_2;
    const PIO2_2: f64 = 6.123_233_995_736_766e-17;
    const PIO2_3: f64 = -1.497_384_904_859_169_8e-33;

    /// `sin(a + offset π/2)` for a >= 0: `a = q π/2 + r`, |r| <= π/4, with
    /// `r` carried in two parts, and fdlibm's sine and cosine polynomials.
    #[inline(always)]
    fn sin_quadrant(a: f64, offset: u64) -> f64 {
        let t = a.mul_add(FRAC_2_PI, MAGIC);
        let q = t - MAGIC;
        let qi = t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(offset);
        // As in the f32 kernel.
        let u = q.mul_add(-PIO2_1, a);
        let p = q * PIO2_2;
        let pe = q.mul_add(PIO2_2, -p);
        let rh = u - p;
        let bv = rh - u;
        let e = (u - (rh - bv)) + (-p - bv);
        let rl = q.mul_add(-PIO2_3, e - pe);
        let z = rh * rh;
        let ps = horner!(z;
            1.589_690_995_211_55e-10, -2.505_076_025_340_686_3e-8, 2.755_731_370_707_006_8e-6,
            -1.984_126_982_985_795e-4, 8.333_333_333_322_49e-3, -0.166_666_666_666_666_32
        );
        let s = rh + (rh * z).mul_add(ps, rl * z.mul_add(-0.5, 1.0));
        let zl = rh.mul_add(rh, -z);
        let hz = 0.5 * z;
        let w = 1.0 - hz;
        let pc = horner!(z;
            -1.135_964_755_778_819_5e-11, 2.087_572_321_298_175e-9, -2.755_731_435_139_066_3e-7,
            2.480_158_728_947_673e-5, -1.388_888_888_887_411e-3, 4.166_666_666_666_66e-2
        );
        let tail = (z * z).mul_add(pc, (-0.5f64).mul_add(zl, -rl * rh));
        let c = w + (((1.0 - w) - hz) + tail);
        let v = if qi & 1 == 0 { s } else { c };
        f64::from_bits(v.to_bits() ^ ((qi & 2) << 62))
    }

    #[inline(always)]
    pub(crate) fn sin(x: f64) -> f64 {
        f64::from_bits(sin_quadrant(x.abs(), 0).to_bits() ^ (x.to_bits() & SIGN))
    }

    #[inline(always)]
    pub(crate) fn cos(x: f64) -> f64 {
        sin_quadrant(x.abs(), 1)
    }

    #[inline(always)]
    pub(crate) fn trig_in_range(x: f64) -> bool {
        x.abs() <= TRIG_MAX
    }

    /// `x + x^3 P(x^2)/Q(x^2)` (Cephes, Q monic) for |x| < 0.625, else
    /// `1 - 2/(e^{2x} + 1)`; one division serves both.
    #[inline(always)]
    pub(crate) fn tanh(x: f64) -> f64 {
        let a = x.abs();
        let z = a * a;
        let small = a < 0.625;
        let p = horner!(z; -0.964_399_179_425_052_3, -99.287_723_100_191_85, -1_614.687_684_417_084_5);
        let q = horner!(z; 1.0, 112.811_678_491_632_93, 2_235.488_390_601_004_5, 4_844.063_053_251_255);
        let num = if small { a * z * p } else { 2.0 };
        let den = if small { q } else { exp(a + a) + 1.0 };
        let d = num / den;
        let y = if small { a + d } else { 1.0 - d };
        f64::from_bits(y.to_bits() | (x.to_bits() & SIGN))
    }
}

/// The element function of `op` in `T` as native code calls it one
/// element at a time (the JIT's fused loops): the address of an
/// `extern "C" fn(T) -> T` whose result is, bit for bit, the one
/// [`unary_in_place`] gives that element. `None` for other ops and types.
///
/// On x86-64 with FMA the kernels are compiled with it, as on the slice
/// paths; elsewhere `mul_add` is the correctly rounded library call, which
/// gives the same bits (see the module documentation).
pub(crate) fn element_fn<T: 'static>(op: UnaryOp) -> Option<usize> {
    let f = Func::of(op)?;
    let fma = Path::detected() != Path::Portable;
    let double = TypeId::of::<T>() == TypeId::of::<f64>();
    (double || TypeId::of::<T>() == TypeId::of::<f32>()).then(|| element::address(f, fma, double))
}

/// One element of each kernel, as `extern "C"` functions.
mod element {
    use super::{Func, call, k32, k64};

    /// `exp`, `log`, `sin`, `cos`, `tanh` of one `$t` with the kernels of
    /// module `$k`, each function carrying the attributes given.
    macro_rules! element_fns {
        ($t:ty, $k:ident $(, #[$attr:meta])?) => {
            $(#[$attr])?
            pub(super) unsafe extern "C" fn exp(x: $t) -> $t {
                $k::exp(x)
            }
            $(#[$attr])?
            pub(super) unsafe extern "C" fn log(x: $t) -> $t {
                $k::log(x)
            }
            $(#[$attr])?
            pub(super) unsafe extern "C" fn sin(x: $t) -> $t {
                if $k::trig_in_range(x) { $k::sin(x) } else { call(<$t>::sin, x) }
            }
            $(#[$attr])?
            pub(super) unsafe extern "C" fn cos(x: $t) -> $t {
                if $k::trig_in_range(x) { $k::cos(x) } else { call(<$t>::cos, x) }
            }
            $(#[$attr])?
            pub(super) unsafe extern "C" fn tanh(x: $t) -> $t {
                $k::tanh(x)
            }
            /// The function of `f` in this module, by address.
            pub(super) fn of(f: super::Func) -> usize {
                let g: unsafe extern "C" fn($t) -> $t = match f {
                    super::Func::Exp => exp,
                    super::Func::Log => log,
                    super::Func::Sin => sin,
                    super::Func::Cos => cos,
                    super::Func::Tanh => tanh,
                };
                g as usize
            }
        };
    }

    mod f64s {
        use super::{call, k64};
        element_fns!(f64, k64);
    }
    mod f32s {
        use super::{call, k32};
        element_fns!(f32, k32);
    }
    /// The same functions compiled with FMA; only called where the CPU has
    /// it ([`super::Path::detected`] is not portable).
    #[cfg(target_arch = "x86_64")]
    mod f64s_fma {
        use super::{call, k64};
        element_fns!(f64, k64, #[target_feature(enable = "avx2,fma")]);
    }
    #[cfg(target_arch = "x86_64")]
    mod f32s_fma {
        use super::{call, k32};
        element_fns!(f32, k32, #[target_feature(enable = "avx2,fma")]);
    }

    /// The address of `f` in f64 (`double`) or f32, compiled with FMA when
    /// `fma` is set.
    pub(super) fn address(f: Func, fma: bool, double: bool) -> usize {
        #[cfg(target_arch = "x86_64")]
        if fma {
            return if double { f64s_fma::of(f) } else { f32s_fma::of(f) };
        }
        let _ = fma;
        if double { f64s::of(f) } else { f32s::of(f) }
    }
}

#[cfg(test)]
#[path = "vmath_tests.rs"]
mod tests;

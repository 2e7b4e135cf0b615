//! Tests of the vectorized kernels: maximum errors in ulps (f32 against the
//! f64 function, f64 against the platform's f64 function) on dense grids and
//! random samples, special values, results independent of an element's
//! position, and bitwise agreement of the code paths.

use super::*;

const FUNCS: [Func; 5] = [Func::Exp, Func::Log, Func::Sin, Func::Cos, Func::Tanh];
const PATHS: [Path; 3] = [Path::Avx512, Path::Avx2, Path::Portable];

/// Documented maximum errors in ulps, (f32, f64), as in the module docs.
fn bound(f: Func) -> (f64, f64) {
    match f {
        Func::Exp => (1.0, 1.0),
        Func::Log => (1.0, 1.0),
        Func::Sin | Func::Cos => (1.0, 1.0),
        Func::Tanh => (1.5, 2.0),
    }
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

fn std32(f: Func, x: f32) -> f32 {
    match f {
        Func::Exp => x.exp(),
        Func::Log => x.ln(),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tanh => x.tanh(),
    }
}

fn std64(f: Func, x: f64) -> f64 {
    match f {
        Func::Exp => x.exp(),
        Func::Log => x.ln(),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tanh => x.tanh(),
    }
}

fn run<T: Real>(path: Path, f: Func, xs: &[T]) -> Vec<T> {
    let mut v = xs.to_vec();
    apply(path, f, &mut v);
    v
}

/// Error of the f32 result `y` in ulps of the f32 format at the exact value
/// `r` (given in f64); infinities count as 2^128.
fn ulps32(y: f32, r: f64) -> f64 {
    if r.is_nan() || y.is_nan() {
        return if r.is_nan() && y.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    // Beyond f32's range the exact result is the infinity, 2^128 here.
    let big = 2f64.powi(128);
    let clamp = |v: f64| if v.abs() >= big { v.signum() * big } else { v };
    let (y, r) = (clamp(f64::from(y)), clamp(r));
    let e = ((r.abs().to_bits() >> 52) as i32 - 1023).max(-126);
    (y - r).abs() / 2f64.powi(e - 23)
}

/// Distance in representable f64 values between `y` and the reference `r`.
fn ulps64(y: f64, r: f64) -> f64 {
    if r.is_nan() || y.is_nan() {
        return if r.is_nan() && y.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let ord = |v: f64| {
        let b = i128::from(v.to_bits() as i64);
        if b < 0 { i128::from(i64::MIN) - b } else { b }
    };
    (ord(y) - ord(r)).unsigned_abs() as f64
}

/// Maximum error of `f` over `xs` (f32 against the f64 function) and the
/// argument where it occurs.
fn max_err32(f: Func, xs: &[f32]) -> (f64, f32) {
    let ys = run(Path::detected(), f, xs);
    xs.iter().zip(&ys).fold((0.0, 0.0), |(m, at), (&x, &y)| {
        let e = ulps32(y, std64(f, f64::from(x)));
        if e > m { (e, x) } else { (m, at) }
    })
}

fn max_err64(f: Func, xs: &[f64]) -> (f64, f64) {
    let ys = run(Path::detected(), f, xs);
    xs.iter().zip(&ys).fold((0.0, 0.0), |(m, at), (&x, &y)| {
        let e = ulps64(y, std64(f, x));
        if e > m { (e, x) } else { (m, at) }
    })
}

/// `n` points evenly spaced on [lo, hi] and `n` uniform random ones.
fn grid(rng: &mut Rng, lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let even = (0..=n).map(|i| lo + (hi - lo) * i as f64 / n as f64);
    let random: Vec<f64> = (0..n).map(|_| rng.uniform(lo, hi)).collect();
    even.chain(random).collect()
}

/// `n` values with uniformly random sign, exponent in [emin, emax) and
/// mantissa: every scale in the range equally often.
fn log_uniform(rng: &mut Rng, emin: i32, emax: i32, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let e = emin + (rng.next() % (emax - emin) as u64) as i32;
            let m = rng.uniform(1.0, 2.0);
            let s = if rng.next() & 1 == 0 { 1.0 } else { -1.0 };
            s * m * 2f64.powi(e)
        })
        .collect()
}

/// Test arguments for `f`: the function's useful range densely, all scales,
/// and the arguments the reduction finds hardest.
fn samples(f: Func, wide: bool, rng: &mut Rng) -> Vec<f64> {
    let n = 1 << 19;
    let mut v = match (f, wide) {
        (Func::Exp, false) => grid(rng, -104.0, 89.0, n),
        (Func::Exp, true) => grid(rng, -745.2, 709.8, n),
        (Func::Log, false) => log_uniform(rng, -149, 128, n),
        (Func::Log, true) => log_uniform(rng, -1074, 1024, n),
        (Func::Tanh, _) => grid(rng, -20.0, 20.0, n),
        (Func::Sin | Func::Cos, false) => {
            grid(rng, -2.0 * k32::TRIG_MAX as f64, 2.0 * k32::TRIG_MAX as f64, n)
        }
        (Func::Sin | Func::Cos, true) => grid(rng, -2.0 * k64::TRIG_MAX, 2.0 * k64::TRIG_MAX, n),
    };
    v.extend(grid(rng, -1.0, 1.0, n / 4));
    v.extend(grid(rng, -10.0, 10.0, n / 4));
    let emax = match (f, wide) {
        (Func::Exp, false) => 7,
        (Func::Exp, true) => 10,
        (Func::Tanh, _) => 5,
        (_, false) => 18,
        (_, true) => 29,
    };
    let emin = if wide { -1074 } else { -149 };
    v.extend(log_uniform(rng, emin, emax, n / 2));
    if matches!(f, Func::Log) {
        v.extend(v.clone().iter().map(|x| x.abs()).collect::<Vec<_>>());
        v.extend(grid(rng, 0.5, 2.0, n / 2));
    }
    if matches!(f, Func::Sin | Func::Cos) {
        // The representable values nearest to multiples of π/2.
        let top = if wide { k64::TRIG_MAX } else { k32::TRIG_MAX as f64 };
        let qmax = (top / std::f64::consts::FRAC_PI_2) as u64;
        for i in 0..n / 4 {
            let q = if i < 1000 { i as u64 } else { rng.next() % qmax };
            v.push(q as f64 * std::f64::consts::FRAC_PI_2);
        }
    }
    v
}

#[test]
fn f32_errors_within_bounds() {
    let mut rng = Rng(1);
    for f in FUNCS {
        let xs: Vec<f32> = samples(f, false, &mut rng)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        // Neighbours of the samples too (the f32 rounding of the near-π/2
        // multiples lands on either side).
        let more: Vec<f32> = xs
            .iter()
            .map(|x| f32::from_bits(x.to_bits().wrapping_add(1)))
            .collect();
        let (err, at) = max_err32(f, &[xs, more].concat());
        eprintln!("{f:?} f32: max {err:.3} ulp at {at:e}");
        assert!(err <= bound(f).0, "{f:?} f32: {err} ulp at {at:e}");
    }
}

#[test]
fn f64_errors_within_bounds() {
    let mut rng = Rng(2);
    for f in FUNCS {
        let xs = samples(f, true, &mut rng);
        let more: Vec<f64> = xs
            .iter()
            .map(|x| f64::from_bits(x.to_bits().wrapping_add(1)))
            .collect();
        let (err, at) = max_err64(f, &[xs, more].concat());
        eprintln!("{f:?} f64: max {err} ulp at {at:e}");
        assert!(err <= bound(f).1, "{f:?} f64: {err} ulp at {at:e}");
    }
}

/// `(function, argument, expected)`: results that must be exact (a NaN
/// expects any NaN; zeros are compared with their signs).
fn special_cases() -> Vec<(Func, f64, f64)> {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    vec![
        (Func::Exp, inf, inf),
        (Func::Exp, -inf, 0.0),
        (Func::Exp, nan, nan),
        (Func::Exp, 1e4, inf),
        (Func::Exp, -1e4, 0.0),
        (Func::Exp, 0.0, 1.0),
        (Func::Exp, -0.0, 1.0),
        (Func::Log, 0.0, -inf),
        (Func::Log, -0.0, -inf),
        (Func::Log, -1.0, nan),
        (Func::Log, -inf, nan),
        (Func::Log, -1e-40, nan),
        (Func::Log, inf, inf),
        (Func::Log, nan, nan),
        (Func::Log, 1.0, 0.0),
        (Func::Log, 2.0, std::f64::consts::LN_2),
        (Func::Sin, inf, nan),
        (Func::Sin, -inf, nan),
        (Func::Sin, nan, nan),
        (Func::Sin, 0.0, 0.0),
        (Func::Sin, -0.0, -0.0),
        (Func::Sin, 1e-30, 1e-30),
        (Func::Sin, -1e-30, -1e-30),
        (Func::Cos, inf, nan),
        (Func::Cos, -inf, nan),
        (Func::Cos, nan, nan),
        (Func::Cos, 0.0, 1.0),
        (Func::Cos, -0.0, 1.0),
        (Func::Cos, 1e-30, 1.0),
        (Func::Tanh, inf, 1.0),
        (Func::Tanh, -inf, -1.0),
        (Func::Tanh, 1e4, 1.0),
        (Func::Tanh, -1e4, -1.0),
        (Func::Tanh, 25.0, 1.0),
        (Func::Tanh, -25.0, -1.0),
        (Func::Tanh, nan, nan),
        (Func::Tanh, 0.0, 0.0),
        (Func::Tanh, -0.0, -0.0),
        (Func::Tanh, 1e-30, 1e-30),
        (Func::Tanh, -1e-30, -1e-30),
    ]
}

fn same_bits_or_nan32(y: f32, want: f32) -> bool {
    (y.is_nan() && want.is_nan()) || y.to_bits() == want.to_bits()
}

fn same_bits_or_nan64(y: f64, want: f64) -> bool {
    (y.is_nan() && want.is_nan()) || y.to_bits() == want.to_bits()
}

#[test]
fn special_values() {
    for (f, x, want) in special_cases() {
        for path in PATHS {
            let y = run(path, f, &[x as f32])[0];
            assert!(
                same_bits_or_nan32(y, want as f32),
                "{f:?} f32 {path:?} ({x:e}) = {y:e}, want {want:e}"
            );
            let y = run(path, f, &[x])[0];
            assert!(
                same_bits_or_nan64(y, want),
                "{f:?} f64 {path:?} ({x:e}) = {y:e}, want {want:e}"
            );
        }
    }
}

#[test]
fn nans_are_the_standard_library_ones() {
    // NaN arguments (signs and payloads) give themselves, quieted; invalid
    // arguments give the platform's default NaN, as libm does.
    let std = std::hint::black_box((std32 as fn(Func, f32) -> f32, std64 as fn(Func, f64) -> f64));
    let x32 = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffa0_1234),
    ];
    let x64 = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::from_bits(0xfff4_0000_1234_5678),
    ];
    for f in FUNCS {
        for path in PATHS {
            for x in x32 {
                assert_eq!(
                    run(path, f, &[x])[0].to_bits(),
                    std.0(f, x).to_bits(),
                    "{f:?} {path:?} {x:?}"
                );
            }
            for x in x64 {
                assert_eq!(
                    run(path, f, &[x])[0].to_bits(),
                    std.1(f, x).to_bits(),
                    "{f:?} {path:?} {x:?}"
                );
            }
        }
    }
    for (f, x) in [
        (Func::Log, -1.3),
        (Func::Log, f64::NEG_INFINITY),
        (Func::Log, -1e-40),
        (Func::Sin, f64::INFINITY),
        (Func::Cos, f64::NEG_INFINITY),
    ] {
        for path in PATHS {
            let y = run(path, f, &[x as f32])[0];
            assert_eq!(y.to_bits(), std.0(f, x as f32).to_bits(), "{f:?} {path:?} {x}");
            assert_eq!(
                run(path, f, &[x])[0].to_bits(),
                std.1(f, x).to_bits(),
                "{f:?} {path:?} {x}"
            );
        }
    }
}

#[test]
fn subnormal_arguments_and_results() {
    // log of subnormals: exact exponent handling (checked to 1 ulp).
    for bits in [1u32, 2, 3, 0x1234, 0x7f_ffff] {
        let x = f32::from_bits(bits);
        let e = ulps32(run(Path::detected(), Func::Log, &[x])[0], f64::from(x).ln());
        assert!(e <= 1.0, "log({x:e}): {e} ulp");
    }
    for bits in [1u64, 2, 3, 0x1234_5678, 0x000f_ffff_ffff_ffff] {
        let x = f64::from_bits(bits);
        let y = run(Path::detected(), Func::Log, &[x])[0];
        assert!(ulps64(y, x.ln()) <= 1.0, "log({x:e}) = {y:e}, libm {:e}", x.ln());
    }
    // exp into the subnormals, and just past the last one.
    assert_eq!(
        run(Path::detected(), Func::Exp, &[-103.278_93_f32])[0],
        f32::from_bits(1)
    );
    assert_eq!(run(Path::detected(), Func::Exp, &[-104.0_f32])[0], 0.0);
    assert_eq!(
        run(Path::detected(), Func::Exp, &[-745.0_f64])[0],
        f64::from_bits(1)
    );
    assert_eq!(run(Path::detected(), Func::Exp, &[-746.0_f64])[0], 0.0);
    // sin and tanh of a subnormal are the argument.
    for f in [Func::Sin, Func::Tanh] {
        let x = f32::from_bits(0x0040_0001);
        assert_eq!(run(Path::detected(), f, &[x])[0], x);
        let x = -f64::from_bits(0x0008_0000_0000_0001);
        assert_eq!(run(Path::detected(), f, &[x])[0], x);
    }
}

#[test]
fn trig_beyond_the_bound_is_the_standard_function() {
    let mut rng = Rng(3);
    let mut x32: Vec<f32> = log_uniform(&mut rng, 17, 127, 5000)
        .into_iter()
        .map(|x| x as f32)
        .collect();
    x32.extend([
        k32::TRIG_MAX,
        -k32::TRIG_MAX,
        f32::from_bits(k32::TRIG_MAX.to_bits() + 1),
        f32::MAX,
        f32::MIN,
    ]);
    let x64: Vec<f64> = log_uniform(&mut rng, 28, 1024, 5000);
    for f in [Func::Sin, Func::Cos] {
        for path in PATHS {
            for (x, y) in x32.iter().zip(run(path, f, &x32)) {
                if !k32::trig_in_range(*x) {
                    assert_eq!(y.to_bits(), std32(f, *x).to_bits(), "{f:?} f32 {path:?} {x:e}");
                }
            }
            for (x, y) in x64.iter().zip(run(path, f, &x64)) {
                if !k64::trig_in_range(*x) {
                    assert_eq!(y.to_bits(), std64(f, *x).to_bits(), "{f:?} f64 {path:?} {x:e}");
                }
            }
        }
    }
}

/// Arguments of every kind, in random order: all ranges, special values,
/// and trig arguments beyond the bound.
fn mixed_inputs(rng: &mut Rng, n: usize) -> Vec<f64> {
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e300,
        -1e300,
        5e-324,
        1e-310,
    ];
    (0..n)
        .map(|i| match rng.next() % 8 {
            0 => specials[i % specials.len()],
            1 => rng.uniform(-3.0, 3.0),
            2 => rng.uniform(-800.0, 800.0),
            3 => rng.uniform(-2e5, 2e5),
            4 => rng.uniform(-1e9, 1e9),
            5 => rng.uniform(0.0, 1e-3),
            6 => f64::from_bits(rng.next()),
            _ => rng.uniform(-30.0, 30.0),
        })
        .collect()
}

#[test]
fn result_depends_only_on_the_value() {
    let mut rng = Rng(4);
    let x64 = mixed_inputs(&mut rng, 3000);
    let x32: Vec<f32> = x64.iter().map(|&x| x as f32).collect();
    for f in FUNCS {
        let all32 = run(Path::detected(), f, &x32);
        let all64 = run(Path::detected(), f, &x64);
        // Every element alone, and slices of every small length at every
        // offset below 40, and some long ones.
        let mut cuts: Vec<(usize, usize)> = (0..x64.len()).map(|i| (i, 1)).collect();
        cuts.extend((0..40).flat_map(|off| (2..40).map(move |len| (off, len))));
        cuts.extend([(0, 3000), (1, 2999), (7, 1000), (250, 1777), (511, 300)]);
        for (off, len) in cuts {
            let part = run(Path::detected(), f, &x32[off..off + len]);
            for (i, y) in part.iter().enumerate() {
                assert_eq!(
                    y.to_bits(),
                    all32[off + i].to_bits(),
                    "{f:?} f32 x = {:e}",
                    x32[off + i]
                );
            }
            let part = run(Path::detected(), f, &x64[off..off + len]);
            for (i, y) in part.iter().enumerate() {
                assert_eq!(
                    y.to_bits(),
                    all64[off + i].to_bits(),
                    "{f:?} f64 x = {:e}",
                    x64[off + i]
                );
            }
        }
    }
}

#[test]
fn paths_agree_bitwise() {
    let mut rng = Rng(5);
    let mut x64 = mixed_inputs(&mut rng, 20_000);
    for f in FUNCS {
        x64.extend(samples(f, true, &mut rng).into_iter().step_by(50));
    }
    let mut x32: Vec<f32> = x64.iter().map(|&x| x as f32).collect();
    for f in FUNCS {
        x32.extend(
            samples(f, false, &mut rng)
                .into_iter()
                .step_by(50)
                .map(|x| x as f32),
        );
    }
    let available: Vec<Path> = PATHS.into_iter().filter(|p| p.available()).collect();
    eprintln!("paths on this CPU: {available:?}");
    for f in FUNCS {
        let want32 = run(Path::Portable, f, &x32);
        let want64 = run(Path::Portable, f, &x64);
        for &path in &available {
            for ((x, y), w) in x32.iter().zip(run(path, f, &x32)).zip(&want32) {
                assert!(
                    y.to_bits() == w.to_bits(),
                    "{f:?} f32 {path:?} x = {x:e}: {y:e} vs {w:e}"
                );
            }
            for ((x, y), w) in x64.iter().zip(run(path, f, &x64)).zip(&want64) {
                assert!(
                    y.to_bits() == w.to_bits(),
                    "{f:?} f64 {path:?} x = {x:e}: {y:e} vs {w:e}"
                );
            }
        }
    }
}

#[test]
fn entry_point_handles_exactly_the_five_functions() {
    let ops = [
        (UnaryOp::Exp, Func::Exp),
        (UnaryOp::Log, Func::Log),
        (UnaryOp::Sin, Func::Sin),
        (UnaryOp::Cos, Func::Cos),
        (UnaryOp::Tanh, Func::Tanh),
    ];
    let x = vec![0.5f32, -1.5, 3.0];
    for (op, f) in ops {
        assert!(is_vectorized(op));
        let mut v = x.clone();
        assert!(unary_in_place(op, &mut v));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v), bits(&run(Path::detected(), f, &x)));
        assert_ne!(bits(&v), bits(&x));
    }
    for op in [
        UnaryOp::Neg,
        UnaryOp::Sqrt,
        UnaryOp::Tan,
        UnaryOp::Sigmoid,
        UnaryOp::Abs,
    ] {
        assert!(!is_vectorized(op));
        let mut v = x.clone();
        assert!(!unary_in_place(op, &mut v));
        assert_eq!(v, x);
    }
}

/// One f32 argument in 61, spread over every exponent and sign (each
/// 16-bit high half, low halves stepping by 61 from a different start): the
/// maximum error of each function (printed), within the bounds; trig
/// arguments beyond the bound give the standard function's result. Setting
/// `STRIDE` to 1 checks every f32 argument (minutes; the bounds in the
/// module documentation were measured that way).
#[test]
fn a_61st_of_all_f32_arguments() {
    const STRIDE: u32 = 61;
    for f in FUNCS {
        let (mut worst, mut at) = (0.0f64, 0.0f32);
        let mut block = Vec::with_capacity(1 << 16);
        for hi in 0u32..1 << 16 {
            block.clear();
            block.extend(
                ((hi % STRIDE)..1 << 16)
                    .step_by(STRIDE as usize)
                    .map(|lo| f32::from_bits((hi << 16) | lo)),
            );
            let ys = run(Path::detected(), f, &block);
            for (&x, &y) in block.iter().zip(&ys) {
                let in_range = !matches!(f, Func::Sin | Func::Cos) || k32::trig_in_range(x);
                if in_range {
                    let e = ulps32(y, std64(f, f64::from(x)));
                    if e > worst {
                        (worst, at) = (e, x);
                    }
                } else {
                    assert!(same_bits_or_nan32(y, std32(f, x)), "{f:?}({x:e})");
                }
            }
        }
        eprintln!(
            "{f:?} f32, every argument: max {worst:.3} ulp at {at:e} ({:#010x})",
            at.to_bits()
        );
        assert!(worst <= bound(f).0, "{f:?}: {worst} ulp at {at:e}");
    }
}

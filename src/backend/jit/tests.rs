//! The JIT against the interpreter and against values computed here in Rust:
//! recursion, loops with carried values, early-return flags, aggregates and
//! closures, derivatives, f32 and f64 rounding bit for bit, and run-time
//! errors reported with the interpreter's wording and span.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::Jit;
use super::layout;
use crate::backend::CallEnv;
use crate::backend::Native;
use crate::backend::interp::{Interp, MAX_DEPTH, RunError, Val};
use crate::ir::types::{DType, Ty};
use crate::ir::{FuncId, Program};
use crate::pipeline;
use crate::runtime::Tensor;
use crate::syntax::Span;

/// Specializes `src`'s main body (default float f32).
fn specialize(src: &str) -> (Program, FuncId) {
    pipeline::specialize_source(src)
}

/// Runs `f` on a thread with a stack large enough for 10,000 interpreted calls.
fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(1 << 29)
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap()
    })
}

/// The specializations of `name`, in program order.
fn specs(p: &Program, name: &str) -> Vec<FuncId> {
    (0..p.funcs.len() as u32)
        .map(FuncId)
        .filter(|&f| p.func(f).unwrap().name.as_str() == name)
        .collect()
}

/// The one specialization of `name` whose first parameter has the dtype of
/// `ty`. (Tests call functions with loop-carried ints, never constants, so
/// that no specialization is keyed on an int's value.)
fn spec_for(p: &Program, name: &str, ty: &Ty) -> FuncId {
    let dtype = |t: &Ty| t.as_tensor().map(|t| t.dtype);
    let found: Vec<FuncId> = specs(p, name)
        .into_iter()
        .filter(|&f| p.func(f).unwrap().param_tys().first().map(dtype) == Some(dtype(ty)))
        .collect();
    assert_eq!(found.len(), 1, "specializations of {name} for {ty:?}");
    found[0]
}

/// Prints of the main body and its outcome, on the interpreter alone or with the JIT.
fn run_main(p: &Program, main: FuncId, jit: bool) -> (String, Result<(), RunError>) {
    big_stack(|| {
        let mut out = Vec::new();
        let compiled = if jit { Some(Jit::compile(p).unwrap()) } else { None };
        let mut interp = Interp::new(p, &mut out);
        if let Some(j) = &compiled {
            interp = interp.with_native(j);
        }
        let r = interp.call(main, Vec::new(), Span::default()).map(|_| ());
        drop(interp);
        (String::from_utf8(out).unwrap(), r)
    })
}

/// Runs the main body on both backends, checks they agree and returns the output.
fn same_output(src: &str) -> String {
    let (p, main) = specialize(src);
    let a = run_main(&p, main, false);
    let b = run_main(&p, main, true);
    assert_eq!(a, b, "interp vs jit");
    a.1.expect("runs");
    a.0
}

/// An argument, built into a value on the thread that uses it.
#[derive(Clone, Copy)]
enum A {
    I(i64),
    F32(f32),
    F64(f64),
}

fn val(a: A) -> Val {
    Val::Tensor(match a {
        A::I(i) => Tensor::scalar_i64(i),
        A::F32(x) => Tensor::scalar_float(f64::from(x), DType::F32),
        A::F64(x) => Tensor::scalar_float(x, DType::F64),
    })
}

type Bits = Result<Vec<u64>, RunError>;

/// Calls `f` on `args` in the interpreter alone and through the JIT (checking
/// it is compiled); returns the bits of both results.
fn call_both(p: &Program, f: FuncId, args: &[A]) -> (Bits, Bits) {
    big_stack(|| {
        let jit = Jit::compile(p).unwrap();
        assert!(jit.is_compiled(f), "not compiled: {:?}", jit.report().interpreted);
        let ty = super::lower::result_ty(p.func(f).unwrap());
        let args: Vec<Val> = args.iter().map(|&a| val(a)).collect();
        let mut sink = Vec::new();
        let a = Interp::new(p, &mut sink).call(f, args.clone(), Span::default());
        let b = Interp::new(p, &mut sink)
            .with_native(&jit)
            .call(f, args, Span::default());
        (a.map(|v| bits(&v, &ty)), b.map(|v| bits(&v, &ty)))
    })
}

/// The slots of `v` as raw bits.
fn bits(v: &Val, ty: &Ty) -> Vec<u64> {
    let mut out = Vec::new();
    layout::write_val(v, ty, &mut out).unwrap();
    out
}

fn compiled_names(p: &Program) -> Vec<String> {
    big_stack(|| {
        let jit = Jit::compile(p).unwrap();
        jit.report().compiled.iter().map(|(n, _)| n.clone()).collect()
    })
}

#[test]
fn recursion_fib() {
    let src =
        "fn fib(n) = if n < 2 { n } else { fib(n - 1) + fib(n - 2) };\nfor i in 0..1 { print(fib(i + 20)); }";
    assert_eq!(same_output(src), "6765\n");
    let (p, _) = specialize(src);
    assert!(compiled_names(&p).iter().any(|n| n == "fib(int) -> int"));
    let f = spec_for(&p, "fib", &Ty::int());
    let (a, b) = call_both(&p, f, &[A::I(25)]);
    assert_eq!(a.unwrap(), vec![75025]);
    assert_eq!(b.unwrap(), vec![75025]);
}

#[test]
fn mutual_recursion_is_compiled_together() {
    let src = "fn even(n) = if n == 0 { true } else { odd(n - 1) };
fn odd(n) = if n == 0 { false } else { even(n - 1) };
print(even(10), odd(7), even(7));";
    assert_eq!(same_output(src), "true true false\n");
    let (p, _) = specialize(src);
    let names = compiled_names(&p);
    assert!(names.iter().any(|n| n.starts_with("even(")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("odd(")), "{names:?}");
}

#[test]
fn loops_with_carried_values() {
    // Several carried values of different types through `for` and `while`.
    let src = "fn walk(n) {
    let mut s = 0;
    let mut x = 1.0;
    let mut up = true;
    for i in 0..n {
        s += i * i;
        if up { x = x * 1.5; } else { x = x - 0.25; }
        up = !up;
    }
    let mut k = s;
    let mut steps = 0;
    while k > 1 {
        if k % 2 == 0 { k = k / 2; } else { k = 3 * k + 1; }
        steps += 1;
    }
    (s, x, up, steps)
}
for i in 0..2 { print(walk(7 * i)); }";
    // Reference, by hand in Rust.
    let walk = |n: i64| {
        let (mut s, mut x, mut up) = (0i64, 1.0f32, true);
        for i in 0..n {
            s += i * i;
            x = if up { x * 1.5 } else { x - 0.25 };
            up = !up;
        }
        let (mut k, mut steps) = (s, 0);
        while k > 1 {
            k = if k % 2 == 0 { k / 2 } else { 3 * k + 1 };
            steps += 1;
        }
        (s, x, up, steps)
    };
    let (p, _) = specialize(src);
    let f = spec_for(&p, "walk", &Ty::int());
    let (a, b) = call_both(&p, f, &[A::I(7)]);
    let (s, x, up, steps) = walk(7);
    let want = vec![s as u64, u64::from(x.to_bits()), u64::from(up), steps as u64];
    assert_eq!(a.unwrap(), want);
    assert_eq!(b.unwrap(), want);
    same_output(src);
}

#[test]
fn early_returns() {
    let src = "fn first_square_over(n, limit) {
    for i in 0..n {
        if i * i > limit { return i; }
    }
    -1
}
fn classify(x) {
    if x < 0.0 { return -1; }
    if x == 0.0 { return 0; }
    1
}
fn find(limit) {
    let mut i = 0;
    while true {
        i += 1;
        if i % 7 == 0 { continue; }
        if i * 3 > limit { return i; }
    }
    0
}
print(first_square_over(100, 50), first_square_over(5, 50), classify(-2.0), classify(0.0), classify(3.0), find(40));";
    // 8 * 8 = 64 > 50; none of 0..5 squares above 50; 14 is skipped: 15 * 3 = 45 > 40
    assert_eq!(same_output(src), "8 -1 -1 0 1 15\n");
    let (p, _) = specialize(src);
    let names = compiled_names(&p);
    for n in ["first_square_over(", "classify(", "find("] {
        assert!(names.iter().any(|c| c.starts_with(n)), "{n} in {names:?}");
    }
}

#[test]
fn f32_and_f64_round_like_the_interpreter() {
    let src = "fn acc(n, step) {
    let mut s = step * 0.0;
    for i in 0..n { s = s + step; }
    s
}
fn mix(x) = sin(x) * exp(x) + tanh(x) ** 2.5 - log(x) / sqrt(x) + sigmoid(x) - cos(x) % 0.3 + round(x * 7.0) + floor(x) - abs(x);
fn casts(x) = (int(x * 100.0), f32(x) * f32(3.0), float(int(-x)), x > 1.0);
for i in 0..1 { print(acc(i + 1000, f32(0.1)), acc(i + 1000, f64(0.1)), mix(f32(1.3)), mix(f64(1.3)), casts(f64(1.37))); }";
    let (p, _) = specialize(src);
    let (t32, t64) = (Ty::scalar(DType::F32), Ty::scalar(DType::F64));

    // 1000 additions of 0.1, rounded at every step in each width.
    let r32 = (0..1000).fold(0.0f32, |s, _| s + 0.1f32);
    let r64 = (0..1000).fold(0.0f64, |s, _| s + 0.1f64);
    assert_ne!(f64::from(r32), r64);
    let accs = specs(&p, "acc");
    assert_eq!(accs.len(), 2);
    for f in accs {
        let step_ty = p.func(f).unwrap().param_tys()[1].clone();
        let (arg, want) = if step_ty.as_tensor().unwrap().dtype == DType::F32 {
            (A::F32(0.1), vec![u64::from(r32.to_bits())])
        } else {
            (A::F64(0.1), vec![r64.to_bits()])
        };
        let (a, b) = call_both(&p, f, &[A::I(1000), arg]);
        assert_eq!(a.unwrap(), want);
        assert_eq!(b.unwrap(), want);
    }

    // Transcendentals: the same functions as Rust's, in each width.
    let sig32 = |x: f32| 1.0 / (1.0 + (-x).exp());
    let sig64 = |x: f64| 1.0 / (1.0 + (-x).exp());
    let m32 = {
        let x = 1.3f32;
        x.sin() * x.exp() + x.tanh().powf(2.5) - x.ln() / x.sqrt() + sig32(x) - x.cos() % 0.3
            + (x * 7.0).round()
            + x.floor()
            - x.abs()
    };
    let m64 = {
        let x = 1.3f64;
        x.sin() * x.exp() + x.tanh().powf(2.5) - x.ln() / x.sqrt() + sig64(x) - x.cos() % 0.3
            + (x * 7.0).round()
            + x.floor()
            - x.abs()
    };
    let (a, b) = call_both(&p, spec_for(&p, "mix", &t32), &[A::F32(1.3)]);
    assert_eq!(a.unwrap(), vec![u64::from(m32.to_bits())]);
    assert_eq!(b.unwrap(), vec![u64::from(m32.to_bits())]);
    let (a, b) = call_both(&p, spec_for(&p, "mix", &t64), &[A::F64(1.3)]);
    assert_eq!(a.unwrap(), vec![m64.to_bits()]);
    assert_eq!(b.unwrap(), vec![m64.to_bits()]);

    // Casts: truncation toward zero, f64 -> f32 rounding, int -> float, comparison.
    let casts = spec_for(&p, "casts", &t64);
    let x = 1.37f64;
    let want = vec![
        (x * 100.0) as i64 as u64,
        u64::from(((x as f32) * 3.0f32).to_bits()),
        // `float` is the default float, f32
        u64::from(((-x) as i64 as f32).to_bits()),
        1,
    ];
    let (a, b) = call_both(&p, casts, &[A::F64(x)]);
    assert_eq!(a.unwrap(), want);
    assert_eq!(b.unwrap(), want);
}

#[test]
fn int_arithmetic_edges() {
    let src = "fn ops(a, b) = (a / b, a % b, a ** 3, -a, abs(a), maximum(a, b), a * b);
for i in 0..1 { print(ops(i - 7, i + 2)); }";
    let (p, _) = specialize(src);
    let f = spec_for(&p, "ops", &Ty::int());
    for (a, b) in [(-7i64, 2i64), (7, -2), (i64::MIN, -1), (i64::MAX, 3)] {
        let want: Vec<u64> = [
            a.wrapping_div(b),
            a.wrapping_rem(b),
            a.wrapping_mul(a).wrapping_mul(a),
            a.wrapping_neg(),
            a.wrapping_abs(),
            a.max(b),
            a.wrapping_mul(b),
        ]
        .iter()
        .map(|&v| v as u64)
        .collect();
        let (x, y) = call_both(&p, f, &[A::I(a), A::I(b)]);
        assert_eq!(x.unwrap(), want, "interp {a} {b}");
        assert_eq!(y.unwrap(), want, "jit {a} {b}");
    }
}

#[test]
fn float_maximum_and_nan_follow_numpy() {
    let src = "fn m(a, b) = (maximum(a, b), minimum(a, b), relu(a), sign(a), a != b);
print(m(1.0, 2.0));";
    let (p, _) = specialize(src);
    let f = spec_for(&p, "m", &Ty::scalar(DType::F32));
    for (a, b) in [
        (1.0f32, 2.0f32),
        (f32::NAN, 1.0),
        (-0.0, 0.0),
        (0.0, -0.0),
        (-3.0, f32::NAN),
    ] {
        let (x, y) = call_both(&p, f, &[A::F32(a), A::F32(b)]);
        assert_eq!(x.unwrap(), y.unwrap(), "{a} {b}");
    }
}

#[test]
fn aggregates_closures_and_derivatives() {
    let src = "struct P { x, y }
fn swap(p) = P { x: p.y, y: p.x };
fn pair(a, b) = (a + b, a > b, P { x: a, y: b });
fn adder(k) { let f = |y| y + k; f }
fn use_adder(k, x) { let f = adder(k); f(x) * 2.0 }
fn g(x) = x * sin(x);
print(swap(P { x: 1.0, y: 2.0 }), pair(3.0, 1.5), use_adder(1.5, 2.0), grad(g)(1.0));";
    let out = same_output(src);
    // d/dx x sin x = sin x + x cos x = 0.84147098 + 0.54030231 at 1
    assert!(
        out.starts_with("P { x: 2.0, y: 1.0 } (4.5, true, P { x: 3.0, y: 1.5 }) 7.0 1.381773"),
        "{out}"
    );
    let (p, _) = specialize(src);
    let names = compiled_names(&p);
    for n in ["swap(", "pair(", "adder(", "use_adder(", "g'grad("] {
        assert!(names.iter().any(|c| c.starts_with(n)), "{n} in {names:?}");
    }
}

#[test]
fn mixed_mode_boundary() {
    let src = "fn sq(x) = x * x;
fn show(x) { print(x); sq(x) }
fn outer(x) = show(x) + 1.0;
print(outer(3.0));";
    assert_eq!(same_output(src), "3.0\n10.0\n");
    let (p, _) = specialize(src);
    let report = big_stack(|| Jit::compile(&p).unwrap().report().clone());
    assert!(report.compiled.iter().any(|(n, _)| n.starts_with("sq(")));
    let why = |name: &str| {
        report
            .interpreted
            .iter()
            .find(|(n, _)| n.starts_with(name))
            .map(|(_, w)| w.clone())
            .unwrap()
    };
    assert_eq!(why("show("), "uses `print`");
    assert_eq!(why("outer("), "calls `show`, which runs in the interpreter");
}

#[test]
fn division_by_zero_and_negative_powers_report_the_span() {
    let src = "fn div(a, b) = a / b + 1;\nfn pw(a, b) = a ** b;\nfor i in 0..1 { print(div(i + 7, i + 2), pw(i + 2, i + 3)); }";
    let (p, _) = specialize(src);
    let div = spec_for(&p, "div", &Ty::int());
    let (a, b) = call_both(&p, div, &[A::I(7), A::I(0)]);
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a, b);
    assert_eq!(a.message, "integer division by zero");
    // the span of `a / b`
    assert_eq!((a.span.lo, a.span.hi), (15, 20));
    let pw = spec_for(&p, "pw", &Ty::int());
    let (a, b) = call_both(&p, pw, &[A::I(2), A::I(-3)]);
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a, b);
    assert!(a.message.contains("negative power (-3)"), "{}", a.message);
}

#[test]
fn recursion_depth_limit_matches_the_interpreter() {
    let src = "fn down(n) = if n == 0 { 0 } else { 1 + down(n - 1) };\nfor i in 0..1 { print(down(i + 3)); }";
    let (p, _) = specialize(src);
    let f = spec_for(&p, "down", &Ty::int());
    let deepest = MAX_DEPTH as i64 - 1;
    let (a, b) = call_both(&p, f, &[A::I(deepest)]);
    assert_eq!(a.unwrap(), vec![deepest as u64]);
    assert_eq!(b.unwrap(), vec![deepest as u64]);
    let (a, b) = call_both(&p, f, &[A::I(deepest + 1)]);
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a, b);
    assert!(a.message.contains("recursion depth limit"), "{}", a.message);
}

#[test]
fn a_compiled_loop_stops_at_the_deadline() {
    let src = "fn spin(n) { let mut k = 0; while k >= 0 { k = k + 1 - n; } k }\nfor i in 0..1 { print(spin(i + 1)); }";
    let (p, _) = specialize(src);
    let f = spec_for(&p, "spin", &Ty::int());
    big_stack(|| {
        let jit = Jit::compile(&p).unwrap();
        let deadline = Some((
            std::time::Instant::now() + std::time::Duration::from_millis(50),
            0.05,
        ));
        let env = CallEnv {
            depth: 1,
            deadline,
            interrupt: None,
        };
        let started = std::time::Instant::now();
        let err = jit.call(f, &[val(A::I(0))], &env).unwrap().unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            err.message.contains("longer than the timeout of 0.05 s"),
            "{}",
            err.message
        );
        let flag = std::sync::atomic::AtomicBool::new(true);
        let env = CallEnv {
            depth: 1,
            deadline: None,
            interrupt: Some(&flag),
        };
        let err = jit.call(f, &[val(A::I(0))], &env).unwrap().unwrap_err();
        assert_eq!(err.message, "interrupted");
    });
}

#[test]
fn lists_grow_and_read_back() {
    let text = "fn tape(%0 n: int) {
  %1 = list_new : list((int, f64))
  %2 = const 0 : int
  %3 = const 0.5 : f64
  %12, %13 = for %2, %0 carry(%1, %3) |%4 i: int, %5: list((int, f64)), %6: f64| {
    %7 = tuple %4, %6 : (int, f64)
    %8 = list_push %5, %7 : list((int, f64))
    %9 = prim mul %6, %6 : f64
    yield %8, %9
  } : list((int, f64)), f64
  %14 = list_len %12 : int
  %15 = const 2 : int
  %16 = list_get %12, %15 : (int, f64)
  %17 = tget 1 %16 : f64
  %18 = tuple %14, %17 : (int, f64)
  return %18
}
";
    let p = crate::ir::parse::parse_program(text).unwrap();
    let f = FuncId(0);
    let (a, b) = call_both(&p, f, &[A::I(5)]);
    // Element 2 holds 0.5 squared twice.
    assert_eq!(a.unwrap(), vec![5, 0.0625f64.to_bits()]);
    assert_eq!(b.unwrap(), vec![5, 0.0625f64.to_bits()]);
    // Two elements: reading index 2 is out of range in both.
    let (a, b) = call_both(&p, f, &[A::I(2)]);
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a, b);
    assert!(
        a.message
            .contains("index 2 is out of range for a list of length 2"),
        "{}",
        a.message
    );
}

#[test]
fn list_reads_count_negative_indices_from_the_end() {
    // Elements are (i, i odd), pushed inline once the buffer has room; index
    // -1 is the last and -(n + 1) is out of range, as in the interpreter.
    let text = "fn tape(%0 n: int, %1 at: int) {
  %2 = list_new : list((int, bool))
  %3 = const 0 : int
  %4 = const 2 : int
  %11 = for %3, %0 carry(%2) |%5 i: int, %6: list((int, bool))| {
    %7 = prim rem %5, %4 : int
    %8 = prim ne %7, %3 : bool
    %9 = tuple %5, %8 : (int, bool)
    %10 = list_push %6, %9 : list((int, bool))
    yield %10
  } : list((int, bool))
  %12 = list_get %11, %1 : (int, bool)
  return %12
}
";
    let p = crate::ir::parse::parse_program(text).unwrap();
    let f = FuncId(0);
    for (n, at, want) in [
        (100, -1, vec![99, 1]),
        (100, -2, vec![98, 0]),
        (7, 0, vec![0, 0]),
        (7, 3, vec![3, 1]),
    ] {
        let (a, b) = call_both(&p, f, &[A::I(n), A::I(at)]);
        assert_eq!(a.unwrap(), want, "n = {n}, at = {at}");
        assert_eq!(b.unwrap(), want, "n = {n}, at = {at}");
    }
    let (a, b) = call_both(&p, f, &[A::I(3), A::I(-4)]);
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a, b);
    assert!(
        a.message.contains("out of range for a list of length 3"),
        "{}",
        a.message
    );
}

#[test]
fn compiled_lists_are_values() {
    // `%2` is pushed to twice. (Derivative code never does this, and the
    // interpreter, which moves a list out when it pushes, refuses it; compiled
    // lists keep each value's elements.)
    let text = "fn branch(%0 n: int) {
  %1 = list_new : list(int)
  %2 = list_push %1, %0 : list(int)
  %3 = const 2 : int
  %4 = list_push %2, %3 : list(int)
  %5 = const 7 : int
  %6 = list_push %2, %5 : list(int)
  %7 = const 1 : int
  %8 = list_get %4, %7 : int
  %9 = list_get %6, %7 : int
  %10 = list_len %6 : int
  %11 = list_len %2 : int
  %12 = tuple %8, %9, %10, %11 : (int, int, int, int)
  return %12
}
";
    let p = crate::ir::parse::parse_program(text).unwrap();
    let f = FuncId(0);
    let got = big_stack(|| {
        let jit = Jit::compile(&p).unwrap();
        let env = CallEnv {
            depth: 1,
            deadline: None,
            interrupt: None,
        };
        let ty = super::lower::result_ty(p.func(f).unwrap());
        let v = jit.call(f, &[val(A::I(9))], &env).unwrap().unwrap();
        bits(&v, &ty)
    });
    assert_eq!(got, vec![2, 7, 2, 1]);
}

#[test]
fn gradients_through_loops_use_compiled_tapes() {
    let src = "fn simulate(x0, a, b, n) {
    let mut x = x0;
    for t in 0..n {
        x = x + 0.01 * (a * sin(x) - b * x * x * x);
    }
    x
}
fn vg(x0, a, b, n) = value_and_grad(simulate, wrt: (0, 1, 2))(x0, a, b, n);
for i in 0..1 { print(vg(f64(0.5), f64(2.0), f64(1.0), i + 300)); }";
    let (p, _) = specialize(src);
    let names = compiled_names(&p);
    assert!(names.iter().any(|n| n.starts_with("simulate'vjp(")), "{names:?}");
    let f = spec_for(&p, "vg", &Ty::scalar(DType::F64));
    let (a, b) = call_both(&p, f, &[A::F64(0.5), A::F64(2.0), A::F64(1.0), A::I(300)]);
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    // Forward recurrence and its adjoint, by hand in Rust.
    let (a_, b_) = (2.0f64, 1.0f64);
    let mut xs = vec![0.5f64];
    for _ in 0..300 {
        let x = *xs.last().unwrap();
        xs.push(x + 0.01 * (a_ * x.sin() - b_ * x * x * x));
    }
    let (mut dx, mut da, mut db) = (1.0f64, 0.0f64, 0.0f64);
    for &x in xs[..300].iter().rev() {
        da += dx * 0.01 * x.sin();
        db -= dx * 0.01 * x * x * x;
        dx *= 1.0 + 0.01 * (a_ * x.cos() - 3.0 * b_ * x * x);
    }
    let got: Vec<f64> = a.iter().map(|&u| f64::from_bits(u)).collect();
    let want = [xs[300], dx, da, db];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{got:?} vs {want:?}");
    }
}

#[test]
fn compiled_groups_give_the_interpreted_bits() {
    use crate::ir::op::{BinaryOp as B, UnaryOp as U};
    use crate::runtime::fused::{FusedKernel, FusedOp as O, FusedStep};
    let st = |op: O, args: &[usize]| FusedStep {
        op,
        args: args.to_vec(),
    };
    // Inputs 0 = a, 1 = b (full), 2 = s (a scalar). Every supported op,
    // with bools from comparisons feeding `and`, `or`, `not`, `==` and `where`.
    let steps = vec![
        st(O::Binary(B::Add), &[0, 1]),   // 3
        st(O::Binary(B::Mul), &[3, 0]),   // 4
        st(O::Binary(B::Div), &[4, 1]),   // 5
        st(O::Binary(B::Sub), &[5, 2]),   // 6
        st(O::Unary(U::Neg), &[6]),       // 7
        st(O::Unary(U::Abs), &[7]),       // 8
        st(O::Unary(U::Sqrt), &[8]),      // 9
        st(O::Binary(B::Lt), &[0, 1]),    // 10
        st(O::Binary(B::Le), &[0, 2]),    // 11
        st(O::Binary(B::Gt), &[1, 2]),    // 12
        st(O::Binary(B::Ge), &[0, 1]),    // 13
        st(O::Binary(B::Eq), &[0, 1]),    // 14
        st(O::Binary(B::Ne), &[0, 1]),    // 15
        st(O::Binary(B::And), &[10, 15]), // 16
        st(O::Binary(B::Or), &[11, 14]),  // 17
        st(O::Unary(U::Not), &[16]),      // 18
        st(O::Where, &[18, 9, 3]),        // 19
        st(O::Binary(B::Eq), &[12, 13]),  // 20
        st(O::Where, &[20, 19, 7]),       // 21
        st(O::Binary(B::Ne), &[17, 12]),  // 22
        st(O::Where, &[22, 6, 5]),        // 23
        st(O::Unary(U::Relu), &[6]),      // 24
        st(O::Unary(U::Relu), &[0]),      // 25
    ];
    let outputs = [21, 23, 4, 9, 24, 25];
    let special = [
        0.0,
        -0.0,
        1.5,
        -2.25,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-310,
        3.0,
        -3.0,
        7.0,
        0.5,
        2.0,
        -1e300,
    ];
    let a: Vec<f64> = special.to_vec();
    let b: Vec<f64> = special.iter().rev().copied().collect();
    for dtype in [DType::F64, DType::F32] {
        for s in [2.0, f64::NAN, -0.0] {
            let tensors = || {
                vec![
                    Tensor::from_f64s(dtype, vec![a.len()], a.clone()).unwrap(),
                    Tensor::from_f64s(dtype, vec![b.len()], b.clone()).unwrap(),
                    Tensor::from_f64s(dtype, vec![], vec![s]).unwrap(),
                ]
            };
            let plain = FusedKernel::new(dtype, vec![false; 3], &steps, &outputs);
            let native =
                super::fused::compile_group(dtype, &[false; 3], &[false, false, true], &steps, &outputs);
            assert!(native.is_some(), "the group compiles");
            let compiled = plain.clone().with_native(native);
            let want = plain.run(tensors()).unwrap();
            let got = compiled.run(tensors()).unwrap();
            // The small-group path reads the inputs in place.
            let held = tensors();
            let refs: Vec<&Tensor> = held.iter().collect();
            assert!(
                plain.run_small(&refs, Vec::new()).is_none(),
                "no native loop, no small path"
            );
            let small = compiled
                .run_small(&refs, Vec::new())
                .expect("14 elements take the small path");
            // Again, writing over the first run's outputs (no one else holds
            // them), but not over a spare of another size.
            let spare_ptrs: Vec<*const u8> = small.iter().map(data_ptr).collect();
            let mut spare: Vec<Option<Tensor>> = small.iter().map(|t| Some(t.clone())).collect();
            drop(small);
            spare[1] = Some(Tensor::from_f64s(dtype, vec![20], vec![1.5; 20]).unwrap());
            let small = compiled.run_small(&refs, spare).expect("the small path again");
            assert_eq!(
                data_ptr(&small[0]),
                spare_ptrs[0],
                "a spare buffer is written over"
            );
            assert_eq!(small[1].numel(), a.len(), "a spare of another size is not");
            // A loop compiled to read input 2 element by element never runs
            // on a scalar there: the interpreter's kernels do.
            let misdeclared = plain.clone().with_native(super::fused::compile_group(
                dtype,
                &[false; 3],
                &[false; 3],
                &steps,
                &outputs,
            ));
            assert!(misdeclared.run_small(&refs, Vec::new()).is_none());
            let fallback = misdeclared.run(tensors()).unwrap();
            assert_eq!(small.len(), want.len());
            for (((w, g), m), f) in want.iter().zip(&got).zip(&small).zip(&fallback) {
                let bits = |t: &Tensor| t.to_f64_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(w), bits(g), "{dtype:?}, s = {s}");
                assert_eq!(bits(w), bits(f), "{dtype:?}, s = {s}, misdeclared scalar");
                assert_eq!(bits(w), bits(m), "{dtype:?}, s = {s}, small path");
                assert_eq!((w.shape(), w.dtype()), (m.shape(), m.dtype()));
            }
        }
    }
    // The compiled group against the interpreted one, on inputs `a` and `b`
    // of the given shapes and the scalar `s`, in both float types.
    let same_bits = |shapes: [Vec<usize>; 2], a: &[f64], b: &[f64], s: f64, label: &str| {
        for dtype in [DType::F64, DType::F32] {
            let tensors = || {
                vec![
                    Tensor::from_f64s(dtype, shapes[0].clone(), a.to_vec()).unwrap(),
                    Tensor::from_f64s(dtype, shapes[1].clone(), b.to_vec()).unwrap(),
                    Tensor::from_f64s(dtype, vec![], vec![s]).unwrap(),
                ]
            };
            let plain = FusedKernel::new(dtype, vec![false; 3], &steps, &outputs);
            let compiled = plain.clone().with_native(super::fused::compile_group(
                dtype,
                &[false; 3],
                &[false, false, true],
                &steps,
                &outputs,
            ));
            let want = plain.run(tensors()).unwrap();
            let got = compiled.run(tensors()).unwrap();
            for (w, g) in want.iter().zip(&got) {
                let bits = |t: &Tensor| t.to_f64_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(bits(w) == bits(g), "{dtype:?}, {label}");
            }
            // Long inputs and repeated rows are left to the general path.
            let held = tensors();
            let refs: Vec<&Tensor> = held.iter().collect();
            assert!(
                compiled.run_small(&refs, Vec::new()).is_none(),
                "{label}: not a small group"
            );
        }
    };
    // Long inputs: the vector loop, then the scalar one for the rest; over
    // one block (only loops without calls run there), and over enough
    // elements to split over the cores.
    for n in [1001, 70_001] {
        let a: Vec<f64> = (0..n).map(|i| special[i % special.len()]).collect();
        let b: Vec<f64> = (0..n).map(|i| special[(i * 7 + 3) % special.len()]).collect();
        same_bits([vec![n], vec![n]], &a, &b, 0.75, &format!("{n} elements"));
    }
    // A bias row: `b` is one row of 20, repeated; the loop runs per row.
    for rows in [3, 3500] {
        let a: Vec<f64> = (0..rows * 20)
            .map(|i| special[(i * 5 + 1) % special.len()])
            .collect();
        let b: Vec<f64> = (0..20).map(|i| special[i % special.len()]).collect();
        same_bits([vec![rows, 20], vec![20]], &a, &b, -1.5, &format!("{rows} rows"));
    }
    // Steps without a native form, and bool inputs, are left to the interpreter.
    let floor = vec![st(O::Unary(U::Floor), &[0]), st(O::Binary(B::Add), &[1, 0])];
    assert!(super::fused::compile_group(DType::F64, &[false], &[false], &floor, &[2]).is_none());
    let bools = vec![st(O::Where, &[0, 1, 1]), st(O::Binary(B::Add), &[2, 1])];
    assert!(super::fused::compile_group(DType::F64, &[true, false], &[false; 2], &bools, &[3]).is_none());
}

/// The functions a compiled group calls per element give the bits of the
/// interpreter's vectorized kernels (and, for `sigmoid` and `tan`, of its
/// scalar ones), on special values, range-reduction edges and random
/// arguments, in f32 and f64.
#[test]
fn compiled_groups_call_the_kernels_functions_bit_for_bit() {
    use crate::ir::op::{BinaryOp as B, UnaryOp as U};
    use crate::runtime::fused::{FusedKernel, FusedOp as O, FusedStep};
    let st = |op: O, args: &[usize]| FusedStep {
        op,
        args: args.to_vec(),
    };
    let functions = [U::Exp, U::Log, U::Sin, U::Cos, U::Tanh, U::Sigmoid, U::Tan];
    // Each function of the input, then of a product with it (so calls sit
    // between arithmetic, and their results are kept across later calls).
    let mut steps = Vec::new();
    let mut outputs = Vec::new();
    for f in functions {
        let k = 1 + steps.len();
        steps.push(st(O::Unary(f), &[0]));
        steps.push(st(O::Binary(B::Mul), &[k, 0]));
        steps.push(st(O::Unary(f), &[k + 1]));
        outputs.extend([k, k + 2]);
    }
    let mut args = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        0.624,
        0.626,
        -0.625,
        20.0,
        -20.0,
        88.5,
        -745.2,
        709.9,
        1e-310,
        -1e-310,
        1e-30,
        3.0e5,
        4.0e8,
        -3.0e9,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..200 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        args.push((u - 0.5) * 60.0);
    }
    for dtype in [DType::F64, DType::F32] {
        let plain = FusedKernel::new(dtype, vec![false], &steps, &outputs);
        let native = super::fused::compile_group(dtype, &[false], &[false], &steps, &outputs);
        assert!(native.is_some(), "the group compiles");
        let compiled = plain.clone().with_native(native);
        // Blocks of at most the native loop's limit (the interpreter's
        // kernels are vectorized over each block).
        for chunk in args.chunks(64) {
            let x = || vec![Tensor::from_f64s(dtype, vec![chunk.len()], chunk.to_vec()).unwrap()];
            let want = plain.run(x()).unwrap();
            let got = compiled.run(x()).unwrap();
            for (j, (w, g)) in want.iter().zip(&got).enumerate() {
                let bits = |t: &Tensor| t.to_f64_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(w), bits(g), "{dtype:?}, output {j} of {chunk:?}");
            }
        }
    }
}

/// Where a float tensor's elements live.
fn data_ptr(t: &Tensor) -> *const u8 {
    match t.data() {
        crate::runtime::Data::F32(v) => v.as_ptr().cast(),
        crate::runtime::Data::F64(v) => v.as_ptr().cast(),
        crate::runtime::Data::I64(v) => v.as_ptr().cast(),
        crate::runtime::Data::Bool(v) => v.as_ptr().cast(),
    }
}

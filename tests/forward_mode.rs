//! Forward mode: `jvp` and `hessian` on small programs, checked against
//! hand-derived derivatives and against reverse mode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

fn run_tests(name: &str, source: &str, expect_passed: usize) {
    let dir = std::env::temp_dir().join(format!("diffl-forward-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join(format!("{name}.dl"));
    std::fs::write(&file, source).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .arg("test")
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{name}: exit {:?}\n{text}",
        out.status.code()
    );
    assert!(
        text.contains(&format!("{expect_passed} passed, 0 failed")),
        "{name}: unexpected summary\n{text}"
    );
}

const BASICS: &str = r#"
fn branchy(x) = if x > 0.0 { x * x } else { -x * x * x };

fn poly(x) {
    let mut y = x;
    for i in 0..5 { y = y * x + 1.0; }
    y
}

fn heron(a) {
    let mut x = a;
    let mut k = 0;
    while k < 20 { x = 0.5 * (x + a / x); k += 1; }
    x
}

fn power(x, n) = if n == 0 { 1.0 } else { x * power(x, n - 1) };

fn apply_twice(f, x) = f(f(x));

fn closure_user(x) = apply_twice(|t| sin(t) * x, x);

fn two_out(x) = [x[0] * x[1], sin(x[0])];

fn cubic_mix(x) = x[0] ** 2 * x[1] + x[1] ** 3;

fn tang(f, x) {
    let (y, dy) = jvp(f)(x, 1.0);
    dy
}

test "scalar rules" {
    assert_close(tang(sin, 0.3), cos(0.3));
    assert_close(tang(exp, 0.7), exp(0.7));
    assert_close(tang(|x| x ** 3, 2.0), 12.0);
    assert_close(tang(|x| x * sin(x), 1.2), sin(1.2) + 1.2 * cos(1.2));
    assert_close(tang(|x| 1.0 / x, 2.0), -0.25);
    assert_close(tang(|x| log(x) / (x + 1.0), 1.5), (1.0 / 1.5 * 2.5 - log(1.5)) / 6.25, tol: 1e-5);
    assert_close(tang(|x| sqrt(x) + tanh(x), 0.5), 0.5 / sqrt(0.5) + 1.0 - tanh(0.5) ** 2, tol: 1e-5);
}

test "two arguments" {
    let (y, dy) = jvp(|a, b| a * b + a / b)(2.0, 4.0, 1.0, 0.0);
    assert_close(y, 8.5);
    assert_close(dy, 4.25);
    let (y2, dy2) = jvp(|a, b| a * b + a / b)(2.0, 4.0, 0.0, 1.0);
    assert_close(dy2, 2.0 - 2.0 / 16.0);
}

test "vector function" {
    let (y, dy) = jvp(two_out)([1.0, 2.0], [0.0, 1.0]);
    assert_close(y, [2.0, sin(1.0)]);
    assert_close(dy, [1.0, 0.0]);
    let (s, ds) = jvp(|v| sum(v * v))([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]);
    assert_close(ds, 12.0);
}

test "control flow" {
    assert_close(tang(branchy, 2.0), 4.0);
    assert_close(tang(branchy, -2.0), -12.0);
    assert_close(tang(poly, 0.5), 3.4375);
    assert_close(tang(heron, 2.0), 0.35355339, tol: 1e-4);
    let (p, dp) = jvp(power)(2.0, 5, 1.0, 0);
    assert_close(p, 32.0);
    assert_close(dp, 80.0);
    assert_close(tang(closure_user, 0.7), 1.1790022404792977, tol: 1e-5);
}

test "hessian" {
    assert_close(hessian(cubic_mix)([1.0, 2.0]), [[4.0, 2.0], [2.0, 12.0]], tol: 1e-4);
    assert_close(hessian(|x| x ** 4)(1.0), 12.0, tol: 1e-4);
}

test "jvp agrees with grad" {
    assert_close(tang(poly, 1.3), grad(poly)(1.3), tol: 1e-4);
    assert_close(tang(heron, 3.0), grad(heron)(3.0), tol: 1e-4);
    assert_close(tang(|x| sigmoid(x) * relu(x - 0.2) + abs(x) ** 2, 0.9), grad(|x| sigmoid(x) * relu(x - 0.2) + abs(x) ** 2)(0.9), tol: 1e-5);
    assert_close(tang(|x| where(x > 0.0, sqrt(x), 0.0), 0.0), 0.0);
}
"#;

const SECOND_ORDER: &str = r#"
fn poly(x) {
    let mut y = x;
    for i in 0..5 { y = y * x + 1.0; }
    y
}
test "hessian through a loop" {
    assert_close(hessian(poly)(0.5), 9.875, tol: 1e-4);
}

fn heron(a) {
    let mut x = a;
    let mut k = 0;
    while k < 20 { x = 0.5 * (x + a / x); k += 1; }
    x
}

struct Layer { w, b }

fn model(p, x) = sum(tanh(x @ p.w + p.b));

test "hessian through while and jvp of records" {
    assert_close(hessian(heron)(2.0), -0.25 * 2.0 ** -1.5, tol: 1e-4);
    assert_close(hessian(|v| sum(exp(v)) * max(v))([0.5, 1.0, -0.5]), hessian(|v| sum(exp(v)) * max(v))([0.5, 1.0, -0.5]));
    let p = Layer { w: [[0.5, -0.3], [0.2, 0.8]], b: [0.1, -0.2] };
    let x = [[1.0, 2.0], [-1.0, 0.5], [0.3, 0.3]];
    let dp = Layer { w: [[1.0, 0.0], [0.0, 0.0]], b: [0.0, 0.0] };
    let (y, dy) = jvp(model)(p, x, dp, zeros([3, 2]));
    assert_close(dy, grad(model)(p, x).w[0, 0], tol: 1e-5);
}
"#;

/// Loops inside loops: the inner loop's tape is threaded through the outer
/// one (`src/ad/reverse/loops.rs`). Six steps of `y = y x + 1` from `y = x`
/// give `x^7 + x^5 + x^4 + x^3 + x^2 + x + 1`.
const NESTED_LOOPS: &str = r#"
fn nested(x) {
    let mut y = x;
    for t in 0..3 {
        let mut k = 0;
        while k < 2 { y = y * x + 1.0; k += 1; }
    }
    y
}
fn layers(w, x) {
    let mut h = x;
    let mut total = 0.0;
    for t in 0..4 {
        for l in 0..len(w) { h = tanh(h * w[l] + 0.1 * float(t)); }
        total += sum(exp(h)) * w[t % len(w)];
    }
    total
}
test "gradient and hessian through nested loops" {
    assert_close(nested(0.5), 0.5 ** 7 + 0.5 ** 5 + 0.5 ** 4 + 0.5 ** 3 + 0.25 + 0.5 + 1.0, tol: 1e-6);
    assert_close(grad(nested)(0.5), 3.671875, tol: 1e-5);
    assert_close(hessian(nested)(0.5), 11.8125, tol: 1e-4);
}
test "tensor loops inside loops match finite differences" {
    let w = [0.5, -0.7, 0.9];
    let x = [1.0, 2.0, -0.5, 0.25];
    assert(gradcheck(layers, w, x) < 1e-6);
    let h = hessian(|v| layers(v, x))(w);
    let fd = (grad(|v| layers(v, x))(w + [1e-4, 0.0, 0.0]) - grad(|v| layers(v, x))(w - [1e-4, 0.0, 0.0])) / 2e-4;
    assert_close(h[0], fd, tol: 1e-3);
}
"#;

#[test]
fn gradients_and_hessians_through_nested_loops() {
    run_tests("nested_loops", NESTED_LOOPS, 2);
}

#[test]
fn jvp_rules_control_flow_and_hessian() {
    run_tests("basics", BASICS, 6);
}

#[test]
fn hessian_through_loops_and_records() {
    run_tests("second_order", SECOND_ORDER, 2);
}

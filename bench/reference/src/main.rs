//! W1 (seed-f) and W2 (recurrence) written by hand, with hand-derived
//! gradients, timed in-process. Usage: `reference REPS`; prints one JSON line
//! per measurement, as the Python workload scripts do.

use std::hint::black_box;
use std::time::Instant;

/// Float operations W1 needs, for f32 and f64.
trait Float:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + Into<f64>
{
    fn of(x: f64) -> Self;
    fn exp(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            fn of(x: f64) -> Self {
                x as $t
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
        }
    };
}
float!(f32);
float!(f64);

/// x_i = -1 + 2i/n, computed in the float type as the diffl program does.
fn point<F: Float>(i: usize, n: usize) -> F {
    F::of(-1.0) + F::of(2.0) * F::of(i as f64) / F::of(n as f64)
}

/// W1 value: g(t) = sum_i f(t x_i).
fn seed_f<F: Float>(t: F, n: usize) -> F {
    let mut total = F::of(0.0);
    for i in 0..n {
        let x = t * point::<F>(i, n);
        let s = x.exp() + (x * x).exp();
        total = total + (s.exp() + s.sin());
    }
    total
}

/// W1 value and dg/dt: f'(x) = (exp(s) + cos(s)) (exp(x) + 2x exp(x^2)),
/// dg/dt = sum_i x_i f'(t x_i).
fn seed_f_grad<F: Float>(t: F, n: usize) -> (F, F) {
    let (mut total, mut d) = (F::of(0.0), F::of(0.0));
    for i in 0..n {
        let xi = point::<F>(i, n);
        let x = t * xi;
        let (e1, e2) = (x.exp(), (x * x).exp());
        let s = e1 + e2;
        let es = s.exp();
        total = total + (es + s.sin());
        d = d + xi * (es + s.cos()) * (e1 + F::of(2.0) * x * e2);
    }
    (total, d)
}

const STEPS: usize = 100_000;

/// W2 value: x_{t+1} = x_t + 0.01 (a sin x_t - b x_t^3), loss x_T^2.
fn recurrence(a: f64, b: f64) -> f64 {
    let mut x = 0.5;
    for _ in 0..STEPS {
        x += 0.01 * (a * x.sin() - b * x * x * x);
    }
    x * x
}

/// W2 value and gradient: the forward pass stores x_t, the reverse pass
/// carries xbar = dL/dx_t with dx_{t+1}/dx_t = 1 + 0.01 (a cos x_t - 3 b x_t^2).
fn recurrence_grad(a: f64, b: f64, tape: &mut Vec<f64>) -> (f64, f64, f64) {
    tape.clear();
    let mut x = 0.5;
    for _ in 0..STEPS {
        tape.push(x);
        x += 0.01 * (a * x.sin() - b * x * x * x);
    }
    let mut xbar = 2.0 * x;
    let (mut da, mut db) = (0.0, 0.0);
    for &x in tape.iter().rev() {
        da += xbar * 0.01 * x.sin();
        db -= xbar * 0.01 * x * x * x;
        xbar *= 1.0 + 0.01 * (a * x.cos() - 3.0 * b * x * x);
    }
    (x * x, da, db)
}

/// Seconds per call of `f`, `reps` times after one warm-up call.
fn timed(reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect()
}

fn list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:e}")).collect();
    format!("[{}]", items.join(", "))
}

fn emit(workload: &str, dtype: &str, value: f64, grad: &[f64], value_s: &[f64], grad_s: &[f64]) {
    println!(
        "{{\"workload\": \"{workload}\", \"impl\": \"hand-written Rust\", \"dtype\": \"{dtype}\", \
         \"value\": {value:e}, \"grad\": {}, \"value_s\": {}, \"grad_s\": {}}}",
        list(grad),
        list(value_s),
        list(grad_s)
    );
}

fn w1<F: Float>(reps: usize, dtype: &str) {
    let n = 1_000_000;
    let t = F::of(0.5);
    let (v, d) = seed_f_grad(t, n);
    let vs = timed(reps, || {
        black_box(seed_f(black_box(t), n));
    });
    let gs = timed(reps, || {
        black_box(seed_f_grad(black_box(t), n));
    });
    emit("seed-f", dtype, v.into(), &[d.into()], &vs, &gs);
}

fn main() {
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    w1::<f32>(reps, "float32");
    w1::<f64>(reps, "float64");
    let (a, b) = (1.0, 0.5);
    let mut tape = Vec::with_capacity(STEPS);
    let (v, da, db) = recurrence_grad(a, b, &mut tape);
    let vs = timed(reps, || {
        black_box(recurrence(black_box(a), black_box(b)));
    });
    let gs = timed(reps, || {
        black_box(recurrence_grad(black_box(a), black_box(b), &mut tape));
    });
    emit("recurrence", "float64", v, &[da, db], &vs, &gs);
}

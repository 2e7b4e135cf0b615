//! Elementwise kernels: `unary`, `binary`, `where_`, `clip` and `cast`.
//!
//! Takes tensors whose dtypes the compiler has already made agree (two operands
//! of a binary op share one dtype; rank-0 operands broadcast like any other) and
//! guarantees NumPy broadcasting, IEEE float semantics, and integer semantics as
//! in Rust: `/` truncates toward zero, `%` takes the dividend's sign, a zero
//! divisor is [`KernelError::IntDivisionByZero`], and overflow wraps (as in
//! NumPy) instead of panicking. A dtype the op does not accept is an internal
//! error, never a panic.

use super::DType;
use super::broadcast::{broadcast_shapes, broadcast_to};
use super::error::{KResult, KernelError};
use super::tensor::{Data, Real, Tensor};
use crate::ir::op::{BinaryOp, Prim, UnaryOp};
use std::borrow::Cow;
use std::sync::Arc;

/// `f(a, b)` over two buffers broadcast to `out`.
fn zip2<A: Copy, B: Copy, R>(
    a: &[A],
    sa: &[usize],
    b: &[B],
    sb: &[usize],
    out: &[usize],
    f: impl Fn(A, B) -> R,
) -> KResult<Vec<R>> {
    if sa == sb {
        return Ok(a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect());
    }
    if sa == out
        && let [y] = b
    {
        return Ok(a.iter().map(|&x| f(x, *y)).collect());
    }
    if sb == out
        && let [x] = a
    {
        return Ok(b.iter().map(|&y| f(*x, y)).collect());
    }
    let a2: Cow<[A]> = if sa == out {
        Cow::Borrowed(a)
    } else {
        Cow::Owned(broadcast_to(a, sa, out)?)
    };
    let b2: Cow<[B]> = if sb == out {
        Cow::Borrowed(b)
    } else {
        Cow::Owned(broadcast_to(b, sb, out)?)
    };
    Ok(a2.iter().zip(b2.iter()).map(|(&x, &y)| f(x, y)).collect())
}

fn op_name(op: BinaryOp) -> &'static str {
    Prim::Binary(op).info().name
}

/// An elementwise function of two tensors, with broadcasting.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    let out = broadcast_shapes(a.shape(), b.shape())?;
    let (sa, sb) = (a.shape(), b.shape());
    let data = match (a.data(), b.data()) {
        (Data::F32(x), Data::F32(y)) => float_binary(op, x, sa, y, sb, &out)?,
        (Data::F64(x), Data::F64(y)) => float_binary(op, x, sa, y, sb, &out)?,
        (Data::I64(x), Data::I64(y)) => int_binary(op, x, sa, y, sb, &out)?,
        (Data::Bool(x), Data::Bool(y)) => bool_binary(op, x, sa, y, sb, &out)?,
        (x, y) => {
            return Err(KernelError::DTypeMismatch {
                op: op_name(op),
                a: x.dtype(),
                b: y.dtype(),
            });
        }
    };
    Tensor::new(out, data)
}

fn bools(v: Vec<bool>) -> Data {
    Data::Bool(Arc::new(v))
}

/// NumPy's `maximum`: NaN if either operand is NaN.
fn fmax<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// NumPy's `minimum`: NaN if either operand is NaN.
fn fmin<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

fn float_binary<T: Real>(
    op: BinaryOp,
    x: &[T],
    sx: &[usize],
    y: &[T],
    sy: &[usize],
    out: &[usize],
) -> KResult<Data> {
    macro_rules! z {
        ($f:expr) => {
            zip2(x, sx, y, sy, out, $f)?
        };
    }
    Ok(match op {
        BinaryOp::Add => T::wrap(z!(|a, b| a + b)),
        BinaryOp::Sub => T::wrap(z!(|a, b| a - b)),
        BinaryOp::Mul => T::wrap(z!(|a, b| a * b)),
        BinaryOp::Div => T::wrap(z!(|a, b| a / b)),
        BinaryOp::Rem => T::wrap(z!(|a, b| a % b)),
        BinaryOp::Pow => T::wrap(z!(|a: T, b| a.powf(b))),
        BinaryOp::Maximum => T::wrap(z!(fmax)),
        BinaryOp::Minimum => T::wrap(z!(fmin)),
        BinaryOp::Lt => bools(z!(|a, b| a < b)),
        BinaryOp::Le => bools(z!(|a, b| a <= b)),
        BinaryOp::Gt => bools(z!(|a, b| a > b)),
        BinaryOp::Ge => bools(z!(|a, b| a >= b)),
        BinaryOp::Eq => bools(z!(|a, b| a == b)),
        BinaryOp::Ne => bools(z!(|a, b| a != b)),
        BinaryOp::And | BinaryOp::Or => {
            return Err(KernelError::DType {
                op: op_name(op),
                dtype: T::wrap(Vec::new()).dtype(),
            });
        }
    })
}

/// `base ** exp` for `exp >= 0`, wrapping on overflow.
pub(crate) fn int_pow(base: i64, exp: i64) -> i64 {
    let mut result: i64 = 1;
    let mut b = base;
    let mut e = exp;
    while e > 0 {
        if e & 1 == 1 {
            result = result.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    result
}

fn int_binary(
    op: BinaryOp,
    x: &[i64],
    sx: &[usize],
    y: &[i64],
    sy: &[usize],
    out: &[usize],
) -> KResult<Data> {
    macro_rules! z {
        ($f:expr) => {
            zip2(x, sx, y, sy, out, $f)?
        };
    }
    let ints = |v: Vec<i64>| Data::I64(Arc::new(v));
    let nonempty = !x.is_empty() && !y.is_empty();
    Ok(match op {
        BinaryOp::Add => ints(z!(i64::wrapping_add)),
        BinaryOp::Sub => ints(z!(i64::wrapping_sub)),
        BinaryOp::Mul => ints(z!(i64::wrapping_mul)),
        BinaryOp::Div | BinaryOp::Rem => {
            if nonempty && y.contains(&0) {
                return Err(KernelError::IntDivisionByZero);
            }
            // The divisor is never zero here; `checked_*` only fails on
            // `i64::MIN / -1`, which wraps.
            if op == BinaryOp::Div {
                ints(z!(|a: i64, b| a.checked_div(b).unwrap_or(a.wrapping_neg())))
            } else {
                ints(z!(|a: i64, b| a.checked_rem(b).unwrap_or(0)))
            }
        }
        BinaryOp::Pow => {
            if let Some(&e) = y.iter().find(|&&e| e < 0)
                && nonempty
            {
                return Err(KernelError::NegativeIntExponent { exponent: e });
            }
            ints(z!(int_pow))
        }
        BinaryOp::Maximum => ints(z!(i64::max)),
        BinaryOp::Minimum => ints(z!(i64::min)),
        BinaryOp::Lt => bools(z!(|a, b| a < b)),
        BinaryOp::Le => bools(z!(|a, b| a <= b)),
        BinaryOp::Gt => bools(z!(|a, b| a > b)),
        BinaryOp::Ge => bools(z!(|a, b| a >= b)),
        BinaryOp::Eq => bools(z!(|a, b| a == b)),
        BinaryOp::Ne => bools(z!(|a, b| a != b)),
        BinaryOp::And | BinaryOp::Or => {
            return Err(KernelError::DType {
                op: op_name(op),
                dtype: DType::I64,
            });
        }
    })
}

fn bool_binary(
    op: BinaryOp,
    x: &[bool],
    sx: &[usize],
    y: &[bool],
    sy: &[usize],
    out: &[usize],
) -> KResult<Data> {
    macro_rules! z {
        ($f:expr) => {
            zip2(x, sx, y, sy, out, $f)?
        };
    }
    Ok(match op {
        BinaryOp::And | BinaryOp::Minimum => bools(z!(|a, b| a && b)),
        BinaryOp::Or | BinaryOp::Maximum => bools(z!(|a, b| a || b)),
        BinaryOp::Lt => bools(z!(|a, b| !a & b)),
        BinaryOp::Le => bools(z!(|a, b| a <= b)),
        BinaryOp::Gt => bools(z!(|a, b| a & !b)),
        BinaryOp::Ge => bools(z!(|a, b| a >= b)),
        BinaryOp::Eq => bools(z!(|a, b| a == b)),
        BinaryOp::Ne => bools(z!(|a, b| a != b)),
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem | BinaryOp::Pow => {
            return Err(KernelError::DType {
                op: op_name(op),
                dtype: DType::Bool,
            });
        }
    })
}

/// An elementwise function of one tensor.
pub fn unary(op: UnaryOp, x: &Tensor) -> KResult<Tensor> {
    let data = match x.data() {
        Data::F32(v) => float_unary(op, v)?,
        Data::F64(v) => float_unary(op, v)?,
        Data::I64(v) => int_unary(op, v)?,
        Data::Bool(v) => match op {
            UnaryOp::Not => bools(v.iter().map(|&b| !b).collect()),
            UnaryOp::Neg
            | UnaryOp::Exp
            | UnaryOp::Log
            | UnaryOp::Sqrt
            | UnaryOp::Sin
            | UnaryOp::Cos
            | UnaryOp::Tan
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Relu
            | UnaryOp::Abs
            | UnaryOp::Sign
            | UnaryOp::Floor
            | UnaryOp::Ceil
            | UnaryOp::Round => return Err(unary_dtype(op, DType::Bool)),
        },
    };
    Ok(Tensor::with_shape_of(x, data))
}

fn unary_dtype(op: UnaryOp, dtype: DType) -> KernelError {
    KernelError::DType {
        op: Prim::Unary(op).info().name,
        dtype,
    }
}

/// The logistic function, without overflow for large `|x|`.
pub(crate) fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

fn float_unary<T: Real>(op: UnaryOp, v: &[T]) -> KResult<Data> {
    let m = |f: fn(T) -> T| T::wrap(v.iter().map(|&x| f(x)).collect());
    Ok(match op {
        UnaryOp::Neg => m(|x| -x),
        UnaryOp::Exp => m(T::exp),
        UnaryOp::Log => m(T::ln),
        UnaryOp::Sqrt => m(T::sqrt),
        UnaryOp::Sin => m(T::sin),
        UnaryOp::Cos => m(T::cos),
        UnaryOp::Tan => m(T::tan),
        UnaryOp::Tanh => m(T::tanh),
        UnaryOp::Sigmoid => m(sigmoid),
        UnaryOp::Relu => m(|x| if x.is_nan() || x > T::ZERO { x } else { T::ZERO }),
        UnaryOp::Abs => m(T::abs),
        UnaryOp::Sign => m(|x| {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                -T::ONE
            } else {
                x
            }
        }),
        UnaryOp::Floor => m(T::floor),
        UnaryOp::Ceil => m(T::ceil),
        UnaryOp::Round => m(T::round),
        UnaryOp::Not => return Err(unary_dtype(op, T::wrap(Vec::new()).dtype())),
    })
}

fn int_unary(op: UnaryOp, v: &[i64]) -> KResult<Data> {
    let m = |f: fn(i64) -> i64| Data::I64(Arc::new(v.iter().map(|&x| f(x)).collect()));
    Ok(match op {
        UnaryOp::Neg => m(i64::wrapping_neg),
        UnaryOp::Abs => m(i64::wrapping_abs),
        UnaryOp::Sign => m(i64::signum),
        UnaryOp::Relu => m(|x| x.max(0)),
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => m(|x| x),
        UnaryOp::Not
        | UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Sin
        | UnaryOp::Cos
        | UnaryOp::Tan
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid => return Err(unary_dtype(op, DType::I64)),
    })
}

/// `where(c, a, b)`: `a` where `c` is true, else `b`, all three broadcast.
pub fn where_(c: &Tensor, a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    let Data::Bool(cv) = c.data() else {
        return Err(KernelError::DType {
            op: "where",
            dtype: c.dtype(),
        });
    };
    let out = broadcast_shapes(&broadcast_shapes(c.shape(), a.shape())?, b.shape())?;
    let cb = broadcast_to(cv, c.shape(), &out)?;
    fn select<T: Copy>(
        c: &[bool],
        x: &[T],
        sx: &[usize],
        y: &[T],
        sy: &[usize],
        out: &[usize],
    ) -> KResult<Vec<T>> {
        let xb = broadcast_to(x, sx, out)?;
        let yb = broadcast_to(y, sy, out)?;
        Ok(c.iter()
            .zip(xb.iter().zip(&yb))
            .map(|(&k, (&p, &q))| if k { p } else { q })
            .collect())
    }
    let (sa, sb) = (a.shape(), b.shape());
    let data = match (a.data(), b.data()) {
        (Data::Bool(x), Data::Bool(y)) => bools(select(&cb, x, sa, y, sb, &out)?),
        (Data::I64(x), Data::I64(y)) => Data::I64(Arc::new(select(&cb, x, sa, y, sb, &out)?)),
        (Data::F32(x), Data::F32(y)) => Data::F32(Arc::new(select(&cb, x, sa, y, sb, &out)?)),
        (Data::F64(x), Data::F64(y)) => Data::F64(Arc::new(select(&cb, x, sa, y, sb, &out)?)),
        (x, y) => {
            return Err(KernelError::DTypeMismatch {
                op: "where",
                a: x.dtype(),
                b: y.dtype(),
            });
        }
    };
    Tensor::new(out, data)
}

/// `clip(x, lo, hi)` = `minimum(maximum(x, lo), hi)`, all three broadcast.
pub fn clip(x: &Tensor, lo: &Tensor, hi: &Tensor) -> KResult<Tensor> {
    binary(BinaryOp::Minimum, &binary(BinaryOp::Maximum, x, lo)?, hi)
}

/// Converts every element to `to`: floats to int truncate toward zero
/// (saturating, NaN to 0), anything to bool is `!= 0`, bool to number is 0 or 1.
pub fn cast(x: &Tensor, to: DType) -> Tensor {
    fn conv<S: Copy, D>(v: &[S], f: impl Fn(S) -> D) -> Arc<Vec<D>> {
        Arc::new(v.iter().map(|&s| f(s)).collect())
    }
    let data = match (x.data(), to) {
        (Data::Bool(v), DType::Bool) => Data::Bool(v.clone()),
        (Data::Bool(v), DType::I64) => Data::I64(conv(v, i64::from)),
        (Data::Bool(v), DType::F32) => Data::F32(conv(v, |b| if b { 1.0 } else { 0.0 })),
        (Data::Bool(v), DType::F64) => Data::F64(conv(v, |b| if b { 1.0 } else { 0.0 })),
        (Data::I64(v), DType::Bool) => Data::Bool(conv(v, |i| i != 0)),
        (Data::I64(v), DType::I64) => Data::I64(v.clone()),
        (Data::I64(v), DType::F32) => Data::F32(conv(v, |i| i as f32)),
        (Data::I64(v), DType::F64) => Data::F64(conv(v, |i| i as f64)),
        (Data::F32(v), DType::Bool) => Data::Bool(conv(v, |f| f != 0.0)),
        (Data::F32(v), DType::I64) => Data::I64(conv(v, |f| f as i64)),
        (Data::F32(v), DType::F32) => Data::F32(v.clone()),
        (Data::F32(v), DType::F64) => Data::F64(conv(v, f64::from)),
        (Data::F64(v), DType::Bool) => Data::Bool(conv(v, |f| f != 0.0)),
        (Data::F64(v), DType::I64) => Data::I64(conv(v, |f| f as i64)),
        (Data::F64(v), DType::F32) => Data::F32(conv(v, |f| f as f32)),
        (Data::F64(v), DType::F64) => Data::F64(v.clone()),
    };
    Tensor::with_shape_of(x, data)
}

#[cfg(test)]
#[path = "elementwise_tests.rs"]
mod tests;

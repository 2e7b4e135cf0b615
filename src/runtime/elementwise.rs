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
use super::broadcast::{broadcast_shapes, broadcast_to, ends_with_shape, same_shape};
use super::error::{KResult, KernelError};
use super::parallel::for_pieces;
use super::tensor::{Data, Real, Shape, Tensor};
use super::vmath;
use crate::ir::op::{BinaryOp, Prim, UnaryOp};
use std::borrow::Cow;
use std::sync::Arc;

/// `x[i] = f(x[i], y[i])` over the common length.
fn zip_into<T: Copy>(x: &mut [T], y: &[T], f: impl Fn(T, T) -> T) {
    x.iter_mut().zip(y).for_each(|(a, &b)| *a = f(*a, b));
}

/// One operand of an elementwise function as seen at the result's shape,
/// without materializing the common broadcasts.
enum Operand<'a, T> {
    /// Already of the result's shape.
    Same(&'a [T]),
    /// One element, repeated.
    Scalar(T),
    /// The trailing axes of the result (a bias row): repeated every `len`.
    Repeat(&'a [T]),
    /// Any other broadcast, materialized.
    Owned(Vec<T>),
}

impl<'a, T: Copy> Operand<'a, T> {
    fn new(y: &'a [T], sy: &[usize], out: &[usize]) -> KResult<Operand<'a, T>> {
        if same_shape(sy, out) {
            return Ok(Operand::Same(y));
        }
        if let [v] = y {
            return Ok(Operand::Scalar(*v));
        }
        let lead = sy.iter().take_while(|&&d| d == 1).count();
        let tail = sy.get(lead..).unwrap_or(&[]);
        if !y.is_empty() && !tail.is_empty() && ends_with_shape(out, tail) {
            return Ok(Operand::Repeat(y));
        }
        Ok(Operand::Owned(broadcast_to(y, sy, out)?))
    }

    /// `x[i] = f(x[i], y[i])` for every element of the result-shaped `x`
    /// (split over the cores when `x` is large).
    fn apply_into(&self, x: &mut [T], f: impl Fn(T, T) -> T + Sync)
    where
        T: Send + Sync,
    {
        let unit = match self {
            Operand::Repeat(y) => y.len(),
            _ => 1,
        };
        for_pieces(x, unit, |x, start| match self {
            Operand::Same(y) => zip_into(x, y.get(start..).unwrap_or_default(), &f),
            Operand::Owned(y) => zip_into(x, y.get(start..).unwrap_or_default(), &f),
            Operand::Scalar(b) => x.iter_mut().for_each(|a| *a = f(*a, *b)),
            Operand::Repeat(y) => {
                for chunk in x.chunks_exact_mut(y.len()) {
                    zip_into(chunk, y, &f);
                }
            }
        });
    }

    /// `x[i] = y[i]` wherever `c[i]` is false (`c` and `x` of the result's
    /// shape; split over the cores when `x` is large).
    fn select_into(&self, x: &mut [T], c: &[bool])
    where
        T: Send + Sync,
    {
        // Branch-free, so that it vectorizes.
        let pick = |(a, &k): (&mut T, &bool), b: T| *a = if k { *a } else { b };
        let unit = match self {
            Operand::Repeat(y) => y.len(),
            _ => 1,
        };
        for_pieces(x, unit, |x, start| {
            let c = c.get(start..).unwrap_or_default();
            match self {
                Operand::Same(y) => x
                    .iter_mut()
                    .zip(c)
                    .zip(y.get(start..).unwrap_or_default())
                    .for_each(|(p, &b)| pick(p, b)),
                Operand::Owned(y) => x
                    .iter_mut()
                    .zip(c)
                    .zip(y.get(start..).unwrap_or_default())
                    .for_each(|(p, &b)| pick(p, b)),
                Operand::Scalar(b) => x.iter_mut().zip(c).for_each(|p| pick(p, *b)),
                Operand::Repeat(y) => {
                    for (xs, cs) in x.chunks_exact_mut(y.len()).zip(c.chunks_exact(y.len())) {
                        xs.iter_mut().zip(cs).zip(y.iter()).for_each(|(p, &b)| pick(p, b));
                    }
                }
            }
        });
    }

    /// `f(x[i], y[i])` for every element of the result-shaped `x`.
    fn zip_with<R>(&self, x: &[T], f: impl Fn(T, T) -> R) -> Vec<R> {
        match self {
            Operand::Same(y) => x.iter().zip(y.iter()).map(|(&a, &b)| f(a, b)).collect(),
            Operand::Owned(y) => x.iter().zip(y.iter()).map(|(&a, &b)| f(a, b)).collect(),
            Operand::Scalar(b) => x.iter().map(|&a| f(a, *b)).collect(),
            Operand::Repeat(y) => x
                .chunks_exact(y.len())
                .flat_map(|chunk| chunk.iter().zip(y.iter()).map(|(&a, &b)| f(a, b)))
                .collect(),
        }
    }
}

/// `f(a, b)` over two buffers broadcast to `out`.
fn zip2<T: Copy, R>(
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    out: &[usize],
    f: impl Fn(T, T) -> R,
) -> KResult<Vec<R>> {
    if same_shape(sa, out) {
        return Ok(Operand::new(b, sb, out)?.zip_with(a, f));
    }
    if same_shape(sb, out) {
        return Ok(Operand::new(a, sa, out)?.zip_with(b, |y, x| f(x, y)));
    }
    let a2 = broadcast_to(a, sa, out)?;
    let b2 = broadcast_to(b, sb, out)?;
    Ok(a2.iter().zip(b2.iter()).map(|(&x, &y)| f(x, y)).collect())
}

fn op_name(op: BinaryOp) -> &'static str {
    Prim::Binary(op).info().name
}

/// The broadcast shape of `a` and `b`, shared with the one whose shape it
/// is (no allocation for operands of one shape, or a scalar with a tensor).
fn result_shape(a: &Tensor, b: &Tensor) -> KResult<Shape> {
    if same_shape(a.shape(), b.shape()) {
        return Ok(a.shared_shape());
    }
    let out = broadcast_shapes(a.shape(), b.shape())?;
    Ok(if same_shape(&out, a.shape()) {
        a.shared_shape()
    } else if same_shape(&out, b.shape()) {
        b.shared_shape()
    } else {
        out.into()
    })
}

/// An elementwise function of two tensors, with broadcasting.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> KResult<Tensor> {
    let out = result_shape(a, b)?;
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

/// Evaluates `$body` with `$f` bound to the scalar function of the float
/// arithmetic op `$op` (element type `$t`), or `$other` for the comparisons
/// and logic ops, whose results are not floats.
macro_rules! with_float_arith {
    ($op:expr, $t:ty, $f:ident => $body:expr, $other:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |a: $t, b: $t| a + b;
                $body
            }
            BinaryOp::Sub => {
                let $f = |a: $t, b: $t| a - b;
                $body
            }
            BinaryOp::Mul => {
                let $f = |a: $t, b: $t| a * b;
                $body
            }
            BinaryOp::Div => {
                let $f = |a: $t, b: $t| a / b;
                $body
            }
            BinaryOp::Rem => {
                let $f = |a: $t, b: $t| a % b;
                $body
            }
            BinaryOp::Pow => {
                let $f = |a: $t, b: $t| a.powf(b);
                $body
            }
            BinaryOp::Maximum => {
                let $f = fmax::<$t>;
                $body
            }
            BinaryOp::Minimum => {
                let $f = fmin::<$t>;
                $body
            }
            BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::And
            | BinaryOp::Or => $other,
        }
    };
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
    Ok(with_float_arith!(op, T, f => T::wrap(z!(f)), match op {
        BinaryOp::Lt => bools(z!(|a, b| a < b)),
        BinaryOp::Le => bools(z!(|a, b| a <= b)),
        BinaryOp::Gt => bools(z!(|a, b| a > b)),
        BinaryOp::Ge => bools(z!(|a, b| a >= b)),
        BinaryOp::Eq => bools(z!(|a, b| a == b)),
        BinaryOp::Ne => bools(z!(|a, b| a != b)),
        _ => {
            return Err(KernelError::DType {
                op: op_name(op),
                dtype: T::wrap(Vec::new()).dtype(),
            });
        }
    }))
}

/// Which operand of a binary op receives the result in place.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

/// Float arithmetic written into `dst` (an operand of the result's shape, on
/// `side`); `other` is the second operand. False for ops with non-float results.
fn float_arith_into<T: Real>(op: BinaryOp, dst: &mut [T], other: &Operand<'_, T>, side: Side) -> bool {
    with_float_arith!(op, T, f => {
        match side {
            Side::Left => other.apply_into(dst, f),
            Side::Right => other.apply_into(dst, |b, a| f(a, b)),
        }
        true
    }, false)
}

/// `binary(op, a, b)`, writing the result into the buffer of `a` or `b`
/// when it has the result's shape and dtype and no one else holds it. The
/// result equals [`binary`]'s in every case.
pub fn binary_owned(op: BinaryOp, mut a: Tensor, mut b: Tensor) -> KResult<Tensor> {
    let Ok(out) = result_shape(&a, &b) else {
        return binary(op, &a, &b);
    };
    let sa = a.shared_shape();
    let sb = b.shared_shape();
    if same_shape(&sa, &out) && a.is_unique() && in_place_binary(op, &mut a, &b, &sb, &out, Side::Left)? {
        return Ok(a);
    }
    if same_shape(&sb, &out) && b.is_unique() && in_place_binary(op, &mut b, &a, &sa, &out, Side::Right)? {
        return Ok(b);
    }
    binary(op, &a, &b)
}

/// Writes `op` into `dst`'s buffer if the dtypes allow it; whether it did.
fn in_place_binary(
    op: BinaryOp,
    dst: &mut Tensor,
    other: &Tensor,
    s_other: &[usize],
    out: &[usize],
    side: Side,
) -> KResult<bool> {
    Ok(match (dst.data_mut(), other.data()) {
        (Data::F32(x), Data::F32(y)) => match Arc::get_mut(x) {
            Some(x) => float_arith_into(op, x, &Operand::new(y, s_other, out)?, side),
            None => false,
        },
        (Data::F64(x), Data::F64(y)) => match Arc::get_mut(x) {
            Some(x) => float_arith_into(op, x, &Operand::new(y, s_other, out)?, side),
            None => false,
        },
        _ => false,
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
        Data::F32(v) => float_unary(op, v, x.rank() > 0)?,
        Data::F64(v) => float_unary(op, v, x.rank() > 0)?,
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

/// Evaluates `$body` with `$f` bound to the scalar function of the float
/// unary op `$op` (element type `$t`), or `$other` for `not`.
macro_rules! with_float_unary {
    ($op:expr, $t:ty, $f:ident => $body:expr, $other:expr) => {
        match $op {
            UnaryOp::Neg => {
                let $f = |x: $t| -x;
                $body
            }
            UnaryOp::Exp => {
                let $f = <$t as Real>::exp;
                $body
            }
            UnaryOp::Log => {
                let $f = <$t as Real>::ln;
                $body
            }
            UnaryOp::Sqrt => {
                let $f = <$t as Real>::sqrt;
                $body
            }
            UnaryOp::Sin => {
                let $f = <$t as Real>::sin;
                $body
            }
            UnaryOp::Cos => {
                let $f = <$t as Real>::cos;
                $body
            }
            UnaryOp::Tan => {
                let $f = <$t as Real>::tan;
                $body
            }
            UnaryOp::Tanh => {
                let $f = <$t as Real>::tanh;
                $body
            }
            UnaryOp::Sigmoid => {
                let $f = sigmoid::<$t>;
                $body
            }
            UnaryOp::Relu => {
                let $f = |x: $t| {
                    if x.is_nan() || x > <$t as Real>::ZERO {
                        x
                    } else {
                        <$t as Real>::ZERO
                    }
                };
                $body
            }
            UnaryOp::Abs => {
                let $f = <$t as Real>::abs;
                $body
            }
            UnaryOp::Sign => {
                let $f = |x: $t| {
                    if x > <$t as Real>::ZERO {
                        <$t as Real>::ONE
                    } else if x < <$t as Real>::ZERO {
                        -<$t as Real>::ONE
                    } else {
                        x
                    }
                };
                $body
            }
            UnaryOp::Floor => {
                let $f = <$t as Real>::floor;
                $body
            }
            UnaryOp::Ceil => {
                let $f = <$t as Real>::ceil;
                $body
            }
            UnaryOp::Round => {
                let $f = <$t as Real>::round;
                $body
            }
            UnaryOp::Not => $other,
        }
    };
}

/// `op` over a float buffer; `vector` (a tensor of rank 1 or more) uses
/// the vectorized functions of [`vmath`], a scalar the standard library's,
/// as the JIT's scalar code does.
fn float_unary<T: Real>(op: UnaryOp, v: &[T], vector: bool) -> KResult<Data> {
    if vector && vmath::is_vectorized(op) {
        let mut copy = v.to_vec();
        for_pieces(&mut copy, 1, |piece, _| {
            vmath::unary_in_place(op, piece);
        });
        return Ok(T::wrap(copy));
    }
    Ok(
        with_float_unary!(op, T, f => T::wrap(v.iter().map(|&x| f(x)).collect()), {
            return Err(unary_dtype(op, T::wrap(Vec::new()).dtype()));
        }),
    )
}

/// `unary(op, x)`, writing into `x`'s buffer when no one else holds it (float
/// ops on floats). The result equals [`unary`]'s in every case.
pub fn unary_owned(op: UnaryOp, mut x: Tensor) -> KResult<Tensor> {
    fn in_place<T: Real>(op: UnaryOp, v: &mut [T], vector: bool) -> bool {
        if vector && vmath::is_vectorized(op) {
            for_pieces(v, 1, |v, _| {
                vmath::unary_in_place(op, v);
            });
            return true;
        }
        with_float_unary!(op, T, f => {
            for_pieces(v, 1, |v, _| v.iter_mut().for_each(|x| *x = f(*x)));
            true
        }, false)
    }
    let vector = x.rank() > 0;
    let done = match x.data_mut() {
        Data::F32(v) => Arc::get_mut(v).is_some_and(|v| in_place(op, v, vector)),
        Data::F64(v) => Arc::get_mut(v).is_some_and(|v| in_place(op, v, vector)),
        Data::Bool(_) | Data::I64(_) => false,
    };
    if done { Ok(x) } else { unary(op, &x) }
}

/// `out[i] = op(x[i])` over one block of a fused group, with the scalar
/// functions of [`unary`] (bools as 1 and 0 for `not`).
pub(crate) fn unary_block<T: Real>(op: UnaryOp, x: &[T], out: &mut [T]) {
    if vmath::is_vectorized(op) {
        out.copy_from_slice(x);
        vmath::unary_in_place(op, out);
        return;
    }
    let map = |f: &dyn Fn(T) -> T, out: &mut [T]| out.iter_mut().zip(x).for_each(|(o, &a)| *o = f(a));
    with_float_unary!(op, T, f => map(&f, out), map(&|a: T| truth::<T>(a == T::ZERO), out))
}

/// The address of an `extern "C" fn(T) -> T` that computes one element of
/// the float unary `op` exactly as [`unary_block`] does, for native loops
/// that call it element by element (the JIT's fused groups); `None` for the
/// ops without one.
pub(crate) fn unary_element_fn<T: Real>(op: UnaryOp) -> Option<usize> {
    extern "C" fn sigmoid_element<T: Real>(x: T) -> T {
        sigmoid(x)
    }
    extern "C" fn tan_element<T: Real>(x: T) -> T {
        x.tan()
    }
    if vmath::is_vectorized(op) {
        return vmath::element_fn::<T>(op);
    }
    match op {
        UnaryOp::Sigmoid => Some(sigmoid_element::<T> as *const () as usize),
        UnaryOp::Tan => Some(tan_element::<T> as *const () as usize),
        _ => None,
    }
}

/// 1 or 0: how fused groups hold bools among floats.
fn truth<T: Real>(b: bool) -> T {
    if b { T::ONE } else { T::ZERO }
}

/// `out[i] = op(a[i], b[i])` over one block of a fused group, with the
/// scalar functions of [`binary`]; comparisons give 1 or 0, and `and`/`or`
/// read nonzero as true.
pub(crate) fn binary_block<T: Real>(op: BinaryOp, a: &[T], b: &[T], out: &mut [T]) {
    fn zip<T: Copy>(a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
        out.iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (&x, &y))| *o = f(x, y));
    }
    with_float_arith!(op, T, f => zip(a, b, out, f), match op {
        BinaryOp::Lt => zip(a, b, out, |x, y| truth(x < y)),
        BinaryOp::Le => zip(a, b, out, |x, y| truth(x <= y)),
        BinaryOp::Gt => zip(a, b, out, |x, y| truth(x > y)),
        BinaryOp::Ge => zip(a, b, out, |x, y| truth(x >= y)),
        BinaryOp::Eq => zip(a, b, out, |x, y| truth(x == y)),
        BinaryOp::Ne => zip(a, b, out, |x, y| truth(x != y)),
        BinaryOp::And => zip(a, b, out, |x, y| truth(x != T::ZERO && y != T::ZERO)),
        _ => zip(a, b, out, |x, y| truth(x != T::ZERO || y != T::ZERO)),
    })
}

/// `out[i] = if c[i] != 0 { a[i] } else { b[i] }`: `where` in a fused group.
pub(crate) fn where_block<T: Real>(c: &[T], a: &[T], b: &[T], out: &mut [T]) {
    out.iter_mut()
        .zip(c.iter().zip(a.iter().zip(b)))
        .for_each(|(o, (&k, (&x, &y)))| *o = if k != T::ZERO { x } else { y });
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
    where_owned(c, a.clone(), b)
}

/// `where_(c, a, b)`, writing into `a`'s buffer when it has the result's
/// shape and no one else holds it.
pub fn where_owned(c: &Tensor, mut a: Tensor, b: &Tensor) -> KResult<Tensor> {
    let Data::Bool(cv) = c.data() else {
        return Err(KernelError::DType {
            op: "where",
            dtype: c.dtype(),
        });
    };
    let out = broadcast_shapes(&broadcast_shapes(c.shape(), a.shape())?, b.shape())?;
    let cb: Cow<[bool]> = if same_shape(c.shape(), &out) {
        Cow::Borrowed(cv.as_slice())
    } else {
        Cow::Owned(broadcast_to(cv, c.shape(), &out)?)
    };
    /// `x` (made result-shaped, in place when unshared) with `y` where `c` is false.
    fn select<T: Copy + Send + Sync>(
        c: &[bool],
        x: &mut Arc<Vec<T>>,
        sx: &[usize],
        y: &[T],
        sy: &[usize],
        out: &[usize],
    ) -> KResult<Arc<Vec<T>>> {
        let y = Operand::new(y, sy, out)?;
        if same_shape(sx, out)
            && let Some(v) = Arc::get_mut(x)
        {
            y.select_into(v, c);
            return Ok(x.clone());
        }
        let mut v = broadcast_to(x, sx, out)?;
        y.select_into(&mut v, c);
        Ok(Arc::new(v))
    }
    let sa = a.shared_shape();
    let sb = b.shape();
    let data = match (a.data_mut(), b.data()) {
        (Data::Bool(x), Data::Bool(y)) => Data::Bool(select(&cb, x, &sa, y, sb, &out)?),
        (Data::I64(x), Data::I64(y)) => Data::I64(select(&cb, x, &sa, y, sb, &out)?),
        (Data::F32(x), Data::F32(y)) => Data::F32(select(&cb, x, &sa, y, sb, &out)?),
        (Data::F64(x), Data::F64(y)) => Data::F64(select(&cb, x, &sa, y, sb, &out)?),
        (x, y) => {
            return Err(KernelError::DTypeMismatch {
                op: "where",
                a: x.dtype(),
                b: y.dtype(),
            });
        }
    };
    drop(a);
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

//! Tests of the elementwise kernels against hand-derived values.

use super::*;
use crate::runtime::DType;

fn ints(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::from_i64s(shape.to_vec(), v.to_vec()).unwrap()
}

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), v.to_vec()).unwrap()
}

fn f32s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F32, shape.to_vec(), v.to_vec()).unwrap()
}

#[test]
fn broadcasting_cases() {
    // [2, 3] + [3]
    let a = ints(&[2, 3], &[0, 1, 2, 3, 4, 5]);
    let b = ints(&[3], &[10, 20, 30]);
    let r = binary(BinaryOp::Add, &a, &b).unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_i64_vec(), vec![10, 21, 32, 13, 24, 35]);
    // [2, 1] * [1, 3] -> outer product
    let a = ints(&[2, 1], &[1, 2]);
    let b = ints(&[1, 3], &[1, 10, 100]);
    let r = binary(BinaryOp::Mul, &a, &b).unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_i64_vec(), vec![1, 10, 100, 2, 20, 200]);
    // scalar on either side
    let s = Tensor::scalar_i64(2);
    let v = ints(&[3], &[1, 2, 3]);
    assert_eq!(
        binary(BinaryOp::Sub, &s, &v).unwrap().to_i64_vec(),
        vec![1, 0, -1]
    );
    assert_eq!(
        binary(BinaryOp::Sub, &v, &s).unwrap().to_i64_vec(),
        vec![-1, 0, 1]
    );
    // rank-0 with rank-0
    let r = binary(BinaryOp::Mul, &s, &s).unwrap();
    assert_eq!(r.shape(), &[] as &[usize]);
    assert_eq!(r.as_scalar_i64(), Some(4));
    // [3, 1, 2] vs [4, 1]
    let a = f64s(&[3, 1, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = f64s(&[4, 1], &[0.0, 10.0, 20.0, 30.0]);
    let r = binary(BinaryOp::Add, &a, &b).unwrap();
    assert_eq!(r.shape(), &[3, 4, 2]);
    let v = r.to_f64_vec();
    assert_eq!(&v[..8], &[1.0, 2.0, 11.0, 12.0, 21.0, 22.0, 31.0, 32.0]);
    assert_eq!(&v[16..], &[5.0, 6.0, 15.0, 16.0, 25.0, 26.0, 35.0, 36.0]);
    // size-0 axes
    let e = f64s(&[0, 3], &[]);
    let r = binary(BinaryOp::Add, &e, &f64s(&[3], &[1.0, 2.0, 3.0])).unwrap();
    assert_eq!(r.shape(), &[0, 3]);
    // mismatch
    let err = binary(BinaryOp::Add, &ints(&[2], &[1, 2]), &ints(&[3], &[1, 2, 3])).unwrap_err();
    assert_eq!(
        err,
        KernelError::Broadcast {
            a: vec![2],
            b: vec![3]
        }
    );
    assert_eq!(err.message(), "cannot broadcast shapes [2] and [3]");
}

#[test]
fn int_division_signs() {
    let a = ints(&[4], &[-7, 7, -7, 7]);
    let b = ints(&[4], &[2, -2, -2, 2]);
    assert_eq!(
        binary(BinaryOp::Div, &a, &b).unwrap().to_i64_vec(),
        vec![-3, -3, 3, 3]
    );
    assert_eq!(
        binary(BinaryOp::Rem, &a, &b).unwrap().to_i64_vec(),
        vec![-1, 1, -1, 1]
    );
    let m = ints(&[1], &[i64::MIN]);
    let n1 = ints(&[1], &[-1]);
    assert_eq!(
        binary(BinaryOp::Div, &m, &n1).unwrap().to_i64_vec(),
        vec![i64::MIN]
    );
    assert_eq!(binary(BinaryOp::Rem, &m, &n1).unwrap().to_i64_vec(), vec![0]);
    let z = ints(&[2], &[1, 0]);
    let err = binary(
        BinaryOp::Div,
        &a.clone(),
        &binary(BinaryOp::Mul, &z, &Tensor::scalar_i64(1)).unwrap(),
    )
    .unwrap_err();
    // shapes [4] and [2] do not broadcast: that error comes first
    assert!(matches!(err, KernelError::Broadcast { .. }));
    let err = binary(BinaryOp::Div, &Tensor::scalar_i64(1), &z).unwrap_err();
    assert_eq!(err, KernelError::IntDivisionByZero);
    assert!(err.message().contains("division by zero"));
    assert_eq!(
        binary(BinaryOp::Rem, &z, &Tensor::scalar_i64(0)).unwrap_err(),
        KernelError::IntDivisionByZero
    );
    // overflow wraps rather than panicking
    let big = ints(&[1], &[i64::MAX]);
    assert_eq!(
        binary(BinaryOp::Add, &big, &ints(&[1], &[1]))
            .unwrap()
            .to_i64_vec(),
        vec![i64::MIN]
    );
}

#[test]
fn int_pow() {
    let a = ints(&[4], &[2, -3, 0, 5]);
    let b = ints(&[4], &[10, 3, 0, 1]);
    assert_eq!(
        binary(BinaryOp::Pow, &a, &b).unwrap().to_i64_vec(),
        vec![1024, -27, 1, 5]
    );
    let err = binary(BinaryOp::Pow, &a, &Tensor::scalar_i64(-1)).unwrap_err();
    assert_eq!(err, KernelError::NegativeIntExponent { exponent: -1 });
    let r = binary(
        BinaryOp::Pow,
        &Tensor::scalar_i64(3),
        &Tensor::scalar_i64(i64::MAX),
    )
    .unwrap();
    assert!(r.as_scalar_i64().is_some());
}

#[test]
fn float_ops_ieee() {
    let a = f64s(&[3], &[1.0, -1.0, 0.0]);
    let z = Tensor::scalar_float(0.0, DType::F64);
    let r = binary(BinaryOp::Div, &a, &z).unwrap().to_f64_vec();
    assert_eq!(r[0], f64::INFINITY);
    assert_eq!(r[1], f64::NEG_INFINITY);
    assert!(r[2].is_nan());
    let r = binary(BinaryOp::Rem, &f64s(&[1], &[-7.5]), &f64s(&[1], &[2.0])).unwrap();
    assert_eq!(r.to_f64_vec(), vec![-1.5]);
    let r = binary(BinaryOp::Pow, &f32s(&[2], &[2.0, 9.0]), &f32s(&[2], &[3.0, 0.5])).unwrap();
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_f64_vec(), vec![8.0, 3.0]);
    let nan = f64s(&[2], &[f64::NAN, 1.0]);
    let r = binary(BinaryOp::Maximum, &nan, &f64s(&[2], &[0.0, 2.0]))
        .unwrap()
        .to_f64_vec();
    assert!(r[0].is_nan());
    assert_eq!(r[1], 2.0);
    let r = binary(BinaryOp::Minimum, &nan, &f64s(&[2], &[0.0, 2.0]))
        .unwrap()
        .to_f64_vec();
    assert!(r[0].is_nan());
    assert_eq!(r[1], 1.0);
}

#[test]
fn comparisons_and_logic() {
    let a = f32s(&[3], &[1.0, 2.0, 3.0]);
    let b = Tensor::scalar_float(2.0, DType::F32);
    let r = binary(BinaryOp::Lt, &a, &b).unwrap();
    assert_eq!(r.dtype(), DType::Bool);
    assert_eq!(r.to_i64_vec(), vec![1, 0, 0]);
    assert_eq!(binary(BinaryOp::Ge, &a, &b).unwrap().to_i64_vec(), vec![0, 1, 1]);
    assert_eq!(binary(BinaryOp::Eq, &a, &b).unwrap().to_i64_vec(), vec![0, 1, 0]);
    assert_eq!(binary(BinaryOp::Ne, &a, &b).unwrap().to_i64_vec(), vec![1, 0, 1]);
    let i = ints(&[2], &[1, 5]);
    assert_eq!(
        binary(BinaryOp::Le, &i, &Tensor::scalar_i64(1))
            .unwrap()
            .to_i64_vec(),
        vec![1, 0]
    );
    assert_eq!(
        binary(BinaryOp::Gt, &i, &Tensor::scalar_i64(1))
            .unwrap()
            .to_i64_vec(),
        vec![0, 1]
    );
    let p = Tensor::from_bools(vec![4], vec![true, true, false, false]).unwrap();
    let q = Tensor::from_bools(vec![4], vec![true, false, true, false]).unwrap();
    assert_eq!(
        binary(BinaryOp::And, &p, &q).unwrap().to_i64_vec(),
        vec![1, 0, 0, 0]
    );
    assert_eq!(
        binary(BinaryOp::Or, &p, &q).unwrap().to_i64_vec(),
        vec![1, 1, 1, 0]
    );
    assert_eq!(
        binary(BinaryOp::Lt, &p, &q).unwrap().to_i64_vec(),
        vec![0, 0, 1, 0]
    );
    assert!(binary(BinaryOp::And, &a, &a).unwrap_err().is_internal());
    assert!(binary(BinaryOp::Add, &p, &q).unwrap_err().is_internal());
    let err = binary(BinaryOp::Add, &f32s(&[2], &[1.0, 2.0]), &i).unwrap_err();
    assert!(matches!(err, KernelError::DTypeMismatch { .. }));
}

#[test]
fn unary_ops() {
    let x = f64s(&[4], &[-1.5, -0.5, 0.5, 2.5]);
    let u = |op| unary(op, &x).unwrap().to_f64_vec();
    assert_eq!(u(UnaryOp::Neg), vec![1.5, 0.5, -0.5, -2.5]);
    assert_eq!(u(UnaryOp::Abs), vec![1.5, 0.5, 0.5, 2.5]);
    assert_eq!(u(UnaryOp::Sign), vec![-1.0, -1.0, 1.0, 1.0]);
    assert_eq!(u(UnaryOp::Relu), vec![0.0, 0.0, 0.5, 2.5]);
    assert_eq!(u(UnaryOp::Floor), vec![-2.0, -1.0, 0.0, 2.0]);
    assert_eq!(u(UnaryOp::Ceil), vec![-1.0, -0.0, 1.0, 3.0]);
    assert_eq!(u(UnaryOp::Round), vec![-2.0, -1.0, 1.0, 3.0]);
    let e = f64s(&[2], &[0.0, 1.0]);
    assert_eq!(
        unary(UnaryOp::Exp, &e).unwrap().to_f64_vec(),
        vec![1.0, std::f64::consts::E]
    );
    assert_eq!(
        unary(UnaryOp::Log, &e).unwrap().to_f64_vec()[0],
        f64::NEG_INFINITY
    );
    assert_eq!(
        unary(UnaryOp::Sqrt, &f64s(&[1], &[9.0])).unwrap().to_f64_vec(),
        vec![3.0]
    );
    assert_eq!(unary(UnaryOp::Tanh, &e).unwrap().to_f64_vec()[0], 0.0);
    assert_eq!(unary(UnaryOp::Sin, &e).unwrap().to_f64_vec()[0], 0.0);
    assert_eq!(unary(UnaryOp::Cos, &e).unwrap().to_f64_vec()[0], 1.0);
    assert_eq!(unary(UnaryOp::Tan, &e).unwrap().to_f64_vec()[0], 0.0);
    assert_eq!(
        unary(UnaryOp::Sign, &f64s(&[1], &[0.0])).unwrap().to_f64_vec(),
        vec![0.0]
    );
    assert!(
        unary(UnaryOp::Sign, &f64s(&[1], &[f64::NAN]))
            .unwrap()
            .to_f64_vec()[0]
            .is_nan()
    );
    assert!(unary(UnaryOp::Not, &x).unwrap_err().is_internal());
}

#[test]
fn sigmoid_is_stable() {
    let x = f32s(&[5], &[-1000.0, -20.0, 0.0, 20.0, 1000.0]);
    let r = unary(UnaryOp::Sigmoid, &x).unwrap().to_f64_vec();
    assert_eq!(r[0], 0.0);
    assert!(r[1] > 0.0 && r[1] < 1e-8);
    assert_eq!(r[2], 0.5);
    assert_eq!(r[4], 1.0);
    assert!(r.iter().all(|v| v.is_finite()));
    let x = f64s(&[2], &[-800.0, 800.0]);
    assert_eq!(unary(UnaryOp::Sigmoid, &x).unwrap().to_f64_vec(), vec![0.0, 1.0]);
}

#[test]
fn int_and_bool_unary() {
    let i = ints(&[3], &[-3, 0, 4]);
    let u = |op| unary(op, &i).unwrap().to_i64_vec();
    assert_eq!(u(UnaryOp::Neg), vec![3, 0, -4]);
    assert_eq!(u(UnaryOp::Abs), vec![3, 0, 4]);
    assert_eq!(u(UnaryOp::Sign), vec![-1, 0, 1]);
    assert_eq!(u(UnaryOp::Relu), vec![0, 0, 4]);
    assert_eq!(u(UnaryOp::Round), vec![-3, 0, 4]);
    assert_eq!(unary(UnaryOp::Floor, &i).unwrap().dtype(), DType::I64);
    assert!(unary(UnaryOp::Exp, &i).unwrap_err().is_internal());
    let b = Tensor::from_bools(vec![2], vec![true, false]).unwrap();
    assert_eq!(unary(UnaryOp::Not, &b).unwrap().to_i64_vec(), vec![0, 1]);
    assert!(unary(UnaryOp::Neg, &b).is_err());
    assert_eq!(
        unary(UnaryOp::Neg, &ints(&[1], &[i64::MIN]))
            .unwrap()
            .to_i64_vec(),
        vec![i64::MIN]
    );
}

#[test]
fn where_and_clip() {
    let c = Tensor::from_bools(vec![3], vec![true, false, true]).unwrap();
    let a = f32s(&[3], &[1.0, 2.0, 3.0]);
    let b = Tensor::scalar_float(0.0, DType::F32);
    let r = where_(&c, &a, &b).unwrap();
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_f64_vec(), vec![1.0, 0.0, 3.0]);
    // c broadcast across rows
    let c2 = Tensor::from_bools(vec![2, 1], vec![true, false]).unwrap();
    let r = where_(
        &c2,
        &ints(&[3], &[1, 2, 3]),
        &ints(&[2, 3], &[7, 8, 9, 10, 11, 12]),
    )
    .unwrap();
    assert_eq!(r.shape(), &[2, 3]);
    assert_eq!(r.to_i64_vec(), vec![1, 2, 3, 10, 11, 12]);
    assert!(where_(&a, &a, &a).unwrap_err().is_internal());
    assert!(matches!(
        where_(&c, &a, &ints(&[3], &[1, 2, 3])).unwrap_err(),
        KernelError::DTypeMismatch { .. }
    ));
    assert!(matches!(
        where_(&c, &a, &f32s(&[2], &[1.0, 2.0])).unwrap_err(),
        KernelError::Broadcast { .. }
    ));
    let x = f64s(&[4], &[-2.0, 0.5, 3.0, f64::NAN]);
    let r = clip(
        &x,
        &Tensor::scalar_float(0.0, DType::F64),
        &Tensor::scalar_float(1.0, DType::F64),
    )
    .unwrap()
    .to_f64_vec();
    assert_eq!(&r[..3], &[0.0, 0.5, 1.0]);
    assert!(r[3].is_nan());
    let r = clip(
        &ints(&[3], &[-5, 5, 50]),
        &ints(&[3], &[0, 0, 0]),
        &Tensor::scalar_i64(10),
    )
    .unwrap();
    assert_eq!(r.to_i64_vec(), vec![0, 5, 10]);
}

#[test]
fn casts() {
    let x = f64s(&[4], &[1.9, -1.9, 0.0, f64::NAN]);
    assert_eq!(cast(&x, DType::I64).to_i64_vec(), vec![1, -1, 0, 0]);
    assert_eq!(cast(&x, DType::Bool).to_i64_vec(), vec![1, 1, 0, 1]);
    let f = cast(&x, DType::F32);
    assert_eq!(f.dtype(), DType::F32);
    assert_eq!(f.to_f64_vec()[0], f64::from(1.9f32));
    let b = Tensor::from_bools(vec![2], vec![true, false]).unwrap();
    assert_eq!(cast(&b, DType::F64).to_f64_vec(), vec![1.0, 0.0]);
    assert_eq!(cast(&b, DType::I64).to_i64_vec(), vec![1, 0]);
    let i = ints(&[2, 1], &[3, 0]);
    let c = cast(&i, DType::F32);
    assert_eq!(c.shape(), &[2, 1]);
    assert_eq!(c.to_f64_vec(), vec![3.0, 0.0]);
    assert_eq!(cast(&i, DType::Bool).to_i64_vec(), vec![1, 0]);
    assert_eq!(cast(&i, DType::I64), i);
}

#[test]
fn owned_binary_reuses_an_unshared_buffer() {
    use crate::ir::op::BinaryOp::{Add, Lt, Mul, Sub};
    // Left operand of the result's shape: written in place.
    let a = f32s(&[3], &[1.0, 2.0, 3.0]);
    let addr = a.buffer_addr();
    let r = binary_owned(Add, a, f32s(&[], &[1.0])).unwrap();
    assert_eq!(r.buffer_addr(), addr);
    assert_eq!(r.to_f64_vec(), vec![2.0, 3.0, 4.0]);
    // Shared: a new buffer, and the other holder sees no change.
    let keep = r.clone();
    let r2 = binary_owned(Mul, r, keep.clone()).unwrap();
    assert_ne!(r2.buffer_addr(), keep.buffer_addr());
    assert_eq!(keep.to_f64_vec(), vec![2.0, 3.0, 4.0]);
    assert_eq!(r2.to_f64_vec(), vec![4.0, 9.0, 16.0]);
    // Only the right operand has the result's shape: it receives the result,
    // with the operands in their order (10 - v, not v - 10).
    let v = f64s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let addr = v.buffer_addr();
    let r = binary_owned(Sub, f64s(&[2], &[10.0, 20.0]), v).unwrap();
    assert_eq!(r.buffer_addr(), addr);
    assert_eq!(r.to_f64_vec(), vec![9.0, 18.0, 7.0, 16.0]);
    // A bias row broadcast over a matrix, in place.
    let m = f32s(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let addr = m.buffer_addr();
    let r = binary_owned(Add, m, f32s(&[1, 3], &[10.0, 20.0, 30.0])).unwrap();
    assert_eq!(r.buffer_addr(), addr);
    assert_eq!(r.to_f64_vec(), vec![10.0, 21.0, 32.0, 13.0, 24.0, 35.0]);
    // A comparison has a bool result: never in place, and still right.
    let r = binary_owned(Lt, f32s(&[2], &[1.0, 5.0]), f32s(&[], &[2.0])).unwrap();
    assert_eq!(r.dtype(), DType::Bool);
    assert_eq!(r.to_f64_vec(), vec![1.0, 0.0]);
}

#[test]
fn owned_unary_and_where_reuse_an_unshared_buffer() {
    let x = f32s(&[3], &[-1.0, 0.5, 2.0]);
    let addr = x.buffer_addr();
    let r = unary_owned(UnaryOp::Relu, x).unwrap();
    assert_eq!(r.buffer_addr(), addr);
    assert_eq!(r.to_f64_vec(), vec![0.0, 0.5, 2.0]);
    let shared = r.clone();
    let e = unary_owned(UnaryOp::Neg, r).unwrap();
    assert_ne!(e.buffer_addr(), shared.buffer_addr());
    assert_eq!(shared.to_f64_vec(), vec![0.0, 0.5, 2.0]);
    // The relu adjoint `where(x > 0, g, 0)`.
    let c = Tensor::from_bools(vec![3], vec![false, true, true]).unwrap();
    let g = f32s(&[3], &[7.0, 8.0, 9.0]);
    let addr = g.buffer_addr();
    let w = where_owned(&c, g, &f32s(&[], &[0.0])).unwrap();
    assert_eq!(w.buffer_addr(), addr);
    assert_eq!(w.to_f64_vec(), vec![0.0, 8.0, 9.0]);
    // Broadcast condition and a shared operand: a fresh, correct result.
    let c = Tensor::from_bools(vec![2, 1], vec![true, false]).unwrap();
    let a = f64s(&[2], &[1.0, 2.0]);
    let w = where_owned(&c, a.clone(), &f64s(&[2, 2], &[5.0, 6.0, 7.0, 8.0])).unwrap();
    assert_eq!(w.to_f64_vec(), vec![1.0, 2.0, 7.0, 8.0]);
    assert_eq!(a.to_f64_vec(), vec![1.0, 2.0]);
}

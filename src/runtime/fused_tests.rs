//! Fused groups against the same ops run one by one with the whole-tensor
//! kernels (which are tested against hand-derived values): results must be
//! bitwise equal.

use super::*;
use crate::runtime::{binary, unary, where_};

fn f32s(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_f32s(shape.to_vec(), v).unwrap()
}

/// Deterministic values in [-1.5, 1.5].
fn wave(n: usize) -> Vec<f32> {
    (0..n).map(|i| 1.5 * ((i as f32) * 0.37).sin()).collect()
}

fn same_bits(a: &Tensor, b: &Tensor) {
    assert_eq!(a.shape(), b.shape());
    assert_eq!(a.dtype(), b.dtype());
    match (a.data(), b.data()) {
        (Data::F32(x), Data::F32(y)) => {
            assert!(x.iter().zip(y.iter()).all(|(p, q)| p.to_bits() == q.to_bits()))
        }
        (Data::F64(x), Data::F64(y)) => {
            assert!(x.iter().zip(y.iter()).all(|(p, q)| p.to_bits() == q.to_bits()))
        }
        (Data::Bool(x), Data::Bool(y)) => assert_eq!(x, y),
        _ => panic!("unexpected data"),
    }
}

fn step(op: FusedOp, args: &[usize]) -> FusedStep {
    FusedStep {
        op,
        args: args.to_vec(),
    }
}

/// `s = exp(x) + exp(x * x); exp(s) + sin(s)` and the mask `s > 2`, at
/// lengths that are not multiples of a block, and at one that splits over
/// the cores.
#[test]
fn seed_function_matches_the_ops_one_by_one() {
    use BinaryOp::*;
    use UnaryOp::*;
    let steps = [
        step(FusedOp::Unary(Exp), &[0]),     // 2
        step(FusedOp::Binary(Mul), &[0, 0]), // 3
        step(FusedOp::Unary(Exp), &[3]),     // 4
        step(FusedOp::Binary(Add), &[2, 4]), // 5 s
        step(FusedOp::Unary(Exp), &[5]),     // 6
        step(FusedOp::Unary(Sin), &[5]),     // 7
        step(FusedOp::Binary(Add), &[6, 7]), // 8
        step(FusedOp::Binary(Gt), &[5, 1]),  // 9
    ];
    let kernel = FusedKernel::new(DType::F32, vec![false, false], &steps, &[8, 9, 5]);
    for n in [1, 7, 256, 1000, PARALLEL_MIN * 2 + 3] {
        let x = f32s(&[n], wave(n));
        let two = Tensor::scalar_float(2.0, DType::F32);
        let outs = kernel.run(vec![x.clone(), two.clone()]).unwrap();
        let e = unary(Exp, &x).unwrap();
        let sq = binary(Mul, &x, &x).unwrap();
        let s = binary(Add, &e, &unary(Exp, &sq).unwrap()).unwrap();
        let want = binary(Add, &unary(Exp, &s).unwrap(), &unary(Sin, &s).unwrap()).unwrap();
        same_bits(&outs[0], &want);
        same_bits(&outs[1], &binary(Gt, &s, &two).unwrap());
        same_bits(&outs[2], &s);
    }
}

/// A bias row repeated over a batch, ReLU, and the adjoint's `where` on a
/// bool input.
#[test]
fn bias_rows_bool_inputs_and_where() {
    use BinaryOp::*;
    let (rows, cols) = (5, 3);
    let h = f32s(&[rows, cols], wave(rows * cols));
    let b = f32s(&[cols], vec![0.25, -0.5, 1.0]);
    let mask = Tensor::from_bools(vec![rows, cols], (0..rows * cols).map(|i| i % 3 != 1).collect()).unwrap();
    let zero = Tensor::scalar_float(0.0, DType::F32);
    let steps = [
        step(FusedOp::Binary(Add), &[0, 1]),       // 4: h + b
        step(FusedOp::Unary(UnaryOp::Relu), &[4]), // 5
        step(FusedOp::Where, &[2, 5, 3]),          // 6
        step(FusedOp::Unary(UnaryOp::Not), &[2]),  // 7
    ];
    let kernel = FusedKernel::new(DType::F32, vec![false, false, true, false], &steps, &[6, 7]);
    let outs = kernel
        .run(vec![h.clone(), b.clone(), mask.clone(), zero.clone()])
        .unwrap();
    let relu = unary(UnaryOp::Relu, &binary(Add, &h, &b).unwrap()).unwrap();
    same_bits(&outs[0], &where_(&mask, &relu, &zero).unwrap());
    same_bits(&outs[1], &unary(UnaryOp::Not, &mask).unwrap());
}

#[test]
fn inputs_of_another_shape_or_dtype_are_refused() {
    let steps = [step(FusedOp::Binary(BinaryOp::Add), &[0, 1])];
    let kernel = FusedKernel::new(DType::F32, vec![false, false], &steps, &[2]);
    let a = f32s(&[2, 3], wave(6));
    // [2, 1] broadcasts in `binary`, but is not one of the group's forms.
    assert!(kernel.accepts(&[&a, &f32s(&[2, 1], wave(2))]).is_none());
    let d = Tensor::from_f64s(DType::F64, vec![2, 3], vec![0.0; 6]).unwrap();
    assert!(kernel.accepts(&[&a, &d]).is_none());
    assert!(kernel.run(vec![a.clone(), d]).is_err());
    assert!(kernel.accepts(&[&a]).is_none());
    let ok = kernel.run(vec![a.clone(), f32s(&[3], wave(3))]).unwrap();
    same_bits(&ok[0], &binary(BinaryOp::Add, &a, &f32s(&[3], wave(3))).unwrap());
}

/// Many values alive at once, and registers reused after their last read.
#[test]
fn registers_are_reused_without_clobbering_live_values() {
    use BinaryOp::*;
    let x = Tensor::from_f64s(
        DType::F64,
        vec![300],
        (0..300).map(|i| f64::from(i) * 0.01).collect(),
    )
    .unwrap();
    // Six copies of x * x (values 1..=6), summed left to right; the sixth
    // is an output too.
    let mut steps = Vec::new();
    for _ in 1..=6 {
        steps.push(step(FusedOp::Binary(Mul), &[0, 0]));
    }
    let mut acc = 1;
    for k in 2..=6 {
        steps.push(step(FusedOp::Binary(Add), &[acc, k]));
        acc = steps.len();
    }
    let kernel = FusedKernel::new(DType::F64, vec![false], &steps, &[acc, 6]);
    let outs = kernel.run(vec![x.clone()]).unwrap();
    let sq = binary(Mul, &x, &x).unwrap();
    let mut want = sq.clone();
    for _ in 2..=6 {
        want = binary(Add, &want, &sq).unwrap();
    }
    same_bits(&outs[0], &want);
    same_bits(&outs[1], &sq);
    assert!(kernel.registers < 7, "{} registers", kernel.registers);
}

/// An unshared input of the group's shape lends its buffer to an output;
/// every block reads it before writing over it.
#[test]
fn an_unshared_input_becomes_an_output_in_place() {
    use BinaryOp::*;
    let n = PARALLEL_MIN + 1000;
    let steps = [
        step(FusedOp::Binary(Mul), &[0, 1]),      // 2: x * 0.5
        step(FusedOp::Binary(Add), &[2, 0]),      // 3: + x
        step(FusedOp::Unary(UnaryOp::Cos), &[3]), // 4
    ];
    let kernel = FusedKernel::new(DType::F64, vec![false, false], &steps, &[4, 2]);
    let values: Vec<f64> = (0..n).map(|i| (i as f64) * 1e-4).collect();
    let x = Tensor::from_f64s(DType::F64, vec![n], values).unwrap();
    let half = Tensor::scalar_float(0.5, DType::F64);
    let want = {
        let h = binary(Mul, &x, &half).unwrap();
        (unary(UnaryOp::Cos, &binary(Add, &h, &x).unwrap()).unwrap(), h)
    };
    let addr = x.buffer_addr();
    let outs = kernel.run(vec![x, half]).unwrap();
    assert_eq!(outs[0].buffer_addr(), addr);
    same_bits(&outs[0], &want.0);
    same_bits(&outs[1], &want.1);
}

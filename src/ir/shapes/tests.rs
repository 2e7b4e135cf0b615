use super::*;
use crate::ir::op::{BinaryOp, IndexItem, ReduceOp, UnaryOp};

fn t(dtype: DType, dims: &[Option<usize>]) -> Ty {
    Ty::Tensor(TensorTy::new(dtype, Shape(dims.to_vec())))
}

fn k(dtype: DType, dims: &[usize]) -> Ty {
    Ty::Tensor(TensorTy::new(dtype, Shape::known(dims)))
}

fn weak(dtype: DType) -> Ty {
    Ty::Tensor(TensorTy {
        dtype,
        shape: Shape::scalar(),
        weak: true,
    })
}

fn run(prim: Prim, tys: &[Ty]) -> Result<Ty, ShapeError> {
    run_known(prim, tys, &[])
}

fn run_known(prim: Prim, tys: &[Ty], known: &[(usize, Known)]) -> Result<Ty, ShapeError> {
    let ops: Vec<Operand<'_>> = tys
        .iter()
        .enumerate()
        .map(|(i, ty)| Operand {
            ty,
            known: known.iter().find(|(j, _)| *j == i).map(|(_, k)| k),
        })
        .collect();
    result_type(&prim, &ops, DType::F32)
}

fn err(r: Result<Ty, ShapeError>) -> String {
    r.unwrap_err().message
}

const F32: DType = DType::F32;
const F64: DType = DType::F64;
const INT: DType = DType::I64;
const BOOL: DType = DType::Bool;

#[test]
fn broadcast_rules() {
    let b = |x: &[Option<usize>], y: &[Option<usize>]| broadcast(&Shape(x.to_vec()), &Shape(y.to_vec()));
    assert_eq!(b(&[Some(2), Some(1)], &[Some(3)]).unwrap(), Shape::known(&[2, 3]));
    assert_eq!(b(&[Some(1)], &[None]).unwrap(), Shape(vec![None]));
    assert_eq!(b(&[None], &[None]).unwrap(), Shape(vec![None]));
    assert_eq!(b(&[None], &[Some(4)]).unwrap(), Shape::known(&[4]));
    assert_eq!(b(&[], &[Some(4)]).unwrap(), Shape::known(&[4]));
    assert_eq!(
        b(&[Some(2)], &[Some(3)]).unwrap_err().message,
        "cannot broadcast shapes [2] and [3]"
    );
}

#[test]
fn promotion() {
    let tt = |d| TensorTy::scalar(d);
    let w = TensorTy {
        weak: true,
        ..TensorTy::scalar(F32)
    };
    assert_eq!(promote(&[&tt(F32), &tt(F64)], F32).unwrap(), (F64, false));
    assert_eq!(promote(&[&tt(F64), &w], F32).unwrap(), (F64, false));
    assert_eq!(promote(&[&tt(INT), &w], F64).unwrap(), (F64, true));
    assert_eq!(promote(&[&w, &w], F32).unwrap(), (F32, true));
    assert_eq!(promote(&[&tt(BOOL), &tt(INT)], F32).unwrap(), (INT, false));
    assert_eq!(promote(&[&tt(BOOL), &tt(F32)], F32).unwrap(), (F32, false));
    assert_eq!(promote(&[&tt(BOOL), &tt(BOOL)], F32).unwrap(), (BOOL, false));
}

#[test]
fn binary_family() {
    let add = Prim::Binary(BinaryOp::Add);
    assert_eq!(
        run(add.clone(), &[k(F32, &[2, 1]), k(F64, &[3])]).unwrap(),
        k(F64, &[2, 3])
    );
    assert_eq!(run(add.clone(), &[Ty::bool(), Ty::bool()]).unwrap(), Ty::int());
    assert_eq!(run(add.clone(), &[Ty::int(), weak(F32)]).unwrap(), weak(F32));
    assert_eq!(
        run(add.clone(), &[k(F64, &[2]), weak(F32)]).unwrap(),
        k(F64, &[2])
    );
    assert_eq!(
        err(run(add, &[k(F32, &[2]), k(F32, &[3])])),
        "cannot broadcast shapes [2] and [3]"
    );
    assert_eq!(
        run(Prim::Binary(BinaryOp::Lt), &[k(F32, &[2]), weak(F32)]).unwrap(),
        k(BOOL, &[2])
    );
    assert!(err(run(Prim::Binary(BinaryOp::And), &[Ty::bool(), Ty::int()])).contains("bool"));
    assert!(err(run(Prim::Binary(BinaryOp::Add), &[Ty::int()])).contains("takes 2 operands"));
}

#[test]
fn unary_family() {
    assert_eq!(
        run(Prim::Unary(UnaryOp::Exp), &[k(INT, &[3])]).unwrap(),
        k(F32, &[3])
    );
    assert_eq!(run(Prim::Unary(UnaryOp::Sqrt), &[weak(F32)]).unwrap(), weak(F32));
    assert_eq!(run(Prim::Unary(UnaryOp::Abs), &[Ty::int()]).unwrap(), Ty::int());
    assert!(err(run(Prim::Unary(UnaryOp::Neg), &[Ty::bool()])).contains("bool"));
    assert!(err(run(Prim::Unary(UnaryOp::Not), &[Ty::int()])).contains("bool"));
    assert!(err(run(Prim::Unary(UnaryOp::Exp), &[Ty::Str])).contains("found a string"));
}

#[test]
fn where_clip_cast() {
    assert_eq!(
        run(Prim::Where, &[k(BOOL, &[2, 1]), k(F32, &[3]), Ty::int()]).unwrap(),
        k(F32, &[2, 3])
    );
    assert_eq!(
        err(run(Prim::Where, &[k(F32, &[2]), k(F32, &[2]), k(F32, &[2])])),
        "condition must be bool, found float"
    );
    let clipped = run(Prim::Clip, &[k(INT, &[2]), Ty::int(), weak(F32)]).unwrap();
    assert_eq!(clipped.as_tensor().map(|t| (t.dtype, t.weak)), Some((F32, true)));
    assert_eq!(run(Prim::Cast(F64), &[k(INT, &[2])]).unwrap(), k(F64, &[2]));
}

#[test]
fn matmul_family() {
    let mm = |a: Ty, b: Ty| run(Prim::MatMul, &[a, b]);
    assert_eq!(mm(k(F32, &[3]), k(F32, &[3])).unwrap(), Ty::scalar(F32));
    assert_eq!(mm(k(F32, &[2, 3]), k(F32, &[3])).unwrap(), k(F32, &[2]));
    assert_eq!(mm(k(F32, &[3]), k(F32, &[3, 4])).unwrap(), k(F32, &[4]));
    assert_eq!(mm(k(F32, &[2, 3]), k(F64, &[3, 4])).unwrap(), k(F64, &[2, 4]));
    assert_eq!(
        mm(k(F32, &[5, 2, 3]), k(F32, &[3, 4])).unwrap(),
        k(F32, &[5, 2, 4])
    );
    assert_eq!(
        mm(t(F32, &[None, Some(2), Some(3)]), k(F32, &[1, 3, 4])).unwrap(),
        t(F32, &[None, Some(2), Some(4)])
    );
    assert_eq!(
        err(mm(k(F32, &[1, 2]), k(F32, &[1, 2]))),
        "matrix product: inner dimensions differ ([1, 2] @ [1, 2]: 2 vs 1)"
    );
    assert!(err(mm(k(BOOL, &[2, 2]), k(F32, &[2, 2]))).contains("bool"));
}

#[test]
fn reduce_family() {
    let r = |op, axis, keepdims| Prim::Reduce { op, axis, keepdims };
    assert_eq!(
        run(r(ReduceOp::Sum, Some(1), false), &[k(INT, &[2, 3])]).unwrap(),
        k(INT, &[2])
    );
    assert_eq!(
        run(r(ReduceOp::Sum, Some(1), true), &[k(F32, &[2, 3])]).unwrap(),
        k(F32, &[2, 1])
    );
    assert_eq!(
        run(r(ReduceOp::Mean, None, false), &[k(INT, &[2, 3])]).unwrap(),
        Ty::scalar(F32)
    );
    assert_eq!(
        run(r(ReduceOp::Mean, None, true), &[k(BOOL, &[2, 3])]).unwrap(),
        k(F32, &[1, 1])
    );
    assert_eq!(
        run(r(ReduceOp::Max, None, false), &[k(BOOL, &[2])]).unwrap(),
        Ty::scalar(F32)
    );
    assert_eq!(
        run(r(ReduceOp::Argmax, Some(0), false), &[k(F64, &[2, 3])]).unwrap(),
        k(INT, &[3])
    );
    assert!(err(run(r(ReduceOp::Sum, Some(2), false), &[k(F32, &[2, 3])])).contains("out of range"));
}

#[test]
fn index_family() {
    let at = IndexItem::At;
    let lo = IndexItem::Slice { lo: true, hi: false };
    let v = k(F32, &[2]);
    assert_eq!(
        err(run_known(
            Prim::Index(vec![at]),
            &[v.clone(), Ty::int()],
            &[(1, Known::Int(5))]
        )),
        "index 5 is out of range for axis 0 of length 2"
    );
    assert_eq!(
        run_known(
            Prim::Index(vec![at]),
            &[v.clone(), Ty::int()],
            &[(1, Known::Int(-1))]
        )
        .unwrap(),
        Ty::scalar(F32)
    );
    let m = k(F32, &[4, 5]);
    assert_eq!(
        run_known(
            Prim::Index(vec![lo]),
            &[m.clone(), Ty::int()],
            &[(1, Known::Int(-3))]
        )
        .unwrap(),
        k(F32, &[3, 5])
    );
    assert_eq!(
        run(Prim::Index(vec![lo, at]), &[m.clone(), Ty::int(), Ty::int()]).unwrap(),
        t(F32, &[None])
    );
    let all = IndexItem::Slice { lo: false, hi: false };
    assert_eq!(
        run(Prim::Index(vec![all, at]), &[m, Ty::int()]).unwrap(),
        k(F32, &[4])
    );
    assert!(err(run(Prim::Index(vec![at, at]), &[v, Ty::int(), Ty::int()])).contains("too many indices"));
}

#[test]
fn shape_constructors() {
    assert_eq!(
        run(Prim::Shape, &[k(F32, &[2, 3])]).unwrap(),
        Ty::Tuple(vec![Ty::int(), Ty::int()])
    );
    assert_eq!(run(Prim::Len, &[k(F32, &[2, 3])]).unwrap(), Ty::int());
    assert_eq!(err(run(Prim::Len, &[Ty::scalar(F32)])), "len of a scalar");
    let shape = k(INT, &[2]);
    assert_eq!(
        run_known(
            Prim::Full(F32),
            &[shape.clone(), weak(F32)],
            &[(0, Known::Ints(vec![2, 3]))]
        )
        .unwrap(),
        k(F32, &[2, 3])
    );
    assert_eq!(
        run(Prim::Full(F32), &[shape, Ty::int()]).unwrap(),
        t(F32, &[None, None])
    );
    let tup = Ty::Tuple(vec![Ty::int(); 3]);
    assert_eq!(
        run(Prim::Full(BOOL), &[tup, Ty::bool()]).unwrap(),
        t(BOOL, &[None, None, None])
    );
    assert_eq!(
        run_known(Prim::Arange, &[Ty::int()], &[(0, Known::Int(4))]).unwrap(),
        k(INT, &[4])
    );
    assert_eq!(
        run(
            Prim::Linspace(F64),
            &[Ty::scalar(F32), Ty::scalar(F32), Ty::int()]
        )
        .unwrap(),
        t(F64, &[None])
    );
    assert_eq!(
        run_known(Prim::Eye(F32), &[Ty::int()], &[(0, Known::Int(3))]).unwrap(),
        k(F32, &[3, 3])
    );
}

#[test]
fn stack_family() {
    let lit = Prim::Stack {
        dtype: F32,
        literal: true,
    };
    assert_eq!(
        run(lit.clone(), &[k(F32, &[2]), k(F32, &[2]), k(F32, &[2])]).unwrap(),
        k(F32, &[3, 2])
    );
    assert_eq!(
        err(run(lit.clone(), &[k(F32, &[2]), k(F32, &[1])])),
        "ragged tensor literal: row 2 has length 1, but row 1 has length 2"
    );
    let m = err(run(lit, &[Ty::bool(), Ty::scalar(F32)]));
    assert!(m.contains("bool") && m.contains("type"), "{m}");
    let st = Prim::Stack {
        dtype: F32,
        literal: false,
    };
    assert_eq!(
        run(st, &[t(F32, &[None, Some(3)]), k(F32, &[2, 3])]).unwrap(),
        k(F32, &[2, 2, 3])
    );
}

#[test]
fn effects() {
    assert_eq!(run(Prim::Print, &[Ty::Str, Ty::int()]).unwrap(), Ty::unit());
    assert_eq!(run(Prim::Assert, &[Ty::bool(), Ty::Str]).unwrap(), Ty::unit());
    assert_eq!(
        err(run(Prim::Assert, &[Ty::int(), Ty::Str])),
        "condition must be bool, found int"
    );
    assert_eq!(
        run(Prim::AssertClose, &[k(F32, &[2]), k(F32, &[2]), weak(F32)]).unwrap(),
        Ty::unit()
    );
    assert!(err(run(Prim::AssertClose, &[k(F32, &[2]), k(F32, &[3]), weak(F32)])).contains("shapes differ"));
}

#[test]
fn conv_and_pool_shapes() {
    let conv = |s, p| Prim::Conv2d {
        stride: s,
        padding: p,
    };
    let x = k(F32, &[2, 3, 8, 8]);
    assert_eq!(
        run(conv(1, 0), &[x.clone(), k(F32, &[4, 3, 3, 3])]).unwrap(),
        k(F32, &[2, 4, 6, 6])
    );
    assert_eq!(
        run(conv(2, 1), &[x.clone(), k(F32, &[4, 3, 3, 2])]).unwrap(),
        k(F32, &[2, 4, 4, 5])
    );
    // Unknown lengths stay unknown; the kernel checks them at run time.
    let xu = t(F64, &[None, Some(1), None, Some(7)]);
    assert_eq!(
        run(conv(3, 0), &[xu.clone(), k(F64, &[5, 1, 2, 2])]).unwrap(),
        t(F64, &[None, Some(5), None, Some(2)])
    );
    assert!(
        err(run(conv(1, 0), &[x.clone(), k(F32, &[4, 2, 3, 3])]))
            .contains("3 channels but the kernel expects 2")
    );
    assert!(err(run(conv(1, 0), &[x.clone(), k(F32, &[4, 3, 9, 1])])).contains("does not fit"));
    assert!(run(conv(1, 1), &[x.clone(), k(F32, &[4, 3, 9, 1])]).is_ok());
    assert!(err(run(conv(1, 0), &[k(F32, &[3, 8, 8]), k(F32, &[4, 3, 3, 3])])).contains("rank 4"));
    assert!(err(run(conv(1, 0), &[k(INT, &[2, 3, 8, 8]), k(F32, &[4, 3, 3, 3])])).contains("float"));
    assert!(err(run(conv(0, 0), &[x.clone(), k(F32, &[4, 3, 3, 3])])).contains("stride"));
    let gi = Prim::Conv2dGradInput {
        stride: 1,
        padding: 0,
    };
    assert_eq!(
        run(gi, &[k(F32, &[2, 4, 6, 6]), k(F32, &[4, 3, 3, 3]), x.clone()]).unwrap(),
        x
    );

    assert_eq!(
        run(Prim::MaxPool2d(2), &[k(F32, &[2, 3, 7, 8])]).unwrap(),
        k(F32, &[2, 3, 3, 4])
    );
    assert_eq!(
        run(Prim::AvgPool2d(3), std::slice::from_ref(&xu)).unwrap(),
        t(F64, &[None, Some(1), None, Some(2)])
    );
    assert!(err(run(Prim::AvgPool2d(9), std::slice::from_ref(&x))).contains("larger than the input"));
    assert!(err(run(Prim::MaxPool2d(0), std::slice::from_ref(&x))).contains("at least 1"));
    assert!(err(run(Prim::MaxPool2d(2), &[k(BOOL, &[1, 1, 2, 2])])).contains("float"));
    assert_eq!(
        run(Prim::MaxPool2dMask(2), std::slice::from_ref(&x)).unwrap(),
        k(BOOL, &[2, 3, 8, 8])
    );
    assert_eq!(
        run(Prim::Pool2dSpread(2), &[k(F32, &[2, 3, 4, 4]), x.clone()]).unwrap(),
        x
    );
}

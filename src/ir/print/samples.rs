//! Hand-built programs shared by the printer, parser and verifier tests: each
//! in an untyped form (as lowering makes it) and a typed form (as
//! specialization makes it).

use crate::ir::builtin::Builtin;
use crate::ir::func::*;
use crate::ir::op::{BinaryOp, IndexItem, Prim, ReduceOp, UnaryOp};
use crate::ir::shapes::{self, Known, Operand};
use crate::ir::types::{DType, FnTy, Shape, TensorTy, Ty};
use crate::syntax::{FileId, Span, Symbol};

fn sp(lo: usize) -> Span {
    Span::new(FileId(0), lo, lo + 1)
}

pub(crate) struct Fb {
    pub f: Func,
    typed: bool,
}

impl Fb {
    pub fn new(name: &str, typed: bool) -> Fb {
        Fb {
            f: Func {
                name: Symbol::intern(name),
                params: Vec::new(),
                n_captures: 0,
                param_values: Vec::new(),
                ret_ann: None,
                body: Block::default(),
                span: sp(1),
                values: Vec::new(),
            },
            typed,
        }
    }

    pub fn param(
        &mut self,
        name: &str,
        ann: Option<TypeAnn>,
        default: Option<DefaultValue>,
        ty: Ty,
    ) -> Value {
        let v = self.val(Some(name), ty);
        self.f.params.push(Param {
            name: Symbol::intern(name),
            span: sp(2),
            ann,
            default,
        });
        self.f.param_values.push(v);
        v
    }

    pub fn val(&mut self, name: Option<&str>, ty: Ty) -> Value {
        let ty = if self.typed { Some(ty) } else { None };
        self.f.new_value(ty, name.map(Symbol::intern))
    }

    /// One instruction with one fresh result, appended to `block`.
    pub fn push(
        &mut self,
        block: &mut Block,
        kind: InstKind,
        args: &[Value],
        name: Option<&str>,
        ty: Ty,
    ) -> Value {
        let r = self.val(name, ty);
        block.insts.push(Inst {
            kind,
            args: args.to_vec(),
            results: vec![r],
            span: sp(3),
        });
        r
    }

    pub fn finish(mut self, body: Block) -> Func {
        self.f.body = body;
        self.f
    }
}

fn inst(kind: InstKind, args: &[Value], results: &[Value]) -> Inst {
    Inst {
        kind,
        args: args.to_vec(),
        results: results.to_vec(),
        span: sp(4),
    }
}

fn f32s(dims: &[usize]) -> Ty {
    Ty::Tensor(TensorTy::new(DType::F32, Shape::known(dims)))
}

fn weak_f32() -> Ty {
    Ty::Tensor(TensorTy {
        weak: true,
        ..TensorTy::scalar(DType::F32)
    })
}

/// `fact` with an `if` and a recursive call, a `main` and a test.
pub(crate) fn fact(typed: bool) -> Program {
    let mut b = Fb::new("fact", typed);
    let n = b.param("n", Some(TypeAnn::Int), None, Ty::int());
    b.f.ret_ann = Some(TypeAnn::Int);
    let mut body = Block::default();
    let one = b.push(&mut body, InstKind::Const(Const::Int(1)), &[], None, Ty::int());
    let le = Prim::Binary(BinaryOp::Le);
    let c = b.push(&mut body, InstKind::Prim(le), &[n, one], None, Ty::bool());
    let mut then = Block::default();
    then.yields.push(one);
    let mut else_ = Block::default();
    let sub = Prim::Binary(BinaryOp::Sub);
    let m = b.push(&mut else_, InstKind::Prim(sub), &[n, one], None, Ty::int());
    let rec = b.push(&mut else_, InstKind::Call(FuncId(0)), &[m], None, Ty::int());
    let mul = Prim::Binary(BinaryOp::Mul);
    let total = b.push(
        &mut else_,
        InstKind::Prim(mul),
        &[n, rec],
        Some("total"),
        Ty::int(),
    );
    else_.yields.push(total);
    let r = b.val(None, Ty::int());
    body.insts.push(inst(InstKind::If { then, else_ }, &[c], &[r]));
    body.yields.push(r);
    let fact = b.finish(body);

    let print = |typed| {
        if typed {
            InstKind::Prim(Prim::Print)
        } else {
            InstKind::Builtin(Builtin::Print)
        }
    };
    let mut b = Fb::new("main", typed);
    let mut body = Block::default();
    let five = b.push(&mut body, InstKind::Const(Const::Int(5)), &[], None, Ty::int());
    let x = b.push(
        &mut body,
        InstKind::Call(FuncId(0)),
        &[five],
        Some("x"),
        Ty::int(),
    );
    b.push(&mut body, print(typed), &[x], None, Ty::unit());
    let main = b.finish(body);

    let mut b = Fb::new("test fact", typed);
    let mut body = Block::default();
    let three = b.push(&mut body, InstKind::Const(Const::Int(3)), &[], None, Ty::int());
    let got = b.push(&mut body, InstKind::Call(FuncId(0)), &[three], None, Ty::int());
    let six = b.push(&mut body, InstKind::Const(Const::Int(6)), &[], None, Ty::int());
    let eq = Prim::Binary(BinaryOp::Eq);
    let ok = b.push(&mut body, InstKind::Prim(eq), &[got, six], None, Ty::bool());
    let msg = b.push(
        &mut body,
        InstKind::Const(Const::Str("3! is \"6\"\n".into())),
        &[],
        None,
        Ty::Str,
    );
    let assert = if typed {
        InstKind::Prim(Prim::Assert)
    } else {
        InstKind::Builtin(Builtin::Assert)
    };
    b.push(&mut body, assert, &[ok, msg], None, Ty::unit());
    let test = b.finish(body);

    Program {
        structs: Vec::new(),
        funcs: vec![fact, main, test],
        main: Some(FuncId(1)),
        tests: vec![TestDef {
            name: "fact of 3".into(),
            func: FuncId(2),
            span: sp(5),
        }],
        adjoints: Vec::new(),
    }
}

/// A `for` and a `while` with carried values, a struct, tuples.
pub(crate) fn loops(typed: bool) -> Program {
    let point = StructDef {
        name: Symbol::intern("Point"),
        fields: vec![Symbol::intern("x"), Symbol::intern("y")],
        span: sp(6),
    };
    let mut b = Fb::new("walk", typed);
    let n = b.param("n", Some(TypeAnn::Int), None, Ty::int());
    let f32t = Ty::scalar(DType::F32);
    let step = b.param(
        "step",
        Some(TypeAnn::Float),
        Some(DefaultValue::Const(Const::Float(0.5))),
        f32t.clone(),
    );
    b.f.ret_ann = Some(TypeAnn::Struct(StructId(0)));
    let mut body = Block::default();
    let zero = b.push(&mut body, InstKind::Const(Const::Int(0)), &[], None, Ty::int());
    let a0 = b.push(
        &mut body,
        InstKind::Const(Const::Float(0.0)),
        &[],
        None,
        weak_f32(),
    );
    let b0 = b.push(
        &mut body,
        InstKind::Const(Const::Float(0.1)),
        &[],
        None,
        f32t.clone(),
    );
    let i = b.val(Some("i"), Ty::int());
    let a = b.val(Some("a"), f32t.clone());
    let bb = b.val(Some("b"), f32t.clone());
    let mut lb = Block {
        params: vec![i, a, bb],
        ..Block::default()
    };
    let add = Prim::Binary(BinaryOp::Add);
    let a1 = b.push(
        &mut lb,
        InstKind::Prim(add.clone()),
        &[a, step],
        None,
        f32t.clone(),
    );
    let mul = Prim::Binary(BinaryOp::Mul);
    let b1 = b.push(&mut lb, InstKind::Prim(mul), &[bb, step], None, f32t.clone());
    lb.yields = vec![a1, b1];
    let x = b.val(Some("x"), f32t.clone());
    let y = b.val(Some("y"), f32t.clone());
    body.insts
        .push(inst(InstKind::For { body: lb }, &[zero, n, a0, b0], &[x, y]));

    let k = b.val(Some("k"), Ty::int());
    let mut cond = Block {
        params: vec![k],
        ..Block::default()
    };
    let lt = Prim::Binary(BinaryOp::Lt);
    let c = b.push(&mut cond, InstKind::Prim(lt), &[k, n], None, Ty::bool());
    cond.yields.push(c);
    let k2 = b.val(Some("k"), Ty::int());
    let mut wb = Block {
        params: vec![k2],
        ..Block::default()
    };
    let one = b.push(&mut wb, InstKind::Const(Const::Int(1)), &[], None, Ty::int());
    let k3 = b.push(&mut wb, InstKind::Prim(add), &[k2, one], None, Ty::int());
    wb.yields.push(k3);
    let count = b.val(Some("count"), Ty::int());
    body.insts
        .push(inst(InstKind::While { cond, body: wb }, &[zero], &[count]));

    let pt = Ty::Record(StructId(0), vec![f32t.clone(), f32t.clone()]);
    let p = b.push(&mut body, InstKind::Record(StructId(0)), &[x, y], Some("p"), pt);
    let get = if typed {
        InstKind::RecordGet(0)
    } else {
        InstKind::Field(Symbol::intern("x"))
    };
    let px = b.push(&mut body, get, &[p], None, f32t.clone());
    let tt = Ty::Tuple(vec![f32t, Ty::int()]);
    let t = b.push(&mut body, InstKind::Tuple, &[px, count], None, tt);
    b.push(&mut body, InstKind::TupleGet(1), &[t], None, Ty::int());
    body.yields.push(p);
    Program {
        structs: vec![point],
        funcs: vec![b.finish(body)],
        main: None,
        tests: Vec::new(),
        adjoints: Vec::new(),
    }
}

/// A closure over a lifted lambda; untyped-only kinds in the untyped form,
/// captures and function types in the typed one.
pub(crate) fn closure(typed: bool) -> Program {
    let f32t = Ty::scalar(DType::F32);
    let lam_ty = Ty::Fn(Box::new(FnTy::User {
        func: FuncId(1),
        captures: vec![f32t.clone()],
    }));
    let mut b = Fb::new("make_adder", typed);
    let k = b.param("k", Some(TypeAnn::Float), None, f32t.clone());
    let mut body = Block::default();
    let f = b.push(
        &mut body,
        InstKind::Closure(FuncId(1)),
        &[k],
        Some("f"),
        lam_ty.clone(),
    );
    let two = b.push(
        &mut body,
        InstKind::Const(Const::Float(2.0)),
        &[],
        None,
        f32t.clone(),
    );
    let sqrt_ty = Ty::Fn(Box::new(FnTy::Builtin(Builtin::Sqrt)));
    b.push(&mut body, InstKind::BuiltinRef(Builtin::Sqrt), &[], None, sqrt_ty);
    let r = if typed {
        let got = b.push(&mut body, InstKind::CaptureGet(0), &[f], None, f32t.clone());
        b.push(
            &mut body,
            InstKind::Call(FuncId(1)),
            &[got, two],
            None,
            f32t.clone(),
        )
    } else {
        let s = Some(Symbol::intern("x"));
        let called = b.push(
            &mut body,
            InstKind::CallValue { names: vec![s] },
            &[f, two],
            None,
            f32t.clone(),
        );
        let one = b.push(&mut body, InstKind::Const(Const::Int(0)), &[], None, Ty::int());
        b.push(
            &mut body,
            InstKind::Builtin(Builtin::Sum),
            &[called, one],
            None,
            f32t.clone(),
        )
    };
    body.yields.push(r);
    let outer = b.finish(body);

    let mut b = Fb::new("lambda@a.dl:3", typed);
    let k = b.param("k", None, None, f32t.clone());
    let x = b.param(
        "x",
        Some(TypeAnn::Tuple(vec![TypeAnn::Tensor])),
        Some(DefaultValue::Thunk(FuncId(2))),
        f32t.clone(),
    );
    b.f.n_captures = 1;
    let mut body = Block::default();
    let add = Prim::Binary(BinaryOp::Add);
    let s = b.push(&mut body, InstKind::Prim(add), &[k, x], None, f32t.clone());
    body.yields.push(s);
    let lam = b.finish(body);

    let mut b = Fb::new("default x", typed);
    let mut body = Block::default();
    let c = b.push(&mut body, InstKind::Const(Const::Float(-1.5e-7)), &[], None, f32t);
    body.yields.push(c);
    let thunk = b.finish(body);
    Program {
        structs: Vec::new(),
        funcs: vec![outer, lam, thunk],
        main: None,
        tests: Vec::new(),
        adjoints: Vec::new(),
    }
}

/// Every prim once, typed by the shape rules themselves (for the round trip
/// and the verifier), plus constants that must come back bit for bit.
pub(crate) fn all_prims() -> Program {
    let mut b = Fb::new("prims", true);
    let x = b.param("x", Some(TypeAnn::Tensor), None, f32s(&[2, 3]));
    let v = b.param(
        "v",
        None,
        None,
        Ty::Tensor(TensorTy::new(DType::F64, Shape(vec![None]))),
    );
    let m = b.param(
        "m",
        None,
        None,
        Ty::Tensor(TensorTy::new(DType::Bool, Shape::known(&[2, 3]))),
    );
    let mut body = Block::default();
    let mut known: Vec<(Value, Known)> = Vec::new();
    let cst = |b: &mut Fb, body: &mut Block, c: Const, ty: Ty, known: &mut Vec<(Value, Known)>| {
        let k = match &c {
            Const::Int(i) => Some(Known::Int(*i)),
            _ => None,
        };
        let r = b.push(body, InstKind::Const(c), &[], None, ty);
        if let Some(k) = k {
            known.push((r, k));
        }
        r
    };
    let one = cst(&mut b, &mut body, Const::Int(1), Ty::int(), &mut known);
    let three = cst(&mut b, &mut body, Const::Int(3), Ty::int(), &mut known);
    let half = cst(&mut b, &mut body, Const::Float(0.1 + 0.2), weak_f32(), &mut known);
    cst(
        &mut b,
        &mut body,
        Const::Float(-0.0),
        Ty::scalar(DType::F64),
        &mut known,
    );
    cst(
        &mut b,
        &mut body,
        Const::Float(f64::INFINITY),
        Ty::scalar(DType::F64),
        &mut known,
    );
    cst(
        &mut b,
        &mut body,
        Const::Float(f64::NEG_INFINITY),
        Ty::scalar(DType::F64),
        &mut known,
    );
    cst(
        &mut b,
        &mut body,
        Const::Float(1e300),
        Ty::scalar(DType::F64),
        &mut known,
    );
    cst(&mut b, &mut body, Const::Int(i64::MIN), Ty::int(), &mut known);
    let no = cst(&mut b, &mut body, Const::Bool(false), Ty::bool(), &mut known);
    cst(&mut b, &mut body, Const::Unit, Ty::unit(), &mut known);
    let msg = cst(
        &mut b,
        &mut body,
        Const::Str("tab\t\u{1} é".into()),
        Ty::Str,
        &mut known,
    );
    let shape = b.push(
        &mut body,
        InstKind::Tuple,
        &[one, three],
        None,
        Ty::Tuple(vec![Ty::int(); 2]),
    );
    known.push((shape, Known::Ints(vec![1, 3])));
    let prim = |b: &mut Fb, body: &mut Block, p: Prim, args: &[Value]| -> Value {
        let tys: Vec<Ty> = args
            .iter()
            .map(|a| b.f.ty(*a).cloned().unwrap_or_else(Ty::unit))
            .collect();
        let ops: Vec<Operand<'_>> = tys
            .iter()
            .zip(args)
            .map(|(ty, a)| Operand {
                ty,
                known: known.iter().find(|(k, _)| k == a).map(|(_, k)| k),
            })
            .collect();
        let ty = match shapes::result_type(&p, &ops, DType::F32) {
            Ok(t) => t,
            Err(e) => panic!("{p:?}: {}", e.message),
        };
        b.push(body, InstKind::Prim(p), args, None, ty)
    };
    let unary = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tan,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
    ];
    for u in unary {
        prim(&mut b, &mut body, Prim::Unary(u), &[x]);
    }
    prim(&mut b, &mut body, Prim::Unary(UnaryOp::Not), &[m]);
    use BinaryOp as B;
    for op in [
        B::Add,
        B::Sub,
        B::Mul,
        B::Div,
        B::Rem,
        B::Pow,
        B::Maximum,
        B::Minimum,
    ] {
        prim(&mut b, &mut body, Prim::Binary(op), &[x, half]);
    }
    for op in [B::Lt, B::Le, B::Gt, B::Ge, B::Eq, B::Ne] {
        prim(&mut b, &mut body, Prim::Binary(op), &[x, v]);
    }
    for op in [B::And, B::Or] {
        prim(&mut b, &mut body, Prim::Binary(op), &[m, m]);
    }
    prim(&mut b, &mut body, Prim::Where, &[m, x, half]);
    prim(&mut b, &mut body, Prim::Clip, &[x, half, one]);
    prim(&mut b, &mut body, Prim::Cast(DType::F64), &[x]);
    prim(&mut b, &mut body, Prim::MatMul, &[x, v]);
    use ReduceOp as R;
    let reduces = [
        R::Sum,
        R::Mean,
        R::Prod,
        R::Max,
        R::Min,
        R::Argmax,
        R::Argmin,
        R::Logsumexp,
        R::Norm,
    ];
    for (i, op) in reduces.into_iter().enumerate() {
        let axis = if i % 2 == 0 { Some(1) } else { None };
        let keepdims = i % 3 == 0;
        prim(&mut b, &mut body, Prim::Reduce { op, axis, keepdims }, &[x]);
    }
    let items = vec![IndexItem::At, IndexItem::Slice { lo: true, hi: false }];
    prim(&mut b, &mut body, Prim::Index(items), &[x, one, one]);
    let items = vec![
        IndexItem::Slice { lo: false, hi: false },
        IndexItem::Slice { lo: true, hi: true },
    ];
    prim(&mut b, &mut body, Prim::Index(items), &[x, one, three]);
    prim(
        &mut b,
        &mut body,
        Prim::Index(vec![IndexItem::Slice { lo: false, hi: true }]),
        &[x, one],
    );
    prim(&mut b, &mut body, Prim::Shape, &[x]);
    prim(&mut b, &mut body, Prim::Len, &[x]);
    prim(&mut b, &mut body, Prim::Full(DType::F32), &[shape, half]);
    prim(&mut b, &mut body, Prim::Arange, &[three]);
    prim(
        &mut b,
        &mut body,
        Prim::Linspace(DType::F64),
        &[half, half, three],
    );
    prim(&mut b, &mut body, Prim::Eye(DType::F32), &[three]);
    let st = Prim::Stack {
        dtype: DType::F32,
        literal: true,
    };
    prim(&mut b, &mut body, st, &[x, x]);
    let st = Prim::Stack {
        dtype: DType::I64,
        literal: false,
    };
    prim(&mut b, &mut body, st, &[one, three]);
    prim(&mut b, &mut body, Prim::Print, &[x, msg]);
    let ok = prim(&mut b, &mut body, Prim::Binary(B::Lt), &[one, three]);
    prim(&mut b, &mut body, Prim::Assert, &[ok, msg]);
    prim(&mut b, &mut body, Prim::AssertClose, &[x, x, half]);
    let path = prim(&mut b, &mut body, Prim::TempPath, &[msg]);
    prim(&mut b, &mut body, Prim::SaveCsv, &[path, x]);
    prim(&mut b, &mut body, Prim::LoadCsv(DType::F64), &[path, no]);
    prim(&mut b, &mut body, Prim::SaveNpy, &[path, m]);
    prim(
        &mut b,
        &mut body,
        Prim::LoadNpy(Ty::Tensor(TensorTy::new(DType::Bool, Shape(vec![Some(2), None])))),
        &[path],
    );
    let pair = b.push(
        &mut body,
        InstKind::Tuple,
        &[x, three],
        None,
        Ty::Tuple(vec![f32s(&[2, 3]), Ty::int()]),
    );
    prim(&mut b, &mut body, Prim::Save, &[path, pair]);
    prim(
        &mut b,
        &mut body,
        Prim::Load(Ty::Tuple(vec![f32s(&[2, 3]), Ty::int()])),
        &[path],
    );
    prim(&mut b, &mut body, Prim::Batches, &[x, m, three, no]);
    Program {
        structs: Vec::new(),
        funcs: vec![b.finish(body)],
        main: None,
        tests: Vec::new(),
        adjoints: Vec::new(),
    }
}

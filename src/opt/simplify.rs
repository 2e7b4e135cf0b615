//! Local simplifications of the index arithmetic derivative code makes.
//!
//! - `0 + i`, `i + 0`, `i - 0`, `1 * i` and `i * 1` on ints are `i`: the
//!   reverse sweep of a loop offsets tape positions by a start that is often
//!   the constant 0.
//! - `reshape_like(a[i:i + 1], row)`, a row taken as a one-row slice and
//!   reshaped to the row's shape, is `a[i]` when `i` is known not to be
//!   negative (for a negative `i` the slice is empty but `a[i]` counts from
//!   the end). The adjoint of `concat([h, reshape(x, [1, n])])` takes its
//!   last operand's part this way; one instruction instead of two.
//!
//! - The length of a list just made (`list_len(list_new)`) is 0: the
//!   reverse sweep subtracts a tape's start from every position.
//! - `shape(a)[0]` is `len(a)`: the adjoint of `concat` splits its gradient
//!   at its first operand's length; one instruction instead of two.
//! - `full(shape(a), x)` is `broadcast_like(x, a)`: the zeros of an adjoint
//!   whose shape is known only at run time; one instruction instead of two.
//! - An `index_add` into an empty slice (`acc[i:i]`) is its accumulator:
//!   the adjoint of `h[0:0]`, the empty start of rows a loop concatenates.
//!
//! All give the same values bit for bit.

use crate::ir::types::Ty;
use crate::ir::{BinaryOp, Block, Const, Func, IndexItem, Inst, InstKind, Prim, Value};
use std::collections::HashMap;

pub fn run(f: &mut Func) {
    let mut defs: HashMap<Value, Def> = HashMap::new();
    collect(&f.body, &mut defs);
    // Int identities, resolved through chains.
    let mut rename: HashMap<Value, Value> = HashMap::new();
    for (&r, def) in &defs {
        if let Def::Inst(InstKind::Prim(Prim::Binary(op)), args) = def
            && let Some(x) = identity_operand(*op, args, &defs)
            && f.ty(x).is_some()
            && f.ty(x) == f.ty(r)
            && is_int(f.ty(r))
        {
            rename.insert(r, x);
        }
        if let Def::Inst(InstKind::Prim(Prim::IndexAdd(items)), args) = def
            && let Some((acc, like)) = empty_region_add(items, args, &defs)
            && f.ty(acc).is_some()
            && f.ty(acc) == f.ty(r)
            && f.ty(like) == f.ty(r)
        {
            rename.insert(r, acc);
        }
    }
    let resolve = |mut v: Value| {
        for _ in 0..64 {
            match rename.get(&v) {
                Some(&n) => v = n,
                None => break,
            }
        }
        v
    };
    let mut body = std::mem::take(&mut f.body);
    rewrite(&mut body, &resolve, &defs, f);
    f.body = body;
}

/// What defines a value: an instruction (its kind and operands), or the
/// index of a `for` loop whose lower bound is the value given.
enum Def {
    Inst(InstKind, Vec<Value>),
    LoopIndex(Value),
}

fn collect(b: &Block, defs: &mut HashMap<Value, Def>) {
    for inst in &b.insts {
        if let InstKind::For { body } = &inst.kind
            && let (Some(&i), Some(&lo)) = (body.params.first(), inst.args.first())
        {
            defs.insert(i, Def::LoopIndex(lo));
        }
        for inner in inst.blocks() {
            collect(inner, defs);
        }
        if let [r] = inst.results.as_slice()
            && matches!(
                inst.kind,
                InstKind::Const(_) | InstKind::Prim(_) | InstKind::TupleGet(_) | InstKind::ListNew
            )
        {
            defs.insert(*r, Def::Inst(inst.kind.clone(), inst.args.clone()));
        }
        // The length of a new list is 0 (a list value never changes; a
        // push makes another).
        if let (InstKind::ListLen, [list], [r]) = (&inst.kind, inst.args.as_slice(), inst.results.as_slice())
            && matches!(defs.get(list), Some(Def::Inst(InstKind::ListNew, _)))
        {
            defs.insert(*r, Def::Inst(InstKind::Const(Const::Int(0)), Vec::new()));
        }
    }
}

fn is_int(ty: Option<&Ty>) -> bool {
    ty.and_then(Ty::as_tensor)
        .is_some_and(|t| t.dtype == crate::ir::DType::I64)
}

fn int_const(v: Value, defs: &HashMap<Value, Def>) -> Option<i64> {
    match defs.get(&v) {
        Some(Def::Inst(InstKind::Const(Const::Int(k)), _)) => Some(*k),
        _ => None,
    }
}

/// The operand an int `op` returns unchanged, when the other is its identity.
fn identity_operand(op: BinaryOp, args: &[Value], defs: &HashMap<Value, Def>) -> Option<Value> {
    let [a, b] = args else { return None };
    let (ka, kb) = (int_const(*a, defs), int_const(*b, defs));
    match op {
        BinaryOp::Add if ka == Some(0) => Some(*b),
        BinaryOp::Add | BinaryOp::Sub if kb == Some(0) => Some(*a),
        BinaryOp::Mul if ka == Some(1) => Some(*b),
        BinaryOp::Mul if kb == Some(1) => Some(*a),
        _ => None,
    }
}

/// The accumulator and `like` operand of an `index_add` into an empty
/// slice `acc[i:i]` (`i` the same value or equal constants), which returns
/// its accumulator unchanged when that has `like`'s shape (an adjoint
/// accumulator always has its primal's). The adjoint of `h[0:0]`, the empty
/// start that a loop concatenates rows onto.
fn empty_region_add(
    items: &[IndexItem],
    args: &[Value],
    defs: &HashMap<Value, Def>,
) -> Option<(Value, Value)> {
    let ([IndexItem::Slice { lo: true, hi: true }], [acc, _, like, lo, hi]) = (items, args) else {
        return None;
    };
    let same =
        lo == hi || matches!((int_const(*lo, defs), int_const(*hi, defs)), (Some(a), Some(b)) if a == b);
    same.then_some((*acc, *like))
}

/// Whether the int `v` is known to be at least 0: a constant, a dimension
/// from `shape`, a loop index counting from such a value, or a sum or
/// product of such values.
fn non_negative(v: Value, defs: &HashMap<Value, Def>, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match defs.get(&v) {
        Some(Def::Inst(InstKind::Const(Const::Int(k)), _)) => *k >= 0,
        Some(Def::Inst(InstKind::TupleGet(_), args)) => args
            .first()
            .is_some_and(|&t| matches!(defs.get(&t), Some(Def::Inst(InstKind::Prim(Prim::Shape), _)))),
        Some(Def::Inst(InstKind::Prim(Prim::Binary(BinaryOp::Add | BinaryOp::Mul)), args)) => {
            args.iter().all(|&a| non_negative(a, defs, depth - 1))
        }
        Some(Def::LoopIndex(lo)) => non_negative(*lo, defs, depth - 1),
        _ => false,
    }
}

/// `Some((a, i))` when `s` is `a[i:i + 1]` on the first axis with `i` not negative.
fn row_slice(s: Value, defs: &HashMap<Value, Def>) -> Option<(Value, Value)> {
    let Some(Def::Inst(InstKind::Prim(Prim::Index(items)), args)) = defs.get(&s) else {
        return None;
    };
    let ([IndexItem::Slice { lo: true, hi: true }], [a, i, j]) = (items.as_slice(), args.as_slice()) else {
        return None;
    };
    let next = match defs.get(j) {
        Some(Def::Inst(InstKind::Prim(Prim::Binary(BinaryOp::Add)), sum)) => matches!(
            sum.as_slice(),
            [x, one] | [one, x] if x == i && int_const(*one, defs) == Some(1)
        ),
        _ => {
            matches!((int_const(*i, defs), int_const(*j, defs)), (Some(x), Some(y)) if y == x.wrapping_add(1))
        }
    };
    (next && non_negative(*i, defs, 8)).then_some((*a, *i))
}

/// Whether `a`'s type is `[_, dims…]` with `row`'s type `[dims…]`, all known.
fn rows_of(f: &Func, a: Value, row: Value) -> bool {
    let (Some(Ty::Tensor(at)), Some(Ty::Tensor(rt))) = (f.ty(a), f.ty(row)) else {
        return false;
    };
    at.dtype == rt.dtype
        && at.shape.0.len() == rt.shape.0.len() + 1
        && rt.shape.0.iter().all(Option::is_some)
        && at.shape.0.get(1..) == Some(rt.shape.0.as_slice())
}

fn rewrite(b: &mut Block, resolve: &impl Fn(Value) -> Value, defs: &HashMap<Value, Def>, f: &Func) {
    // An accumulation into an empty region is gone (its readers read its
    // accumulator; `dce` keeps an `index_add`, which may fail in general).
    b.insts.retain(|inst| {
        !(matches!(inst.kind, InstKind::Prim(Prim::IndexAdd(_)))
            && inst.results.iter().any(|&r| resolve(r) != r))
    });
    for inst in &mut b.insts {
        for a in &mut inst.args {
            *a = resolve(*a);
        }
        for inner in inst.blocks_mut() {
            rewrite(inner, resolve, defs, f);
        }
        take_row(inst, resolve, defs, f);
        full_like(inst, resolve, defs, f);
        first_axis(inst, resolve, defs);
        if let (InstKind::ListLen, [r]) = (&inst.kind, inst.results.as_slice())
            && let Some(Def::Inst(k @ InstKind::Const(_), _)) = defs.get(r)
        {
            inst.kind = k.clone();
            inst.args.clear();
        }
    }
    for y in &mut b.yields {
        *y = resolve(*y);
    }
}

/// `shape(a)[0]` becomes `len(a)` (the shape has a first axis, or the
/// projection would not type).
fn first_axis(inst: &mut Inst, resolve: &impl Fn(Value) -> Value, defs: &HashMap<Value, Def>) {
    if let (InstKind::TupleGet(0), [s]) = (&inst.kind, inst.args.as_slice())
        && let Some(Def::Inst(InstKind::Prim(Prim::Shape), shaped)) = defs.get(s)
        && let [a] = shaped.as_slice()
    {
        inst.kind = InstKind::Prim(Prim::Len);
        inst.args = vec![resolve(*a)];
    }
}

/// `full(shape(a), x)` becomes `broadcast_like(x, a)` when `x` is a scalar
/// of the result's dtype: the zeros of an adjoint of a shape known only at
/// run time, one instruction instead of two.
fn full_like(inst: &mut Inst, resolve: &impl Fn(Value) -> Value, defs: &HashMap<Value, Def>, f: &Func) {
    let (InstKind::Prim(Prim::Full(d)), [s, x]) = (&inst.kind, inst.args.as_slice()) else {
        return;
    };
    let Some(Def::Inst(InstKind::Prim(Prim::Shape), shaped)) = defs.get(s) else {
        return;
    };
    let ([a], Some(Ty::Tensor(t))) = (shaped.as_slice(), f.ty(*x)) else {
        return;
    };
    if t.dtype == *d && t.shape.0.is_empty() {
        inst.kind = InstKind::Prim(Prim::BroadcastLike);
        inst.args = vec![*x, resolve(*a)];
    }
}

/// `reshape_like(a[i:i + 1], like)` becomes `a[i]`.
fn take_row(inst: &mut Inst, resolve: &impl Fn(Value) -> Value, defs: &HashMap<Value, Def>, f: &Func) {
    let (InstKind::Prim(Prim::ReshapeLike), [s, _], [r]) =
        (&inst.kind, inst.args.as_slice(), inst.results.as_slice())
    else {
        return;
    };
    if let Some((a, i)) = row_slice(*s, defs)
        && rows_of(f, a, *r)
    {
        inst.kind = InstKind::Prim(Prim::Index(vec![IndexItem::At]));
        inst.args = vec![resolve(a), resolve(i)];
    }
}

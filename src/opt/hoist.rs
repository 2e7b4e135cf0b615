//! Loop-invariant hoisting: constants and scalar `+ - *` whose operands are
//! all defined outside a loop move before it, so they run once instead of
//! once per iteration (a literal in a loop body; the reverse sweep's
//! `len - 1` of a tape, recomputed in every iteration of the loop that walks
//! it). These cannot fail and have no effect, so running them once, even for
//! a loop that runs no iteration, changes nothing observable.

use crate::ir::types::Ty;
use crate::ir::{BinaryOp, Block, Func, Inst, InstKind, Prim, UnaryOp, Value};
use std::collections::HashSet;

pub fn run(f: &mut Func) {
    let mut body = std::mem::take(&mut f.body);
    block(&mut body, f);
    f.body = body;
}

/// Hoists out of every loop in `b` (inner loops first, so an invariant of
/// several levels moves out level by level).
fn block(b: &mut Block, f: &Func) {
    let mut at = 0;
    while at < b.insts.len() {
        let mut hoisted = Vec::new();
        if let Some(inst) = b.insts.get_mut(at) {
            for inner in inst.blocks_mut() {
                block(inner, f);
            }
            if matches!(inst.kind, InstKind::For { .. } | InstKind::While { .. }) {
                let mut inside = HashSet::new();
                for inner in inst.blocks() {
                    defined(inner, &mut inside);
                }
                for inner in inst.blocks_mut() {
                    take_invariants(inner, &mut inside, f, &mut hoisted);
                }
            }
        }
        let n = hoisted.len();
        b.insts.splice(at..at, hoisted);
        at += n + 1;
    }
}

/// Every value `b` and the blocks in it define (parameters included).
fn defined(b: &Block, out: &mut HashSet<Value>) {
    out.extend(b.params.iter().copied());
    for inst in &b.insts {
        out.extend(inst.results.iter().copied());
        for inner in inst.blocks() {
            defined(inner, out);
        }
    }
}

/// Moves the invariant instructions at the top level of `body` to `out`, in
/// order; their results are then defined outside the loop.
fn take_invariants(body: &mut Block, inside: &mut HashSet<Value>, f: &Func, out: &mut Vec<Inst>) {
    let mut kept = Vec::with_capacity(body.insts.len());
    for inst in std::mem::take(&mut body.insts) {
        if cheap_and_safe(&inst, f) && inst.args.iter().all(|a| !inside.contains(a)) {
            for r in &inst.results {
                inside.remove(r);
            }
            out.push(inst);
        } else {
            kept.push(inst);
        }
    }
    body.insts = kept;
}

/// A constant, or `+ - *` or a negation of rank-0 operands: no failure, no
/// effect, a few machine instructions.
fn cheap_and_safe(inst: &Inst, f: &Func) -> bool {
    let scalar = |v: &Value| matches!(f.ty(*v), Some(Ty::Tensor(t)) if t.shape.rank() == 0);
    let scalars = inst.args.iter().all(scalar) && inst.results.iter().all(scalar);
    match &inst.kind {
        InstKind::Const(_) => inst.results.iter().all(scalar),
        InstKind::Prim(Prim::Binary(BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul)) => scalars,
        InstKind::Prim(Prim::Unary(UnaryOp::Neg)) => scalars,
        _ => false,
    }
}

//! Which functions are pure: they neither print nor assert, directly or
//! through calls. Calls of pure functions can be removed or merged.

use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, Block, Func, FuncId, Inst, InstKind, Prim, Program, ReduceOp};
use std::collections::HashSet;

pub fn pure_functions(p: &Program) -> HashSet<FuncId> {
    // Start from "everything is pure" and remove functions with effects until stable.
    let mut pure: HashSet<FuncId> = (0..p.funcs.len()).map(|i| FuncId(i as u32)).collect();
    loop {
        let before = pure.len();
        for (i, f) in p.funcs.iter().enumerate() {
            if has_effect(&f.body, &pure) {
                pure.remove(&FuncId(i as u32));
            }
        }
        if pure.len() == before {
            return pure;
        }
    }
}

fn has_effect(b: &Block, pure: &HashSet<FuncId>) -> bool {
    b.insts.iter().any(|inst| {
        let own = match &inst.kind {
            InstKind::Prim(p) => p.is_effect(),
            InstKind::Call(f) => !pure.contains(f),
            _ => false,
        };
        own || inst.blocks().into_iter().any(|inner| has_effect(inner, pure))
    })
}

/// Whether an instruction can be removed when its results are unused, or
/// merged with an identical one: it has no effect and cannot fail (a prim
/// that could raise a run-time error, such as an int division by zero or an
/// index out of range, stays, so removing dead code never hides an error).
pub fn removable(inst: &Inst, f: &Func, pure: &HashSet<FuncId>) -> bool {
    match &inst.kind {
        InstKind::Prim(p) => prim_cannot_fail(p, inst, f),
        InstKind::Call(f) => pure.contains(f),
        InstKind::If { then, else_ } => !has_effect(then, pure) && !has_effect(else_, pure),
        // Loops may not terminate; keep them.
        InstKind::For { .. } | InstKind::While { .. } => false,
        InstKind::ListPush => false,
        _ => true,
    }
}

/// A prim whose operands have fully known shapes (so broadcasting was checked
/// statically) and that has no value-dependent failure.
fn prim_cannot_fail(p: &Prim, inst: &Inst, f: &Func) -> bool {
    let known = inst.args.iter().all(|&a| match f.ty(a) {
        Some(Ty::Tensor(t)) => t.shape.concrete().is_some(),
        Some(_) => true,
        None => false,
    });
    let int_operand = inst.args.iter().any(|&a| {
        f.ty(a)
            .and_then(Ty::as_tensor)
            .is_some_and(|t| t.dtype == DType::I64)
    });
    // A constructor whose result shape is known statically cannot get a
    // negative size (the zeros of derivative code, for one).
    let result_known = || {
        inst.results.iter().all(|&r| {
            f.ty(r)
                .and_then(Ty::as_tensor)
                .is_some_and(|t| t.shape.concrete().is_some())
        })
    };
    if matches!(p, Prim::Full(_)) {
        return result_known();
    }
    known
        && match p {
            Prim::Binary(BinaryOp::Div | BinaryOp::Rem | BinaryOp::Pow) => !int_operand,
            Prim::Reduce {
                op: ReduceOp::Max | ReduceOp::Min | ReduceOp::Argmax | ReduceOp::Argmin,
                ..
            } => false,
            Prim::Print
            | Prim::Assert
            | Prim::AssertClose
            | Prim::Progress
            | Prim::Plot
            | Prim::Index(_)
            | Prim::IndexGrad(_)
            | Prim::Full(_)
            | Prim::Arange
            | Prim::Linspace(_)
            | Prim::Eye(_)
            | Prim::Len
            | Prim::Reshape(_)
            | Prim::Take(_)
            | Prim::TakeGrad(_)
            | Prim::Solve
            | Prim::Cholesky => false,
            Prim::Unary(_)
            | Prim::Binary(_)
            | Prim::Where
            | Prim::Clip
            | Prim::Cast(_)
            | Prim::MatMul
            | Prim::Reduce { .. }
            | Prim::Shape
            | Prim::Stack { .. }
            | Prim::StopGradient
            | Prim::BroadcastLike
            | Prim::SumLike
            | Prim::ReshapeLike
            | Prim::Transpose(_)
            | Prim::ExpandDims(_)
            | Prim::Concat(_)
            | Prim::Det
            | Prim::ExtremeMask { .. } => true,
        }
}

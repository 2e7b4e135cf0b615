//! Which functions are pure: they have no effect (print, assert, files,
//! random draws), directly or through calls. Calls of pure functions can be
//! removed or merged.

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

/// The pure functions whose calls may also be removed when unused: nothing
/// they run (transitively) can fail or loop, so removing a call never hides
/// an error such as `solve` of a singular matrix.
pub fn removable_functions(p: &Program, pure: &HashSet<FuncId>) -> HashSet<FuncId> {
    let mut total = pure.clone();
    loop {
        let before = total.len();
        for (i, f) in p.funcs.iter().enumerate() {
            let id = FuncId(i as u32);
            if total.contains(&id) && !all_removable(&f.body, f, &total) {
                total.remove(&id);
            }
        }
        if total.len() == before {
            return total;
        }
    }
}

fn all_removable(b: &Block, f: &Func, fns: &HashSet<FuncId>) -> bool {
    b.insts.iter().all(|inst| removable(inst, f, fns))
}

/// Whether a prim does more than compute its result: output, checks, files,
/// and random draws (each advances the generator, so two are never the
/// same): the prims of class `Effect` in the op table.
pub fn is_effect(p: &Prim) -> bool {
    p.has_effect()
}

fn has_effect(b: &Block, pure: &HashSet<FuncId>) -> bool {
    b.insts.iter().any(|inst| {
        let own = match &inst.kind {
            InstKind::Prim(p) => is_effect(p),
            InstKind::Call(f) => !pure.contains(f),
            _ => false,
        };
        own || inst.blocks().into_iter().any(|inner| has_effect(inner, pure))
    })
}

/// Whether an instruction can be removed when its results are unused: it has
/// no effect and cannot fail (a prim that could raise a run-time error, such
/// as an int division by zero or an index out of range, stays, so removing
/// dead code never hides an error). `fns` are the functions whose calls
/// count as removable (for merging identical instructions, the pure ones:
/// the first copy still runs and fails).
pub fn removable(inst: &Inst, f: &Func, fns: &HashSet<FuncId>) -> bool {
    match &inst.kind {
        InstKind::Prim(p) => prim_cannot_fail(p, inst, f),
        InstKind::Call(g) => fns.contains(g),
        InstKind::If { then, else_ } => all_removable(then, f, fns) && all_removable(else_, f, fns),
        // A `for` runs a fixed number of times; a `while` may not terminate.
        InstKind::For { body } => all_removable(body, f, fns),
        InstKind::While { .. } => false,
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
    // A scalar spreads to any shape.
    if matches!(p, Prim::BroadcastLike)
        && let Some(Ty::Tensor(t)) = inst.args.first().and_then(|&a| f.ty(a))
        && t.shape.0.is_empty()
    {
        return true;
    }
    // A shape is known at run time whatever its dimensions; a length needs
    // a first axis, and the rank is always known statically.
    match p {
        Prim::Shape => return true,
        Prim::Len => {
            return inst
                .args
                .first()
                .and_then(|&a| f.ty(a))
                .and_then(Ty::as_tensor)
                .is_some_and(|t| t.shape.rank() >= 1);
        }
        _ => {}
    }
    // Slices clamp their bounds (as Python's do), so only `at` items can
    // fail; the number of items was checked against the rank statically.
    if let Prim::Index(items) = p
        && items
            .iter()
            .all(|i| matches!(i, crate::ir::IndexItem::Slice { .. }))
    {
        return true;
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
            | Prim::LoadCsv(_)
            | Prim::SaveCsv
            | Prim::LoadNpy(_)
            | Prim::SaveNpy
            | Prim::Load(_)
            | Prim::Save
            | Prim::Batches
            | Prim::Progress
            | Prim::Plot
            | Prim::Index(_)
            | Prim::IndexGrad(_)
            | Prim::IndexAdd(_)
            | Prim::Full(_)
            | Prim::Arange
            | Prim::Linspace(_)
            | Prim::Eye(_)
            | Prim::Len
            | Prim::Reshape(_)
            | Prim::Take(_)
            | Prim::TakeGrad(_)
            | Prim::Solve
            | Prim::Cholesky
            | Prim::Random(_) => false,
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
            | Prim::TempPath
            | Prim::ScoreGrad { .. }
            | Prim::Conv2d { .. }
            | Prim::Conv2dGradInput { .. }
            | Prim::Conv2dGradWeight { .. }
            | Prim::MaxPool2d(_)
            | Prim::AvgPool2d(_)
            | Prim::MaxPool2dMask(_)
            | Prim::Pool2dSpread(_)
            | Prim::ExtremeMask { .. } => true,
        }
}

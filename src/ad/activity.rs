//! Activity analysis: which values of a function depend on the inputs being
//! differentiated. Only active values get adjoints; ints, bools and strings
//! never do. Loops are handled by iterating until nothing changes.

use crate::ir::types::Ty;
use crate::ir::{Block, Func, InstKind, Value};
use std::collections::HashSet;

/// Whether values of this type can carry a derivative.
pub fn differentiable(t: &Ty) -> bool {
    match t {
        Ty::Tensor(t) => t.dtype.is_float(),
        Ty::Tuple(p) | Ty::Record(_, p) => p.iter().any(differentiable),
        Ty::Fn(f) => match f.base() {
            crate::ir::FnTy::User { captures, .. } => captures.iter().any(differentiable),
            _ => false,
        },
        // A loop's tape in a derivative: active when its states are, so that
        // differentiating through it is seen (and refused) rather than missed.
        Ty::List(e) => differentiable(e),
        Ty::Str | Ty::Never => false,
    }
}

/// The type of a derivative (cotangent) of a value of type `t`: the same
/// structure, with a closure's cotangent being the tuple of its captures'.
pub fn cotangent(t: &Ty) -> Ty {
    match t {
        Ty::Tensor(_) => t.clone(),
        Ty::Tuple(p) => Ty::Tuple(p.iter().map(cotangent).collect()),
        Ty::Record(s, p) => Ty::Record(*s, p.iter().map(cotangent).collect()),
        Ty::Fn(f) => match f.base() {
            crate::ir::FnTy::User { captures, .. } => Ty::Tuple(captures.iter().map(cotangent).collect()),
            _ => Ty::unit(),
        },
        Ty::Str | Ty::Never | Ty::List(_) => Ty::unit(),
    }
}

/// The active values of `f` when the parameters flagged in `active_params` are.
pub fn active_values(f: &Func, active_params: &[bool]) -> HashSet<Value> {
    let mut active: HashSet<Value> = HashSet::new();
    for (&p, &on) in f.param_values.iter().zip(active_params) {
        if on && f.ty(p).is_some_and(differentiable) {
            active.insert(p);
        }
    }
    loop {
        let before = active.len();
        visit(f, &f.body, &mut active);
        if active.len() == before {
            return active;
        }
    }
}

fn visit(f: &Func, b: &Block, active: &mut HashSet<Value>) {
    for inst in &b.insts {
        let any_arg = inst.args.iter().any(|a| active.contains(a));
        match &inst.kind {
            InstKind::If { then, else_ } => {
                visit(f, then, active);
                visit(f, else_, active);
                for (k, &r) in inst.results.iter().enumerate() {
                    let from = [then.yields.get(k), else_.yields.get(k)];
                    if from.iter().flatten().any(|y| active.contains(y)) {
                        mark(f, r, active);
                    }
                }
            }
            InstKind::For { body } => {
                // Carried values: init → body param → yield → param and result.
                for (k, &p) in body.params.iter().enumerate().skip(1) {
                    let init = inst.args.get(k + 1);
                    let y = body.yields.get(k - 1);
                    if init.is_some_and(|v| active.contains(v)) || y.is_some_and(|v| active.contains(v)) {
                        mark(f, p, active);
                        if let Some(&r) = inst.results.get(k - 1) {
                            mark(f, r, active);
                        }
                    }
                }
                visit(f, body, active);
            }
            InstKind::While { cond, body } => {
                for (k, &p) in body.params.iter().enumerate() {
                    let init = inst.args.get(k);
                    let y = body.yields.get(k);
                    if init.is_some_and(|v| active.contains(v)) || y.is_some_and(|v| active.contains(v)) {
                        mark(f, p, active);
                        if let Some(&c) = cond.params.get(k) {
                            mark(f, c, active);
                        }
                        if let Some(&r) = inst.results.get(k) {
                            mark(f, r, active);
                        }
                    }
                }
                visit(f, cond, active);
                visit(f, body, active);
            }
            _ => {
                if any_arg {
                    for &r in &inst.results {
                        mark(f, r, active);
                    }
                }
            }
        }
    }
}

fn mark(f: &Func, v: Value, active: &mut HashSet<Value>) {
    if f.ty(v).is_some_and(differentiable) {
        active.insert(v);
    }
}

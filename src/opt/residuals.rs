//! Residual promotion: a reverse sweep's transcendental functions of scalar
//! tape values (`cos x` for the derivative of `sin x`) move to the forward
//! sweep and onto the tape, and the reverse sweep reads them back.
//!
//! So do lengths of tape tensors: the adjoint of `concat` needs only its
//! first operand's length, and keeping the int instead of the tensor (which
//! tape pruning then drops) keeps the tape small and leaves the forward
//! sweep's tensor unshared, free to grow in place.
//!
//! A loop's forward sweep is usually a chain of dependent operations (each
//! step needs the last), and the processor's units wait on it; a function of
//! the step's values that nothing in the chain reads runs in those idle
//! slots at almost no cost, provided it comes after the chain's own work
//! in the body (see `rewrite`). The reverse sweep is another chain (the
//! adjoints), so the function costs more there. Only scalar results move:
//! a tensor function is the same work on either side and would only grow
//! the tape. Values are unchanged bit for bit: the same function of the same
//! value, computed earlier.

use super::tapes::Facts;
use crate::ir::types::Ty;
use crate::ir::{Block, Func, Inst, InstKind, Prim, UnaryOp, Value};
use std::collections::HashMap;

pub fn run(f: &mut Func) {
    let mut facts = Facts::of(f);
    let families = facts.families(f);
    if families.is_empty() {
        return;
    }
    // The entries read from each family, and the parts projected from them.
    let mut entry_family: HashMap<Value, usize> = HashMap::new();
    for (list, got) in facts.gets.clone() {
        let fam = facts.find(list.0 as usize);
        if families.contains_key(&fam) {
            entry_family.insert(got, fam);
        }
    }
    let mut plan = Plan::default();
    plan.find(&f.body, f, &entry_family, &families);
    if plan.replace.is_empty() {
        return;
    }
    // Each pushed tuple of a growing family gets the functions of its parts.
    let mut computed: HashMap<Value, Vec<(Value, Promoted, u32)>> = HashMap::new();
    for (item, list) in facts.pushes.clone() {
        let fam = facts.find(list.0 as usize);
        let Some(added) = plan.added.get(&fam) else {
            continue;
        };
        let new = added
            .iter()
            .map(|&(op, part, ref ty)| (f.new_value(Some(ty.clone()), None), op, part))
            .collect();
        computed.insert(item, new);
    }
    // Types: the families' lists, their read entries and pushed tuples.
    let extra = |fam: usize| -> Vec<Ty> {
        let added = plan.added.get(&fam).map(Vec::as_slice).unwrap_or_default();
        added.iter().map(|(_, _, ty)| ty.clone()).collect()
    };
    let mut grown: Vec<(Value, Vec<Ty>)> = Vec::new();
    for v in 0..f.values.len() {
        let fam = facts.find(v);
        if plan.added.contains_key(&fam) && matches!(f.ty(Value(v as u32)), Some(Ty::List(_))) {
            grown.push((Value(v as u32), extra(fam)));
        }
    }
    grown.extend(entry_family.iter().map(|(&entry, &fam)| (entry, extra(fam))));
    for (item, list) in facts.pushes.clone() {
        grown.push((item, extra(facts.find(list.0 as usize))));
    }
    for (v, more) in grown {
        match f.values.get_mut(v.0 as usize).and_then(|i| i.ty.as_mut()) {
            Some(Ty::List(elem)) => extend(elem, &more),
            Some(ty) => extend(ty, &more),
            None => {}
        }
    }
    rewrite(&mut f.body, &plan.replace, &computed);
}

fn extend(ty: &mut Ty, extra: &[Ty]) {
    if let Ty::Tuple(parts) = ty {
        parts.extend(extra.iter().cloned());
    }
}

/// A function of a tape value that the forward sweep computes instead.
#[derive(Clone, Copy, PartialEq)]
enum Promoted {
    Unary(UnaryOp),
    /// `len`: the first axis of a tensor.
    Len,
}

impl Promoted {
    fn prim(self) -> Prim {
        match self {
            Promoted::Unary(op) => Prim::Unary(op),
            Promoted::Len => Prim::Len,
        }
    }
}

/// Whether `op` costs enough to be worth a tape slot.
fn costly(op: UnaryOp) -> bool {
    use UnaryOp::*;
    matches!(op, Exp | Log | Sin | Cos | Tan | Tanh | Sigmoid)
}

#[derive(Default)]
struct Plan {
    /// Per family, the functions added to its entries: op, the part it is
    /// applied to, and the result's type, in the order of the new parts.
    added: HashMap<usize, Vec<(Promoted, u32, Ty)>>,
    /// Reverse-side results to read from the tape: entry and new part.
    replace: HashMap<Value, (Value, u32)>,
    /// Projections of entries: result to (entry, part).
    parts: HashMap<Value, (Value, u32)>,
}

impl Plan {
    fn find(
        &mut self,
        b: &Block,
        f: &Func,
        entry_family: &HashMap<Value, usize>,
        families: &HashMap<usize, usize>,
    ) {
        for inst in &b.insts {
            let (arg, res) = (inst.args.first().copied(), inst.results.first().copied());
            match (&inst.kind, arg, res) {
                (InstKind::TupleGet(i), Some(entry), Some(r)) if entry_family.contains_key(&entry) => {
                    self.parts.insert(r, (entry, *i));
                }
                (InstKind::Prim(p), Some(a), Some(r)) => {
                    let op = match p {
                        Prim::Unary(op) if costly(*op) && scalar_float(f, r) => Promoted::Unary(*op),
                        Prim::Len if ranked(f, a) => Promoted::Len,
                        _ => continue,
                    };
                    let Some(&(entry, part)) = self.parts.get(&a) else {
                        continue;
                    };
                    let Some((&fam, Some(&n))) = entry_family.get(&entry).map(|fam| (fam, families.get(fam)))
                    else {
                        continue;
                    };
                    let Some(ty) = f.ty(r).cloned() else {
                        continue;
                    };
                    let added = self.added.entry(fam).or_default();
                    let at = match added.iter().position(|(o, p, _)| *o == op && *p == part) {
                        Some(at) => at,
                        None => {
                            added.push((op, part, ty));
                            added.len() - 1
                        }
                    };
                    self.replace.insert(r, (entry, (n + at) as u32));
                }
                _ => {}
            }
            for inner in inst.blocks() {
                self.find(inner, f, entry_family, families);
            }
        }
    }
}

/// A tensor with a first axis (so `len` cannot fail, wherever it runs).
fn ranked(f: &Func, v: Value) -> bool {
    f.ty(v)
        .and_then(Ty::as_tensor)
        .is_some_and(|t| t.shape.rank() >= 1)
}

fn scalar_float(f: &Func, v: Value) -> bool {
    f.ty(v)
        .and_then(Ty::as_tensor)
        .is_some_and(|t| t.shape.rank() == 0 && t.dtype.is_float())
}

/// Reads the promoted results from the tape and computes them for each
/// push. A function runs just before the pushed tuple, after the step's own
/// work: the step's chain (`sin x` in W2) issues first, and the function
/// (`cos x`) fills the units while the chain waits. At the top of the body
/// instead, W2's value and gradient took 3.42 ms rather than 3.23
/// (2026-11-29). A `len` runs as soon as its operand is defined in the
/// pushing block, which leaves the operand free to be taken by a later
/// `concat` (else before the tuple too).
fn rewrite(
    b: &mut Block,
    replace: &HashMap<Value, (Value, u32)>,
    computed: &HashMap<Value, Vec<(Value, Promoted, u32)>>,
) {
    // The promoted instructions of this block's pushes, by the value they read.
    let mut early: HashMap<Value, Vec<Inst>> = HashMap::new();
    let defined_here: Vec<Value> = b
        .params
        .iter()
        .copied()
        .chain(b.insts.iter().flat_map(|i| i.results.iter().copied()))
        .collect();
    let insts = std::mem::take(&mut b.insts);
    let mut late: Vec<(usize, Inst)> = Vec::new();
    for (at, inst) in insts.iter().enumerate() {
        let result = inst.results.first().copied();
        if let (InstKind::Tuple, Some(new)) = (&inst.kind, result.and_then(|r| computed.get(&r))) {
            for &(v, op, part) in new {
                let Some(&operand) = inst.args.get(part as usize) else {
                    continue;
                };
                let promoted = Inst {
                    kind: InstKind::Prim(op.prim()),
                    args: vec![operand],
                    results: vec![v],
                    span: inst.span,
                };
                if matches!(op, Promoted::Len) && defined_here.contains(&operand) {
                    early.entry(operand).or_default().push(promoted);
                } else {
                    late.push((at, promoted));
                }
            }
        }
    }
    for p in &b.params {
        b.insts.extend(early.remove(p).unwrap_or_default());
    }
    for (at, mut inst) in insts.into_iter().enumerate() {
        let result = inst.results.first().copied();
        if let Some(&(entry, part)) = result.and_then(|r| replace.get(&r)) {
            inst.kind = InstKind::TupleGet(part);
            inst.args = vec![entry];
        }
        if let (InstKind::Tuple, Some(new)) = (&inst.kind, result.and_then(|r| computed.get(&r))) {
            inst.args.extend(new.iter().map(|&(v, _, _)| v));
        }
        b.insts
            .extend(late.iter().filter(|(k, _)| *k == at).map(|(_, i)| i.clone()));
        for inner in inst.blocks_mut() {
            rewrite(inner, replace, computed);
        }
        let results = inst.results.clone();
        b.insts.push(inst);
        for r in results {
            b.insts.extend(early.remove(&r).unwrap_or_default());
        }
    }
}

//! Index accumulations: `acc + index_grad(g, like, i…)`, where nothing else
//! reads the `index_grad` and `acc` has the sum's type, becomes
//! `index_add(acc, g, like, i…)`: `g` added into the region of `acc` that
//! the index selects, in place when no one else holds `acc`, instead of a
//! tensor of zeros the size of `acc` made and added to it.
//!
//! Reverse mode makes this sum for every read `x[i]` in a loop: the adjoint
//! of `x` accumulated across the iterations (the LSTM's weight blocks, read
//! one row per layer). `like` stays an operand so that the accumulation is
//! checked at run time: when `acc` does not have `like`'s shape (a shape
//! unknown at specialization that broadcasts), `index_add` computes the
//! sum as written. One difference is allowed (`docs/reference.md`): an
//! element -0.0 of `acc` outside the region stays -0.0 where adding the
//! zero would give +0.0.

use crate::ir::op::{BinaryOp, IndexItem};
use crate::ir::{Block, Func, Inst, InstKind, Prim, Value};
use std::collections::{HashMap, HashSet};

pub fn run(f: &mut Func) {
    let reads = f.body.read_counts();
    let mut grads = HashMap::new();
    let mut all = HashSet::new();
    index_grads(&f.body, &reads, &mut grads, &mut all);
    if grads.is_empty() {
        return;
    }
    let mut body = std::mem::take(&mut f.body);
    let mut folded = HashSet::new();
    rewrite(
        &mut body,
        f,
        &Grads {
            once: &grads,
            all: &all,
        },
        &mut folded,
    );
    remove(&mut body, &folded);
    f.body = body;
}

/// An `index_grad` read once: its items and operands `(g, like, i…)`.
struct IndexGrad {
    items: Vec<IndexItem>,
    args: Vec<Value>,
}

/// The `index_grad`s read once into `out`, and every one into `all`.
fn index_grads(
    b: &Block,
    reads: &HashMap<Value, usize>,
    out: &mut HashMap<Value, IndexGrad>,
    all: &mut HashSet<Value>,
) {
    for inst in &b.insts {
        if let (InstKind::Prim(Prim::IndexGrad(_)), [r]) = (&inst.kind, inst.results.as_slice()) {
            all.insert(*r);
        }
        if let (InstKind::Prim(Prim::IndexGrad(items)), [r]) = (&inst.kind, inst.results.as_slice())
            && reads.get(r) == Some(&1)
            && inst.args.len() >= 2
        {
            out.insert(
                *r,
                IndexGrad {
                    items: items.clone(),
                    args: inst.args.clone(),
                },
            );
        }
        for inner in inst.blocks() {
            index_grads(inner, reads, out, all);
        }
    }
}

/// The `index_grad`s of a function.
struct Grads<'a> {
    once: &'a HashMap<Value, IndexGrad>,
    all: &'a HashSet<Value>,
}

/// Rewrites each `add` of an accumulator and a once-read `index_grad`;
/// `folded` collects the `index_grad`s it took.
fn rewrite(b: &mut Block, f: &Func, grads: &Grads<'_>, folded: &mut HashSet<Value>) {
    for inst in &mut b.insts {
        for inner in inst.blocks_mut() {
            rewrite(inner, f, grads, folded);
        }
        let (InstKind::Prim(Prim::Binary(BinaryOp::Add)), [x, y], [r]) =
            (&inst.kind, inst.args.as_slice(), inst.results.as_slice())
        else {
            continue;
        };
        let (x, y, r) = (*x, *y, *r);
        let same_type = |v: Value| f.ty(v).is_some() && f.ty(v) == f.ty(r);
        // A sum of two of them is left to the interpreter's plan, which adds
        // their gradients before adding them into the region.
        let pick = [(y, x), (x, y)].into_iter().find(|&(ig, acc)| {
            grads.once.contains_key(&ig)
                && !grads.all.contains(&acc)
                && !folded.contains(&ig)
                && same_type(ig)
                && same_type(acc)
        });
        let Some((ig, acc)) = pick else {
            continue;
        };
        let Some(grad) = grads.once.get(&ig) else {
            continue;
        };
        let mut args = vec![acc];
        args.extend(grad.args.iter().copied());
        inst.kind = InstKind::Prim(Prim::IndexAdd(grad.items.clone()));
        inst.args = args;
        folded.insert(ig);
    }
}

/// Removes the `index_grad`s whose results are in `folded` (their one
/// reader now reads their operands).
fn remove(b: &mut Block, folded: &HashSet<Value>) {
    b.insts.retain(|inst: &Inst| {
        !(matches!(inst.kind, InstKind::Prim(Prim::IndexGrad(_)))
            && inst.results.iter().any(|r| folded.contains(r)))
    });
    for inst in &mut b.insts {
        for inner in inst.blocks_mut() {
            remove(inner, folded);
        }
    }
}

//! Sinking: moves tensor instructions that are not elementwise (indexing,
//! reductions, scatters, shape ops) and the building of tuples and records
//! down past the instructions after them that do not read them, to just
//! before their first reader (a reader takes along only what it reads,
//! directly or through other waiting instructions).
//! Runs of elementwise instructions then sit together in the block, where
//! the interpreter fuses them into one kernel (`backend::interp::fusion`
//! closes a group at the first other instruction that reads it). Derivative
//! code needs this most: the reverse of an elementwise chain interleaves it
//! with the scatters of the adjoints it accumulates, and an optimizer's
//! update builds each parameter's new moments into records before the step
//! that reads them. A slice that only a loop's next iteration reads moves
//! to the end of the loop's body, past the fused group that reads rows of
//! the tensor it cuts, so that it reads that tensor last and may cut its
//! buffer in place.
//!
//! Only instructions without effects move, and never past an effect, a
//! call or control flow, so output and file effects keep their order. Of two
//! instructions that would both fail at run time, the one moved may now
//! report its error second.

use super::purity::is_effect;
use crate::ir::{Block, Func, IndexItem, Inst, InstKind, Prim, Value};
use std::collections::HashSet;

pub fn run(f: &mut Func) {
    block(&mut f.body);
}

/// Whether `p` computes each element from the same element of its operands.
fn elementwise(p: &Prim) -> bool {
    matches!(
        p,
        Prim::Unary(_) | Prim::Binary(_) | Prim::Where | Prim::Clip | Prim::Cast(_)
    )
}

/// How an instruction takes part in the reordering.
enum Role {
    /// May wait until something reads it.
    Sinks,
    /// Stays in place (it has no blocks); the waiting ones stay waiting
    /// unless it reads them.
    Stays,
    /// Everything waiting goes before it.
    Barrier,
}

fn role(inst: &Inst) -> Role {
    match &inst.kind {
        InstKind::Prim(p) if is_effect(p) => Role::Barrier,
        InstKind::Prim(p) if elementwise(p) => Role::Stays,
        InstKind::Prim(_) | InstKind::Tuple | InstKind::Record(_) => Role::Sinks,
        InstKind::Const(_)
        | InstKind::TupleGet(_)
        | InstKind::RecordGet(_)
        | InstKind::CaptureGet(_)
        | InstKind::Closure(_)
        | InstKind::BuiltinRef(_)
        | InstKind::Derive(_) => Role::Stays,
        _ => Role::Barrier,
    }
}

fn block(b: &mut Block) {
    let mut out: Vec<Inst> = Vec::with_capacity(b.insts.len());
    let mut waiting: Vec<Inst> = Vec::new();
    for mut inst in std::mem::take(&mut b.insts) {
        for inner in inst.blocks_mut() {
            block(inner);
        }
        match role(&inst) {
            Role::Sinks => waiting.push(inst),
            Role::Stays => {
                out.extend(needed_by(&mut waiting, &inst.args));
                out.push(inst);
            }
            Role::Barrier => {
                out.append(&mut waiting);
                out.push(inst);
            }
        }
    }
    out.extend(slices_last(waiting));
    b.insts = out;
}

/// The instructions still waiting at the end of a block, in order, except
/// that slices no other waiting instruction reads (cuts of a carried
/// tensor for the loop's next iteration) go last: a fused group among the
/// others that reads rows of the tensor then runs first, and the slice, the
/// tensor's last reader, may cut its buffer in place.
fn slices_last(waiting: Vec<Inst>) -> Vec<Inst> {
    let read: HashSet<Value> = waiting.iter().flat_map(|i| i.args.iter().copied()).collect();
    let is_cut = |inst: &Inst| {
        matches!(&inst.kind, InstKind::Prim(Prim::Index(items))
            if items.iter().any(|it| !matches!(it, IndexItem::At)))
            && inst.results.iter().all(|r| !read.contains(r))
    };
    let (cuts, rest): (Vec<Inst>, Vec<Inst>) = waiting.into_iter().partition(is_cut);
    rest.into_iter().chain(cuts).collect()
}

/// Takes out of `waiting`, in order, the instructions that `args` read,
/// directly or through other waiting ones; the rest wait on.
fn needed_by(waiting: &mut Vec<Inst>, args: &[Value]) -> Vec<Inst> {
    let mut wanted: HashSet<Value> = args.iter().copied().collect();
    let mut needed = vec![false; waiting.len()];
    for (need, inst) in needed.iter_mut().zip(waiting.iter()).rev() {
        if inst.results.iter().any(|r| wanted.contains(r)) {
            *need = true;
            wanted.extend(inst.args.iter().copied());
        }
    }
    if !needed.contains(&true) {
        return Vec::new();
    }
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(waiting.len());
    for (inst, need) in std::mem::take(waiting).into_iter().zip(needed) {
        if need {
            taken.push(inst);
        } else {
            kept.push(inst);
        }
    }
    *waiting = kept;
    taken
}

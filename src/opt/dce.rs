//! Dead-code elimination: removes instructions whose results nobody uses and
//! that have no effect, repeating until nothing changes.

use super::purity::removable;
use crate::ir::{Block, Func, FuncId, Inst, InstKind, Prim, Value};
use std::collections::HashSet;

pub fn run(f: &mut Func, pure: &HashSet<FuncId>) {
    let mut shapes = HashSet::new();
    shape_values(&f.body, &mut shapes);
    loop {
        let mut used = HashSet::new();
        uses(&f.body, &mut used);
        let mut body = std::mem::take(&mut f.body);
        let dead = Dead {
            used: &used,
            shapes: &shapes,
            f,
            pure,
        };
        let changed = sweep(&mut body, &dead);
        f.body = body;
        if !changed {
            break;
        }
    }
}

fn uses(b: &Block, used: &mut HashSet<Value>) {
    for inst in &b.insts {
        used.extend(inst.args.iter().copied());
        for inner in inst.blocks() {
            uses(inner, used);
        }
    }
    used.extend(b.yields.iter().copied());
}

/// The values `shape(t)` computes: a `full` of one of them cannot fail
/// (derivative code makes zeros of a value's shape that way).
fn shape_values(b: &Block, out: &mut HashSet<Value>) {
    for inst in &b.insts {
        if matches!(inst.kind, InstKind::Prim(Prim::Shape)) {
            out.extend(inst.results.iter().copied());
        }
        for inner in inst.blocks() {
            shape_values(inner, out);
        }
    }
}

/// What decides that an instruction is dead.
struct Dead<'a> {
    used: &'a HashSet<Value>,
    shapes: &'a HashSet<Value>,
    f: &'a Func,
    pure: &'a HashSet<FuncId>,
}

impl Dead<'_> {
    fn dead(&self, inst: &Inst) -> bool {
        let full_of_a_shape = matches!(inst.kind, InstKind::Prim(Prim::Full(_)))
            && inst.args.first().is_some_and(|s| self.shapes.contains(s));
        (full_of_a_shape || removable(inst, self.f, self.pure))
            && inst.results.iter().all(|r| !self.used.contains(r))
    }
}

/// Removes dead instructions; returns whether anything changed.
fn sweep(b: &mut Block, dead: &Dead) -> bool {
    let before = b.insts.len();
    b.insts.retain(|inst| !dead.dead(inst));
    let mut changed = b.insts.len() != before;
    for inst in &mut b.insts {
        for inner in inst.blocks_mut() {
            changed |= sweep(inner, dead);
        }
    }
    changed
}

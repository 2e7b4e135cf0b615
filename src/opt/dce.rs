//! Dead-code elimination: removes instructions whose results nobody uses and
//! that have no effect, repeating until nothing changes.

use super::purity::removable;
use crate::ir::{Block, Func, FuncId, Value};
use std::collections::HashSet;

pub fn run(f: &mut Func, pure: &HashSet<FuncId>) {
    loop {
        let mut used = HashSet::new();
        uses(&f.body, &mut used);
        let mut body = std::mem::take(&mut f.body);
        let changed = sweep(&mut body, &used, f, pure);
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

/// Removes dead instructions; returns whether anything changed.
fn sweep(b: &mut Block, used: &HashSet<Value>, f: &Func, pure: &HashSet<FuncId>) -> bool {
    let before = b.insts.len();
    b.insts
        .retain(|inst| !(removable(inst, f, pure) && inst.results.iter().all(|r| !used.contains(r))));
    let mut changed = b.insts.len() != before;
    for inst in &mut b.insts {
        for inner in inst.blocks_mut() {
            changed |= sweep(inner, used, f, pure);
        }
    }
    changed
}

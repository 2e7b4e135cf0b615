//! Dead-code elimination: removes instructions whose results nobody uses and
//! that have no effect, repeating until nothing changes.

use super::purity::removable;
use crate::ir::{Block, Func, FuncId, InstKind, Value};
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
        match &inst.kind {
            InstKind::If { then, else_ } => {
                uses(then, used);
                uses(else_, used);
            }
            InstKind::For { body } => uses(body, used),
            InstKind::While { cond, body } => {
                uses(cond, used);
                uses(body, used);
            }
            _ => {}
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
        match &mut inst.kind {
            InstKind::If { then, else_ } => {
                changed |= sweep(then, used, f, pure);
                changed |= sweep(else_, used, f, pure);
            }
            InstKind::For { body } => changed |= sweep(body, used, f, pure),
            InstKind::While { cond, body } => {
                changed |= sweep(cond, used, f, pure);
                changed |= sweep(body, used, f, pure);
            }
            _ => {}
        }
    }
    changed
}

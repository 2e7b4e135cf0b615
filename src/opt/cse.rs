//! Common-subexpression elimination: an instruction identical to an earlier
//! one in the same or an enclosing block (same kind, same operands, same
//! result type) is replaced by the earlier result. Constants are compared by
//! their bits, so `0.0` and `-0.0` stay apart.

use super::purity::removable;
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Value};
use std::collections::{HashMap, HashSet};

pub fn run(f: &mut Func, pure: &HashSet<FuncId>) {
    let mut rename: HashMap<Value, Value> = HashMap::new();
    let types: Vec<String> = f.values.iter().map(|v| format!("{:?}", v.ty)).collect();
    let mut scopes: Vec<HashMap<String, Value>> = vec![HashMap::new()];
    let mut body = std::mem::take(&mut f.body);
    block(&mut body, &mut rename, &mut scopes, &types, f, pure);
    f.body = body;
}

fn key(inst: &Inst, types: &[String]) -> Option<String> {
    let [r] = inst.results.as_slice() else { return None };
    let kind = match &inst.kind {
        InstKind::Const(Const::Float(x)) => format!("float {}", x.to_bits()),
        InstKind::If { .. } | InstKind::For { .. } | InstKind::While { .. } => return None,
        k => format!("{k:?}"),
    };
    let ty = types.get(r.0 as usize).cloned().unwrap_or_default();
    Some(format!("{kind} {:?} : {ty}", inst.args))
}

fn block(
    b: &mut Block,
    rename: &mut HashMap<Value, Value>,
    scopes: &mut Vec<HashMap<String, Value>>,
    types: &[String],
    f: &Func,
    pure: &HashSet<FuncId>,
) {
    scopes.push(HashMap::new());
    let mut kept = Vec::with_capacity(b.insts.len());
    for mut inst in std::mem::take(&mut b.insts) {
        for a in &mut inst.args {
            if let Some(n) = rename.get(a) {
                *a = *n;
            }
        }
        match &mut inst.kind {
            InstKind::If { then, else_ } => {
                block(then, rename, scopes, types, f, pure);
                block(else_, rename, scopes, types, f, pure);
            }
            InstKind::For { body } => block(body, rename, scopes, types, f, pure),
            InstKind::While { cond, body } => {
                block(cond, rename, scopes, types, f, pure);
                block(body, rename, scopes, types, f, pure);
            }
            _ => {}
        }
        // Merging is safe for anything without effects: the first copy still runs.
        if merge_safe(&inst, f, pure)
            && let Some(k) = key(&inst, types)
            && let Some(r) = inst.results.first().copied()
        {
            if let Some(&earlier) = scopes.iter().rev().find_map(|s| s.get(&k)) {
                rename.insert(r, earlier);
                continue;
            }
            if let Some(s) = scopes.last_mut() {
                s.insert(k, r);
            }
        }
        kept.push(inst);
    }
    b.insts = kept;
    for y in &mut b.yields {
        if let Some(n) = rename.get(y) {
            *y = *n;
        }
    }
    scopes.pop();
}

/// Identical instructions can be merged when neither has an effect; a
/// failing one still fails at its first occurrence.
fn merge_safe(inst: &Inst, f: &Func, pure: &HashSet<FuncId>) -> bool {
    match &inst.kind {
        InstKind::Prim(p) => !p.is_effect(),
        _ => removable(inst, f, pure),
    }
}

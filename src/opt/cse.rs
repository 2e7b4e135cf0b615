//! Common-subexpression elimination: an instruction identical to an earlier
//! one in the same or an enclosing block (same kind, same operands, same
//! result type) is replaced by the earlier result. Constants are compared by
//! their bits, so `0.0` and `-0.0` stay apart. A projection of a tuple or
//! record built by an instruction in view is replaced by the part itself
//! (derivative code builds and takes apart many such aggregates).

use super::purity::{is_effect, removable};
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Value};
use std::collections::{HashMap, HashSet};

pub fn run(f: &mut Func, pure: &HashSet<FuncId>) {
    let mut rename: HashMap<Value, Value> = HashMap::new();
    let types: Vec<String> = f.values.iter().map(|v| format!("{:?}", v.ty)).collect();
    let mut scopes: Vec<HashMap<String, Value>> = vec![HashMap::new()];
    let mut parts: HashMap<Value, Vec<Value>> = HashMap::new();
    let mut body = std::mem::take(&mut f.body);
    let mut st = State {
        rename: &mut rename,
        scopes: &mut scopes,
        parts: &mut parts,
        types: &types,
    };
    block(&mut body, &mut st, f, pure);
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

/// What the walk knows: replaced values, the instructions seen in each
/// enclosing block (by key), the parts of the aggregates built so far, and
/// each value's type (printed, for comparison).
struct State<'a> {
    rename: &'a mut HashMap<Value, Value>,
    scopes: &'a mut Vec<HashMap<String, Value>>,
    parts: &'a mut HashMap<Value, Vec<Value>>,
    types: &'a [String],
}

fn block(b: &mut Block, st: &mut State, f: &Func, pure: &HashSet<FuncId>) {
    st.scopes.push(HashMap::new());
    let mut kept = Vec::with_capacity(b.insts.len());
    for mut inst in std::mem::take(&mut b.insts) {
        for a in &mut inst.args {
            if let Some(n) = st.rename.get(a) {
                *a = *n;
            }
        }
        match &mut inst.kind {
            InstKind::If { then, else_ } => {
                block(then, st, f, pure);
                block(else_, st, f, pure);
            }
            InstKind::For { body } => block(body, st, f, pure),
            InstKind::While { cond, body } => {
                block(cond, st, f, pure);
                block(body, st, f, pure);
            }
            _ => {}
        }
        if let Some((r, part)) = known_part(&inst, st) {
            st.rename.insert(r, part);
            continue;
        }
        if let (InstKind::Tuple | InstKind::Record(_), [r]) = (&inst.kind, inst.results.as_slice()) {
            st.parts.insert(*r, inst.args.clone());
        }
        // Merging is safe for anything without effects: the first copy still runs.
        if merge_safe(&inst, f, pure)
            && let Some(k) = key(&inst, st.types)
            && let Some(r) = inst.results.first().copied()
        {
            if let Some(&earlier) = st.scopes.iter().rev().find_map(|s| s.get(&k)) {
                st.rename.insert(r, earlier);
                continue;
            }
            if let Some(s) = st.scopes.last_mut() {
                s.insert(k, r);
            }
        }
        kept.push(inst);
    }
    b.insts = kept;
    for y in &mut b.yields {
        if let Some(n) = st.rename.get(y) {
            *y = *n;
        }
    }
    st.scopes.pop();
}

/// For `r = tget i t` where `t` was built from parts in view: `r` and the
/// part, when their types are the same.
fn known_part(inst: &Inst, st: &State) -> Option<(Value, Value)> {
    let (InstKind::TupleGet(i) | InstKind::RecordGet(i), [t], [r]) =
        (&inst.kind, inst.args.as_slice(), inst.results.as_slice())
    else {
        return None;
    };
    let part = *st.parts.get(t)?.get(*i as usize)?;
    let ty = |v: Value| st.types.get(v.0 as usize);
    (ty(*r) == ty(part)).then_some((*r, part))
}

/// Identical instructions can be merged when neither has an effect; a
/// failing one still fails at its first occurrence.
fn merge_safe(inst: &Inst, f: &Func, pure: &HashSet<FuncId>) -> bool {
    match &inst.kind {
        InstKind::Prim(p) => !is_effect(p),
        _ => removable(inst, f, pure),
    }
}

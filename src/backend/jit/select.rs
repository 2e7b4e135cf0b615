//! The boundary of mixed mode: which specialized functions are compiled.
//!
//! A function is compiled when every value it defines has a layout (scalars
//! and aggregates of them, see `layout`), every instruction has a lowering,
//! and every function it calls is compiled too. The last rule makes the
//! boundary one-way: the interpreter calls compiled code, compiled code never
//! calls back into the interpreter. Lists (loop tapes) stay inside one call:
//! a function that takes or returns one is not compiled. It is found as a greatest fixpoint, so
//! (mutually) recursive functions are compiled together.

use super::layout;
use super::scalar;
use crate::ir::types::StructNames;
use crate::ir::{Block, Const, Func, FuncId, InstKind, Program};
use std::collections::BTreeMap;

/// For each function of the program: compiled, or why it runs in the interpreter.
pub struct Selection {
    pub compiled: Vec<FuncId>,
    pub interpreted: BTreeMap<FuncId, String>,
}

/// Chooses the functions to compile; `excluded` are refused up front, with a reason.
pub fn select(program: &Program, excluded: &BTreeMap<FuncId, String>) -> Selection {
    let mut interpreted: BTreeMap<FuncId, String> = excluded.clone();
    for (i, f) in program.funcs.iter().enumerate() {
        let id = FuncId(i as u32);
        if interpreted.contains_key(&id) {
            continue;
        }
        if let Err(why) = compilable(program, f) {
            interpreted.insert(id, why);
        }
    }
    // Drop callers of interpreted functions until nothing changes.
    loop {
        let mut changed = false;
        for (i, f) in program.funcs.iter().enumerate() {
            let id = FuncId(i as u32);
            if interpreted.contains_key(&id) {
                continue;
            }
            if let Some(g) = callees(&f.body).into_iter().find(|g| interpreted.contains_key(g)) {
                let name = program.func(g).map(|x| x.name.as_str()).unwrap_or("?");
                interpreted.insert(id, format!("calls `{name}`, which runs in the interpreter"));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let compiled = (0..program.funcs.len() as u32)
        .map(FuncId)
        .filter(|f| !interpreted.contains_key(f))
        .collect();
    Selection {
        compiled,
        interpreted,
    }
}

/// Whether `f` on its own can be compiled (ignoring its callees).
fn compilable(program: &Program, f: &Func) -> Result<(), String> {
    for info in &f.values {
        if let Some(ty) = &info.ty
            && let Err(t) = layout::slots(ty)
        {
            return Err(format!(
                "holds a value of type {}",
                t.describe(program as &dyn StructNames)
            ));
        }
    }
    // A list lives and dies in one call (its buffer is freed on return), so
    // none is passed in or out.
    let boundary = f.param_tys().into_iter().chain([super::lower::result_ty(f)]);
    if boundary.into_iter().any(|t| layout::contains_list(&t)) {
        return Err("takes or returns a list".into());
    }
    block_ok(&f.body)
}

fn block_ok(b: &Block) -> Result<(), String> {
    for inst in &b.insts {
        match &inst.kind {
            InstKind::Const(Const::Str(_)) => return Err("holds a string".into()),
            InstKind::Prim(p) => scalar::supported(p)?,
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                return Err("holds untyped instructions".into());
            }
            InstKind::Const(_)
            | InstKind::ListNew
            | InstKind::ListPush
            | InstKind::ListGet
            | InstKind::ListLen
            | InstKind::BuiltinRef(_)
            | InstKind::Call(_)
            | InstKind::Closure(_)
            | InstKind::CaptureGet(_)
            | InstKind::Tuple
            | InstKind::TupleGet(_)
            | InstKind::Record(_)
            | InstKind::RecordGet(_)
            | InstKind::Derive(_)
            | InstKind::If { .. }
            | InstKind::For { .. }
            | InstKind::While { .. } => {}
        }
        for inner in inst.blocks() {
            block_ok(inner)?;
        }
    }
    Ok(())
}

/// Every function called directly in `b`, nested blocks included.
pub fn callees(b: &Block) -> Vec<FuncId> {
    let mut out = Vec::new();
    for inst in &b.insts {
        if let InstKind::Call(g) = inst.kind {
            out.push(g);
        }
        for inner in inst.blocks() {
            out.extend(callees(inner));
        }
    }
    out
}

//! Global name resolution: the items of every loaded module (functions,
//! structs, imports), their ids in the program, duplicate checks, and the one
//! rule that binds a call's arguments to a callee's parameters (positional,
//! then named, then defaults) used for functions and builtins alike.
//!
//! Local scopes (variables, shadowing, mutability, captures) are tracked by
//! lowering, which walks the bodies once.

use super::load::{LoadedModule, ModuleId};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{FuncId, StructId};
use crate::syntax::ast::{self, Ident, Item};
use crate::syntax::{Span, Symbol};
use std::collections::HashMap;

/// What a module-level name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    Func(FuncId),
    Struct(StructId),
}

/// Item tables of all modules, with ids assigned in a first pass so that
/// bodies can refer to items declared anywhere.
#[derive(Debug, Default)]
pub struct Globals {
    pub items: Vec<HashMap<Symbol, (Global, Span)>>,
    /// For each declared function id: its module and declaration.
    pub fn_decls: Vec<(ModuleId, ast::FnDecl)>,
    pub struct_decls: Vec<(ModuleId, ast::StructDecl)>,
}

impl Globals {
    /// Collects the items of every module; reports duplicates.
    pub fn collect(modules: &[LoadedModule], diags: &mut Vec<Diagnostic>) -> Globals {
        let mut g = Globals::default();
        for (mi, m) in modules.iter().enumerate() {
            let mut table: HashMap<Symbol, (Global, Span)> = HashMap::new();
            for item in &m.ast.items {
                let (name, global) = match item {
                    Item::Fn(f) => {
                        let id = FuncId(g.fn_decls.len() as u32);
                        g.fn_decls.push((ModuleId(mi), f.clone()));
                        (f.name, Global::Func(id))
                    }
                    Item::Struct(s) => {
                        let id = StructId(g.struct_decls.len() as u32);
                        g.struct_decls.push((ModuleId(mi), s.clone()));
                        check_duplicate_fields(s, diags);
                        (s.name, Global::Struct(id))
                    }
                    Item::Import(_) | Item::Test(_) | Item::Adjoint(_) => continue,
                };
                if let Some((_, prev)) = table.insert(name.name, (global, name.span)) {
                    diags.push(
                        Diagnostic::error(name.span, format!("`{}` is defined twice", name.name))
                            .with_label("second definition")
                            .with_secondary(prev, "first defined here"),
                    );
                }
            }
            g.items.push(table);
        }
        g
    }

    pub fn lookup(&self, module: ModuleId, name: Symbol) -> Option<Global> {
        self.items
            .get(module.0)
            .and_then(|t| t.get(&name))
            .map(|(g, _)| *g)
    }

    /// Names of a module's items, for "did you mean" hints.
    pub fn names(&self, module: ModuleId) -> Vec<&'static str> {
        self.items
            .get(module.0)
            .map(|t| t.keys().map(|s| s.as_str()).collect())
            .unwrap_or_default()
    }
}

fn check_duplicate_fields(s: &ast::StructDecl, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<Symbol, Span> = HashMap::new();
    for f in &s.fields {
        if let Some(prev) = seen.insert(f.name.name, f.name.span) {
            diags.push(
                Diagnostic::error(f.name.span, format!("field `{}` is declared twice", f.name.name))
                    .with_secondary(prev, "first declared here"),
            );
        }
    }
}

/// Reports parameters declared twice in one list.
pub fn check_duplicate_params(params: &[ast::Param], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<Symbol, Span> = HashMap::new();
    for p in params {
        if let Some(prev) = seen.insert(p.name.name, p.name.span) {
            diags.push(
                Diagnostic::error(
                    p.name.span,
                    format!("parameter `{}` is declared twice", p.name.name),
                )
                .with_label("duplicate parameter")
                .with_secondary(prev, "first declared here"),
            );
        }
    }
}

/// A parameter as argument binding sees it.
#[derive(Clone, Copy, Debug)]
pub struct ParamSlot {
    pub name: Symbol,
    pub has_default: bool,
}

/// Where the value of each parameter comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The call's argument at this index.
    Arg(usize),
    /// The parameter's default.
    Default,
}

/// Binds call arguments (`names[i]` is `Some` for a named argument) to
/// parameters: positional arguments first, in order, then named ones.
pub fn bind_args(
    callee: &str,
    params: &[ParamSlot],
    names: &[Option<Ident>],
    call_span: Span,
    callee_span: Span,
) -> Result<Vec<Bound>, Diagnostic> {
    let mut bound: Vec<Option<Bound>> = vec![None; params.len()];
    let mut seen_named = false;
    let n_positional = names.iter().filter(|n| n.is_none()).count();
    if n_positional > params.len() {
        let takes = plural(params.len(), "argument");
        return Err(Diagnostic::error(
            call_span,
            format!("`{callee}` takes {takes} but {n_positional} were given"),
        )
        .with_label(format!("expected {takes}"))
        .with_secondary(callee_span, "function called here"));
    }
    let mut next_positional = 0;
    for (i, name) in names.iter().enumerate() {
        match name {
            None => {
                if seen_named {
                    return Err(
                        Diagnostic::error(call_span, "positional argument after a named argument")
                            .with_help("put positional arguments first"),
                    );
                }
                if let Some(slot) = bound.get_mut(next_positional) {
                    *slot = Some(Bound::Arg(i));
                }
                next_positional += 1;
            }
            Some(id) => {
                seen_named = true;
                let Some(pi) = params.iter().position(|p| p.name == id.name) else {
                    let mut d = Diagnostic::error(
                        id.span,
                        format!("`{callee}` has no parameter named `{}`", id.name),
                    )
                    .with_label("unknown argument name");
                    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                    if let Some(h) = did_you_mean(id.name.as_str(), names.iter().copied()) {
                        d = d.with_help(h);
                    } else if !names.is_empty() {
                        d = d.with_help(format!("its parameters are: {}", names.join(", ")));
                    }
                    return Err(d);
                };
                match bound.get_mut(pi) {
                    Some(slot @ None) => *slot = Some(Bound::Arg(i)),
                    _ => {
                        return Err(Diagnostic::error(
                            id.span,
                            format!("argument `{}` of `{callee}` is given twice", id.name),
                        ));
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(params.len());
    for (p, b) in params.iter().zip(bound) {
        match b {
            Some(b) => out.push(b),
            None if p.has_default => out.push(Bound::Default),
            None => {
                let required = params.iter().filter(|p| !p.has_default).count();
                return Err(Diagnostic::error(
                    call_span,
                    format!("missing argument `{}` in call to `{callee}`", p.name),
                )
                .with_label(format!(
                    "`{callee}` expects {} but got {}",
                    plural(required, "argument"),
                    names.len()
                )));
            }
        }
    }
    Ok(out)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

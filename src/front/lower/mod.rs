//! Lowering: from the AST of all loaded modules to the untyped SSA IR.
//!
//! - Every `fn`, lambda, test body, non-literal parameter default and the main
//!   body becomes an IR function. Lambdas are lambda-lifted: their free
//!   variables become leading parameters (`n_captures`) and the lambda
//!   expression becomes a `Closure` over the captured values (by value).
//! - `let mut` variables become SSA values: an assignment rebinds the name; an
//!   `if` yields the variables its branches changed; a loop carries the
//!   variables its body assigns.
//! - `break`, `continue` and `return` become hidden mutable flags (and a
//!   return-value slot): the rest of a block after a statement that may exit is
//!   guarded by `if !flags`, a loop with `break` or `return` becomes a `while`
//!   whose condition tests the flags. Later stages never see early exits.
//! - Local checks happen here, with spans: unknown names (with "did you mean"),
//!   assignment to immutable or captured variables, arity and named arguments,
//!   duplicate parameters, `break`/`continue` outside a loop, missing or unknown
//!   struct fields in literals.

mod control;
mod ctx;
mod expr;
mod scan;

use super::load::{LoadedModule, ModuleId};
use super::resolve::{Global, Globals, check_duplicate_params};
use crate::diag::Diagnostic;
use crate::ir::{self, Const, DefaultValue, FuncId, Program, StructDef, TypeAnn};
use crate::syntax::ast::{self, ExprKind, Item, UnOp};
use crate::syntax::{SourceMap, Span, Symbol};
use ctx::FnCtx;

/// Lowers all loaded modules (the first is the main file) into one program.
pub fn lower_program(modules: &[LoadedModule], sources: &SourceMap) -> (Program, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let globals = Globals::collect(modules, &mut diags);
    let ctx = FnCtx::new(ModuleId(0), Symbol::intern("main"), Span::default(), false);
    let mut l = Lowerer {
        modules,
        sources,
        globals,
        program: Program::default(),
        diags,
        ctx,
        outer: Vec::new(),
        builtin_wrappers: std::collections::HashMap::new(),
    };
    l.declare_items();
    l.lower_items();
    (l.program, l.diags)
}

pub(crate) struct Lowerer<'a> {
    modules: &'a [LoadedModule],
    sources: &'a SourceMap,
    globals: Globals,
    program: Program,
    diags: Vec<Diagnostic>,
    /// The function being built.
    ctx: FnCtx,
    /// Enclosing functions being built (a lambda inside a function), innermost last.
    outer: Vec<FnCtx>,
    /// Functions that wrap builtins used as values.
    builtin_wrappers: std::collections::HashMap<crate::ir::Builtin, FuncId>,
}

impl Lowerer<'_> {
    fn qualified(&self, module: ModuleId, name: Symbol) -> Symbol {
        let prefix = self.modules.get(module.0).map(|m| m.prefix()).unwrap_or_default();
        Symbol::intern(&format!("{prefix}{name}"))
    }

    /// Creates the IR structs and placeholder functions for every declared
    /// item, so that ids are fixed before any body is lowered.
    fn declare_items(&mut self) {
        for (module, s) in self.globals.struct_decls.clone() {
            let name = self.qualified(module, s.name.name);
            self.program.structs.push(StructDef {
                name,
                fields: s.fields.iter().map(|f| f.name.name).collect(),
                span: s.span,
            });
        }
        for (module, f) in self.globals.fn_decls.clone() {
            let name = self.qualified(module, f.name.name);
            self.program.funcs.push(placeholder_func(name, f.span));
        }
    }

    fn lower_items(&mut self) {
        let decls = self.globals.fn_decls.clone();
        for (i, (module, f)) in decls.iter().enumerate() {
            check_duplicate_params(&f.params, &mut self.diags);
            let params = self.lower_params(*module, &f.params);
            let ret_ann = f.ret.as_ref().and_then(|a| self.lower_ann(*module, a));
            let id = FuncId(i as u32);
            let name = self.qualified(*module, f.name.name);
            let func = self.lower_function(*module, name, params, ret_ann, &f.body, f.span);
            if let Some(slot) = self.program.funcs.get_mut(id.0 as usize) {
                *slot = func;
            }
        }
        for (mi, m) in self.modules.iter().enumerate() {
            let module = ModuleId(mi);
            for item in &m.ast.items {
                match item {
                    Item::Test(t) if mi == 0 => {
                        let body = ast::Expr {
                            kind: ExprKind::Block(t.body.clone()),
                            span: t.body.span,
                        };
                        let name = Symbol::intern(&format!("test {}", t.name));
                        let func = self.lower_function(module, name, Vec::new(), None, &body, t.span);
                        let id = self.push_func(func);
                        self.program.tests.push(ir::TestDef {
                            name: t.name.clone(),
                            func: id,
                            span: t.span,
                        });
                    }
                    Item::Adjoint(a) => self.lower_adjoint(module, a),
                    Item::Fn(_) | Item::Struct(_) | Item::Import(_) | Item::Test(_) => {}
                }
            }
            if mi == 0 {
                let body = ast::Block {
                    stmts: m.ast.stmts.clone(),
                    tail: None,
                    span: Span::default(),
                };
                let span = m.ast.stmts.first().map(|s| s.span).unwrap_or_default();
                let body = ast::Expr {
                    kind: ExprKind::Block(body),
                    span,
                };
                let func = self.lower_function(module, Symbol::intern("main"), Vec::new(), None, &body, span);
                let id = self.push_func(func);
                self.program.main = Some(id);
            } else if let Some(s) = m.ast.stmts.first() {
                self.diags.push(
                    Diagnostic::error(s.span, "a module may contain only items, not statements").with_help(
                        "move this statement into a function, or into the program that imports the module",
                    ),
                );
            }
        }
    }

    /// `adjoint f(x, y, out, dout) { … }`: a function of f's arguments, its
    /// result and the result's adjoint, returning the arguments' adjoints.
    fn lower_adjoint(&mut self, module: ModuleId, a: &ast::AdjointDecl) {
        let Some(Global::Func(f)) = self.globals.lookup(module, a.name.name) else {
            self.error(
                Diagnostic::error(
                    a.name.span,
                    format!("no function `{}` to give an adjoint to", a.name.name),
                )
                .with_help("declare `fn` with this name in the same file"),
            );
            return;
        };
        let n = self
            .globals
            .fn_decls
            .get(f.0 as usize)
            .map(|(_, d)| d.params.len())
            .unwrap_or(0);
        if a.params.len() != n + 2 {
            let decl = self.globals.fn_decls.get(f.0 as usize).map(|(_, d)| d.name.span);
            let mut d = Diagnostic::error(
                a.name.span,
                format!(
                    "the adjoint of `{}` must take its {n} argument{}, then `out` and `dout` ({} parameters), but takes {}",
                    a.name.name,
                    if n == 1 { "" } else { "s" },
                    n + 2,
                    a.params.len()
                ),
            );
            if let Some(s) = decl {
                d = d.with_secondary(s, "function declared here");
            }
            self.error(d);
            return;
        }
        if self.program.adjoint_of(f).is_some() {
            self.error(Diagnostic::error(
                a.name.span,
                format!("`{}` has two adjoints", a.name.name),
            ));
            return;
        }
        check_duplicate_params(&a.params, &mut self.diags);
        let params = self.lower_params(module, &a.params);
        let name = Symbol::intern(&format!("{}'adjoint", self.qualified(module, a.name.name)));
        let body = ast::Expr {
            kind: ExprKind::Block(a.body.clone()),
            span: a.body.span,
        };
        let func = self.lower_function(module, name, params, None, &body, a.span);
        let id = self.push_func(func);
        self.program.adjoints.push((f, id));
    }

    fn push_func(&mut self, f: ir::Func) -> FuncId {
        self.program.funcs.push(f);
        FuncId((self.program.funcs.len() - 1) as u32)
    }

    /// Parameter declarations with annotations and defaults (literal defaults
    /// become constants; others a function of no arguments).
    fn lower_params(&mut self, module: ModuleId, params: &[ast::Param]) -> Vec<ir::Param> {
        params
            .iter()
            .map(|p| {
                let ann = p.ty.as_ref().and_then(|a| self.lower_ann(module, a));
                let default = p.default.as_ref().map(|d| match literal_const(d) {
                    Some(c) => DefaultValue::Const(c),
                    None => {
                        let name = Symbol::intern(&format!("default of {}", p.name.name));
                        let f = self.lower_function(module, name, Vec::new(), None, d, d.span);
                        DefaultValue::Thunk(self.push_func(f))
                    }
                });
                ir::Param {
                    name: p.name.name,
                    span: p.name.span,
                    ann,
                    default,
                }
            })
            .collect()
    }

    fn lower_ann(&mut self, module: ModuleId, a: &ast::TypeAnn) -> Option<TypeAnn> {
        match a {
            ast::TypeAnn::Tuple { elems, .. } => {
                let parts: Option<Vec<TypeAnn>> = elems.iter().map(|e| self.lower_ann(module, e)).collect();
                parts.map(TypeAnn::Tuple)
            }
            ast::TypeAnn::Named { path, span } => {
                if let [one] = path.as_slice() {
                    let builtin = match one.name.as_str() {
                        "int" => Some(TypeAnn::Int),
                        "bool" => Some(TypeAnn::Bool),
                        "float" => Some(TypeAnn::Float),
                        "f32" => Some(TypeAnn::F32),
                        "f64" => Some(TypeAnn::F64),
                        "Tensor" => Some(TypeAnn::Tensor),
                        "str" | "string" => Some(TypeAnn::Str),
                        _ => None,
                    };
                    if builtin.is_some() {
                        return builtin;
                    }
                }
                match self.resolve_struct_path(module, path) {
                    Some(id) => Some(TypeAnn::Struct(id)),
                    None => {
                        let text: Vec<&str> = path.iter().map(|p| p.name.as_str()).collect();
                        self.diags.push(
                            Diagnostic::error(*span, format!("unknown type `{}`", text.join(".")))
                                .with_help("types are int, bool, float, f32, f64, Tensor, str, a struct name or a tuple of types"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// `Point` or `nn.Dense` → the struct's id, if it names one.
    fn resolve_struct_path(&self, module: ModuleId, path: &[ast::Ident]) -> Option<ir::StructId> {
        let (target, name) = match path {
            [one] => (module, one.name),
            [m, one] => (self.modules.get(module.0)?.imports.get(&m.name)?.0, one.name),
            _ => return None,
        };
        match self.globals.lookup(target, name)? {
            Global::Struct(s) => Some(s),
            Global::Func(_) => None,
        }
    }

    /// Lowers a function body (a block or expression) with the given params.
    fn lower_function(
        &mut self,
        module: ModuleId,
        name: Symbol,
        params: Vec<ir::Param>,
        ret_ann: Option<TypeAnn>,
        body: &ast::Expr,
        span: Span,
    ) -> ir::Func {
        self.enter(FnCtx::new(module, name, span, false));
        self.bind_params(&params);
        let result = self.lower_body(body);
        self.leave().finish(params, ret_ann, result)
    }

    /// Starts building a nested function.
    fn enter(&mut self, ctx: FnCtx) {
        let parent = std::mem::replace(&mut self.ctx, ctx);
        self.outer.push(parent);
    }

    /// Finishes the innermost function and returns to its parent.
    fn leave(&mut self) -> FnCtx {
        let parent = self
            .outer
            .pop()
            .unwrap_or_else(|| FnCtx::new(ModuleId(0), Symbol::intern("main"), Span::default(), false));
        std::mem::replace(&mut self.ctx, parent)
    }

    /// Declares each parameter as an immutable variable of the current function.
    fn bind_params(&mut self, params: &[ir::Param]) {
        for p in params {
            let v = self.cur().func.new_value(None, Some(p.name));
            self.cur().param_values.push(v);
            self.cur().declare(p.name, v, false, p.span);
        }
    }

    /// The body's value, with the early-return slot consulted if the body may return.
    fn lower_body(&mut self, body: &ast::Expr) -> ir::Value {
        let exits = scan::expr_exits(body);
        if exits.ret {
            let span = body.span;
            let f = self.const_value(Const::Bool(false), span);
            let u = self.const_value(Const::Undef, span);
            let flag = self.cur().declare_hidden("$returned", f);
            let slot = self.cur().declare_hidden("$result", u);
            self.cur().ret = Some((flag, slot));
        }
        let v = self.lower_expr(body);
        match self.cur().ret {
            Some((flag, slot)) => {
                let flag_v = self.cur().var_value(flag);
                let slot_v = self.cur().var_value(slot);
                self.select(flag_v, slot_v, v, body.span)
            }
            None => v,
        }
    }

    fn cur(&mut self) -> &mut FnCtx {
        &mut self.ctx
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn const_value(&mut self, c: Const, span: Span) -> ir::Value {
        self.emit(ir::InstKind::Const(c), Vec::new(), span)
    }

    /// Emits a one-result instruction into the current block.
    fn emit(&mut self, kind: ir::InstKind, args: Vec<ir::Value>, span: Span) -> ir::Value {
        let v = self.cur().func.new_value(None, None);
        self.cur().push_inst(ir::Inst {
            kind,
            args,
            results: vec![v],
            span,
        });
        v
    }

    /// `if c { a } else { b }` over already computed values.
    fn select(&mut self, c: ir::Value, a: ir::Value, b: ir::Value, span: Span) -> ir::Value {
        let then = ir::Block {
            params: Vec::new(),
            insts: Vec::new(),
            yields: vec![a],
        };
        let else_ = ir::Block {
            params: Vec::new(),
            insts: Vec::new(),
            yields: vec![b],
        };
        self.emit(ir::InstKind::If { then, else_ }, vec![c], span)
    }
}

fn placeholder_func(name: Symbol, span: Span) -> ir::Func {
    ir::Func {
        name,
        params: Vec::new(),
        n_captures: 0,
        param_values: Vec::new(),
        ret_ann: None,
        body: ir::Block::default(),
        span,
        values: Vec::new(),
    }
}

/// A default that is a literal (or a negated number, or a tuple of such).
fn literal_const(e: &ast::Expr) -> Option<Const> {
    match &e.kind {
        ExprKind::Int(i) => Some(Const::Int(*i)),
        ExprKind::Float(f) => Some(Const::Float(*f)),
        ExprKind::Bool(b) => Some(Const::Bool(*b)),
        ExprKind::Str(s) => Some(Const::Str(s.clone())),
        ExprKind::Tuple(xs) if xs.is_empty() => Some(Const::Unit),
        ExprKind::Unary(UnOp::Neg, inner) => match &inner.kind {
            ExprKind::Int(i) => Some(Const::Int(i.checked_neg()?)),
            ExprKind::Float(f) => Some(Const::Float(-f)),
            _ => None,
        },
        _ => None,
    }
}

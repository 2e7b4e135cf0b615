//! Lowering of expressions other than control flow: literals, names,
//! operators, calls (direct, builtin, by value), records, tuples, tensor
//! literals, indexing and lambdas.

use super::super::load::ModuleId;
use super::super::resolve::{Bound, Global, ParamSlot, bind_args};
use super::Lowerer;
use super::ctx::{FnCtx, VarId};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::builtin::DefaultArg;
use crate::ir::{
    self, BinaryOp, Builtin, Const, DType, DefaultValue, IndexItem, InstKind, Prim, UnaryOp, Value,
};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, IndexArg, UnOp};
use crate::syntax::{Span, Symbol};

/// What a name in expression position refers to.
enum NameRef {
    Var(VarId),
    Func(ir::FuncId),
    Struct,
    Builtin(Builtin),
    Module,
}

impl Lowerer<'_> {
    pub(super) fn lower_expr(&mut self, e: &Expr) -> Value {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(i) => self.const_value(Const::Int(*i), span),
            ExprKind::Float(f) => self.const_value(Const::Float(*f), span),
            ExprKind::Bool(b) => self.const_value(Const::Bool(*b), span),
            ExprKind::Str(s) => self.const_value(Const::Str(s.clone()), span),
            ExprKind::Error => self.const_value(Const::Undef, span),
            ExprKind::Name(n) => self.lower_name(*n, span),
            ExprKind::Unary(op, a) => {
                let v = self.lower_expr(a);
                let u = match op {
                    UnOp::Neg => UnaryOp::Neg,
                    UnOp::Not => UnaryOp::Not,
                };
                self.emit(InstKind::Prim(Prim::Unary(u)), vec![v], span)
            }
            ExprKind::Binary(op, a, b) => self.lower_binary(*op, a, b, span),
            ExprKind::Call { callee, args } => self.lower_call(callee, args, span),
            ExprKind::Index { base, indices } => {
                let b = self.lower_expr(base);
                let mut items = Vec::new();
                let mut operands = vec![b];
                for ix in indices {
                    match ix {
                        IndexArg::Index(x) => {
                            items.push(IndexItem::At);
                            operands.push(self.lower_expr(x));
                        }
                        IndexArg::Slice { lo, hi, .. } => {
                            items.push(IndexItem::Slice {
                                lo: lo.is_some(),
                                hi: hi.is_some(),
                            });
                            if let Some(lo) = lo {
                                operands.push(self.lower_expr(lo));
                            }
                            if let Some(hi) = hi {
                                operands.push(self.lower_expr(hi));
                            }
                        }
                    }
                }
                self.emit(InstKind::Prim(Prim::Index(items)), operands, span)
            }
            ExprKind::Field { base, field } => self.lower_field(base, *field, span),
            ExprKind::TupleIndex { base, index, .. } => {
                let b = self.lower_expr(base);
                self.emit(InstKind::TupleGet(*index), vec![b], span)
            }
            ExprKind::StructLit { path, fields, base } => {
                self.lower_struct_lit(path, fields, base.as_deref(), span)
            }
            ExprKind::Tuple(xs) => {
                if xs.is_empty() {
                    return self.const_value(Const::Unit, span);
                }
                let vs = xs.iter().map(|x| self.lower_expr(x)).collect();
                self.emit(InstKind::Tuple, vs, span)
            }
            ExprKind::TensorLit(xs) => {
                let vs = xs.iter().map(|x| self.lower_expr(x)).collect();
                self.emit(
                    InstKind::Prim(Prim::Stack {
                        dtype: DType::F32,
                        literal: true,
                    }),
                    vs,
                    span,
                )
            }
            ExprKind::Lambda { params, body } => self.lower_lambda(params, body, span),
            ExprKind::Block(b) => self.lower_block(b),
            ExprKind::If { cond, then, else_ } => self.lower_if(cond, then, else_.as_deref(), span),
            ExprKind::For { pat, iter, body } => self.lower_for(pat, iter, body, span),
            ExprKind::While { cond, body } => self.lower_while(cond, body, span),
            ExprKind::Break | ExprKind::Continue => {
                self.lower_loop_exit(matches!(e.kind, ExprKind::Break), span)
            }
            ExprKind::Return(v) => self.lower_return(v.as_deref(), span),
            ExprKind::Range { .. } => {
                self.error(
                    Diagnostic::error(span, "a range `a..b` can only be iterated by a `for` loop")
                        .with_help("write `for i in a..b { … }`"),
                );
                self.const_value(Const::Undef, span)
            }
        }
    }

    fn lower_binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Value {
        let prim = match op {
            BinOp::And | BinOp::Or => return self.lower_short_circuit(op == BinOp::And, a, b, span),
            BinOp::MatMul => Prim::MatMul,
            BinOp::Add => Prim::Binary(BinaryOp::Add),
            BinOp::Sub => Prim::Binary(BinaryOp::Sub),
            BinOp::Mul => Prim::Binary(BinaryOp::Mul),
            BinOp::Div => Prim::Binary(BinaryOp::Div),
            BinOp::Rem => Prim::Binary(BinaryOp::Rem),
            BinOp::Pow => Prim::Binary(BinaryOp::Pow),
            BinOp::Lt => Prim::Binary(BinaryOp::Lt),
            BinOp::Le => Prim::Binary(BinaryOp::Le),
            BinOp::Gt => Prim::Binary(BinaryOp::Gt),
            BinOp::Ge => Prim::Binary(BinaryOp::Ge),
            BinOp::Eq => Prim::Binary(BinaryOp::Eq),
            BinOp::Ne => Prim::Binary(BinaryOp::Ne),
        };
        let va = self.lower_expr(a);
        let vb = self.lower_expr(b);
        self.emit(InstKind::Prim(prim), vec![va, vb], span)
    }

    /// `a && b` is `if a { b } else { false }`; `a || b` is `if a { true } else { b }`.
    fn lower_short_circuit(&mut self, and: bool, a: &Expr, b: &Expr, span: Span) -> Value {
        let c = self.lower_expr(a);
        self.ctx.push_block(Vec::new());
        let (then, else_) = if and {
            let vb = self.lower_expr(b);
            let then = self.ctx.pop_block(vec![vb]);
            self.ctx.push_block(Vec::new());
            let f = self.const_value(Const::Bool(false), span);
            (then, self.ctx.pop_block(vec![f]))
        } else {
            let t = self.const_value(Const::Bool(true), span);
            let then = self.ctx.pop_block(vec![t]);
            self.ctx.push_block(Vec::new());
            let vb = self.lower_expr(b);
            (then, self.ctx.pop_block(vec![vb]))
        };
        self.emit(InstKind::If { then, else_ }, vec![c], span)
    }

    /// The range `a..b` of `progress(a..b)`, when `e` is that call of the
    /// builtin (not of a user definition named `progress`).
    pub(super) fn progress_range<'e>(&mut self, e: &'e Expr) -> Option<&'e Expr> {
        let ExprKind::Call { callee, args } = &e.kind else {
            return None;
        };
        let ExprKind::Name(n) = callee.kind else {
            return None;
        };
        let [arg] = args.as_slice() else {
            return None;
        };
        let named_ok = arg.name.is_none_or(|a| a.name.as_str() == "range");
        if !named_ok || !matches!(arg.value.kind, ExprKind::Range { .. }) || n.as_str() != "progress" {
            return None;
        }
        match self.resolve_name(n, callee.span) {
            Some(NameRef::Builtin(Builtin::Progress)) => Some(&arg.value),
            _ => None,
        }
    }

    /// Resolves a name: variable (possibly captured), item of this module, builtin.
    fn resolve_name(&mut self, name: Symbol, span: Span) -> Option<NameRef> {
        if let Some(v) = self.lookup_var(name, span) {
            return Some(NameRef::Var(v));
        }
        let module = self.ctx.module;
        match self.globals.lookup(module, name) {
            Some(Global::Func(f)) => return Some(NameRef::Func(f)),
            Some(Global::Struct(_)) => return Some(NameRef::Struct),
            None => {}
        }
        if let Some(b) = Builtin::from_name(name.as_str()) {
            return Some(NameRef::Builtin(b));
        }
        if self
            .modules
            .get(module.0)
            .is_some_and(|m| m.imports.contains_key(&name))
        {
            return Some(NameRef::Module);
        }
        None
    }

    fn unknown_name(&mut self, name: Symbol, span: Span) {
        let mut candidates: Vec<&'static str> = self.ctx.vars.iter().map(|v| v.name.as_str()).collect();
        candidates.extend(self.globals.names(self.ctx.module));
        candidates.extend(Builtin::ALL.iter().map(|b| b.name()));
        let mut d =
            Diagnostic::error(span, format!("unknown name `{name}`")).with_label("not found in this scope");
        if let Some(h) = did_you_mean(
            name.as_str(),
            candidates.iter().copied().filter(|c| !c.starts_with('$')),
        ) {
            d = d.with_help(h);
        } else if self.outer.iter().any(|c| c.lookup(name).is_some()) {
            d = d.with_help(format!(
                "`{name}` is a variable of the enclosing code; functions see only items and their own parameters — pass it as an argument"
            ));
        }
        self.error(d);
    }

    fn lower_name(&mut self, name: Symbol, span: Span) -> Value {
        match self.resolve_name(name, span) {
            Some(NameRef::Var(v)) => self.ctx.var_value(v),
            Some(NameRef::Func(f)) => self.emit(InstKind::Closure(f), Vec::new(), span),
            Some(NameRef::Builtin(b)) if b.variadic() => self.emit(InstKind::BuiltinRef(b), Vec::new(), span),
            Some(NameRef::Builtin(b)) => {
                let f = self.builtin_wrapper(b, span);
                self.emit(InstKind::Closure(f), Vec::new(), span)
            }
            Some(NameRef::Struct) => {
                self.error(
                    Diagnostic::error(span, format!("`{name}` is a struct, not a value"))
                        .with_help(format!("build a record with `{name} {{ field: value, … }}`")),
                );
                self.const_value(Const::Undef, span)
            }
            Some(NameRef::Module) => {
                self.error(
                    Diagnostic::error(span, format!("`{name}` is a module, not a value"))
                        .with_help(format!("use one of its members: `{name}.…`")),
                );
                self.const_value(Const::Undef, span)
            }
            None => {
                self.unknown_name(name, span);
                self.const_value(Const::Undef, span)
            }
        }
    }

    /// A function that calls builtin `b` with its own parameters and defaults,
    /// so that a builtin used as a value (`apply(sqrt, x)`, `grad(sin)`) is an
    /// ordinary function value.
    fn builtin_wrapper(&mut self, b: Builtin, span: Span) -> ir::FuncId {
        if let Some(&f) = self.builtin_wrappers.get(&b) {
            return f;
        }
        let mut func = ir::Func {
            name: Symbol::intern(b.name()),
            params: Vec::new(),
            n_captures: 0,
            param_values: Vec::new(),
            ret_ann: None,
            body: ir::Block::default(),
            span,
            values: Vec::new(),
        };
        for p in b.params() {
            let name = Symbol::intern(p.name);
            let v = func.new_value(None, Some(name));
            func.param_values.push(v);
            let default = match p.default {
                DefaultArg::Required => None,
                DefaultArg::Absent => Some(DefaultValue::Const(Const::Unit)),
                DefaultArg::Int(i) => Some(DefaultValue::Const(Const::Int(i))),
                DefaultArg::Float(x) => Some(DefaultValue::Const(Const::Float(x))),
                DefaultArg::Bool(x) => Some(DefaultValue::Const(Const::Bool(x))),
                DefaultArg::Str(s) => Some(DefaultValue::Const(Const::Str(s.to_string()))),
            };
            func.params.push(ir::Param {
                name,
                span,
                ann: None,
                default,
            });
        }
        let r = func.new_value(None, None);
        func.body.insts.push(ir::Inst {
            kind: InstKind::Builtin(b),
            args: func.param_values.clone(),
            results: vec![r],
            span,
        });
        func.body.yields = vec![r];
        let id = self.push_func(func);
        self.builtin_wrappers.insert(b, id);
        id
    }

    /// Finds a variable, capturing it through enclosing lambdas if needed.
    pub(super) fn lookup_var(&mut self, name: Symbol, span: Span) -> Option<VarId> {
        if let Some(v) = self.ctx.lookup(name) {
            return Some(v);
        }
        if !self.ctx.is_lambda {
            return None;
        }
        // The innermost enclosing function that has it; only lambdas see outward.
        let mut found = None;
        for idx in (0..self.outer.len()).rev() {
            let ctx = self.outer.get(idx)?;
            if let Some(v) = ctx.lookup(name) {
                found = Some((idx, v));
                break;
            }
            if !ctx.is_lambda {
                break;
            }
        }
        let (idx, mut var) = found?;
        for j in idx + 1..self.outer.len() {
            let ctx: &mut FnCtx = self.outer.get_mut(j)?;
            var = ctx.add_capture(name, var, span);
        }
        Some(self.ctx.add_capture(name, var, span))
    }

    /// `base.field`: a module member (`nn.dense`) or a record field.
    fn lower_field(&mut self, base: &Expr, field: ast::Ident, span: Span) -> Value {
        if let Some(m) = self.module_of(base) {
            return match self.globals.lookup(m, field.name) {
                Some(Global::Func(f)) => self.emit(InstKind::Closure(f), Vec::new(), span),
                Some(Global::Struct(_)) => {
                    self.error(Diagnostic::error(
                        span,
                        format!("`{}` is a struct, not a value", field.name),
                    ));
                    self.const_value(Const::Undef, span)
                }
                None => {
                    self.unknown_member(m, field);
                    self.const_value(Const::Undef, span)
                }
            };
        }
        let b = self.lower_expr(base);
        self.emit(InstKind::Field(field.name), vec![b], span)
    }

    fn unknown_member(&mut self, m: ModuleId, field: ast::Ident) {
        let module_name = self
            .modules
            .get(m.0)
            .and_then(|x| x.name)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let mut d = Diagnostic::error(
            field.span,
            format!("module `{module_name}` has no member `{}`", field.name),
        );
        let names = self.globals.names(m);
        if let Some(h) = did_you_mean(field.name.as_str(), names.iter().copied()) {
            d = d.with_help(h);
        }
        self.error(d);
    }

    /// If `e` is a bare name that refers to an imported module (and no variable
    /// shadows it), that module.
    fn module_of(&mut self, e: &Expr) -> Option<ModuleId> {
        let ExprKind::Name(n) = &e.kind else { return None };
        if self.ctx.lookup(*n).is_some() || self.outer.iter().any(|c| c.lookup(*n).is_some()) {
            return None;
        }
        self.modules
            .get(self.ctx.module.0)?
            .imports
            .get(n)
            .map(|(m, _)| *m)
    }

    fn lower_call(&mut self, callee: &Expr, args: &[ast::Arg], span: Span) -> Value {
        let target = match &callee.kind {
            ExprKind::Name(n) => match self.resolve_name(*n, callee.span) {
                Some(NameRef::Func(f)) => Some((f, n.to_string())),
                Some(NameRef::Builtin(b)) => return self.lower_builtin_call(b, callee.span, args, span),
                Some(NameRef::Struct) => {
                    self.error(
                        Diagnostic::error(callee.span, format!("`{n}` is a struct, not a function"))
                            .with_help(format!("build a record with `{n} {{ field: value, … }}`")),
                    );
                    return self.const_value(Const::Undef, span);
                }
                Some(NameRef::Var(_)) | Some(NameRef::Module) => None,
                None => {
                    self.unknown_name(*n, callee.span);
                    args.iter().for_each(|a| {
                        self.lower_expr(&a.value);
                    });
                    return self.const_value(Const::Undef, span);
                }
            },
            ExprKind::Field { base, field } => match self.module_of(base) {
                Some(m) => match self.globals.lookup(m, field.name) {
                    Some(Global::Func(f)) => Some((f, format!("{}", field.name))),
                    _ => {
                        self.unknown_member(m, *field);
                        return self.const_value(Const::Undef, span);
                    }
                },
                None => None,
            },
            _ => None,
        };
        match target {
            Some((f, name)) => self.lower_direct_call(f, &name, callee.span, args, span),
            None => {
                let c = self.lower_expr(callee);
                let mut vs = vec![c];
                let mut names = Vec::new();
                for a in args {
                    vs.push(self.lower_expr(&a.value));
                    names.push(a.name.map(|n| n.name));
                }
                self.emit(InstKind::CallValue { names }, vs, span)
            }
        }
    }

    fn lower_direct_call(
        &mut self,
        f: ir::FuncId,
        name: &str,
        callee_span: Span,
        args: &[ast::Arg],
        span: Span,
    ) -> Value {
        let decl_params: Vec<ast::Param> = self
            .globals
            .fn_decls
            .get(f.0 as usize)
            .map(|(_, d)| d.params.clone())
            .unwrap_or_default();
        let slots: Vec<ParamSlot> = decl_params
            .iter()
            .map(|p| ParamSlot {
                name: p.name.name,
                has_default: p.default.is_some(),
            })
            .collect();
        let names: Vec<Option<ast::Ident>> = args.iter().map(|a| a.name).collect();
        let values: Vec<Value> = args.iter().map(|a| self.lower_expr(&a.value)).collect();
        let bound = match bind_args(name, &slots, &names, span, callee_span) {
            Ok(b) => b,
            Err(d) => {
                let decl_span = self.globals.fn_decls.get(f.0 as usize).map(|(_, d)| d.name.span);
                let d = match decl_span {
                    Some(s) => d.with_secondary(s, format!("`{name}` is defined here")),
                    None => d,
                };
                self.error(d);
                return self.const_value(Const::Undef, span);
            }
        };
        let mut call_args = Vec::new();
        for (i, b) in bound.iter().enumerate() {
            match b {
                Bound::Arg(k) => call_args.push(values.get(*k).copied().unwrap_or(Value(0))),
                Bound::Default => {
                    let default = self
                        .program
                        .func(f)
                        .and_then(|func| func.params.get(i))
                        .and_then(|p| p.default.clone());
                    let v = match default {
                        Some(DefaultValue::Const(c)) => self.const_value(c, span),
                        Some(DefaultValue::Thunk(t)) => self.emit(InstKind::Call(t), Vec::new(), span),
                        // The callee's params are lowered after this call site: lower the default here.
                        None => match decl_params.get(i).and_then(|p| p.default.clone()) {
                            Some(d) => self.lower_default_inline(f, &d),
                            None => self.const_value(Const::Undef, span),
                        },
                    };
                    call_args.push(v);
                }
            }
        }
        self.emit(InstKind::Call(f), call_args, span)
    }

    /// A default expression of `f`'s parameter, lowered at the call site in
    /// `f`'s module (only items are visible to it).
    fn lower_default_inline(&mut self, f: ir::FuncId, d: &Expr) -> Value {
        if let Some(c) = super::literal_const(d) {
            return self.const_value(c, d.span);
        }
        let module = self
            .globals
            .fn_decls
            .get(f.0 as usize)
            .map(|(m, _)| *m)
            .unwrap_or(ModuleId(0));
        let name = Symbol::intern("default");
        let func = self.lower_function(module, name, Vec::new(), None, d, d.span);
        let id = self.push_func(func);
        self.emit(InstKind::Call(id), Vec::new(), d.span)
    }

    fn lower_builtin_call(&mut self, b: Builtin, callee_span: Span, args: &[ast::Arg], span: Span) -> Value {
        let values: Vec<Value> = args
            .iter()
            .enumerate()
            .map(|(i, a)| match &a.value.kind {
                // `concat([a, b])`: the parts may differ in length along the
                // axis, so the list is a tuple rather than a stacked tensor.
                ExprKind::TensorLit(xs) if b == Builtin::Concat && i == 0 && a.name.is_none() => {
                    let vs = xs.iter().map(|x| self.lower_expr(x)).collect();
                    self.emit(InstKind::Tuple, vs, a.value.span)
                }
                _ => self.lower_expr(&a.value),
            })
            .collect();
        if !b.supported() {
            self.error(
                Diagnostic::error(callee_span, format!("`{}` is not supported yet", b.name()))
                    .with_label("not supported yet in this version of diffl"),
            );
            return self.const_value(Const::Undef, span);
        }
        if b == Builtin::Progress {
            // `for i in progress(a..b)` is lowered by `lower_for`.
            self.error(crate::ir::specialize::progress_outside_for(span));
            return self.const_value(Const::Undef, span);
        }
        let params = b.params();
        let slots: Vec<ParamSlot> = params
            .iter()
            .map(|p| ParamSlot {
                name: Symbol::intern(p.name),
                has_default: p.default != DefaultArg::Required,
            })
            .collect();
        let mut call_args = Vec::new();
        let names: Vec<Option<ast::Ident>> = if b.variadic() {
            // Positional arguments are the variadic list; named ones bind to params.
            for (a, v) in args.iter().zip(&values) {
                if a.name.is_none() {
                    call_args.push(*v);
                }
            }
            args.iter().filter(|a| a.name.is_some()).map(|a| a.name).collect()
        } else {
            args.iter().map(|a| a.name).collect()
        };
        let named_values: Vec<Value> = if b.variadic() {
            args.iter()
                .zip(&values)
                .filter(|(a, _)| a.name.is_some())
                .map(|(_, v)| *v)
                .collect()
        } else {
            values.clone()
        };
        let bound = match bind_args(b.name(), &slots, &names, span, callee_span) {
            Ok(bound) => bound,
            Err(d) => {
                self.error(d);
                return self.const_value(Const::Undef, span);
            }
        };
        for (p, bd) in params.iter().zip(bound) {
            let v = match bd {
                Bound::Arg(k) => named_values.get(k).copied().unwrap_or(Value(0)),
                Bound::Default => {
                    let c = match p.default {
                        DefaultArg::Required | DefaultArg::Absent => Const::Unit,
                        DefaultArg::Int(i) => Const::Int(i),
                        DefaultArg::Float(f) => Const::Float(f),
                        DefaultArg::Bool(x) => Const::Bool(x),
                        DefaultArg::Str(s) => Const::Str(s.to_string()),
                    };
                    self.const_value(c, span)
                }
            };
            call_args.push(v);
        }
        self.emit(InstKind::Builtin(b), call_args, span)
    }

    fn lower_struct_lit(
        &mut self,
        path: &[ast::Ident],
        fields: &[(ast::Ident, Expr)],
        base: Option<&Expr>,
        span: Span,
    ) -> Value {
        let module = self.ctx.module;
        let Some(sid) = self.resolve_struct_path(module, path) else {
            let text: Vec<&str> = path.iter().map(|p| p.name.as_str()).collect();
            let at = path
                .first()
                .map(|p| p.span)
                .unwrap_or(span)
                .to(path.last().map(|p| p.span).unwrap_or(span));
            self.error(Diagnostic::error(
                at,
                format!("unknown struct `{}`", text.join(".")),
            ));
            fields.iter().for_each(|(_, e)| {
                self.lower_expr(e);
            });
            return self.const_value(Const::Undef, span);
        };
        let def = self.program.struct_def(sid).cloned();
        let Some(def) = def else {
            return self.const_value(Const::Undef, span);
        };
        let mut given: Vec<Option<Value>> = vec![None; def.fields.len()];
        for (name, e) in fields {
            let v = self.lower_expr(e);
            match def.fields.iter().position(|f| *f == name.name) {
                Some(i) => {
                    if let Some(slot) = given.get_mut(i) {
                        if slot.is_some() {
                            self.error(Diagnostic::error(
                                name.span,
                                format!("field `{}` is given twice", name.name),
                            ));
                        }
                        *slot = Some(v);
                    }
                }
                None => {
                    let mut d = Diagnostic::error(
                        name.span,
                        format!("struct `{}` has no field `{}`", def.name, name.name),
                    );
                    let names: Vec<&str> = def.fields.iter().map(|f| f.as_str()).collect();
                    if let Some(h) = did_you_mean(name.name.as_str(), names.iter().copied()) {
                        d = d.with_help(h);
                    }
                    self.error(d.with_secondary(def.span, "struct declared here"));
                }
            }
        }
        let base_v = base.map(|b| self.lower_expr(b));
        let mut args = Vec::new();
        let mut missing = Vec::new();
        for (f, g) in def.fields.iter().zip(given) {
            match (g, base_v) {
                (Some(v), _) => args.push(v),
                (None, Some(b)) => args.push(self.emit(InstKind::Field(*f), vec![b], span)),
                (None, None) => missing.push(f.as_str()),
            }
        }
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            self.error(
                Diagnostic::error(
                    span,
                    format!(
                        "missing field{} {} in `{}`",
                        if missing.len() > 1 { "s" } else { "" },
                        list.join(", "),
                        def.name
                    ),
                )
                .with_secondary(def.span, "struct declared here")
                .with_help("give every field, or copy the others from a record with `..base`"),
            );
            return self.const_value(Const::Undef, span);
        }
        self.emit(InstKind::Record(sid), args, span)
    }

    fn lower_lambda(&mut self, params: &[ast::Param], body: &Expr, span: Span) -> Value {
        super::super::resolve::check_duplicate_params(params, &mut self.diags);
        let module = self.ctx.module;
        let ir_params = self.lower_params(module, params);
        let (line, _) = self.sources.line_col(span.file, span.lo);
        let file = self
            .sources
            .get(span.file)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let short = file.rsplit('/').next().unwrap_or(&file).to_string();
        let name = Symbol::intern(&format!("lambda@{short}:{line}"));
        self.enter(FnCtx::new(module, name, span, true));
        self.bind_params(&ir_params);
        let result = self.lower_body(body);
        let done = self.leave();
        let outer_vars: Vec<VarId> = done.captures.iter().map(|(v, _, _)| *v).collect();
        let func = done.finish(ir_params, None, result);
        let id = self.push_func(func);
        let args = outer_vars.iter().map(|v| self.ctx.var_value(*v)).collect();
        self.emit(InstKind::Closure(id), args, span)
    }
}

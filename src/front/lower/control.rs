//! Lowering of blocks, statements and control flow: `let` and assignment,
//! `if`, `for`, `while`, and the early exits `break`, `continue`, `return`
//! turned into hidden flags (see the module header of `lower`).

use super::Lowerer;
use super::ctx::{LoopFlags, VarId};
use super::scan::{self, Exits};
use crate::diag::Diagnostic;
use crate::ir::{self, BinaryOp, Builtin, Const, IndexItem, InstKind, Prim, UnaryOp, Value};
use crate::syntax::Span;
use crate::syntax::ast::{BinOp, Block, Expr, ExprKind, Pattern, Stmt, StmtKind};

impl Lowerer<'_> {
    pub(super) fn lower_block(&mut self, b: &Block) -> Value {
        self.ctx.push_scope();
        let v = self.lower_stmts(&b.stmts, b.tail.as_deref(), b.span);
        self.ctx.pop_scope();
        v
    }

    /// Lowers statements in order; after one that may exit early, the rest is
    /// guarded by `if !exited { rest } else { undef }`.
    fn lower_stmts(&mut self, stmts: &[Stmt], tail: Option<&Expr>, span: Span) -> Value {
        for (i, s) in stmts.iter().enumerate() {
            self.lower_stmt(s);
            let exits = scan::stmt_exits(s);
            let rest = stmts.get(i + 1..).unwrap_or(&[]);
            if exits.any() && (!rest.is_empty() || tail.is_some()) {
                let Some(go_on) = self.not_exited(exits, s.span) else {
                    continue;
                };
                let rest_span = rest
                    .first()
                    .map(|r| r.span)
                    .or(tail.map(|t| t.span))
                    .unwrap_or(span);
                return self.lower_guarded(go_on, rest_span, |l| l.lower_stmts(rest, tail, span));
            }
        }
        match tail {
            Some(t) => self.lower_expr(t),
            None => self.const_value(Const::Unit, span),
        }
    }

    /// `if cond { body() } else { undef }`, joining the variables `body` changes.
    fn lower_guarded(&mut self, cond: Value, span: Span, body: impl FnOnce(&mut Self) -> Value) -> Value {
        let snap = self.ctx.snapshot();
        self.ctx.push_block(Vec::new());
        let v = body(self);
        let then_vals = self.ctx.snapshot();
        let then = self.ctx.pop_block(Vec::new());
        self.ctx.restore(&snap);
        self.ctx.push_block(Vec::new());
        let u = self.const_value(Const::Undef, span);
        let else_ = self.ctx.pop_block(Vec::new());
        self.join_if(cond, (then, v, then_vals), (else_, u, snap.clone()), &snap, span)
    }

    /// Emits an `if` whose results are the branch values and every variable that
    /// existed before it and changed in either branch.
    fn join_if(
        &mut self,
        cond: Value,
        (mut then, tv, then_vals): (ir::Block, Value, Vec<Value>),
        (mut else_, ev, else_vals): (ir::Block, Value, Vec<Value>),
        before: &[Value],
        span: Span,
    ) -> Value {
        let changed: Vec<VarId> = before
            .iter()
            .enumerate()
            .filter(|(i, old)| then_vals.get(*i) != Some(old) || else_vals.get(*i) != Some(old))
            .map(|(i, _)| i)
            .collect();
        then.yields = std::iter::once(tv)
            .chain(changed.iter().filter_map(|&i| then_vals.get(i).copied()))
            .collect();
        else_.yields = std::iter::once(ev)
            .chain(changed.iter().filter_map(|&i| else_vals.get(i).copied()))
            .collect();
        let results: Vec<Value> = (0..=changed.len())
            .map(|_| self.ctx.func.new_value(None, None))
            .collect();
        self.ctx.restore(before);
        for (&var, &r) in changed.iter().zip(results.iter().skip(1)) {
            let name = self.ctx.var(var).map(|v| v.name);
            if let Some(info) = self.ctx.func.values.get_mut(r.0 as usize) {
                info.name = name.filter(|n| !n.as_str().starts_with('$'));
            }
            self.ctx.set_var(var, r);
        }
        let first = results.first().copied().unwrap_or(Value(0));
        self.ctx.push_inst(ir::Inst {
            kind: InstKind::If { then, else_ },
            args: vec![cond],
            results,
            span,
        });
        first
    }

    /// A bool that is true when none of the flags for `exits` is set.
    fn not_exited(&mut self, exits: Exits, span: Span) -> Option<Value> {
        let mut flags = Vec::new();
        if exits.ret
            && let Some((f, _)) = self.ctx.ret
        {
            flags.push(f);
        }
        if let Some(lf) = self.ctx.loops.last().copied() {
            if exits.brk
                && let Some(f) = lf.brk
            {
                flags.push(f);
            }
            if exits.cont
                && let Some(f) = lf.cont
            {
                flags.push(f);
            }
        }
        let mut acc: Option<Value> = None;
        for f in flags {
            let v = self.ctx.var_value(f);
            acc = Some(match acc {
                None => v,
                Some(a) => self.emit(InstKind::Prim(Prim::Binary(BinaryOp::Or)), vec![a, v], span),
            });
        }
        acc.map(|a| self.emit(InstKind::Prim(Prim::Unary(UnaryOp::Not)), vec![a], span))
    }

    fn lower_stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let {
                mutable,
                pat,
                value,
                ty,
            } => {
                let v = self.lower_expr(value);
                if ty.is_some() {
                    // Annotations on `let` are checked like parameter annotations once types are known;
                    // this version records them only on parameters and results.
                }
                self.bind_pattern(pat, v, *mutable);
            }
            StmtKind::Assign { target, op, value } => {
                let v = match op {
                    None => self.lower_expr(value),
                    Some(op) => {
                        let Pattern::Name(id) = target else {
                            self.error(Diagnostic::error(
                                target.span(),
                                "compound assignment needs a single variable",
                            ));
                            return;
                        };
                        let cur = self.lower_expr(&Expr {
                            kind: ExprKind::Name(id.name),
                            span: id.span,
                        });
                        let rhs = self.lower_expr(value);
                        let prim = match op {
                            BinOp::Add => Prim::Binary(BinaryOp::Add),
                            BinOp::Sub => Prim::Binary(BinaryOp::Sub),
                            BinOp::Mul => Prim::Binary(BinaryOp::Mul),
                            BinOp::Div => Prim::Binary(BinaryOp::Div),
                            BinOp::Rem => Prim::Binary(BinaryOp::Rem),
                            BinOp::Pow => Prim::Binary(BinaryOp::Pow),
                            BinOp::MatMul => Prim::MatMul,
                            BinOp::Lt
                            | BinOp::Le
                            | BinOp::Gt
                            | BinOp::Ge
                            | BinOp::Eq
                            | BinOp::Ne
                            | BinOp::And
                            | BinOp::Or => {
                                self.error(Diagnostic::error(
                                    s.span,
                                    "unsupported compound assignment operator",
                                ));
                                return;
                            }
                        };
                        self.emit(InstKind::Prim(prim), vec![cur, rhs], s.span)
                    }
                };
                self.assign_pattern(target, v);
            }
            StmtKind::Expr(e) => {
                self.lower_expr(e);
            }
        }
    }

    /// `let pat = v`: binds names, destructuring tuples.
    fn bind_pattern(&mut self, pat: &Pattern, v: Value, mutable: bool) {
        match pat {
            Pattern::Name(id) => {
                self.ctx.declare(id.name, v, mutable, id.span);
            }
            Pattern::Wildcard(_) => {}
            Pattern::Tuple { elems, span } => {
                for (i, p) in elems.iter().enumerate() {
                    let e = self.emit(InstKind::TupleGet(i as u32), vec![v], *span);
                    self.bind_pattern(p, e, mutable);
                }
            }
        }
    }

    /// `pat = v` on existing mutable variables.
    fn assign_pattern(&mut self, pat: &Pattern, v: Value) {
        match pat {
            Pattern::Name(id) => {
                let Some(var) = self.lookup_var(id.name, id.span) else {
                    self.error(
                        Diagnostic::error(id.span, format!("unknown name `{}`", id.name))
                            .with_label("assigned here but never declared")
                            .with_help(format!("declare it first: `let mut {} = …;`", id.name)),
                    );
                    return;
                };
                let Some(info) = self.ctx.var(var).cloned() else {
                    return;
                };
                if info.captured {
                    self.error(
                        Diagnostic::error(id.span, format!("cannot assign to `{}` inside a lambda", id.name))
                            .with_label("captured variable")
                            .with_help("lambdas capture variables by value; return the new value instead"),
                    );
                } else if !info.mutable {
                    self.error(
                        Diagnostic::error(
                            id.span,
                            format!("cannot assign twice to immutable variable `{}`", id.name),
                        )
                        .with_label("cannot assign to an immutable binding")
                        .with_secondary(info.span, "declared here without `mut`")
                        .with_help(format!("make it mutable: `let mut {}`", id.name)),
                    );
                } else {
                    self.ctx.set_var(var, v);
                    if let Some(vi) = self.ctx.func.values.get_mut(v.0 as usize)
                        && vi.name.is_none()
                    {
                        vi.name = Some(id.name);
                    }
                }
            }
            Pattern::Wildcard(_) => {}
            Pattern::Tuple { elems, span } => {
                for (i, p) in elems.iter().enumerate() {
                    let e = self.emit(InstKind::TupleGet(i as u32), vec![v], *span);
                    self.assign_pattern(p, e);
                }
            }
        }
    }

    pub(super) fn lower_if(&mut self, cond: &Expr, then: &Block, else_: Option<&Expr>, span: Span) -> Value {
        let c = self.lower_expr(cond);
        let snap = self.ctx.snapshot();
        self.ctx.push_block(Vec::new());
        let tv = self.lower_block(then);
        let then_vals = self.ctx.snapshot();
        let then_b = self.ctx.pop_block(Vec::new());
        self.ctx.restore(&snap);
        self.ctx.push_block(Vec::new());
        let ev = match else_ {
            Some(e) => self.lower_expr(e),
            None => self.const_value(Const::Unit, span),
        };
        let else_vals = self.ctx.snapshot();
        let else_b = self.ctx.pop_block(Vec::new());
        self.join_if(c, (then_b, tv, then_vals), (else_b, ev, else_vals), &snap, span)
    }

    pub(super) fn lower_loop_exit(&mut self, is_break: bool, span: Span) -> Value {
        let word = if is_break { "break" } else { "continue" };
        let flag = self
            .ctx
            .loops
            .last()
            .and_then(|l| if is_break { l.brk } else { l.cont });
        match flag {
            Some(f) => {
                let t = self.const_value(Const::Bool(true), span);
                self.ctx.set_var(f, t);
            }
            None => self.error(
                Diagnostic::error(span, format!("`{word}` outside of a loop"))
                    .with_label(format!("`{word}` can only be used inside `for` or `while`")),
            ),
        }
        self.const_value(Const::Undef, span)
    }

    pub(super) fn lower_return(&mut self, v: Option<&Expr>, span: Span) -> Value {
        let value = match v {
            Some(e) => self.lower_expr(e),
            None => self.const_value(Const::Unit, span),
        };
        if let Some((flag, slot)) = self.ctx.ret {
            let t = self.const_value(Const::Bool(true), span);
            self.ctx.set_var(flag, t);
            self.ctx.set_var(slot, value);
        }
        self.const_value(Const::Undef, span)
    }

    /// The variables a loop body carries: assigned mutable variables, plus the
    /// return flag and slot when the body may return.
    fn carried_vars(&mut self, body: &Block, exits: Exits, extra: &[VarId]) -> Vec<VarId> {
        let names = scan::assigned_names(body);
        let mut vars = self.ctx.visible_mutables(&names);
        if exits.ret
            && let Some((f, s)) = self.ctx.ret
        {
            vars.push(f);
            vars.push(s);
        }
        vars.extend_from_slice(extra);
        vars.sort_unstable();
        vars.dedup();
        vars
    }

    /// Lowers a loop body into a block whose params are the carried variables
    /// (plus `leading` params such as the induction variable) and whose yields
    /// are their values at the end of the body.
    fn lower_loop_block(
        &mut self,
        carried: &[VarId],
        leading: usize,
        flags: LoopFlags,
        body: impl FnOnce(&mut Self, &[Value]),
    ) -> ir::Block {
        let lead: Vec<Value> = (0..leading)
            .map(|_| self.ctx.func.new_value(None, None))
            .collect();
        let params: Vec<Value> = carried
            .iter()
            .map(|_| self.ctx.func.new_value(None, None))
            .collect();
        for (&var, &p) in carried.iter().zip(&params) {
            let name = self
                .ctx
                .var(var)
                .map(|v| v.name)
                .filter(|n| !n.as_str().starts_with('$'));
            if let Some(info) = self.ctx.func.values.get_mut(p.0 as usize) {
                info.name = name;
            }
            self.ctx.set_var(var, p);
        }
        self.ctx.push_block(lead.iter().chain(&params).copied().collect());
        self.ctx.loops.push(flags);
        body(self, &lead);
        self.ctx.loops.pop();
        let yields = carried.iter().map(|&v| self.ctx.var_value(v)).collect();
        self.ctx.pop_block(yields)
    }

    /// Results of a loop instruction become the carried variables' values.
    fn emit_loop(&mut self, kind: InstKind, args: Vec<Value>, carried: &[VarId], span: Span) {
        let results: Vec<Value> = carried
            .iter()
            .map(|_| self.ctx.func.new_value(None, None))
            .collect();
        for (&var, &r) in carried.iter().zip(&results) {
            let name = self
                .ctx
                .var(var)
                .map(|v| v.name)
                .filter(|n| !n.as_str().starts_with('$'));
            if let Some(info) = self.ctx.func.values.get_mut(r.0 as usize) {
                info.name = name;
            }
            self.ctx.set_var(var, r);
        }
        self.ctx.push_inst(ir::Inst {
            kind,
            args,
            results,
            span,
        });
    }

    /// The loop body with a fresh `continue` flag when it uses `continue`.
    fn lower_loop_body(
        &mut self,
        body: &Block,
        exits: Exits,
        brk: Option<VarId>,
        before: impl FnOnce(&mut Self),
    ) {
        let cont = if exits.cont {
            let f = self.const_value(Const::Bool(false), body.span);
            Some(self.ctx.declare_hidden("$continue", f))
        } else {
            None
        };
        if let Some(l) = self.ctx.loops.last_mut() {
            l.cont = cont;
            l.brk = brk;
        }
        self.ctx.push_scope();
        before(self);
        self.lower_stmts(&body.stmts, body.tail.as_deref(), body.span);
        self.ctx.pop_scope();
    }

    pub(super) fn lower_for(&mut self, pat: &Pattern, iter: &Expr, body: &Block, span: Span) -> Value {
        let exits = scan::block_exits(body);
        // `for i in progress(a..b)`: the range loop, with a progress bar that
        // each iteration moves on and the end of the loop closes.
        let (iter, bar) = match self.progress_range(iter) {
            Some(range) => (range, Some(iter.span)),
            None => (iter, None),
        };
        // The iteration space: a range, or the first axis of a tensor.
        let (lo, hi, over) = match &iter.kind {
            ExprKind::Range { lo, hi } => (self.lower_expr(lo), self.lower_expr(hi), None),
            _ => {
                let t = self.lower_expr(iter);
                let zero = self.const_value(Const::Int(0), iter.span);
                let n = self.emit(InstKind::Builtin(Builtin::Len), vec![t], iter.span);
                (zero, n, Some(t))
            }
        };
        let bind_item = move |l: &mut Self, i: Value| {
            if let Some(bar) = bar {
                l.emit(InstKind::Prim(Prim::Progress), vec![i, lo, hi], bar);
            }
            let item = match over {
                Some(t) => l.emit(InstKind::Prim(Prim::Index(vec![IndexItem::At])), vec![t, i], span),
                None => i,
            };
            l.bind_pattern(pat, item, false);
        };
        if !exits.brk && !exits.ret {
            let carried = self.carried_vars(body, exits, &[]);
            let init: Vec<Value> = carried.iter().map(|&v| self.ctx.var_value(v)).collect();
            let block = self.lower_loop_block(&carried, 1, LoopFlags::default(), |l, lead| {
                let i = lead.first().copied().unwrap_or(Value(0));
                l.lower_loop_body(body, exits, None, |l| bind_item(l, i));
            });
            let args = [lo, hi].into_iter().chain(init).collect();
            self.emit_loop(InstKind::For { body: block }, args, &carried, span);
            self.end_progress(bar, lo, hi);
            return self.const_value(Const::Unit, span);
        }
        // With `break` or `return`: a while loop over a counter.
        let counter = self.ctx.declare_hidden("$i", lo);
        let f = self.const_value(Const::Bool(false), span);
        let brk = self.ctx.declare_hidden("$break", f);
        let carried = self.carried_vars(body, exits, &[counter, brk]);
        let cond = self.lower_while_cond(&carried, exits, Some(brk), span, |l| {
            let i = l.ctx.var_value(counter);
            l.emit(InstKind::Prim(Prim::Binary(BinaryOp::Lt)), vec![i, hi], span)
        });
        let init: Vec<Value> = carried.iter().map(|&v| self.ctx.var_value(v)).collect();
        let block = self.lower_loop_block(&carried, 0, LoopFlags::default(), |l, _| {
            l.lower_loop_body(body, exits, Some(brk), |l| {
                let i = l.ctx.var_value(counter);
                let one = l.const_value(Const::Int(1), span);
                let next = l.emit(InstKind::Prim(Prim::Binary(BinaryOp::Add)), vec![i, one], span);
                l.ctx.set_var(counter, next);
                bind_item(l, i);
            });
        });
        self.emit_loop(InstKind::While { cond, body: block }, init, &carried, span);
        self.end_progress(bar, lo, hi);
        self.const_value(Const::Unit, span)
    }

    /// Closes the progress bar of a loop over `lo..hi`, if it has one.
    fn end_progress(&mut self, bar: Option<Span>, lo: Value, hi: Value) {
        if let Some(bar) = bar {
            self.emit(InstKind::Prim(Prim::Progress), vec![hi, lo, hi], bar);
        }
    }

    /// The condition block of a while loop: `!break && !returned && user_cond`,
    /// evaluated lazily so the user's condition is not run after an exit.
    fn lower_while_cond(
        &mut self,
        carried: &[VarId],
        exits: Exits,
        brk: Option<VarId>,
        span: Span,
        user: impl FnOnce(&mut Self) -> Value,
    ) -> ir::Block {
        let snap = self.ctx.snapshot();
        let params: Vec<Value> = carried
            .iter()
            .map(|_| self.ctx.func.new_value(None, None))
            .collect();
        for (&var, &p) in carried.iter().zip(&params) {
            self.ctx.set_var(var, p);
        }
        self.ctx.push_block(params);
        let guard = self.not_exited_loop(exits.ret, brk, span);
        let c = match guard {
            Some(g) => self.lower_guarded_value(g, span, user),
            None => user(self),
        };
        let block = self.ctx.pop_block(vec![c]);
        self.ctx.restore(&snap);
        block
    }

    /// Like `not_exited`, for the loop being built: its break flag and the
    /// function's return flag.
    fn not_exited_loop(&mut self, ret: bool, brk: Option<VarId>, span: Span) -> Option<Value> {
        let mut flags: Vec<VarId> = brk.into_iter().collect();
        if ret && let Some((f, _)) = self.ctx.ret {
            flags.push(f);
        }
        let mut acc: Option<Value> = None;
        for f in flags {
            let v = self.ctx.var_value(f);
            acc = Some(match acc {
                None => v,
                Some(a) => self.emit(InstKind::Prim(Prim::Binary(BinaryOp::Or)), vec![a, v], span),
            });
        }
        acc.map(|a| self.emit(InstKind::Prim(Prim::Unary(UnaryOp::Not)), vec![a], span))
    }

    /// `if g { user() } else { false }` inside a condition block.
    fn lower_guarded_value(&mut self, g: Value, span: Span, user: impl FnOnce(&mut Self) -> Value) -> Value {
        self.ctx.push_block(Vec::new());
        let v = user(self);
        let then = self.ctx.pop_block(vec![v]);
        self.ctx.push_block(Vec::new());
        let f = self.const_value(Const::Bool(false), span);
        let else_ = self.ctx.pop_block(vec![f]);
        self.emit(InstKind::If { then, else_ }, vec![g], span)
    }

    pub(super) fn lower_while(&mut self, cond: &Expr, body: &Block, span: Span) -> Value {
        let exits = scan::block_exits(body);
        let brk = if exits.brk {
            let f = self.const_value(Const::Bool(false), span);
            Some(self.ctx.declare_hidden("$break", f))
        } else {
            None
        };
        let extra: Vec<VarId> = brk.into_iter().collect();
        let mut carried = self.carried_vars(body, exits, &extra);
        // Variables the condition assigns are carried too.
        let cond_block = Block {
            stmts: Vec::new(),
            tail: Some(Box::new(cond.clone())),
            span: cond.span,
        };
        let cond_names = scan::assigned_names(&cond_block);
        carried.extend(self.ctx.visible_mutables(&cond_names));
        carried.sort_unstable();
        carried.dedup();
        let cond_b = self.lower_while_cond(&carried, exits, brk, span, |l| l.lower_expr(cond));
        let init: Vec<Value> = carried.iter().map(|&v| self.ctx.var_value(v)).collect();
        let block = self.lower_loop_block(&carried, 0, LoopFlags::default(), |l, _| {
            l.lower_loop_body(body, exits, brk, |_| {});
        });
        self.emit_loop(
            InstKind::While {
                cond: cond_b,
                body: block,
            },
            init,
            &carried,
            span,
        );
        self.const_value(Const::Unit, span)
    }
}

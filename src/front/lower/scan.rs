//! Syntactic scans that lowering needs before it lowers a body: which names a
//! loop body assigns (they become loop-carried values) and which early exits
//! (`break`, `continue`, `return`) a statement may take (the rest of its block
//! is then guarded by the exit flags).

use crate::syntax::Symbol;
use crate::syntax::ast::{Block, Expr, ExprKind, IndexArg, Pattern, Stmt, StmtKind};
use std::collections::HashSet;

/// The early exits a piece of code may take, as seen from its enclosing loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exits {
    pub brk: bool,
    pub cont: bool,
    pub ret: bool,
}

impl Exits {
    pub fn any(self) -> bool {
        self.brk || self.cont || self.ret
    }

    fn or(self, o: Exits) -> Exits {
        Exits {
            brk: self.brk || o.brk,
            cont: self.cont || o.cont,
            ret: self.ret || o.ret,
        }
    }
}

pub fn stmt_exits(s: &Stmt) -> Exits {
    match &s.kind {
        StmtKind::Let { value, .. } | StmtKind::Assign { value, .. } | StmtKind::Expr(value) => {
            expr_exits(value)
        }
    }
}

pub fn block_exits(b: &Block) -> Exits {
    let mut e = b
        .stmts
        .iter()
        .fold(Exits::default(), |acc, s| acc.or(stmt_exits(s)));
    if let Some(t) = &b.tail {
        e = e.or(expr_exits(t));
    }
    e
}

/// Exits of an expression; `break`/`continue` inside a nested loop belong to
/// that loop, and nothing inside a lambda leaves the enclosing function.
pub fn expr_exits(e: &Expr) -> Exits {
    let mut acc = Exits::default();
    let mut sub = |x: &Expr| acc = acc.or(expr_exits(x));
    match &e.kind {
        ExprKind::Break => {
            return Exits {
                brk: true,
                ..Exits::default()
            };
        }
        ExprKind::Continue => {
            return Exits {
                cont: true,
                ..Exits::default()
            };
        }
        ExprKind::Return(v) => {
            let inner = v.as_deref().map(expr_exits).unwrap_or_default();
            return inner.or(Exits {
                ret: true,
                ..Exits::default()
            });
        }
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::Error
        | ExprKind::Lambda { .. } => {}
        ExprKind::Unary(_, a) => sub(a),
        ExprKind::Binary(_, a, b) | ExprKind::Range { lo: a, hi: b } => {
            sub(a);
            sub(b);
        }
        ExprKind::Call { callee, args } => {
            sub(callee);
            args.iter().for_each(|a| sub(&a.value));
        }
        ExprKind::Index { base, indices } => {
            sub(base);
            for ix in indices {
                match ix {
                    IndexArg::Index(x) => sub(x),
                    IndexArg::Slice { lo, hi, .. } => {
                        lo.iter().for_each(&mut sub);
                        hi.iter().for_each(&mut sub);
                    }
                }
            }
        }
        ExprKind::Field { base, .. } | ExprKind::TupleIndex { base, .. } => sub(base),
        ExprKind::StructLit { fields, base, .. } => {
            fields.iter().for_each(|(_, v)| sub(v));
            base.iter().for_each(|b| sub(b));
        }
        ExprKind::Tuple(xs) | ExprKind::TensorLit(xs) => xs.iter().for_each(sub),
        ExprKind::Block(b) => return block_exits(b),
        ExprKind::If { cond, then, else_ } => {
            sub(cond);
            let t = block_exits(then);
            let e2 = else_.as_deref().map(expr_exits).unwrap_or_default();
            return acc.or(t).or(e2);
        }
        ExprKind::For { iter, body, .. } => {
            sub(iter);
            let inner = block_exits(body);
            return acc.or(Exits {
                ret: inner.ret,
                ..Exits::default()
            });
        }
        ExprKind::While { cond, body } => {
            let c = expr_exits(cond);
            let inner = block_exits(body);
            return c.or(Exits {
                ret: inner.ret,
                ..Exits::default()
            });
        }
    }
    acc
}

/// Names assigned anywhere in a block (not inside lambdas): the candidates for
/// loop-carried values. Over-approximates in the presence of shadowing, which
/// only adds a carried value that passes through unchanged.
pub fn assigned_names(b: &Block) -> HashSet<Symbol> {
    let mut out = HashSet::new();
    block_assigns(b, &mut out);
    out
}

fn block_assigns(b: &Block, out: &mut HashSet<Symbol>) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Assign { target, value, .. } => {
                pattern_names(target, out);
                expr_assigns(value, out);
            }
            StmtKind::Let { value, .. } | StmtKind::Expr(value) => expr_assigns(value, out),
        }
    }
    if let Some(t) = &b.tail {
        expr_assigns(t, out);
    }
}

pub fn pattern_names(p: &Pattern, out: &mut HashSet<Symbol>) {
    match p {
        Pattern::Name(id) => {
            out.insert(id.name);
        }
        Pattern::Tuple { elems, .. } => elems.iter().for_each(|e| pattern_names(e, out)),
        Pattern::Wildcard(_) => {}
    }
}

fn expr_assigns(e: &Expr, out: &mut HashSet<Symbol>) {
    let mut sub = |x: &Expr| expr_assigns(x, out);
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::Error
        | ExprKind::Break
        | ExprKind::Continue
        | ExprKind::Lambda { .. } => {}
        ExprKind::Return(v) => v.iter().for_each(|x| sub(x)),
        ExprKind::Unary(_, a) => sub(a),
        ExprKind::Binary(_, a, b) | ExprKind::Range { lo: a, hi: b } => {
            sub(a);
            sub(b);
        }
        ExprKind::Call { callee, args } => {
            sub(callee);
            args.iter().for_each(|a| sub(&a.value));
        }
        ExprKind::Index { base, indices } => {
            sub(base);
            for ix in indices {
                match ix {
                    IndexArg::Index(x) => sub(x),
                    IndexArg::Slice { lo, hi, .. } => {
                        lo.iter().for_each(&mut sub);
                        hi.iter().for_each(&mut sub);
                    }
                }
            }
        }
        ExprKind::Field { base, .. } | ExprKind::TupleIndex { base, .. } => sub(base),
        ExprKind::StructLit { fields, base, .. } => {
            fields.iter().for_each(|(_, v)| sub(v));
            base.iter().for_each(|b| sub(b));
        }
        ExprKind::Tuple(xs) | ExprKind::TensorLit(xs) => xs.iter().for_each(sub),
        ExprKind::Block(b) => block_assigns(b, out),
        ExprKind::If { cond, then, else_ } => {
            sub(cond);
            block_assigns(then, out);
            else_.iter().for_each(|x| expr_assigns(x, out));
        }
        ExprKind::For { iter, body, .. } => {
            sub(iter);
            block_assigns(body, out);
        }
        ExprKind::While { cond, body } => {
            sub(cond);
            block_assigns(body, out);
        }
    }
}

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

/// The direct sub-expressions of an expression that is not block-like
/// (blocks, `if`, loops and lambdas are handled by each scan itself).
fn operands(e: &Expr) -> Vec<&Expr> {
    let mut out: Vec<&Expr> = Vec::new();
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::Error
        | ExprKind::Break
        | ExprKind::Continue
        | ExprKind::Lambda { .. }
        | ExprKind::Block(_)
        | ExprKind::If { .. }
        | ExprKind::For { .. }
        | ExprKind::While { .. } => {}
        ExprKind::Return(v) => out.extend(v.as_deref()),
        ExprKind::Unary(_, a) | ExprKind::Field { base: a, .. } | ExprKind::TupleIndex { base: a, .. } => {
            out.push(a)
        }
        ExprKind::Binary(_, a, b) | ExprKind::Range { lo: a, hi: b } => out.extend([&**a, &**b]),
        ExprKind::Call { callee, args } => {
            out.push(callee);
            out.extend(args.iter().map(|a| &a.value));
        }
        ExprKind::Index { base, indices } => {
            out.push(base);
            for ix in indices {
                match ix {
                    IndexArg::Index(x) => out.push(x),
                    IndexArg::Slice { lo, hi, .. } => out.extend(lo.iter().chain(hi.iter())),
                }
            }
        }
        ExprKind::StructLit { fields, base, .. } => {
            out.extend(fields.iter().map(|(_, v)| v));
            out.extend(base.as_deref());
        }
        ExprKind::Tuple(xs) | ExprKind::TensorLit(xs) => out.extend(xs.iter()),
    }
    out
}

/// Exits of an expression; `break`/`continue` inside a nested loop belong to
/// that loop, and nothing inside a lambda leaves the enclosing function.
pub fn expr_exits(e: &Expr) -> Exits {
    let own = match &e.kind {
        ExprKind::Break => Exits {
            brk: true,
            ..Exits::default()
        },
        ExprKind::Continue => Exits {
            cont: true,
            ..Exits::default()
        },
        ExprKind::Return(_) => Exits {
            ret: true,
            ..Exits::default()
        },
        ExprKind::Block(b) => block_exits(b),
        ExprKind::If { cond, then, else_ } => {
            let e2 = else_.as_deref().map(expr_exits).unwrap_or_default();
            expr_exits(cond).or(block_exits(then)).or(e2)
        }
        ExprKind::For { iter, body, .. } => expr_exits(iter).or(Exits {
            ret: block_exits(body).ret,
            ..Exits::default()
        }),
        ExprKind::While { cond, body } => expr_exits(cond).or(Exits {
            ret: block_exits(body).ret,
            ..Exits::default()
        }),
        _ => Exits::default(),
    };
    operands(e).into_iter().fold(own, |acc, x| acc.or(expr_exits(x)))
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
    match &e.kind {
        ExprKind::Block(b) => block_assigns(b, out),
        ExprKind::If { cond, then, else_ } => {
            expr_assigns(cond, out);
            block_assigns(then, out);
            else_.iter().for_each(|x| expr_assigns(x, out));
        }
        ExprKind::For { iter: c, body, .. } | ExprKind::While { cond: c, body } => {
            expr_assigns(c, out);
            block_assigns(body, out);
        }
        _ => operands(e).into_iter().for_each(|x| expr_assigns(x, out)),
    }
}

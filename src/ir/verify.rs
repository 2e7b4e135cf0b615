//! The IR verifier: checks the invariants every later stage relies on, after
//! lowering ([`Stage::Untyped`]) and after specialization ([`Stage::Specialized`]).
//! It reports every violation it finds instead of stopping at the first.
//!
//! Invariants checked at both stages:
//! - every value is defined exactly once: by a function parameter, a block
//!   parameter or an instruction result, and is inside the function's value table;
//! - every use comes after the definition, in the same block or in a block
//!   nested inside it (dominance for structured regions); an instruction's
//!   results are not visible inside its own blocks;
//! - `param_values.len() == params.len()` and `n_captures <= params.len()`;
//! - every instruction has exactly one result, except `if`, `for` and `while`,
//!   which have any number;
//! - `if` has one argument (the condition), blocks without parameters, and
//!   both branches yield one value per result;
//! - `for` has `2 + k` arguments (`lo`, `hi`, `k` initial values), its body
//!   `1 + k` parameters and `k` yields, and the instruction `k` results;
//! - `while` has `k` arguments and `k` results; `cond` has `k` parameters and
//!   yields one value; `body` has `k` parameters and yields `k`;
//! - `call` (and, untyped, `closure`) refer to existing functions, and a `call` passes one
//!   argument per callee parameter; `record` names an existing struct and has
//!   one argument per field; `main`, tests and thunk defaults name existing
//!   functions.
//!
//! Additionally in [`Stage::Specialized`]:
//! - every value has a type, and the untyped-only kinds (`builtin`, `callv`,
//!   `field`) are gone;
//! - types agree: `if` conditions are bool and branch yields match the result
//!   types; loop bounds are ints, and initial, parameter, yielded and result
//!   types of each carried value match; call arguments match the callee's
//!   parameter types; tuples, records, `tget`, `rget`, `capture` and constants
//!   have consistent types (indices in range);
//! - each prim's result type agrees with [`shapes::result_type`] of its operand
//!   types, with constants of the same function as known values.
//!
//! Types are compared structurally; an unknown dimension matches any, and the
//! weak flag is ignored (it only guides promotion).

use std::collections::HashMap;

use super::func::{Block, Const, Func, FuncId, Inst, InstKind, Program, Value};
use super::shapes::{self, Known, Operand};
use super::types::{DType, FnTy, Ty};
use crate::syntax::{Span, Symbol};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Untyped,
    Specialized,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    pub func: Symbol,
    pub message: String,
    pub span: Span,
}

pub fn verify_program(p: &Program, stage: Stage) -> Result<(), Vec<VerifyError>> {
    let mut errors = Vec::new();
    let no_func = Symbol::intern("<program>");
    let check_ref = |id: FuncId, what: &str, errors: &mut Vec<VerifyError>| {
        if p.func(id).is_none() {
            errors.push(VerifyError {
                func: no_func,
                message: format!("{what} refers to missing function @{}", id.0),
                span: Span::default(),
            });
        }
    };
    if let Some(m) = p.main {
        check_ref(m, "main", &mut errors);
    }
    for t in &p.tests {
        check_ref(t.func, "a test", &mut errors);
    }
    for f in &p.funcs {
        let mut c = Checker {
            p,
            f,
            stage,
            errors: Vec::new(),
            defined: vec![false; f.values.len()],
            visible: vec![false; f.values.len()],
            known: HashMap::new(),
        };
        c.func();
        errors.extend(c.errors);
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

struct Checker<'a> {
    p: &'a Program,
    f: &'a Func,
    stage: Stage,
    errors: Vec<VerifyError>,
    defined: Vec<bool>,
    visible: Vec<bool>,
    known: HashMap<Value, Known>,
}

impl<'a> Checker<'a> {
    fn err(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(VerifyError {
            func: self.f.name,
            message: message.into(),
            span,
        });
    }

    fn typed(&self) -> bool {
        self.stage == Stage::Specialized
    }

    fn func(&mut self) {
        let f = self.f;
        if f.param_values.len() != f.params.len() {
            self.err(
                f.span,
                format!(
                    "{} parameter values for {} parameters",
                    f.param_values.len(),
                    f.params.len()
                ),
            );
        }
        if f.n_captures > f.params.len() {
            self.err(
                f.span,
                format!("{} captures but {} parameters", f.n_captures, f.params.len()),
            );
        }
        for param in &f.params {
            if let Some(super::func::DefaultValue::Thunk(t)) = param.default
                && self.p.func(t).is_none()
            {
                self.err(
                    param.span,
                    format!("default of `{}` refers to missing function @{}", param.name, t.0),
                );
            }
        }
        let mut scope = Vec::new();
        for &v in &f.param_values {
            self.define(v, f.span, &mut scope);
        }
        self.block(&f.body, f.span);
    }

    fn define(&mut self, v: Value, span: Span, scope: &mut Vec<Value>) {
        let i = v.0 as usize;
        match self.defined.get_mut(i) {
            None => {
                self.err(
                    span,
                    format!(
                        "%{} is outside the value table ({} values)",
                        v.0,
                        self.f.values.len()
                    ),
                );
                return;
            }
            Some(d) if *d => {
                self.err(span, format!("%{} is defined more than once", v.0));
                return;
            }
            Some(d) => *d = true,
        }
        if let Some(vis) = self.visible.get_mut(i) {
            *vis = true;
        }
        scope.push(v);
        if self.typed() && self.f.ty(v).is_none() {
            self.err(span, format!("%{} has no type", v.0));
        }
    }

    fn use_value(&mut self, v: Value, span: Span) {
        if !self.visible.get(v.0 as usize).copied().unwrap_or(false) {
            self.err(span, format!("%{} is used where it is not defined", v.0));
        }
    }

    /// Checks a block: its parameters are defined on entry, and everything it
    /// defines goes out of scope on exit.
    fn block(&mut self, b: &Block, span: Span) {
        let mut scope = Vec::new();
        for &v in &b.params {
            self.define(v, span, &mut scope);
        }
        for inst in &b.insts {
            self.inst(inst);
            for &r in &inst.results {
                self.define(r, inst.span, &mut scope);
            }
            if self.typed() {
                self.types(inst);
            }
        }
        for &v in &b.yields {
            self.use_value(v, span);
        }
        for v in scope {
            if let Some(vis) = self.visible.get_mut(v.0 as usize) {
                *vis = false;
            }
        }
    }

    fn count(&mut self, span: Span, what: &str, found: usize, wanted: usize) {
        if found != wanted {
            self.err(span, format!("{what}: expected {wanted}, found {found}"));
        }
    }

    fn inst(&mut self, inst: &Inst) {
        let s = inst.span;
        for &a in &inst.args {
            self.use_value(a, s);
        }
        let single = !matches!(
            inst.kind,
            InstKind::If { .. } | InstKind::For { .. } | InstKind::While { .. }
        );
        if single {
            self.count(s, "results of the instruction", inst.results.len(), 1);
        }
        let k = inst.results.len();
        match &inst.kind {
            InstKind::If { then, else_ } => {
                self.count(s, "arguments of `if`", inst.args.len(), 1);
                for b in [then, else_] {
                    self.count(s, "parameters of an `if` branch", b.params.len(), 0);
                    self.block(b, s);
                    self.count(s, "values yielded by an `if` branch", b.yields.len(), k);
                }
            }
            InstKind::For { body } => {
                self.count(s, "arguments of `for`", inst.args.len(), 2 + k);
                self.block(body, s);
                self.count(s, "parameters of the `for` body", body.params.len(), 1 + k);
                self.count(s, "values yielded by the `for` body", body.yields.len(), k);
            }
            InstKind::While { cond, body } => {
                self.count(s, "arguments of `while`", inst.args.len(), k);
                self.block(cond, s);
                self.count(s, "parameters of the `while` condition", cond.params.len(), k);
                self.count(s, "values yielded by the `while` condition", cond.yields.len(), 1);
                self.block(body, s);
                self.count(s, "parameters of the `while` body", body.params.len(), k);
                self.count(s, "values yielded by the `while` body", body.yields.len(), k);
            }
            // A typed closure names the untyped lifted function (its type
            // does too; calls to it were specialized separately), so only an
            // untyped closure's function is looked up here.
            InstKind::Closure(_) if self.typed() => {}
            InstKind::Call(id) | InstKind::Closure(id) => match self.p.func(*id) {
                None => self.err(s, format!("call of missing function @{}", id.0)),
                Some(callee) if matches!(inst.kind, InstKind::Call(_)) => {
                    let name = callee.name;
                    self.count(
                        s,
                        &format!("arguments of the call to {name}"),
                        inst.args.len(),
                        callee.params.len(),
                    );
                }
                Some(_) => {}
            },
            InstKind::Record(sid) => match self.p.struct_def(*sid) {
                None => self.err(s, format!("record of missing struct ${}", sid.0)),
                Some(def) => {
                    let what = format!("fields of a {} record", def.name);
                    self.count(s, &what, inst.args.len(), def.fields.len());
                }
            },
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                if self.typed() {
                    self.err(s, "an untyped-only instruction in specialized IR");
                }
            }
            InstKind::Const(c) => {
                if let Some(&r) = inst.results.first() {
                    match c {
                        Const::Int(i) => {
                            self.known.insert(r, Known::Int(*i));
                        }
                        Const::Float(x) => {
                            self.known.insert(r, Known::Float(*x));
                        }
                        Const::Bool(b) => {
                            self.known.insert(r, Known::Bool(*b));
                        }
                        Const::Str(_) | Const::Unit | Const::Undef => {}
                    }
                }
            }
            InstKind::Tuple | InstKind::Prim(super::op::Prim::Stack { .. }) => {
                let ints: Option<Vec<i64>> = inst
                    .args
                    .iter()
                    .map(|a| match self.known.get(a) {
                        Some(Known::Int(i)) => Some(*i),
                        _ => None,
                    })
                    .collect();
                if let (Some(ints), Some(&r)) = (ints, inst.results.first()) {
                    self.known.insert(r, Known::Ints(ints));
                }
            }
            InstKind::Prim(_)
            | InstKind::BuiltinRef(_)
            | InstKind::CaptureGet(_)
            | InstKind::TupleGet(_)
            | InstKind::RecordGet(_)
            | InstKind::Derive(_)
            | InstKind::ListNew
            | InstKind::ListPush
            | InstKind::ListGet
            | InstKind::ListLen => {}
        }
    }

    fn ty_of(&self, v: Value) -> Option<&'a Ty> {
        self.f.ty(v)
    }

    fn show(&self, t: &Ty) -> String {
        t.describe(self.p)
    }

    /// Reports unless `found` matches `wanted` (both known).
    fn agree(&mut self, span: Span, what: &str, found: Option<&Ty>, wanted: Option<&Ty>) {
        if let (Some(a), Some(b)) = (found, wanted)
            && !same_ty(a, b)
        {
            let msg = format!("{what}: expected {}, found {}", self.show(b), self.show(a));
            self.err(span, msg);
        }
    }

    fn types(&mut self, inst: &Inst) {
        let s = inst.span;
        let result = inst.results.first().and_then(|r| self.ty_of(*r));
        let arg = |i: usize| inst.args.get(i).and_then(|a| self.f.ty(*a));
        let int = Ty::int();
        let boolean = Ty::bool();
        match &inst.kind {
            InstKind::Const(c) => {
                let ok = match (c, result) {
                    (Const::Int(_), Some(Ty::Tensor(t))) => t.dtype == DType::I64 && t.shape.is_scalar(),
                    (Const::Float(_), Some(Ty::Tensor(t))) => t.dtype.is_float() && t.shape.is_scalar(),
                    (Const::Bool(_), Some(Ty::Tensor(t))) => t.dtype == DType::Bool && t.shape.is_scalar(),
                    (Const::Str(_), Some(Ty::Str)) => true,
                    (Const::Unit, Some(t)) => t.is_unit(),
                    (Const::Undef, Some(Ty::Never)) => true,
                    (_, None) => true,
                    _ => false,
                };
                if !ok {
                    self.err(s, "a constant's type does not match its value");
                }
            }
            InstKind::Prim(prim) => {
                let tys: Option<Vec<&Ty>> = inst.args.iter().map(|a| self.ty_of(*a)).collect();
                let Some(tys) = tys else { return };
                let ops: Vec<Operand<'_>> = tys
                    .iter()
                    .zip(&inst.args)
                    .map(|(ty, a)| Operand {
                        ty,
                        known: self.known.get(a),
                    })
                    .collect();
                // The default float only matters for int operands of float
                // ops; accept either width.
                let r32 = shapes::result_type(prim, &ops, DType::F32);
                let r64 = shapes::result_type(prim, &ops, DType::F64);
                match (r32, r64) {
                    (Err(e), _) => self.err(s, format!("prim {}: {}", prim.info().name, e.message)),
                    (Ok(a), Ok(b)) => {
                        if let Some(r) = result
                            && !same_ty(r, &a)
                            && !same_ty(r, &b)
                        {
                            let msg = format!(
                                "prim {}: result type is {}, but the operands give {}",
                                prim.info().name,
                                self.show(r),
                                self.show(&a)
                            );
                            self.err(s, msg);
                        }
                    }
                    (Ok(a), Err(_)) => self.agree(s, "prim result", result, Some(&a)),
                }
            }
            InstKind::BuiltinRef(b) => {
                let t = Ty::Fn(Box::new(FnTy::Builtin(*b)));
                self.agree(s, "builtin reference", result, Some(&t));
            }
            InstKind::Call(id) => {
                let Some(callee) = self.p.func(*id) else { return };
                for (i, pv) in callee.param_values.iter().enumerate() {
                    self.agree(
                        s,
                        &format!("argument {} of the call", i + 1),
                        arg(i),
                        callee.ty(*pv),
                    );
                }
                if let [y] = callee.body.yields.as_slice() {
                    self.agree(s, "result of the call", result, callee.ty(*y));
                }
            }
            InstKind::Closure(id) => match result {
                Some(Ty::Fn(f)) => match f.as_ref() {
                    FnTy::User { func, captures } if func == id && captures.len() == inst.args.len() => {
                        for (i, c) in captures.iter().enumerate() {
                            self.agree(s, &format!("capture {i}"), arg(i), Some(c));
                        }
                    }
                    FnTy::User { .. } | FnTy::Builtin(_) | FnTy::Derivative { .. } => {
                        self.err(s, "a closure's type must name its function and its captures")
                    }
                },
                Some(_) => self.err(s, "a closure must have a function type"),
                None => {}
            },
            InstKind::Derive(kind) => match (arg(0), result) {
                (Some(Ty::Fn(f)), Some(Ty::Fn(r))) => {
                    let want = FnTy::Derivative {
                        kind: kind.clone(),
                        of: f.clone(),
                    };
                    if **r != want {
                        self.err(s, "a derivative's type must name its function");
                    }
                }
                (Some(_), _) => self.err(s, "the derivative of a value that is not a function"),
                _ => {}
            },
            InstKind::ListNew => {
                if !matches!(result, Some(Ty::List(_)) | None) {
                    self.err(s, "list_new must produce a list");
                }
            }
            InstKind::ListPush => match (arg(0), arg(1)) {
                (Some(Ty::List(e)), elem) => {
                    self.agree(s, "pushed element", elem, Some(e));
                    self.agree(s, "list", result, arg(0));
                }
                (Some(_), _) => self.err(s, "list_push of a value that is not a list"),
                (None, _) => {}
            },
            InstKind::ListGet => match (arg(0), arg(1)) {
                (Some(Ty::List(e)), i) => {
                    self.agree(s, "list index", i, Some(&int));
                    self.agree(s, "list element", result, Some(e));
                }
                (Some(_), _) => self.err(s, "list_get of a value that is not a list"),
                (None, _) => {}
            },
            InstKind::ListLen => match arg(0) {
                Some(Ty::List(_)) => self.agree(s, "list length", result, Some(&int)),
                Some(_) => self.err(s, "list_len of a value that is not a list"),
                None => {}
            },
            InstKind::CaptureGet(i) => match arg(0) {
                Some(Ty::Fn(f)) => match f.base() {
                    FnTy::User { captures, .. } => match captures.get(*i as usize) {
                        Some(c) => self.agree(s, "captured value", result, Some(c)),
                        None => self.err(s, format!("capture {i} is out of range")),
                    },
                    FnTy::Builtin(_) | FnTy::Derivative { .. } => self.err(s, "capture of a builtin"),
                },
                Some(_) => self.err(s, "capture of a value that is not a closure"),
                None => {}
            },
            InstKind::Tuple => {
                let tys: Option<Vec<Ty>> = inst.args.iter().map(|a| self.ty_of(*a).cloned()).collect();
                if let Some(tys) = tys {
                    self.agree(s, "tuple", result, Some(&Ty::Tuple(tys)));
                }
            }
            InstKind::TupleGet(i) => match arg(0) {
                Some(Ty::Tuple(items)) => match items.get(*i as usize) {
                    Some(t) => self.agree(s, "tuple element", result, Some(t)),
                    None => self.err(s, format!("tuple index {i} is out of range")),
                },
                Some(_) => self.err(s, "tget of a value that is not a tuple"),
                None => {}
            },
            InstKind::Record(sid) => {
                let tys: Option<Vec<Ty>> = inst.args.iter().map(|a| self.ty_of(*a).cloned()).collect();
                if let Some(tys) = tys {
                    self.agree(s, "record", result, Some(&Ty::Record(*sid, tys)));
                }
            }
            InstKind::RecordGet(i) => match arg(0) {
                Some(Ty::Record(_, fields)) => match fields.get(*i as usize) {
                    Some(t) => self.agree(s, "record field", result, Some(t)),
                    None => self.err(s, format!("field index {i} is out of range")),
                },
                Some(_) => self.err(s, "rget of a value that is not a record"),
                None => {}
            },
            InstKind::If { then, else_ } => {
                self.agree(s, "`if` condition", arg(0), Some(&boolean));
                for b in [then, else_] {
                    for (y, r) in b.yields.iter().zip(&inst.results) {
                        self.agree(s, "`if` branch result", self.ty_of(*y), self.ty_of(*r));
                    }
                }
            }
            InstKind::For { body } => {
                self.agree(s, "loop start", arg(0), Some(&int));
                self.agree(s, "loop end", arg(1), Some(&int));
                self.agree(
                    s,
                    "loop index",
                    body.params.first().and_then(|v| self.ty_of(*v)),
                    Some(&int),
                );
                self.carried(
                    s,
                    inst,
                    inst.args.get(2..).unwrap_or_default(),
                    body.params.get(1..),
                );
                self.carried(s, inst, &body.yields, body.params.get(1..));
            }
            InstKind::While { cond, body } => {
                self.agree(
                    s,
                    "`while` condition",
                    cond.yields.first().and_then(|v| self.ty_of(*v)),
                    Some(&boolean),
                );
                self.carried(s, inst, &inst.args, Some(&cond.params));
                self.carried(s, inst, &inst.args, Some(&body.params));
                self.carried(s, inst, &body.yields, Some(&body.params));
            }
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {}
        }
    }

    /// Carried values: each of `vals` and each parameter must have the type
    /// of the corresponding result.
    fn carried(&mut self, s: Span, inst: &Inst, vals: &[Value], params: Option<&[Value]>) {
        for (i, r) in inst.results.iter().enumerate() {
            let want = self.ty_of(*r);
            let v = vals.get(i).and_then(|v| self.ty_of(*v));
            self.agree(s, &format!("carried value {}", i + 1), v, want);
            let p = params.and_then(|ps| ps.get(i)).and_then(|v| self.ty_of(*v));
            self.agree(s, &format!("loop parameter {}", i + 1), p, want);
        }
    }
}

/// Structural type equality where an unknown dimension matches any and the
/// weak flag is ignored.
pub(crate) fn same_ty(a: &Ty, b: &Ty) -> bool {
    let all = |xs: &[Ty], ys: &[Ty]| xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_ty(x, y));
    match (a, b) {
        // A value that is never computed fits wherever a value is expected.
        (Ty::Never, _) | (_, Ty::Never) => true,
        (Ty::Tensor(x), Ty::Tensor(y)) => {
            x.dtype == y.dtype
                && x.shape.rank() == y.shape.rank()
                && x.shape
                    .0
                    .iter()
                    .zip(&y.shape.0)
                    .all(|(p, q)| p.is_none() || q.is_none() || p == q)
        }
        (Ty::Tuple(xs), Ty::Tuple(ys)) => all(xs, ys),
        (Ty::Record(s, xs), Ty::Record(t, ys)) => s == t && all(xs, ys),
        (Ty::Str, Ty::Str) => true,
        (Ty::List(x), Ty::List(y)) => same_ty(x, y),
        (Ty::Fn(f), Ty::Fn(g)) => match (f.as_ref(), g.as_ref()) {
            (
                FnTy::User {
                    func: a,
                    captures: xs,
                },
                FnTy::User {
                    func: b,
                    captures: ys,
                },
            ) => a == b && all(xs, ys),
            (FnTy::Builtin(a), FnTy::Builtin(b)) => a == b,
            _ => false,
        },
        (Ty::Tensor(_) | Ty::Tuple(_) | Ty::Record(..) | Ty::Str | Ty::Fn(_) | Ty::List(_), _) => false,
    }
}

#[cfg(test)]
mod tests;

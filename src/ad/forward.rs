//! Forward mode: from a specialized function `f(p…) -> y` to its
//! Jacobian-vector product `f'(p…, t…) -> (y, ty)`, as a new IR function.
//!
//! Each instruction is copied and followed by the code of its tangent, so the
//! primal and the tangent are computed side by side; no tape is needed.
//! A value's tangent is absent while it is zero and is materialized only
//! where a merge needs it (a branch result, a loop-carried value, a call
//! argument, an aggregate). Structured control flow:
//! - `if`: an `if` on the same condition whose branches yield their results
//!   and the results' tangents; only the branch that ran contributes.
//! - `for` and `while`: the tangents of active carried values are carried
//!   alongside them; tangents of outer values are read inside as they are.
//! - calls: `y = g(a…)` becomes `(y, ty) = g'(a…, ta…)` (recursion works:
//!   `g'` is reserved before its body is built).
//!
//! The rules mirror the reverse rules (`rules.rs`): the same conventions at
//! kinks, and factors that can be infinite are applied so that a zero tangent
//! stays zero.

use super::activity::{active_values, cotangent, differentiable};
use super::emit::{AdResult, Emitter};
use super::rules::safe_div;
use crate::diag::Diagnostic;
use crate::ir::types::{DType, DerivKind, Ty};
use crate::ir::{
    BinaryOp, Block, Func, FuncId, IndexItem, Inst, InstKind, Prim, Program, ReduceOp, UnaryOp, Value,
};
use crate::syntax::{Span, Symbol};
use std::collections::{HashMap, HashSet};

/// The forward-mode derivative of `f` with respect to the parameters flagged
/// in `active`: a function of `f`'s parameters and one tangent per parameter
/// (typed as the parameter's cotangent; inactive ones are ignored) that
/// returns `(y, ty)`.
///
/// The cache may be shared with reverse mode: forward-mode entries are keyed
/// by the flags plus one extra `true`, so they never meet a reverse-mode key
/// (which has exactly one flag per parameter).
pub fn jvp(
    program: &mut Program,
    f: FuncId,
    active: &[bool],
    cache: &mut HashMap<(FuncId, Vec<bool>), FuncId>,
) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(Default::default(), "jvp of a missing function"))?;
    let mut flags: Vec<bool> = (0..src.param_values.len())
        .map(|i| active.get(i).copied().unwrap_or(false))
        .collect();
    flags.push(true);
    if let Some(&id) = cache.get(&(f, flags.clone())) {
        return Ok(id);
    }
    let id = FuncId(program.funcs.len() as u32);
    program.funcs.push(src.clone());
    cache.insert((f, flags.clone()), id);
    flags.pop();
    let name = Symbol::intern(&format!("{}'jvp", src.name));
    let mut fw = Fwd {
        program,
        cache,
        e: Emitter::new(name, src.span, DType::F32),
        src: &src,
        active: active_values(&src, &flags),
        map: HashMap::new(),
        tan: HashMap::new(),
    };
    let mut tys = Vec::new();
    for (i, &p) in src.param_values.iter().enumerate() {
        let ty = fw.src_ty(p);
        let pname = src
            .params
            .get(i)
            .map(|p| p.name)
            .unwrap_or_else(|| Symbol::intern("p"));
        let v = fw.e.param(pname, ty.clone());
        fw.map.insert(p, v);
        tys.push((pname, ty));
    }
    for (i, ((pname, ty), &p)) in tys.iter().zip(&src.param_values).enumerate() {
        let t =
            fw.e.param(Symbol::intern(&format!("d{}", pname.as_str())), cotangent(ty));
        if flags.get(i).copied().unwrap_or(false) && differentiable(ty) {
            fw.tan.insert(p, t);
        }
    }
    let y_src = src
        .body
        .yields
        .first()
        .copied()
        .ok_or_else(|| Diagnostic::internal(src.span, "no result"))?;
    fw.block(&src.body)?;
    let y = fw.get(y_src)?;
    let y_ty = fw.src_ty(y_src);
    let ty = fw.tangent_or_zero(y_src, &y_ty)?;
    let result = fw.e.tuple(vec![y, ty]);
    let func = fw.e.finish(result);
    if let Some(slot) = program.funcs.get_mut(id.0 as usize) {
        *slot = func;
    }
    Ok(id)
}

/// The function behind `jvp(f)`: parameters `(captures…, x…, dx…)`, where
/// the first `n_leading` parameters of `f` are captured values (tangent
/// zero); returns `(f(captures…, x…), tangent)`.
pub fn jvp_wrapper(
    program: &mut Program,
    f: FuncId,
    n_leading: usize,
    cache: &mut HashMap<(FuncId, Vec<bool>), FuncId>,
    span: Span,
) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(span, "derivative of a missing function"))?;
    let n = src.param_values.len();
    let active: Vec<bool> = (0..n).map(|i| i >= n_leading).collect();
    let d = jvp(program, f, &active, cache)?;
    let ret = result_ty(&src);
    let df = ret.as_tensor().map(|t| t.dtype).unwrap_or(DType::F32);
    let mut e = Emitter::new(Symbol::intern(&format!("{}'jvp", src.name)), span, df);
    let (params, tys) = wrapper_params(&mut e, &src);
    let mut args = params.clone();
    for (i, (&p, ty)) in params.iter().zip(&tys).enumerate() {
        if i < n_leading {
            args.push(e.zeros_like(ty, Some(p))?);
        }
    }
    for (p, ty) in src.params.iter().zip(&tys).skip(n_leading) {
        args.push(e.param(Symbol::intern(&format!("d{}", p.name.as_str())), cotangent(ty)));
    }
    let r = e.inst(
        InstKind::Call(d),
        args,
        Ty::Tuple(vec![ret.clone(), cotangent(&ret)]),
    );
    program.funcs.push(e.finish(r));
    Ok(FuncId((program.funcs.len() - 1) as u32))
}

/// The function behind `hessian(f)`: parameters `(captures…, x)` for a
/// scalar-valued `f` of one float argument `x`, a scalar or a vector of
/// statically known length `n`. Forward over reverse: the tangent of the
/// gradient in the direction of each unit vector is a row of the Hessian.
pub fn hessian_wrapper(
    program: &mut Program,
    f: FuncId,
    n_leading: usize,
    cache: &mut HashMap<(FuncId, Vec<bool>), FuncId>,
    span: Span,
) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(span, "derivative of a missing function"))?;
    let n = src.param_values.len();
    let ret = result_ty(&src);
    if !matches!(ret.as_tensor(), Some(t) if t.dtype.is_float() && t.shape.is_scalar()) {
        return Err(Diagnostic::error(
            span,
            "`hessian` needs a function with a scalar float result",
        ));
    }
    let x_ty = match src.param_values.get(n_leading..) {
        Some([x]) => src.ty(*x).cloned().unwrap_or(Ty::Never),
        _ => Ty::Never,
    };
    // `None`: a scalar argument; `Some(n)`: a vector of length n.
    let (dtype, len) = match x_ty.as_tensor() {
        Some(t) if t.dtype.is_float() && t.shape.is_scalar() => (t.dtype, None),
        Some(t) if t.dtype.is_float() && t.shape.rank() == 1 => match t.shape.0.first() {
            Some(Some(k)) if *k > 0 => (t.dtype, Some(*k)),
            _ => {
                return Err(Diagnostic::error(
                    span,
                    "hessian needs a vector argument of known length",
                ));
            }
        },
        _ => {
            return Err(Diagnostic::error(
                span,
                "hessian needs a vector argument of known length",
            ));
        }
    };
    let kind = DerivKind::Grad {
        wrt: vec![0],
        tuple: false,
        with_value: false,
    };
    let g = super::api::derivative(program, f, &kind, n_leading, cache, span)?;
    let active: Vec<bool> = (0..n).map(|i| i >= n_leading).collect();
    let jg = jvp(program, g, &active, cache)?;
    let g_ret = program.func(g).map(result_ty).unwrap_or(Ty::Never);
    let call_ty = Ty::Tuple(vec![g_ret.clone(), cotangent(&g_ret)]);
    let mut e = Emitter::new(Symbol::intern(&format!("{}'hessian", src.name)), span, dtype);
    let (params, tys) = wrapper_params(&mut e, &src);
    let mut args = params.clone();
    for (&p, ty) in params.iter().zip(&tys).take(n_leading) {
        args.push(e.zeros_like(ty, Some(p))?);
    }
    let column = |e: &mut Emitter, dir: Value| -> AdResult<Value> {
        let mut all = args.clone();
        all.push(dir);
        let r = e.inst(InstKind::Call(jg), all, call_ty.clone());
        e.project(r, 1)
    };
    let result = match len {
        None => {
            let one = e.float(1.0, dtype);
            column(&mut e, one)?
        }
        Some(k) => {
            let size = e.int(k as i64);
            let eye = e.prim(Prim::Eye(dtype), vec![size])?;
            let mut rows = Vec::with_capacity(k);
            for i in 0..k {
                let idx = e.int(i as i64);
                let dir = e.prim(Prim::Index(vec![IndexItem::At]), vec![eye, idx])?;
                rows.push(column(&mut e, dir)?);
            }
            e.prim(
                Prim::Stack {
                    dtype,
                    literal: false,
                },
                rows,
            )?
        }
    };
    program.funcs.push(e.finish(result));
    Ok(FuncId((program.funcs.len() - 1) as u32))
}

fn result_ty(f: &Func) -> Ty {
    f.body
        .yields
        .first()
        .and_then(|&y| f.ty(y).cloned())
        .unwrap_or(Ty::Never)
}

/// Parameters of a wrapper with the names and types of `src`'s.
fn wrapper_params(e: &mut Emitter, src: &Func) -> (Vec<Value>, Vec<Ty>) {
    let tys: Vec<Ty> = src
        .param_values
        .iter()
        .map(|&p| src.ty(p).cloned().unwrap_or(Ty::Never))
        .collect();
    let params = src
        .params
        .iter()
        .zip(&tys)
        .map(|(p, t)| e.param(p.name, t.clone()))
        .collect();
    (params, tys)
}

struct Fwd<'p, 's> {
    program: &'p mut Program,
    cache: &'p mut HashMap<(FuncId, Vec<bool>), FuncId>,
    e: Emitter,
    src: &'s Func,
    active: HashSet<Value>,
    /// Source value → its value in the derivative.
    map: HashMap<Value, Value>,
    /// Source value → its tangent (absent: zero). Materialized zeros are never
    /// stored here, since they may be defined in a nested block.
    tan: HashMap<Value, Value>,
}

impl Fwd<'_, '_> {
    fn get(&self, v: Value) -> AdResult<Value> {
        self.map
            .get(&v)
            .copied()
            .ok_or_else(|| Diagnostic::internal(self.e.span, format!("derivative: value %{} unmapped", v.0)))
    }

    fn src_ty(&self, v: Value) -> Ty {
        self.src.ty(v).cloned().unwrap_or(Ty::Never)
    }

    fn tangent(&self, v: Value) -> Option<Value> {
        self.tan.get(&v).copied()
    }

    /// The tangent of `v` as a value of the cotangent type of `ty`.
    fn tangent_or_zero(&mut self, v: Value, ty: &Ty) -> AdResult<Value> {
        match self.tangent(v) {
            Some(t) => conform(&mut self.e, t, &cotangent(ty)),
            None => {
                let like = self.map.get(&v).copied();
                self.e.zeros_like(ty, like)
            }
        }
    }

    fn set_tangent(&mut self, r: Value, t: Option<Value>) {
        if let Some(t) = t
            && differentiable(&self.src_ty(r))
        {
            self.tan.insert(r, t);
        }
    }

    fn block(&mut self, b: &Block) -> AdResult<()> {
        for inst in &b.insts {
            self.inst(inst)?;
        }
        Ok(())
    }

    fn fresh(&mut self, r: Value) -> Value {
        let ty = self.src_ty(r);
        let v = self.e.fresh(ty, self.src.name_of(r));
        self.map.insert(r, v);
        v
    }

    /// A copy of `inst` on the mapped arguments; its single result or unit.
    fn copy(&mut self, inst: &Inst, args: Vec<Value>) -> Option<Value> {
        let results: Vec<Value> = inst.results.iter().map(|&r| self.fresh(r)).collect();
        let first = results.first().copied();
        self.e.push(Inst {
            kind: inst.kind.clone(),
            args,
            results,
            span: inst.span,
        });
        first
    }

    fn inst(&mut self, inst: &Inst) -> AdResult<()> {
        self.e.span = inst.span;
        let args: Vec<Value> = inst.args.iter().map(|&a| self.get(a)).collect::<AdResult<_>>()?;
        let tans: Vec<Option<Value>> = inst.args.iter().map(|&a| self.tangent(a)).collect();
        let any = tans.iter().any(Option::is_some);
        let r = inst.results.first().copied();
        match &inst.kind {
            InstKind::Const(_) | InstKind::BuiltinRef(_) | InstKind::ListLen => {
                self.copy(inst, args);
            }
            // Lists (the tapes of derivative code) of differentiable values
            // carry a list of tangents, built in step with them.
            InstKind::ListNew | InstKind::ListPush | InstKind::ListGet => {
                self.copy(inst, args);
                self.list_tangent(inst, &tans)?;
            }
            InstKind::Prim(p) => {
                let out = self.copy(inst, args.clone());
                if let (Some(out), Some(r)) = (out, r)
                    && any
                    && differentiable(&self.src_ty(r))
                {
                    let t = prim_tangent(&mut self.e, p, &args, out, &tans)?;
                    let t = match t {
                        Some(t) => Some(fit(&mut self.e, t, out)?),
                        None => None,
                    };
                    self.set_tangent(r, t);
                }
            }
            InstKind::Tuple | InstKind::Record(_) | InstKind::Closure(_) => {
                let out = self.copy(inst, args);
                if let (Some(_), Some(r)) = (out, r)
                    && any
                {
                    let mut parts = Vec::new();
                    for &a in &inst.args {
                        let ty = self.src_ty(a);
                        parts.push(self.tangent_or_zero(a, &ty)?);
                    }
                    let t = match &inst.kind {
                        InstKind::Record(s) => {
                            let tys = parts.iter().map(|&p| self.e.ty(p)).collect();
                            self.e.inst(InstKind::Record(*s), parts, Ty::Record(*s, tys))
                        }
                        _ => self.e.tuple(parts),
                    };
                    self.set_tangent(r, Some(t));
                }
            }
            InstKind::TupleGet(i) | InstKind::RecordGet(i) | InstKind::CaptureGet(i) => {
                self.copy(inst, args);
                if let (Some(r), Some(Some(t))) = (r, tans.first())
                    && differentiable(&self.src_ty(r))
                {
                    let p = self.e.project(*t, *i as usize)?;
                    self.set_tangent(r, Some(p));
                }
            }
            InstKind::Derive(_) => {
                self.copy(inst, args);
                if let (Some(r), Some(Some(t))) = (r, tans.first()) {
                    self.set_tangent(r, Some(*t));
                }
            }
            InstKind::Call(h) => self.call(inst, *h, args, &tans)?,
            InstKind::If { then, else_ } => self.if_(inst, then, else_, args)?,
            InstKind::For { body } => self.loop_(inst, None, body, args)?,
            InstKind::While { cond, body } => self.loop_(inst, Some(cond), body, args)?,
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                return Err(Diagnostic::internal(
                    inst.span,
                    "untyped instruction in a function being differentiated",
                ));
            }
        }
        Ok(())
    }

    fn call(&mut self, inst: &Inst, h: FuncId, args: Vec<Value>, tans: &[Option<Value>]) -> AdResult<()> {
        let span = inst.span;
        let Some(r) = inst.results.first().copied() else {
            self.copy(inst, args);
            return Ok(());
        };
        if !tans.iter().any(Option::is_some) || !differentiable(&self.src_ty(r)) {
            self.copy(inst, args);
            return Ok(());
        }
        let wanted: Vec<bool> = tans.iter().map(Option::is_some).collect();
        let d = jvp(self.program, h, &wanted, self.cache)?;
        // Parameter and result types from the primal callee, since `d` may
        // still be being built (recursion).
        let callee = self
            .program
            .func(h)
            .ok_or_else(|| Diagnostic::internal(span, "missing callee"))?;
        let ptys: Vec<Ty> = callee
            .param_values
            .iter()
            .map(|&p| callee.ty(p).cloned().unwrap_or(Ty::Never))
            .collect();
        let ret = callee
            .body
            .yields
            .first()
            .and_then(|&y| callee.ty(y).cloned())
            .unwrap_or(Ty::Never);
        let mut all = args;
        for (k, &a) in inst.args.iter().enumerate() {
            let ty = ptys.get(k).cloned().unwrap_or_else(|| self.src_ty(a));
            all.push(self.tangent_or_zero(a, &ty)?);
        }
        let ret_ty = Ty::Tuple(vec![ret.clone(), cotangent(&ret)]);
        let res = self.e.inst(InstKind::Call(d), all, ret_ty);
        let y = self.e.project(res, 0)?;
        let t = self.e.project(res, 1)?;
        self.map.insert(r, y);
        self.set_tangent(r, Some(t));
        Ok(())
    }

    fn list_tangent(&mut self, inst: &Inst, tans: &[Option<Value>]) -> AdResult<()> {
        let Some(r) = inst.results.first().copied() else {
            return Ok(());
        };
        match &inst.kind {
            InstKind::ListNew => {
                let ty = self.src_ty(r);
                if list_elem(&ty).is_some() {
                    let t = self.e.inst(InstKind::ListNew, Vec::new(), tangent_ty(&ty));
                    self.tan.insert(r, t);
                }
            }
            InstKind::ListPush => {
                let (Some(Some(tl)), Some(&v)) = (tans.first(), inst.args.get(1)) else {
                    return Ok(());
                };
                let ty = self.src_ty(r);
                let Some(elem) = list_elem(&ty).cloned() else {
                    return Ok(());
                };
                let tv = self.tangent_or_zero(v, &elem)?;
                let t = self.e.inst(InstKind::ListPush, vec![*tl, tv], tangent_ty(&ty));
                self.tan.insert(r, t);
            }
            InstKind::ListGet => {
                let (Some(Some(tl)), Some(&list), Some(&i)) =
                    (tans.first(), inst.args.first(), inst.args.get(1))
                else {
                    return Ok(());
                };
                let lty = self.src_ty(list);
                if let Some(elem) = list_elem(&lty) {
                    let ti = self.get(i)?;
                    let t = self.e.inst(InstKind::ListGet, vec![*tl, ti], cotangent(elem));
                    self.tan.insert(r, t);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Which results of a control-flow instruction carry a tangent: active
    /// differentiable values, and lists whose initial value has tangents.
    fn active_results(&self, inst: &Inst, inits: &[Value]) -> Vec<bool> {
        inst.results
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let ty = self.src_ty(*r);
                if list_elem(&ty).is_some() {
                    inits.get(k).is_some_and(|a| self.tan.contains_key(a))
                } else {
                    self.active.contains(r) && differentiable(&ty)
                }
            })
            .collect()
    }

    fn if_(&mut self, inst: &Inst, then: &Block, else_: &Block, args: Vec<Value>) -> AdResult<()> {
        let act = self.active_results(inst, &[]);
        let mut branches = Vec::new();
        for b in [then, else_] {
            self.e.push_block(Vec::new());
            self.block(b)?;
            let mut ys: Vec<Value> = b.yields.iter().map(|&y| self.get(y)).collect::<AdResult<_>>()?;
            for ((&y, &r), &on) in b.yields.iter().zip(&inst.results).zip(&act) {
                if on {
                    let ty = self.src_ty(r);
                    ys.push(self.tangent_or_zero(y, &ty)?);
                }
            }
            branches.push(self.e.pop_block(ys));
        }
        let mut it = branches.into_iter();
        let (tb, eb) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        let mut results: Vec<Value> = inst.results.iter().map(|&r| self.fresh(r)).collect();
        let mut tangents = Vec::new();
        for (&r, &on) in inst.results.iter().zip(&act) {
            if on {
                let t = self.e.fresh(tangent_ty(&self.src_ty(r)), None);
                tangents.push((r, t));
                results.push(t);
            }
        }
        self.e.push(Inst {
            kind: InstKind::If { then: tb, else_: eb },
            args,
            results,
            span: inst.span,
        });
        for (r, t) in tangents {
            self.tan.insert(r, t);
        }
        Ok(())
    }

    /// `for` (`cond` is `None`: `args = [lo, hi, init…]`, `body.params =
    /// [i, carried…]`) and `while` (`args = init…`).
    fn loop_(&mut self, inst: &Inst, cond: Option<&Block>, body: &Block, args: Vec<Value>) -> AdResult<()> {
        let lead = usize::from(cond.is_none());
        let carried: Vec<Value> = body.params.iter().skip(lead).copied().collect();
        let init_src: Vec<Value> = inst.args.iter().skip(2 * lead).copied().collect();
        let act = self.active_results(inst, &init_src);
        let ctys: Vec<Ty> = carried.iter().map(|&p| self.src_ty(p)).collect();
        // Initial tangents, outside the loop.
        let mut new_args = args;
        for ((&a, ty), &on) in init_src.iter().zip(&ctys).zip(&act) {
            if on {
                new_args.push(self.tangent_or_zero(a, ty)?);
            }
        }
        // Block parameters: the primal ones, then a tangent per active carried value.
        let params_for = |this: &mut Self, b: &Block, skip: usize| -> Vec<Value> {
            let mut ps: Vec<Value> = b.params.iter().map(|&p| this.fresh(p)).collect();
            for ((&p, ty), &on) in b.params.iter().skip(skip).zip(&ctys).zip(&act) {
                if on {
                    let t = this.e.fresh(tangent_ty(ty), None);
                    this.tan.insert(p, t);
                    ps.push(t);
                } else {
                    this.tan.remove(&p);
                }
            }
            ps
        };
        let cond_b = match cond {
            Some(c) => {
                let ps = params_for(self, c, 0);
                self.e.push_block(ps);
                self.block(c)?;
                let ys: Vec<Value> = c.yields.iter().map(|&y| self.get(y)).collect::<AdResult<_>>()?;
                Some(self.e.pop_block(ys))
            }
            None => None,
        };
        let ps = params_for(self, body, lead);
        self.e.push_block(ps);
        self.block(body)?;
        let mut ys: Vec<Value> = body
            .yields
            .iter()
            .map(|&y| self.get(y))
            .collect::<AdResult<_>>()?;
        for ((&y, ty), &on) in body.yields.iter().zip(&ctys).zip(&act) {
            if on {
                ys.push(self.tangent_or_zero(y, ty)?);
            }
        }
        let body_b = self.e.pop_block(ys);
        let mut results: Vec<Value> = inst.results.iter().map(|&r| self.fresh(r)).collect();
        let mut tangents = Vec::new();
        for ((&r, ty), &on) in inst.results.iter().zip(&ctys).zip(&act) {
            if on {
                let t = self.e.fresh(tangent_ty(ty), None);
                tangents.push((r, t));
                results.push(t);
            }
        }
        let kind = match cond_b {
            Some(c) => InstKind::While {
                cond: c,
                body: body_b,
            },
            None => InstKind::For { body: body_b },
        };
        self.e.push(Inst {
            kind,
            args: new_args,
            results,
            span: inst.span,
        });
        for (r, t) in tangents {
            self.tan.insert(r, t);
        }
        Ok(())
    }
}

/// The element type of a list of differentiable values.
fn list_elem(ty: &Ty) -> Option<&Ty> {
    match ty {
        Ty::List(t) if differentiable(t) => Some(t),
        _ => None,
    }
}

/// The type of a tangent of a value of type `ty`: its cotangent type, and a
/// list of tangents for a list.
fn tangent_ty(ty: &Ty) -> Ty {
    match list_elem(ty) {
        Some(t) => Ty::List(Box::new(cotangent(t))),
        None => cotangent(ty),
    }
}

/// `t` converted to the dtype of a tensor type `ty` where they differ.
fn conform(e: &mut Emitter, t: Value, ty: &Ty) -> AdResult<Value> {
    match (e.ty(t).as_tensor(), ty.as_tensor()) {
        (Some(a), Some(b)) if a.dtype != b.dtype && b.dtype.is_float() => e.cast(t, b.dtype),
        _ => Ok(t),
    }
}

/// A tangent given the shape and dtype of the prim's result `out`
/// (broadcasting a tangent that came from a smaller operand).
fn fit(e: &mut Emitter, t: Value, out: Value) -> AdResult<Value> {
    let (tt, ot) = (e.ty(t), e.ty(out));
    let (Some(tt), Some(ot)) = (tt.as_tensor(), ot.as_tensor()) else {
        return Ok(t);
    };
    let same = tt.shape == ot.shape && ot.shape.concrete().is_some();
    let t = if same {
        t
    } else {
        e.prim(Prim::BroadcastLike, vec![t, out])?
    };
    if ot.dtype.is_float() && tt.dtype != ot.dtype {
        return e.cast(t, ot.dtype);
    }
    Ok(t)
}

/// `a + b` where either may be absent (zero).
fn add_opt(e: &mut Emitter, a: Option<Value>, b: Option<Value>) -> AdResult<Option<Value>> {
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(e.add(a, b)?),
        (a, None) => a,
        (None, b) => b,
    })
}

/// Maps an optional tangent through `f`.
fn map_t(
    e: &mut Emitter,
    t: Option<Value>,
    f: impl FnOnce(&mut Emitter, Value) -> AdResult<Value>,
) -> AdResult<Option<Value>> {
    match t {
        Some(t) => Ok(Some(f(e, t)?)),
        None => Ok(None),
    }
}

/// The tangent of a prim's result from its operands' tangents (`None`:
/// zero). The caller broadcasts and casts it to the result's type.
fn prim_tangent(
    e: &mut Emitter,
    prim: &Prim,
    args: &[Value],
    out: Value,
    tans: &[Option<Value>],
) -> AdResult<Option<Value>> {
    let a = args.first().copied().unwrap_or(Value(0));
    let b = args.get(1).copied().unwrap_or(Value(0));
    let ta = tans.first().copied().flatten();
    let tb = tans.get(1).copied().flatten();
    let tc = tans.get(2).copied().flatten();
    let rest = |from: usize| args.iter().skip(from).copied();
    Ok(match prim {
        Prim::Binary(op) => match op {
            BinaryOp::Add => add_opt(e, ta, tb)?,
            BinaryOp::Sub => match (ta, tb) {
                (Some(x), Some(y)) => Some(e.sub(x, y)?),
                (Some(x), None) => Some(x),
                (None, Some(y)) => Some(e.neg(y)?),
                (None, None) => None,
            },
            BinaryOp::Mul => {
                let x = map_t(e, ta, |e, t| e.mul(t, b))?;
                let y = map_t(e, tb, |e, t| e.mul(a, t))?;
                add_opt(e, x, y)?
            }
            BinaryOp::Div => {
                let x = map_t(e, ta, |e, t| safe_div(e, t, b))?;
                let y = map_t(e, tb, |e, t| {
                    let q = safe_div(e, t, b)?;
                    let m = e.mul_safe(q, out)?;
                    e.neg(m)
                })?;
                add_opt(e, x, y)?
            }
            BinaryOp::Pow => {
                let x = map_t(e, ta, |e, t| {
                    let one = e.float(1.0, e.dtype(b));
                    let bm1 = e.sub(b, one)?;
                    let p = e.binary(BinaryOp::Pow, a, bm1)?;
                    let f = e.mul(b, p)?;
                    e.mul_safe(t, f)
                })?;
                let y = map_t(e, tb, |e, t| {
                    let l = e.unary(UnaryOp::Log, a)?;
                    let f = e.mul(out, l)?;
                    e.mul_safe(t, f)
                })?;
                add_opt(e, x, y)?
            }
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let cmp = if *op == BinaryOp::Maximum {
                    BinaryOp::Ge
                } else {
                    BinaryOp::Le
                };
                let m = e.binary(cmp, a, b)?;
                let d = e.dtype(out);
                let x = match ta {
                    Some(t) => t,
                    None => e.float(0.0, d),
                };
                let y = match tb {
                    Some(t) => t,
                    None => e.float(0.0, d),
                };
                Some(e.prim(Prim::Where, vec![m, x, y])?)
            }
            BinaryOp::Rem => {
                let y = map_t(e, tb, |e, t| {
                    let q = e.div(a, b)?;
                    let s = e.unary(UnaryOp::Sign, q)?;
                    let aq = e.unary(UnaryOp::Abs, q)?;
                    let f = e.unary(UnaryOp::Floor, aq)?;
                    let k = e.mul(s, f)?;
                    let tk = e.mul(t, k)?;
                    e.neg(tk)
                })?;
                add_opt(e, ta, y)?
            }
            BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::And
            | BinaryOp::Or => None,
        },
        Prim::Unary(op) => {
            let Some(t) = ta else { return Ok(None) };
            super::rules::unary_derivative(e, *op, t, a, out)?
        }
        Prim::Where => {
            if tb.is_none() && tc.is_none() {
                return Ok(None);
            }
            let d = e.dtype(out);
            let x = match tb {
                Some(t) => t,
                None => e.float(0.0, d),
            };
            let y = match tc {
                Some(t) => t,
                None => e.float(0.0, d),
            };
            Some(e.prim(Prim::Where, vec![a, x, y])?)
        }
        Prim::Clip => {
            let hi = args.get(2).copied().unwrap_or(Value(0));
            map_t(e, ta, |e, t| {
                let above = e.binary(BinaryOp::Gt, a, b)?;
                let below = e.binary(BinaryOp::Lt, a, hi)?;
                let inside = e.binary(BinaryOp::And, above, below)?;
                e.mask(inside, t)
            })?
        }
        Prim::Cast(d) => {
            if d.is_float() {
                map_t(e, ta, |e, t| e.cast(t, *d))?
            } else {
                None
            }
        }
        Prim::MatMul => {
            let x = map_t(e, ta, |e, t| e.prim(Prim::MatMul, vec![t, b]))?;
            let y = map_t(e, tb, |e, t| e.prim(Prim::MatMul, vec![a, t]))?;
            add_opt(e, x, y)?
        }
        Prim::Reduce { op, axis, keepdims } => match ta {
            Some(t) => reduce(e, *op, *axis, *keepdims, a, out, t)?,
            None => None,
        },
        Prim::Index(items) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(Prim::Index(items.clone()), ops)
        })?,
        Prim::Stack { dtype, .. } => {
            let mut parts = Vec::new();
            for (i, &x) in args.iter().enumerate() {
                match tans.get(i).copied().flatten() {
                    Some(t) => parts.push(t),
                    None => {
                        let ty = e.ty(x);
                        parts.push(e.zeros_like(&ty, Some(x))?);
                    }
                }
            }
            Some(e.prim(
                Prim::Stack {
                    dtype: *dtype,
                    literal: false,
                },
                parts,
            )?)
        }
        Prim::Full(d) => {
            if d.is_float() {
                map_t(e, tb, |e, t| e.prim(Prim::Full(*d), vec![a, t]))?
            } else {
                None
            }
        }
        Prim::BroadcastLike | Prim::SumLike | Prim::ReshapeLike => {
            map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t, b]))?
        }
        Prim::Transpose(_) | Prim::ExpandDims(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t]))?,
        Prim::IndexGrad(_) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(prim.clone(), ops)
        })?,
        Prim::Reshape(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t]))?,
        Prim::Concat(_) => {
            if tans.iter().all(Option::is_none) {
                return Ok(None);
            }
            let mut parts = Vec::new();
            for (i, &x) in args.iter().enumerate() {
                match tans.get(i).copied().flatten() {
                    Some(t) => parts.push(t),
                    None => {
                        let ty = e.ty(x);
                        parts.push(e.zeros_like(&ty, Some(x))?);
                    }
                }
            }
            Some(e.prim(prim.clone(), parts)?)
        }
        Prim::Take(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t, b]))?,
        Prim::TakeGrad(_) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(prim.clone(), ops)
        })?,
        Prim::Solve => {
            // dx = A⁻¹ (db - dA x).
            let rhs = match (ta, tb) {
                (None, None) => return Ok(None),
                (Some(da), tb) => {
                    let p = e.prim(Prim::MatMul, vec![da, out])?;
                    match tb {
                        Some(db) => e.sub(db, p)?,
                        None => e.neg(p)?,
                    }
                }
                (None, Some(db)) => db,
            };
            Some(e.prim(Prim::Solve, vec![a, rhs])?)
        }
        Prim::Det => map_t(e, ta, |e, t| {
            // d det = det · trace(A⁻¹ dA).
            let q = e.prim(Prim::Solve, vec![a, t])?;
            let eye = super::rules::eye_like(e, a)?;
            let d = e.mul(q, eye)?;
            let tr = e.prim(
                Prim::Reduce {
                    op: ReduceOp::Sum,
                    axis: None,
                    keepdims: false,
                },
                vec![d],
            )?;
            e.mul(out, tr)
        })?,
        Prim::Cholesky => map_t(e, ta, |e, t| {
            // dL = L Φ(L⁻¹ sym(dA) L⁻ᵀ), sym(dA) = (dA + dAᵀ) / 2.
            let tt = super::rules::swap_last(e, t)?;
            let sum = e.add(t, tt)?;
            let half = e.float(0.5, e.dtype(out));
            let sym = e.mul(half, sum)?;
            let z = e.prim(Prim::Solve, vec![out, sym])?;
            let zt = super::rules::swap_last(e, z)?;
            let wt = e.prim(Prim::Solve, vec![out, zt])?;
            let w = super::rules::swap_last(e, wt)?;
            let m = super::rules::lower_half_mask(e, out)?;
            let phi = e.mul(w, m)?;
            e.prim(Prim::MatMul, vec![out, phi])
        })?,
        Prim::StopGradient
        | Prim::Shape
        | Prim::Len
        | Prim::Arange
        | Prim::Linspace(_)
        | Prim::Eye(_)
        | Prim::ExtremeMask { .. }
        | Prim::Print
        | Prim::Assert
        | Prim::AssertClose => None,
    })
}

/// The tangent of a reduction of `x` (result `out`) given `x`'s tangent `t`.
fn reduce(
    e: &mut Emitter,
    op: ReduceOp,
    axis: Option<usize>,
    keepdims: bool,
    x: Value,
    out: Value,
    t: Value,
) -> AdResult<Option<Value>> {
    let same = |e: &mut Emitter, v: Value| {
        e.prim(
            Prim::Reduce {
                op: ReduceOp::Sum,
                axis,
                keepdims,
            },
            vec![v],
        )
    };
    // Brings a value of the result's shape back to x's shape.
    let expand = |e: &mut Emitter, v: Value| -> AdResult<Value> {
        let v = match axis {
            Some(ax) if !keepdims => e.prim(Prim::ExpandDims(ax), vec![v])?,
            _ => v,
        };
        e.prim(Prim::BroadcastLike, vec![v, x])
    };
    Ok(match op {
        ReduceOp::Sum => Some(same(e, t)?),
        ReduceOp::Mean => Some(e.prim(Prim::Reduce { op, axis, keepdims }, vec![t])?),
        ReduceOp::Prod => {
            let ob = expand(e, out)?;
            let q = safe_div(e, ob, x)?;
            let m = e.mul(t, q)?;
            Some(same(e, m)?)
        }
        ReduceOp::Max | ReduceOp::Min => {
            let m = e.prim(
                Prim::ExtremeMask {
                    min: op == ReduceOp::Min,
                    axis,
                },
                vec![x],
            )?;
            let mt = e.mask(m, t)?;
            Some(same(e, mt)?)
        }
        ReduceOp::Logsumexp => {
            let ob = expand(e, out)?;
            let d = e.sub(x, ob)?;
            let w = e.unary(UnaryOp::Exp, d)?;
            let m = e.mul(t, w)?;
            Some(same(e, m)?)
        }
        ReduceOp::Norm => {
            let ob = expand(e, out)?;
            let q = safe_div(e, x, ob)?;
            let m = e.mul(t, q)?;
            Some(same(e, m)?)
        }
        ReduceOp::Argmax | ReduceOp::Argmin => None,
    })
}

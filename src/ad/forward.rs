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
use super::forward_rules::{conform, fit, list_elem, prim_tangent, tangent_ty};
use super::reverse::{DerivKey, DerivMode, VjpCache};
use crate::diag::Diagnostic;
use crate::ir::types::{DType, DerivKind, Ty};
use crate::ir::{Block, Func, FuncId, IndexItem, Inst, InstKind, Prim, Program, Value};
use crate::syntax::{Span, Symbol};
use std::collections::{HashMap, HashSet};

/// The forward-mode derivative of `f` with respect to the parameters flagged
/// in `active`: a function of `f`'s parameters and one tangent per parameter
/// (typed as the parameter's cotangent; inactive ones are ignored) that
/// returns `(y, ty)`.
///
/// The cache is shared with reverse mode (keys say which mode).
pub fn jvp(program: &mut Program, f: FuncId, active: &[bool], cache: &mut VjpCache) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(Default::default(), "jvp of a missing function"))?;
    let flags: Vec<bool> = (0..src.param_values.len())
        .map(|i| active.get(i).copied().unwrap_or(false))
        .collect();
    let key = DerivKey {
        func: f,
        active: flags.clone(),
        mode: DerivMode::Forward,
    };
    if let Some(&id) = cache.get(&key) {
        return Ok(id);
    }
    let id = FuncId(program.funcs.len() as u32);
    program.funcs.push(src.clone());
    cache.insert(key, id);
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
    cache: &mut VjpCache,
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
    cache: &mut VjpCache,
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
    f.result_ty()
}

/// Parameters of a wrapper with the names and types of `src`'s.
fn wrapper_params(e: &mut Emitter, src: &Func) -> (Vec<Value>, Vec<Ty>) {
    (e.params_like(src), src.param_tys())
}

struct Fwd<'p, 's> {
    program: &'p mut Program,
    cache: &'p mut VjpCache,
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
        let ptys: Vec<Ty> = callee.param_tys();
        let ret = callee.result_ty();
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

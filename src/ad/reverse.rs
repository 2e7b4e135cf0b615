//! Reverse mode: from a specialized function `f(p…) -> y` to its
//! vector-Jacobian product `f'(p…, dy) -> (y, dp…)`, as a new IR function.
//!
//! The derivative has a forward sweep, which is a copy of `f`'s body, and a
//! reverse sweep, which walks the body backwards accumulating adjoints.
//! Straight-line code needs no tape: the reverse sweep reads the forward
//! sweep's values. Structured control flow:
//! - `if`: the reverse sweep is an `if` on the same condition whose branch
//!   recomputes that branch's forward values and then runs its reverse; only
//!   the branch that ran contributes (a zero adjoint stays zero).
//! - `for` and `while`: the forward sweep pushes one entry per iteration onto
//!   a list (the tape): the carried values the iteration started with and the
//!   results of its body's costly active instructions. The reverse sweep is a
//!   `for` that walks the tape backwards, reading them back, recomputing only
//!   cheap scalar arithmetic, and running the body's reverse, carrying the
//!   adjoints of the carried values and of the outer values the body reads.
//!   Inner loops share one tape threaded through the outer ones (see `loops`).
//! - calls: the reverse of `y = g(a…)` calls `g'(a…, dy)`, which recomputes
//!   `g`'s forward values (recursion works, since `g'` may call itself).
//!
//! Only active values (see `activity`) get adjoints.
//!
//! Randomness (see `stochastic`): a region that draws is recomputed with the
//! generator's state it first ran with, so it sees the same numbers. A
//! discrete sample `z ~ p(θ)` adds the score-function term
//! `(L - baseline) · ∂ log p(z)/∂p` to `p`'s adjoint, where `L = <dy, y>` is
//! the differentiated function's result weighted by its adjoint (for `grad`,
//! the value `f` returned). The function being differentiated computes `L`
//! after its forward sweep; the derivatives of the functions it calls receive
//! it as one more parameter, `score`.

mod loops;

use super::activity::{active_values, cotangent};
use super::emit::{AdResult, Emitter};
use super::{rules, stochastic};
use crate::diag::Diagnostic;
use crate::ir::types::{DType, Ty};
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Prim, Program, RandomOp, ReduceOp, Value};
use crate::syntax::Symbol;
use loops::TapeRef;
use std::collections::{HashMap, HashSet};

/// Derivative functions already built, in either mode.
pub type VjpCache = HashMap<DerivKey, FuncId>;

/// What identifies a derivative function: the function, which parameters
/// are active, and which transformation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DerivKey {
    pub func: FuncId,
    pub active: Vec<bool>,
    pub mode: DerivMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivMode {
    /// A vjp; `score_param`: it takes the score weight `L` as a parameter
    /// rather than computing it from its own result.
    Reverse { score_param: bool },
    /// A jvp.
    Forward,
}

/// The vector-Jacobian product of `f` with respect to the parameters flagged
/// in `active`: a function of `f`'s parameters and the result's adjoint that
/// returns `(y, dp_0, …, dp_n)` (zeros for inactive parameters).
pub fn vjp(program: &mut Program, f: FuncId, active: &[bool], cache: &mut VjpCache) -> AdResult<FuncId> {
    vjp_with(program, f, active, false, cache)
}

/// [`vjp`]; with `score_param`, the function takes the score weight as a last
/// parameter (after `dy`) instead of computing it from its own result.
fn vjp_with(
    program: &mut Program,
    f: FuncId,
    active: &[bool],
    score_param: bool,
    cache: &mut VjpCache,
) -> AdResult<FuncId> {
    let key = DerivKey {
        func: f,
        active: active.to_vec(),
        mode: DerivMode::Reverse { score_param },
    };
    if let Some(&id) = cache.get(&key) {
        return Ok(id);
    }
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(Default::default(), "vjp of a missing function"))?;
    // The callees' forward values become the caller's, read by the reverse
    // sweep instead of recomputed by their derivatives (`opt::inline`).
    let body = match program.adjoint_of(f) {
        None => crate::opt::inline::inline_calls(program, f),
        Some(_) => None,
    };
    let id = FuncId(program.funcs.len() as u32);
    program.funcs.push(src.clone());
    cache.insert(key, id);
    let default_float = crate::ir::DType::F32;
    let name = Symbol::intern(&format!("{}'vjp", src.name));
    if let Some(adj) = program.adjoint_of(f) {
        let func = custom_vjp(program, f, adj, &src, name)?;
        if let Some(slot) = program_slot(program, id) {
            *slot = func;
        }
        return Ok(id);
    }
    let src = body.unwrap_or(src);
    let mut r = Rev {
        program,
        cache,
        e: Emitter::new(name, src.span, default_float),
        src: &src,
        active: active_values(&src, active),
        map: HashMap::new(),
        adj: HashMap::new(),
        tapes: HashMap::new(),
        stacks: HashMap::new(),
        whole: HashMap::new(),
        rng_states: HashMap::new(),
        score: None,
    };
    let samples = stochastic::func_samples(r.program, f);
    for (&p, v) in src.param_values.iter().zip(r.e.params_like(&src)) {
        r.map.insert(p, v);
    }
    let y_src = src
        .body
        .yields
        .first()
        .copied()
        .ok_or_else(|| Diagnostic::internal(src.span, "no result"))?;
    let y_ty = src.ty(y_src).cloned().unwrap_or(Ty::Never);
    let dy = r.e.param(Symbol::intern("dy"), y_ty);
    if samples && score_param {
        r.score = Some(r.e.param(Symbol::intern("score"), Ty::scalar(DType::F64)));
    }
    r.forward_block(&src.body, false)?;
    let y = r.get(y_src)?;
    if samples && !score_param {
        r.score = Some(score_weight(&mut r.e, y, dy)?);
    }
    r.add_adj(y_src, dy)?;
    r.reverse_block(&src.body)?;
    let mut outs = vec![y];
    for &p in &src.param_values {
        let d = r.adjoint_or_zero(p)?;
        outs.push(d);
    }
    let result = r.e.tuple(outs);
    let func = r.e.finish(result);
    if let Some(slot) = program_slot(r.program, id) {
        *slot = func;
    }
    Ok(id)
}

/// The vjp of a function with a custom `adjoint`: `y = f(p…)`, then the
/// adjoint function gives the arguments' adjoints from `(p…, y, dy)`.
fn custom_vjp(program: &Program, f: FuncId, adj: FuncId, src: &Func, name: Symbol) -> AdResult<Func> {
    let mut e = Emitter::new(name, src.span, crate::ir::DType::F32);
    let params = e.params_like(src);
    let y_ty = src.result_ty();
    let dy = e.param(Symbol::intern("dy"), y_ty.clone());
    let y = e.inst(InstKind::Call(f), params.clone(), y_ty);
    let a_ty = program
        .func(adj)
        .and_then(|a| a.body.yields.first().and_then(|&r| a.ty(r).cloned()))
        .unwrap_or(Ty::Never);
    let mut args = params.clone();
    args.push(y);
    args.push(dy);
    let d = e.inst(InstKind::Call(adj), args, a_ty);
    let mut outs = vec![y];
    for (k, &p) in params.iter().enumerate() {
        let part = if params.len() == 1 { d } else { e.project(d, k)? };
        let part = match e.ty(p).as_tensor().map(|t| t.dtype) {
            Some(dt) if dt.is_float() => e.cast(part, dt)?,
            _ => part,
        };
        outs.push(part);
    }
    let result = e.tuple(outs);
    Ok(e.finish(result))
}

/// `L = <dy, y>` in f64: for `grad`, where `dy = 1`, the value returned.
fn score_weight(e: &mut Emitter, y: Value, dy: Value) -> AdResult<Value> {
    match e.ty(y) {
        Ty::Tensor(t) if t.dtype.is_float() => {
            let w = e.mul(dy, y)?;
            let l = if t.shape.is_scalar() {
                w
            } else {
                e.prim(
                    Prim::Reduce {
                        op: ReduceOp::Sum,
                        axis: None,
                        keepdims: false,
                    },
                    vec![w],
                )?
            };
            e.cast(l, DType::F64)
        }
        t => Err(Diagnostic::error(
            e.span,
            "the score-function estimate of a discrete sample's derivative needs a float result",
        )
        .with_note(format!("the function being differentiated returns {t:?}"))),
    }
}

fn program_slot(p: &mut Program, id: FuncId) -> Option<&mut Func> {
    p.funcs.get_mut(id.0 as usize)
}

struct Rev<'p, 's> {
    program: &'p mut Program,
    cache: &'p mut VjpCache,
    e: Emitter,
    src: &'s Func,
    active: HashSet<Value>,
    /// Source value → its value in the derivative (the latest computation).
    map: HashMap<Value, Value>,
    /// Source value → its accumulated adjoint.
    adj: HashMap<Value, Value>,
    /// Loop instruction (by address) → where its latest forward copy's
    /// entries are.
    tapes: HashMap<usize, TapeRef>,
    /// Stored inner loop → its tape as carried in the current block (see `loops`).
    stacks: HashMap<usize, Value>,
    /// Stored loop → its whole tape, after the outermost loop carrying it.
    whole: HashMap<usize, Value>,
    /// Call or `if` that draws (by address) → the generator's state before
    /// its latest forward copy.
    rng_states: HashMap<usize, Value>,
    /// The score weight `L`, in a function that takes discrete samples.
    score: Option<Value>,
}

/// The tape maps of the enclosing block, saved while emitting a nested one.
struct Scope {
    stacks: HashMap<usize, Value>,
    tapes: HashMap<usize, TapeRef>,
    whole: HashMap<usize, Value>,
}

fn key(inst: &Inst) -> usize {
    std::ptr::from_ref(inst) as usize
}

impl<'s> Rev<'_, 's> {
    /// Enters a block: no tape is carried in it yet. Returns what to restore
    /// on leaving, when the block's tapes go out of scope.
    fn save_scope(&mut self) -> Scope {
        Scope {
            stacks: std::mem::take(&mut self.stacks),
            tapes: self.tapes.clone(),
            whole: self.whole.clone(),
        }
    }

    fn restore_scope(&mut self, s: Scope) {
        self.stacks = s.stacks;
        self.tapes = s.tapes;
        self.whole = s.whole;
    }

    fn get(&self, v: Value) -> AdResult<Value> {
        self.map
            .get(&v)
            .copied()
            .ok_or_else(|| Diagnostic::internal(self.e.span, format!("derivative: value %{} unmapped", v.0)))
    }

    fn src_ty(&self, v: Value) -> Ty {
        self.src.ty(v).cloned().unwrap_or(Ty::Never)
    }

    fn add_adj(&mut self, v: Value, d: Value) -> AdResult<()> {
        if !self.active.contains(&v) {
            return Ok(());
        }
        let new = match self.adj.get(&v) {
            Some(&old) => self.e.add_any(old, d)?,
            None => d,
        };
        self.adj.insert(v, new);
        Ok(())
    }

    fn adjoint_or_zero(&mut self, v: Value) -> AdResult<Value> {
        match self.adj.get(&v) {
            Some(&d) => Ok(d),
            None => {
                let ty = self.src_ty(v);
                let like = self.map.get(&v).copied();
                self.e.zeros_like(&ty, like)
            }
        }
    }

    /// Copies `b`'s instructions (mapping values); `recompute` drops effects.
    fn forward_block(&mut self, b: &'s Block, recompute: bool) -> AdResult<()> {
        for inst in &b.insts {
            self.forward_inst(inst, recompute)?;
        }
        Ok(())
    }

    fn fresh_results(&mut self, inst: &Inst) -> Vec<Value> {
        inst.results
            .iter()
            .map(|&r| {
                let ty = self.src_ty(r);
                let v = self.e.fresh(ty, self.src.name_of(r));
                self.map.insert(r, v);
                v
            })
            .collect()
    }

    /// The generator's state, as `int[2]`.
    fn rng_state(&mut self) -> Value {
        let ty = Ty::Tensor(crate::ir::TensorTy::new(
            DType::I64,
            crate::ir::Shape::known(&[2]),
        ));
        self.e
            .inst(InstKind::Prim(Prim::Random(RandomOp::GetState)), Vec::new(), ty)
    }

    fn rng_restore(&mut self, state: Value) {
        self.e.inst(
            InstKind::Prim(Prim::Random(RandomOp::SetState)),
            vec![state],
            Ty::unit(),
        );
    }

    /// Whether `b` draws random numbers, so its recomputation needs the state it ran with.
    fn block_draws(&self, b: &Block) -> bool {
        stochastic::block_draws(self.program, b)
    }

    fn forward_inst(&mut self, inst: &'s Inst, recompute: bool) -> AdResult<()> {
        let args: Vec<Value> = inst.args.iter().map(|&a| self.get(a)).collect::<AdResult<_>>()?;
        if matches!(inst.kind, InstKind::Call(_) | InstKind::If { .. })
            && stochastic::draws(self.program, inst)
        {
            let st = self.rng_state();
            self.rng_states.insert(key(inst), st);
        }
        match &inst.kind {
            InstKind::Prim(p) if recompute && p.is_output_effect() => {
                for &r in &inst.results {
                    let u = self.e.konst(Const::Unit, Ty::unit());
                    self.map.insert(r, u);
                }
            }
            InstKind::If { then, else_ } => {
                let then_b = self.copy_block(then, Vec::new(), recompute)?;
                let else_b = self.copy_block(else_, Vec::new(), recompute)?;
                let results = self.fresh_results(inst);
                self.e.push(Inst {
                    kind: InstKind::If {
                        then: then_b,
                        else_: else_b,
                    },
                    args,
                    results,
                    span: inst.span,
                });
            }
            InstKind::For { .. } | InstKind::While { .. } => self.forward_loop(inst, args, recompute)?,
            InstKind::Const(c) => {
                // Through the emitter, so rules can see constant operands.
                for &r in &inst.results {
                    let ty = self.src_ty(r);
                    let v = self.e.konst(c.clone(), ty);
                    self.map.insert(r, v);
                }
            }
            kind => {
                let results = self.fresh_results(inst);
                self.e.push(Inst {
                    kind: kind.clone(),
                    args,
                    results,
                    span: inst.span,
                });
            }
        }
        Ok(())
    }

    fn copy_block(&mut self, b: &'s Block, params: Vec<Value>, recompute: bool) -> AdResult<Block> {
        self.e.push_block(params);
        let saved = self.save_scope();
        self.forward_block(b, recompute)?;
        let ys: Vec<Value> = b.yields.iter().map(|&y| self.get(y)).collect::<AdResult<_>>()?;
        self.restore_scope(saved);
        Ok(self.e.pop_block(ys))
    }

    /// Accumulates adjoints backwards through `b`.
    fn reverse_block(&mut self, b: &'s Block) -> AdResult<()> {
        for inst in b.insts.iter().rev() {
            self.reverse_inst(inst)?;
        }
        Ok(())
    }

    fn reverse_inst(&mut self, inst: &'s Inst) -> AdResult<()> {
        let has_adj = inst.results.iter().any(|r| self.adj.contains_key(r));
        if !has_adj && !self.scores(inst) {
            return Ok(());
        }
        let span = inst.span;
        self.e.span = span;
        match &inst.kind {
            InstKind::Const(_) | InstKind::BuiltinRef(_) | InstKind::ListNew | InstKind::ListLen => {}
            InstKind::ListPush | InstKind::ListGet => {
                return Err(Diagnostic::error(
                    span,
                    "reverse mode through the derivative of a loop is not supported yet",
                )
                .with_help("for second derivatives of code with loops use forward-over-reverse: `hessian`, or `jvp` of `grad`"));
            }
            InstKind::Prim(Prim::Random(RandomOp::Bernoulli | RandomOp::Categorical)) => {
                self.score_term(inst)?;
            }
            InstKind::Prim(p) => {
                let r = inst.results.first().copied().unwrap_or(Value(0));
                let g = self
                    .adj
                    .get(&r)
                    .copied()
                    .ok_or_else(|| Diagnostic::internal(span, "missing adjoint"))?;
                let args: Vec<Value> = inst.args.iter().map(|&a| self.get(a)).collect::<AdResult<_>>()?;
                let out = self.get(r)?;
                let wanted: Vec<bool> = inst.args.iter().map(|a| self.active.contains(a)).collect();
                let contribs = rules::reverse(&mut self.e, p, &args, out, g, &wanted)?;
                for (&a, c) in inst.args.iter().zip(contribs) {
                    if let Some(c) = c {
                        self.add_adj(a, c)?;
                    }
                }
            }
            InstKind::Tuple | InstKind::Record(_) | InstKind::Closure(_) => {
                let r = inst.results.first().copied().unwrap_or(Value(0));
                let g = self
                    .adj
                    .get(&r)
                    .copied()
                    .ok_or_else(|| Diagnostic::internal(span, "missing adjoint"))?;
                for (i, &a) in inst.args.iter().enumerate() {
                    if self.active.contains(&a) {
                        let part = self.e.project(g, i)?;
                        self.add_adj(a, part)?;
                    }
                }
            }
            InstKind::Derive(_) => {
                let r = inst.results.first().copied().unwrap_or(Value(0));
                if let (Some(&g), Some(&a)) = (self.adj.get(&r), inst.args.first()) {
                    self.add_adj(a, g)?;
                }
            }
            InstKind::TupleGet(i) | InstKind::RecordGet(i) | InstKind::CaptureGet(i) => {
                let r = inst.results.first().copied().unwrap_or(Value(0));
                let g = self
                    .adj
                    .get(&r)
                    .copied()
                    .ok_or_else(|| Diagnostic::internal(span, "missing adjoint"))?;
                let Some(&a) = inst.args.first() else {
                    return Ok(());
                };
                let whole = self.one_hot(a, *i as usize, g)?;
                self.add_adj(a, whole)?;
            }
            InstKind::Call(h) => {
                let r = inst.results.first().copied().unwrap_or(Value(0));
                let g = self.adjoint_or_zero(r)?;
                let wanted: Vec<bool> = inst.args.iter().map(|a| self.active.contains(a)).collect();
                if !wanted.iter().any(|&w| w) {
                    return Ok(());
                }
                let score = self.score.filter(|_| stochastic::func_samples(self.program, *h));
                let d = vjp_with(self.program, *h, &wanted, score.is_some(), self.cache)?;
                let mut args: Vec<Value> = inst.args.iter().map(|&a| self.get(a)).collect::<AdResult<_>>()?;
                args.push(g);
                args.extend(score);
                // `(y, dargs…)`, cotangents having their primal's types. Computed
                // from the primal, since `d` may still be being built (recursion).
                let callee = self
                    .program
                    .func(*h)
                    .ok_or_else(|| Diagnostic::internal(span, "missing callee"))?;
                let mut parts: Vec<Ty> = callee
                    .body
                    .yields
                    .iter()
                    .filter_map(|&y| callee.ty(y).cloned())
                    .collect();
                parts.extend(
                    callee
                        .param_values
                        .iter()
                        .map(|&p| cotangent(&callee.ty(p).cloned().unwrap_or(Ty::Never))),
                );
                let ret_ty = Ty::Tuple(parts);
                let replay = self.replay_start(inst);
                let res = self.e.inst(InstKind::Call(d), args, ret_ty);
                self.replay_end(replay);
                for (k, &a) in inst.args.iter().enumerate() {
                    if self.active.contains(&a) {
                        let part = self.e.project(res, k + 1)?;
                        self.add_adj(a, part)?;
                    }
                }
            }
            InstKind::If { then, else_ } => self.reverse_if(inst, then, else_)?,
            InstKind::For { .. } | InstKind::While { .. } => self.reverse_loop(inst)?,
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                return Err(Diagnostic::internal(
                    span,
                    "untyped instruction in a function being differentiated",
                ));
            }
        }
        Ok(())
    }

    /// Before recomputing a call or branch that draws: sets the generator to
    /// the state its forward copy started from; returns the state to go back to.
    fn replay_start(&mut self, inst: &Inst) -> Option<Value> {
        let saved = self.rng_states.get(&key(inst)).copied()?;
        let now = self.rng_state();
        self.rng_restore(saved);
        Some(now)
    }

    fn replay_end(&mut self, now: Option<Value>) {
        if let Some(s) = now {
            self.rng_restore(s);
        }
    }

    /// Whether `inst` contributes score-function terms to active values.
    fn scores(&self, inst: &Inst) -> bool {
        if self.score.is_none() {
            return false;
        }
        let active_arg = inst.args.iter().any(|a| self.active.contains(a));
        match &inst.kind {
            InstKind::Prim(Prim::Random(RandomOp::Bernoulli | RandomOp::Categorical)) => {
                inst.args.first().is_some_and(|p| self.active.contains(p))
            }
            InstKind::Call(h) => active_arg && stochastic::func_samples(self.program, *h),
            _ => inst
                .blocks()
                .iter()
                .any(|b| b.insts.iter().any(|i| self.scores(i))),
        }
    }

    /// `p̄ += (L - baseline) · ∂ log p(z)/∂p` for a discrete sample `z`.
    fn score_term(&mut self, inst: &Inst) -> AdResult<()> {
        let (Some(score), Some(&p), Some(&b), Some(&z)) = (
            self.score,
            inst.args.first(),
            inst.args.get(1),
            inst.results.first(),
        ) else {
            return Ok(());
        };
        if !self.active.contains(&p) {
            return Ok(());
        }
        let categorical = matches!(inst.kind, InstKind::Prim(Prim::Random(RandomOp::Categorical)));
        let (pv, bv, zv) = (self.get(p)?, self.get(b)?, self.get(z)?);
        let dlogp = self.e.prim(Prim::ScoreGrad { categorical }, vec![pv, zv])?;
        let l = self.e.cast(score, self.e.dtype(pv))?;
        let weight = self.e.sub(l, bv)?;
        let term = self.e.mul(dlogp, weight)?;
        self.add_adj(p, term)
    }

    /// A cotangent of `a`'s type that is `g` in part `i` and zero elsewhere.
    fn one_hot(&mut self, a: Value, i: usize, g: Value) -> AdResult<Value> {
        let ty = self.src_ty(a);
        let av = self.get(a)?;
        let n = match &ty {
            Ty::Tuple(p) | Ty::Record(_, p) => p.len(),
            Ty::Fn(f) => match f.base() {
                crate::ir::FnTy::User { captures, .. } => captures.len(),
                _ => 0,
            },
            _ => 0,
        };
        let mut parts = Vec::with_capacity(n);
        for j in 0..n {
            if j == i {
                parts.push(g);
            } else {
                let pv = self.e.project(av, j)?;
                let pt = self.e.ty(pv);
                parts.push(self.e.zeros_like(&pt, Some(pv))?);
            }
        }
        Ok(self.e.cotangent_aggregate(&ty, parts))
    }

    /// Active values read inside `blocks` but defined outside them.
    fn free_active(&self, blocks: &[&Block]) -> Vec<Value> {
        let mut defined = HashSet::new();
        let mut used = Vec::new();
        for b in blocks {
            collect(b, &mut defined, &mut used);
        }
        let mut seen = HashSet::new();
        used.into_iter()
            .filter(|v| !defined.contains(v) && self.active.contains(v) && seen.insert(*v))
            .collect()
    }

    fn reverse_if(&mut self, inst: &'s Inst, then: &'s Block, else_: &'s Block) -> AdResult<()> {
        let cond = inst
            .args
            .first()
            .copied()
            .ok_or_else(|| Diagnostic::internal(inst.span, "if without condition"))?;
        let c = self.get(cond)?;
        let free = self.free_active(&[then, else_]);
        let replay = self.replay_start(inst);
        // Result adjoints, materialized outside the branches.
        let mut gs = Vec::new();
        for &r in &inst.results {
            gs.push(self.adj.get(&r).copied());
        }
        let mut branches = Vec::new();
        for b in [then, else_] {
            self.e.push_block(Vec::new());
            let saved = self.save_scope();
            self.forward_block(b, true)?;
            let outer = std::mem::take(&mut self.adj);
            for (&y, g) in b.yields.iter().zip(&gs) {
                if let Some(g) = g {
                    self.add_adj(y, *g)?;
                }
            }
            self.reverse_block(b)?;
            let mut ys = Vec::new();
            for &f in &free {
                ys.push(self.adjoint_or_zero(f)?);
            }
            self.adj = outer;
            self.restore_scope(saved);
            branches.push(self.e.pop_block(ys));
        }
        let mut it = branches.into_iter();
        let (tb, eb) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        let results: Vec<Value> = free
            .iter()
            .map(|&f| {
                let ty = tb
                    .yields
                    .get(free.iter().position(|x| *x == f).unwrap_or(0))
                    .map(|&y| self.e.ty(y))
                    .unwrap_or(Ty::Never);
                self.e.fresh(ty, None)
            })
            .collect();
        self.e.push(Inst {
            kind: InstKind::If { then: tb, else_: eb },
            args: vec![c],
            results: results.clone(),
            span: inst.span,
        });
        self.replay_end(replay);
        for (&f, &r) in free.iter().zip(&results) {
            self.add_adj(f, r)?;
        }
        Ok(())
    }
}

/// Values defined in `b` (params, results, nested) and values used in it.
fn collect(b: &Block, defined: &mut HashSet<Value>, used: &mut Vec<Value>) {
    defined.extend(b.params.iter().copied());
    for inst in &b.insts {
        used.extend(inst.args.iter().copied());
        match &inst.kind {
            InstKind::If { then, else_ } => {
                collect(then, defined, used);
                collect(else_, defined, used);
            }
            InstKind::For { body } => collect(body, defined, used),
            InstKind::While { cond, body } => {
                collect(cond, defined, used);
                collect(body, defined, used);
            }
            _ => {}
        }
        defined.extend(inst.results.iter().copied());
    }
    used.extend(b.yields.iter().copied());
}

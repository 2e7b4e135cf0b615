//! Loops in reverse mode: the tape the forward sweep keeps and the reverse
//! sweep that walks it backwards.
//!
//! Each iteration of a loop pushes one entry onto its tape. A loop whose body
//! does not draw random numbers is *stored*: its entry holds the carried
//! values the iteration started with and the residuals of its body, the
//! results of the body's active instructions (tensor ops, transcendentals,
//! calls, branches, inner loops). The reverse sweep reads them back and
//! recomputes only what is cheaper to recompute than to keep: structure
//! (tuples, projections), scalar arithmetic and inactive values. Each
//! instruction of the body thus runs forward once per gradient, however
//! deeply its loop is nested, as in JAX's `scan`.
//!
//! An inner loop does not keep a tape per outer iteration (a list inside a
//! list): its entries go on one tape, threaded through the enclosing loops as
//! an extra carried value, and the outer entry records which range of that
//! tape the inner loop filled (its start and end). The outer loop's reverse
//! body walks that range backwards.
//!
//! A loop whose body draws is *recomputed*: its entry holds the carried
//! values and the generator's state, and the reverse sweep reruns the
//! iteration from them (so it draws the same numbers) before reversing it.

use super::{Rev, key};
use crate::ad::emit::AdResult;
use crate::diag::Diagnostic;
use crate::ir::op::{BinaryOp, IndexItem};
use crate::ir::types::{DType, Ty};
use crate::ir::verify::same_ty;
use crate::ir::{Block, Inst, InstKind, Prim, Shape, TensorTy, UnaryOp, Value};
use crate::runtime::fused::NATIVE_MAX;
use std::collections::HashSet;

/// Where the reverse sweep finds a loop's entries: `list[start..end]`
/// (`start` is 0 when absent).
#[derive(Clone, Copy, Debug)]
pub(super) struct TapeRef {
    pub list: Value,
    pub start: Option<Value>,
    pub end: Value,
}

/// The body, leading index parameters (1 for `for`) and the initial carried
/// values of a loop instruction.
fn parts(inst: &Inst) -> Option<(&Block, usize)> {
    match &inst.kind {
        InstKind::For { body } => Some((body, 1)),
        InstKind::While { body, .. } => Some((body, 0)),
        _ => None,
    }
}

/// The loop's own part of `xs` (the tapes it carries, its own first).
fn first<T>(xs: &[T], span: crate::syntax::Span) -> AdResult<&T> {
    xs.first()
        .ok_or_else(|| Diagnostic::internal(span, "a loop without its own tape"))
}

fn rng_state_ty() -> Ty {
    Ty::Tensor(TensorTy::new(DType::I64, Shape::known(&[2])))
}

/// Whether recomputing `inst` in the reverse sweep costs less than keeping
/// its results: scalar arithmetic and element reads, which compile to a few
/// instructions (and which CSE can merge, where kept copies could not be),
/// and reads of small rows (`w[l]` of at most `NATIVE_MAX` elements), which
/// the JIT's fused groups read where they lie rather than copy.
fn cheap(inst: &Inst, results: &[Ty]) -> bool {
    if let InstKind::Prim(Prim::Index(items)) = &inst.kind
        && items.iter().all(|&i| i == IndexItem::At)
        && let [Ty::Tensor(t)] = results
        && t.shape
            .concrete()
            .is_some_and(|d| d.iter().product::<usize>() <= NATIVE_MAX)
    {
        return true;
    }
    let scalar = results
        .iter()
        .all(|t| t.as_tensor().is_some_and(|t| t.shape.rank() == 0));
    let op = match &inst.kind {
        InstKind::Prim(Prim::Binary(b)) => *b != BinaryOp::Pow,
        InstKind::Prim(Prim::Where | Prim::Clip | Prim::Cast(_) | Prim::Index(_)) => true,
        InstKind::Prim(Prim::Unary(u)) => matches!(
            u,
            UnaryOp::Neg | UnaryOp::Not | UnaryOp::Relu | UnaryOp::Abs | UnaryOp::Sign
        ),
        _ => false,
    };
    scalar && op
}

/// What a stored loop's entry holds after its carried values.
struct Residuals<'s> {
    /// Source values whose forward results are kept.
    values: Vec<Value>,
    /// Inner stored loops, each keeping the start and end of its range.
    inner: Vec<&'s Inst>,
    /// Instructions (by address) the reverse body does not recompute.
    kept: HashSet<usize>,
}

impl<'s> Rev<'_, 's> {
    /// Whether `inst`'s tape keeps residuals (rather than recomputing).
    fn stores(&self, body: &Block) -> bool {
        !self.block_draws(body)
    }

    fn residuals(&self, body: &'s Block) -> Residuals<'s> {
        let mut r = Residuals {
            values: Vec::new(),
            inner: Vec::new(),
            kept: HashSet::new(),
        };
        for inst in &body.insts {
            if !inst.results.iter().any(|v| self.active.contains(v)) {
                continue;
            }
            let tys: Vec<Ty> = inst.results.iter().map(|&v| self.src_ty(v)).collect();
            let keep = match &inst.kind {
                InstKind::Prim(p) => !p.is_output_effect() && !cheap(inst, &tys),
                InstKind::Call(_) | InstKind::If { .. } => true,
                InstKind::For { body: inner } | InstKind::While { body: inner, .. } => {
                    if self.stores(inner) {
                        r.inner.push(inst);
                    }
                    true
                }
                _ => false,
            };
            if keep {
                r.values.extend(inst.results.iter().copied());
                r.kept.insert(key(inst));
            }
        }
        r
    }

    /// The type of one entry of `inst`'s tape.
    fn entry_ty(&self, inst: &'s Inst) -> Ty {
        let Some((body, lead)) = parts(inst) else {
            return Ty::Never;
        };
        let mut tys: Vec<Ty> = body.params.iter().skip(lead).map(|&p| self.src_ty(p)).collect();
        if self.stores(body) {
            let res = self.residuals(body);
            tys.extend(res.values.iter().map(|&v| self.src_ty(v)));
            for _ in &res.inner {
                tys.extend([Ty::int(), Ty::int()]);
            }
        } else {
            tys.push(rng_state_ty());
        }
        Ty::Tuple(tys)
    }

    /// The loops whose tapes `inst` carries: itself, then (when stored) the
    /// inner stored loops of its body and theirs.
    fn threaded(&self, inst: &'s Inst) -> Vec<&'s Inst> {
        let mut out = vec![inst];
        if let Some((body, _)) = parts(inst)
            && self.stores(body)
        {
            for inner in self.residuals(body).inner {
                out.extend(self.threaded(inner));
            }
        }
        out
    }

    /// The forward copy of a loop: the source loop, carrying its tapes (and
    /// those of its inner loops) and pushing one entry per iteration.
    pub(super) fn forward_loop(&mut self, inst: &'s Inst, args: Vec<Value>, recompute: bool) -> AdResult<()> {
        let Some((body, lead)) = parts(inst) else {
            return Err(Diagnostic::internal(inst.span, "not a loop"));
        };
        let stored = self.stores(body);
        let threaded = if stored { self.threaded(inst) } else { vec![inst] };
        let tape_tys: Vec<Ty> = threaded
            .iter()
            .map(|t| Ty::List(Box::new(self.entry_ty(t))))
            .collect();
        let inits: Vec<Value> = threaded
            .iter()
            .zip(&tape_tys)
            .map(|(t, ty)| match self.stacks.get(&key(t)) {
                Some(&v) if stored => v,
                _ => self.e.inst(InstKind::ListNew, Vec::new(), ty.clone()),
            })
            .collect();
        let span = inst.span;
        let own_ty = first(&tape_tys, span)?.clone();
        let start = if stored {
            Some(
                self.e
                    .inst(InstKind::ListLen, vec![*first(&inits, span)?], Ty::int()),
            )
        } else {
            None
        };

        // The condition of a `while` sees the tapes as more carried values, unused.
        let cond_b = match &inst.kind {
            InstKind::While { cond, .. } => {
                let mut cparams = self.fresh_params(&cond.params);
                cparams.extend(tape_tys.iter().map(|t| self.e.fresh(t.clone(), None)));
                self.e.push_block(cparams);
                let saved = self.save_scope();
                self.forward_block(cond, recompute)?;
                let cy: Vec<Value> = cond
                    .yields
                    .iter()
                    .map(|&y| self.get(y))
                    .collect::<AdResult<_>>()?;
                self.restore_scope(saved);
                Some(self.e.pop_block(cy))
            }
            _ => None,
        };

        let mut params = self.fresh_params(&body.params);
        let tape_params: Vec<Value> = tape_tys.iter().map(|t| self.e.fresh(t.clone(), None)).collect();
        let carried: Vec<Value> = params.iter().skip(lead).copied().collect();
        params.extend(tape_params.iter().copied());
        self.e.push_block(params);
        let saved = self.save_scope();
        for (t, &p) in threaded.iter().zip(&tape_params).skip(1) {
            self.stacks.insert(key(t), p);
        }
        let mut entry = carried;
        if !stored {
            entry.push(self.rng_state());
        }
        self.forward_block(body, recompute)?;
        if stored {
            let res = self.residuals(body);
            for &v in &res.values {
                entry.push(self.get(v)?);
            }
            for inner in &res.inner {
                let t = self.tape_of(inner)?;
                let s = t
                    .start
                    .ok_or_else(|| Diagnostic::internal(inst.span, "inner loop without a start"))?;
                entry.extend([s, t.end]);
            }
        }
        let entry = self.e.tuple(entry);
        let mut ys: Vec<Value> = body
            .yields
            .iter()
            .map(|&y| self.get(y))
            .collect::<AdResult<_>>()?;
        let own = *first(&tape_params, span)?;
        ys.push(self.e.inst(InstKind::ListPush, vec![own, entry], own_ty));
        for t in threaded.iter().skip(1) {
            let stack = self.stacks.get(&key(t)).copied();
            ys.push(stack.ok_or_else(|| Diagnostic::internal(span, "inner loop's tape not carried"))?);
        }
        self.restore_scope(saved);
        let body_b = self.e.pop_block(ys);

        let mut results = self.fresh_results(inst);
        let tapes: Vec<Value> = tape_tys.iter().map(|t| self.e.fresh(t.clone(), None)).collect();
        results.extend(tapes.iter().copied());
        let mut args = args;
        args.extend(inits);
        let kind = match cond_b {
            Some(cond) => InstKind::While { cond, body: body_b },
            None => InstKind::For { body: body_b },
        };
        self.e.push(Inst {
            kind,
            args,
            results,
            span: inst.span,
        });
        for (t, &v) in threaded.iter().zip(&tapes) {
            if stored && self.stacks.contains_key(&key(t)) {
                self.stacks.insert(key(t), v);
            }
            self.whole.insert(key(t), v);
        }
        let list = *first(&tapes, span)?;
        let end = self.e.inst(InstKind::ListLen, vec![list], Ty::int());
        self.tapes.insert(key(inst), TapeRef { list, start, end });
        Ok(())
    }

    fn fresh_params(&mut self, src: &[Value]) -> Vec<Value> {
        src.iter()
            .map(|&p| {
                let v = self.e.fresh(self.src_ty(p), self.src.name_of(p));
                self.map.insert(p, v);
                v
            })
            .collect()
    }

    /// New values of the derivative's types of `vs`.
    fn fresh_like(&mut self, vs: &[Value]) -> Vec<Value> {
        vs.iter()
            .map(|&v| {
                let ty = self.e.ty(v);
                self.e.fresh(ty, None)
            })
            .collect()
    }

    fn tape_of(&self, inst: &Inst) -> AdResult<TapeRef> {
        self.tapes
            .get(&key(inst))
            .copied()
            .ok_or_else(|| Diagnostic::internal(inst.span, "loop without a tape"))
    }

    /// The reverse of a loop: a `for` over its tape's entries, last first,
    /// carrying the adjoints of the carried values and of the outer values
    /// the body reads.
    pub(super) fn reverse_loop(&mut self, inst: &'s Inst) -> AdResult<()> {
        let span = inst.span;
        let Some((body, lead)) = parts(inst) else {
            return Err(Diagnostic::internal(span, "not a loop"));
        };
        let tape = self.tape_of(inst)?;
        let stored = self.stores(body);
        let init_args: Vec<Value> = inst.args.iter().skip(2 * lead).copied().collect();
        let carried_params: Vec<Value> = body.params.iter().skip(lead).copied().collect();
        let free = self.free_active(&[body]);
        // Initial adjoints: of the loop's results, and for each free value
        // the adjoint it has gathered so far, else zeros. A loop nested in
        // another's reverse body so accumulates straight into the outer
        // loop's accumulator (no zeros per outer iteration, no sum after);
        // the loop's total then replaces the adjoint it took.
        let mut init = Vec::new();
        for &r in &inst.results {
            init.push(self.adjoint_or_zero(r)?);
        }
        for &f in &free {
            let ty = self.src_ty(f);
            let like = self.map.get(&f).copied();
            let zeros = self.e.zeros_like(&ty, like)?;
            let gathered = self
                .adj
                .get(&f)
                .copied()
                .filter(|&d| same_ty(&self.e.ty(d), &self.e.ty(zeros)));
            init.push(match gathered {
                Some(d) => {
                    self.adj.remove(&f);
                    d
                }
                None => zeros,
            });
        }
        let n = match tape.start {
            Some(s) => self.e.sub(tape.end, s)?,
            None => tape.end,
        };
        let after = (!stored).then(|| self.rng_state());
        let lo = if lead == 1 {
            Some(self.get(*inst.args.first().unwrap_or(&Value(0)))?)
        } else {
            None
        };
        let zero = self.e.int(0);
        // The reverse body: k counts up, j = end - 1 - k walks the tape down.
        let k = self.e.fresh(Ty::int(), None);
        let params = self.fresh_like(&init);
        let mut bparams = vec![k];
        bparams.extend(params.iter().copied());
        self.e.push_block(bparams);
        let saved = self.save_scope();
        self.stacks.clear();
        let one = self.e.int(1);
        let last = self.e.sub(tape.end, one)?;
        let j = self.e.sub(last, k)?;
        let entry_ty = match self.e.ty(tape.list) {
            Ty::List(t) => *t,
            _ => Ty::Never,
        };
        let entry = self.e.inst(InstKind::ListGet, vec![tape.list, j], entry_ty);
        if let (Some(lo), Some(&ip)) = (lo, body.params.first()) {
            let local = match tape.start {
                Some(s) => self.e.sub(j, s)?,
                None => j,
            };
            let i = self.e.add(lo, local)?;
            self.map.insert(ip, i);
        }
        for (m, &p) in carried_params.iter().enumerate() {
            let v = self.e.project(entry, m)?;
            self.map.insert(p, v);
        }
        let mut at = carried_params.len();
        if stored {
            let res = self.residuals(body);
            for &v in &res.values {
                let x = self.e.project(entry, at)?;
                self.map.insert(v, x);
                at += 1;
            }
            for inner in &res.inner {
                let list = self
                    .whole
                    .get(&key(inner))
                    .copied()
                    .ok_or_else(|| Diagnostic::internal(span, "inner loop without a tape"))?;
                let s = self.e.project(entry, at)?;
                let end = self.e.project(entry, at + 1)?;
                at += 2;
                self.tapes.insert(
                    key(inner),
                    TapeRef {
                        list,
                        start: Some(s),
                        end,
                    },
                );
            }
            for i in &body.insts {
                if !res.kept.contains(&key(i)) {
                    self.forward_inst(i, true)?;
                }
            }
        } else {
            let st = self.e.project(entry, at)?;
            self.rng_restore(st);
            self.forward_block(body, true)?;
        }
        let outer = std::mem::take(&mut self.adj);
        for (&y, &d) in body.yields.iter().zip(params.iter()) {
            self.add_adj(y, d)?;
        }
        // The free values' accumulators are their adjoints from the start:
        // contributions add (or scatter) into them in place.
        let accs: Vec<Value> = (0..free.len())
            .map(|q| params.get(carried_params.len() + q).copied().unwrap_or(Value(0)))
            .collect();
        for (&f, &acc) in free.iter().zip(&accs) {
            if self.active.contains(&f) {
                self.adj.insert(f, acc);
            }
        }
        self.reverse_block(body)?;
        let mut ys = Vec::new();
        for &p in &carried_params {
            ys.push(self.adjoint_or_zero(p)?);
        }
        for (&f, &acc) in free.iter().zip(&accs) {
            let total = match self.adj.get(&f) {
                Some(&d) if same_ty(&self.e.ty(d), &self.e.ty(acc)) => d,
                Some(_) => {
                    return Err(Diagnostic::internal(
                        span,
                        "a loop's accumulated adjoint changed type",
                    ));
                }
                None => acc,
            };
            ys.push(total);
        }
        self.adj = outer;
        self.restore_scope(saved);
        // Carried adjoints keep the types they entered with.
        let blk = self.e.pop_block(ys);
        let results = self.fresh_like(&params);
        let mut args = vec![zero, n];
        args.extend(init);
        self.e.push(Inst {
            kind: InstKind::For { body: blk },
            args,
            results: results.clone(),
            span,
        });
        self.replay_end(after);
        for (&a, &d) in init_args.iter().zip(&results) {
            self.add_adj(a, d)?;
        }
        for (q, &f) in free.iter().enumerate() {
            if let Some(&d) = results.get(init_args.len() + q) {
                self.add_adj(f, d)?;
            }
        }
        Ok(())
    }
}

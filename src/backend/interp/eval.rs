//! Executing functions, blocks and instructions.

use super::fusion::Group;
use super::plan::{Fused, InstPlan, Plan};
use super::prims::Failure;
use super::progress::Bars;
use super::value::Val;
use super::{data, prims};
use crate::backend::{CallEnv, Native};
use crate::diag::Diagnostic;
use crate::ir::RandomOp;
use crate::ir::types::{DType, Ty};
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Prim, Program, Value};
use crate::runtime::fused::Indexed;
use crate::runtime::{self, KernelError, Rng, Tensor};
use crate::syntax::Span;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// An error while running: always a diagnostic with the failing span.
pub type RunError = Diagnostic;

/// The deepest call nesting allowed before "recursion depth limit" errors.
pub const MAX_DEPTH: usize = 10_000;

pub struct Interp<'p> {
    program: &'p Program,
    out: &'p mut dyn Write,
    depth: usize,
    deadline: Option<(Instant, f64)>,
    ticks: u32,
    interrupt: Option<Arc<AtomicBool>>,
    /// The folder relative file paths start from (the running file's).
    base_dir: Option<PathBuf>,
    rng: Rng,
    plans: HashMap<FuncId, Rc<Plan>>,
    bars: Bars,
    native: Option<&'p dyn Native>,
    /// Whether elementwise instructions run as fused groups (the default).
    fuse: bool,
}

type Frame = Vec<Val>;

/// An instruction's operands, inline for the few that most instructions have
/// (`index_add` has four).
type Args = SmallVec<[Val; 4]>;

impl<'p> Interp<'p> {
    /// An interpreter over a specialized program, printing to `out`.
    pub fn new(program: &'p Program, out: &'p mut dyn Write) -> Interp<'p> {
        Interp {
            program,
            out,
            depth: 0,
            deadline: None,
            ticks: 0,
            interrupt: None,
            base_dir: None,
            rng: Rng::default(),
            plans: HashMap::new(),
            bars: Bars::default(),
            native: None,
            fuse: true,
        }
    }

    /// Shows no progress bars (the REPL's silent re-runs of earlier input).
    pub fn without_progress(mut self) -> Interp<'p> {
        self.bars = Bars::hidden();
        self
    }

    /// Runs every elementwise instruction by itself (to check that fused
    /// groups compute the same results, and to measure what they save).
    pub fn without_fusion(mut self) -> Interp<'p> {
        self.fuse = false;
        self
    }

    /// Resolves relative file paths against `dir` (the running file's folder).
    pub fn with_base_dir(mut self, dir: Option<PathBuf>) -> Interp<'p> {
        self.base_dir = dir;
        self
    }

    /// Calls compiled code for the functions `native` holds instead of
    /// interpreting them (mixed mode of the JIT backend).
    pub fn with_native(mut self, native: &'p dyn Native) -> Interp<'p> {
        self.native = Some(native);
        self
    }

    /// Starts the random generator from `seed` (0 when not given), as `seed(n)` would.
    pub fn with_seed(mut self, seed: Option<u64>) -> Interp<'p> {
        self.rng = Rng::new(seed.unwrap_or(0));
        self
    }

    /// Continues from a generator's state (the next stage of a run).
    pub fn with_rng(mut self, rng: Rng) -> Interp<'p> {
        self.rng = rng;
        self
    }

    /// The generator's state, to carry into the next stage of a run.
    pub fn rng(&self) -> Rng {
        self.rng
    }

    /// Stops the run with an error at `deadline`: an instant, and the
    /// run's whole timeout in seconds, which the error names.
    pub fn with_deadline(mut self, deadline: Option<(Instant, f64)>) -> Interp<'p> {
        self.deadline = deadline;
        self
    }

    /// Stops the run with an "interrupted" error once `flag` is set (Ctrl-C in the REPL).
    pub fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Interp<'p> {
        self.interrupt = Some(flag);
        self
    }

    pub fn call(&mut self, f: FuncId, args: Vec<Val>, span: Span) -> Result<Val, RunError> {
        let func = self
            .program
            .func(f)
            .ok_or_else(|| Diagnostic::internal(span, "call of a missing function"))?;
        if self.depth >= MAX_DEPTH {
            return Err(depth_error(span, func.name.as_str()));
        }
        self.tick(span)?;
        if let Some(native) = self.native {
            let env = CallEnv {
                depth: self.depth + 1,
                deadline: self.deadline,
                interrupt: self.interrupt.as_deref(),
            };
            if let Some(r) = native.call(f, &args, &env) {
                return r;
            }
        }
        let plan = match self.plans.get(&f) {
            Some(p) => p.clone(),
            None => {
                let p = Rc::new(Plan::new(func, self.fuse, self.native));
                self.plans.insert(f, p.clone());
                p
            }
        };
        let mut frame: Frame = vec![Val::Undef; func.values.len()];
        for (&p, a) in func.param_values.iter().zip(args) {
            set(&mut frame, p, a);
        }
        self.depth += 1;
        let r = self.exec_block(func, &plan, &mut frame, &func.body);
        self.depth -= 1;
        let mut ys = r.map_err(|d| d.called_from(span))?;
        Ok(if ys.is_empty() {
            Val::unit()
        } else {
            ys.swap_remove(0)
        })
    }

    fn tick(&mut self, span: Span) -> Result<(), RunError> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(1024)
            && let Some(flag) = &self.interrupt
            && flag.load(Ordering::Relaxed)
        {
            return Err(interrupted_error(span));
        }
        if self.ticks.is_multiple_of(1024)
            && let Some((deadline, secs)) = self.deadline
            && Instant::now() > deadline
        {
            return Err(timeout_error(span, secs));
        }
        Ok(())
    }

    fn exec_block(
        &mut self,
        func: &Func,
        plan: &Plan,
        frame: &mut Frame,
        block: &Block,
    ) -> Result<Vec<Val>, RunError> {
        let Some(bp) = plan.block(block) else {
            return Err(Diagnostic::internal(Span::default(), "a block without a plan"));
        };
        for &(k, ip) in &bp.steps {
            let Some(inst) = block.insts.get(k as usize) else {
                return Err(Diagnostic::internal(Span::default(), "a plan past its block"));
            };
            match ip.fused {
                Fused::GroupEnd => self.exec_group(func, plan, frame, block, inst)?,
                Fused::Unpack => exec_unpack(plan, frame, inst)?,
                Fused::ListUnpack => exec_list_unpack(plan, frame, inst, ip)?,
                Fused::PushTuple => {
                    let tuple = (k as usize).checked_sub(1).and_then(|j| block.insts.get(j));
                    exec_push_tuple(plan, frame, tuple, inst)?
                }
                _ => self.exec_inst(func, plan, frame, inst, ip)?,
            }
        }
        let moves = bp.yields;
        Ok(block
            .yields
            .iter()
            .enumerate()
            .map(|(i, &y)| read(frame, y, moves, i))
            .collect())
    }

    /// Runs the fused group that ends at `end`; when its operands' run-time
    /// shapes are not the group's forms, runs its members one by one.
    fn exec_group(
        &mut self,
        func: &Func,
        plan: &Plan,
        frame: &mut Frame,
        block: &Block,
        end: &Inst,
    ) -> Result<(), RunError> {
        let Some(group) = plan.group(end) else {
            return Err(Diagnostic::internal(end.span, "fused group without a plan"));
        };
        if let Some(ix) = &group.indexed {
            if !run_indexed_group(frame, group, ix) {
                self.exec_members(func, plan, frame, block, group)?;
            }
            return Ok(());
        }
        // The outputs' values from the loop's last iteration, whose buffers
        // a small group may write over.
        let spare: Vec<Option<Tensor>> = group
            .outputs
            .iter()
            .map(|&v| match take(frame, v) {
                Val::Tensor(t) => Some(t),
                _ => None,
            })
            .collect();
        let (small, accepted) = {
            let tensors: Option<SmallVec<[&Tensor; 16]>> = group
                .inputs
                .iter()
                .map(|&(v, _)| frame.get(v.0 as usize).and_then(Val::as_tensor))
                .collect();
            match tensors {
                Some(t) => match group.kernel.run_small(&t, spare) {
                    Some(outputs) => (Some(outputs), true),
                    None => (None, group.kernel.accepts(&t).is_some()),
                },
                None => (None, false),
            }
        };
        if let Some(outputs) = small {
            // The inputs read last here go, as on the general path.
            for &(v, taken) in &group.inputs {
                if taken {
                    drop(take(frame, v));
                }
            }
            for (&v, t) in group.outputs.iter().zip(outputs) {
                set(frame, v, Val::Tensor(t));
            }
            return Ok(());
        }
        if !accepted {
            return self.exec_members(func, plan, frame, block, group);
        }
        // Inputs read last here are taken, so their buffers can be reused.
        let inputs: Vec<Tensor> = group
            .inputs
            .iter()
            .filter_map(
                |&(v, taken)| match if taken { take(frame, v) } else { get(frame, v) } {
                    Val::Tensor(t) => Some(t),
                    _ => None,
                },
            )
            .collect();
        let outputs = group
            .kernel
            .run(inputs)
            .map_err(|e| Failure::from(e).into_diagnostic(end.span))?;
        for (&v, t) in group.outputs.iter().zip(outputs) {
            set(frame, v, Val::Tensor(t));
        }
        Ok(())
    }

    /// Runs a group's members one by one, each as itself.
    fn exec_members(
        &mut self,
        func: &Func,
        plan: &Plan,
        frame: &mut Frame,
        block: &Block,
        group: &Group,
    ) -> Result<(), RunError> {
        for inst in group.members.iter().filter_map(|&p| block.insts.get(p)) {
            let ip = InstPlan {
                fused: Fused::None,
                ..plan.inst(inst)
            };
            self.exec_inst(func, plan, frame, inst, ip)?;
        }
        Ok(())
    }

    /// Runs one instruction, as its plan `ip` says (a member of a fused
    /// group runs as itself with `Fused::None`).
    fn exec_inst(
        &mut self,
        func: &Func,
        plan: &Plan,
        frame: &mut Frame,
        inst: &Inst,
        ip: InstPlan,
    ) -> Result<(), RunError> {
        let span = inst.span;
        if ip.take_field
            && let (InstKind::TupleGet(i) | InstKind::RecordGet(i), [a], [r]) =
                (&inst.kind, inst.args.as_slice(), inst.results.as_slice())
        {
            let field = take_field(frame, *a, *i as usize)
                .ok_or_else(|| Diagnostic::internal(span, "projection of a non-aggregate"))?;
            set(frame, *r, field);
            return Ok(());
        }
        // A list that is pushed to is always rebound, so it is taken even
        // when the plan does not say so: an unshared one grows in place.
        let moves = match inst.kind {
            InstKind::ListPush => ip.moves | 1,
            _ => ip.moves,
        };
        if let (InstKind::Prim(Prim::Binary(op)), Fused::None, [a, b], [r]) = (
            &inst.kind,
            ip.fused,
            inst.args.as_slice(),
            inst.results.as_slice(),
        ) && let Some(value) =
            prims::int_scalar_arith(*op, frame.get(a.0 as usize), frame.get(b.0 as usize))
        {
            set(frame, *r, value);
            return Ok(());
        }
        // A read-only prim whose operands all live on borrows them.
        if let (InstKind::Prim(p), Fused::None, 0, [r]) =
            (&inst.kind, ip.fused, moves, inst.results.as_slice())
        {
            let value = inst
                .args
                .iter()
                .map(|v| frame.get(v.0 as usize))
                .collect::<Option<SmallVec<[&Val; 4]>>>()
                .and_then(|refs| prims::exec_read_only(p, &refs));
            if let Some(value) = value {
                let value = value.map_err(|f| f.into_diagnostic(span))?;
                set(frame, *r, value);
                return Ok(());
            }
        }
        // `index_add` takes its accumulator and borrows the rest (the
        // tensor whose shape it has is read on every step of a loop).
        if let (InstKind::Prim(Prim::IndexAdd(items)), Fused::None, [r], [acc, rest @ ..]) = (
            &inst.kind,
            ip.fused,
            inst.results.as_slice(),
            inst.args.as_slice(),
        ) && !rest.contains(acc)
        {
            let acc = read(frame, *acc, moves, 0);
            let value = {
                let refs: SmallVec<[&Val; 4]> = rest
                    .iter()
                    .map(|v| frame.get(v.0 as usize).unwrap_or(&Val::Undef))
                    .collect();
                prims::index_add_borrowed(items, acc, &refs)
            };
            let value = value.map_err(|f| f.into_diagnostic(span))?;
            set(frame, *r, value);
            return Ok(());
        }
        let mut args: Args = inst
            .args
            .iter()
            .enumerate()
            .map(|(i, &v)| read(frame, v, moves, i))
            .collect();
        let mut arg = |i: usize| args.get_mut(i).map(std::mem::take).unwrap_or(Val::Undef);
        let result = inst.results.first().copied();
        let value = match &inst.kind {
            InstKind::Const(c) => {
                let ty = result.and_then(|r| func.ty(r));
                const_val(c, ty)
            }
            InstKind::Prim(p) => match ip.fused {
                Fused::TransposeAlias => arg(0),
                Fused::MatMul { ta, tb } => {
                    let (a, b) = (arg(0), arg(1));
                    match (a.as_tensor(), b.as_tensor()) {
                        (Some(a), Some(b)) => Val::Tensor(
                            runtime::matmul_transposed(a, ta, b, tb)
                                .map_err(|e| Failure::from(e).into_diagnostic(span))?,
                        ),
                        _ => return Err(Diagnostic::internal(span, "matmul of a non-tensor")),
                    }
                }
                Fused::IndexGradDeferred => Val::Tuple(args.into_iter().collect()),
                Fused::IndexGradSum => {
                    let (a, b) = (arg(0), arg(1));
                    sum_deferred(a, b).map_err(|e| e.into_diagnostic(span))?
                }
                Fused::IndexGradAdd { deferred } => {
                    let (pack, acc) = (arg(usize::from(deferred)), arg(1 - usize::from(deferred)));
                    index_grad_add(acc, pack, plan.index_items(inst)).map_err(|e| e.into_diagnostic(span))?
                }
                Fused::None
                | Fused::Grouped
                | Fused::GroupEnd
                | Fused::Unpack
                | Fused::Unpacked
                | Fused::ListUnpack
                | Fused::PushedTuple
                | Fused::PushTuple => self.exec_prim(p, &mut args, span)?,
            },
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                return Err(Diagnostic::internal(
                    span,
                    "untyped instruction in specialized IR",
                ));
            }
            InstKind::BuiltinRef(_) => Val::Builtin,
            InstKind::Call(f) => self.call(*f, args.into_vec(), span)?,
            InstKind::Closure(_) => Val::Closure(args.into_iter().collect()),
            InstKind::CaptureGet(i) => match arg(0) {
                Val::Closure(c) => c.get(*i as usize).cloned().unwrap_or(Val::Undef),
                _ => return Err(Diagnostic::internal(span, "capture of a non-closure")),
            },
            InstKind::Tuple => Val::Tuple(args.into_iter().collect()),
            InstKind::Derive(_) => arg(0),
            InstKind::ListNew => Val::List(Rc::new(Vec::new())),
            InstKind::ListPush => {
                let (list, item) = (arg(0), arg(1));
                match list {
                    Val::List(mut xs) => {
                        Rc::make_mut(&mut xs).push(item);
                        Val::List(xs)
                    }
                    _ => return Err(Diagnostic::internal(span, "push to a non-list")),
                }
            }
            InstKind::ListGet => {
                let i = int_of(&arg(1), span)?;
                list_entry(&arg(0), i, span)?.clone()
            }
            InstKind::ListLen => match arg(0) {
                Val::List(xs) => Val::Tensor(Tensor::scalar_i64(xs.len() as i64)),
                _ => return Err(Diagnostic::internal(span, "length of a non-list")),
            },
            InstKind::Record(s) => Val::Record(*s, args.into_iter().collect()),
            InstKind::TupleGet(i) | InstKind::RecordGet(i) => match arg(0) {
                Val::Tuple(xs) | Val::Record(_, xs) => project(xs, *i as usize),
                _ => return Err(Diagnostic::internal(span, "projection of a non-aggregate")),
            },
            InstKind::If { then, else_ } => {
                let c = bool_of(&arg(0), span)?;
                let ys = self.exec_block(func, plan, frame, if c { then } else { else_ })?;
                return bind_results(frame, &inst.results, ys);
            }
            InstKind::For { body } => {
                let lo = int_of(&arg(0), span)?;
                let hi = int_of(&arg(1), span)?;
                let mut carried: Vec<Val> = args.into_iter().skip(2).collect();
                for i in lo..hi {
                    self.tick(span)?;
                    let mut params = body.params.iter();
                    if let Some(&p) = params.next() {
                        set(frame, p, Val::Tensor(Tensor::scalar_i64(i)));
                    }
                    for (&p, v) in params.zip(carried) {
                        set(frame, p, v);
                    }
                    carried = self.exec_block(func, plan, frame, body)?;
                }
                return bind_results(frame, &inst.results, carried);
            }
            InstKind::While { cond, body } => {
                let mut carried = args.into_vec();
                loop {
                    self.tick(span)?;
                    for (&p, v) in cond.params.iter().zip(&carried) {
                        set(frame, p, v.clone());
                    }
                    let c = self.exec_block(func, plan, frame, cond)?;
                    // The condition's copies must not keep the body's values shared.
                    for &p in &cond.params {
                        set(frame, p, Val::Undef);
                    }
                    if !bool_of(c.first().unwrap_or(&Val::Undef), span)? {
                        break;
                    }
                    for (&p, v) in body.params.iter().zip(carried) {
                        set(frame, p, v);
                    }
                    carried = self.exec_block(func, plan, frame, body)?;
                }
                return bind_results(frame, &inst.results, carried);
            }
        };
        if let Some(r) = result {
            set(frame, r, value);
        }
        Ok(())
    }

    fn exec_prim(&mut self, p: &Prim, args: &mut [Val], span: Span) -> Result<Val, RunError> {
        match p {
            Prim::Print => {
                let parts: Vec<String> = args.iter().map(|a| a.display(self.program)).collect();
                let line = parts.join(" ");
                let out = &mut self.out;
                // Under a progress bar, the line is shown at once, above the bar.
                let flush = self.bars.active();
                let written = self.bars.suspend(|| {
                    writeln!(out, "{line}")?;
                    if flush { out.flush() } else { Ok(()) }
                });
                if written.is_err() {
                    return Err(Diagnostic::error(span, "cannot write the output"));
                }
                Ok(Val::unit())
            }
            Prim::TempPath => self.files(span).temp_path(args),
            Prim::LoadCsv(d) => self.files(span).load_csv(*d, args),
            Prim::SaveCsv => self.files(span).save_csv(args),
            Prim::LoadNpy(ty) => self.files(span).load_npy(ty, args),
            Prim::SaveNpy => self.files(span).save_npy(args),
            Prim::Load(ty) => self.files(span).load(ty, args),
            Prim::Save => self.files(span).save(args),
            Prim::Batches => {
                let shuffle = args
                    .get(3)
                    .and_then(Val::as_tensor)
                    .and_then(Tensor::as_scalar_bool)
                    .unwrap_or(false);
                if !shuffle {
                    return data::batches(args, None, span);
                }
                // The rows in the order of one permutation from the generator.
                let rows = args
                    .first()
                    .and_then(Val::as_tensor)
                    .and_then(|x| x.shape().first().copied())
                    .unwrap_or(0);
                let order: Vec<usize> = self
                    .rng
                    .permutation(rows as i64)
                    .map_err(|e| Diagnostic::internal(span, e.message()))?
                    .to_i64_vec()
                    .into_iter()
                    .map(|i| i as usize)
                    .collect();
                data::batches(args, Some(&order), span)
            }
            Prim::Random(op) => self.random(*op, args).map_err(|f| f.into_diagnostic(span)),
            Prim::Progress => {
                let n = |i: usize| int_of(args.get(i).unwrap_or(&Val::Undef), span);
                self.bars.update(span, n(0)?, n(1)?, n(2)?);
                Ok(Val::unit())
            }
            Prim::Plot => {
                super::plot::plot(args, self.base_dir.as_deref()).map_err(|f| f.into_diagnostic(span))?;
                Ok(Val::unit())
            }
            _ => prims::exec(p, args, self.program).map_err(|f| f.into_diagnostic(span)),
        }
    }
}

impl Interp<'_> {
    /// The context of a file prim at `span`.
    fn files(&self, span: Span) -> data::Ctx<'_> {
        data::Ctx {
            program: self.program,
            base: self.base_dir.as_deref(),
            span,
        }
    }

    /// Random draws and the generator's state: the one piece of state prims share.
    fn random(&mut self, op: RandomOp, args: &[Val]) -> Result<Val, prims::Failure> {
        let operand = |i: usize| {
            args.get(i)
                .and_then(Val::as_tensor)
                .ok_or_else(|| KernelError::Internal("a random draw without its operand".into()))
        };
        let int = |i: usize| {
            operand(i)?
                .as_scalar_i64()
                .ok_or_else(|| KernelError::Internal("expected an int operand".into()))
        };
        let shape = |i: usize| prims::shape_of(args.get(i).unwrap_or(&Val::Undef));
        let t = match op {
            RandomOp::Seed => {
                self.rng.reseed(int(0)?);
                return Ok(Val::unit());
            }
            RandomOp::SetState => {
                self.rng.restore(operand(0)?)?;
                return Ok(Val::unit());
            }
            RandomOp::GetState => self.rng.state(),
            RandomOp::Uniform(d) => self.rng.uniform(shape(0)?, d)?,
            RandomOp::Normal(d) => self.rng.normal(shape(0)?, d)?,
            RandomOp::NormalLike => {
                let like = operand(0)?;
                self.rng.normal(like.shape().to_vec(), like.dtype())?
            }
            RandomOp::Permutation => self.rng.permutation(int(0)?)?,
            RandomOp::Bernoulli => self.rng.bernoulli(operand(0)?)?,
            RandomOp::Categorical => self.rng.categorical(operand(0)?)?,
        };
        Ok(Val::Tensor(t))
    }
}

/// Reads operand `i` (value `v`): moved out of the frame when bit `i` of
/// `moves` says this is its last use, copied otherwise.
/// Runs a group that reads rows and adds into accumulators
/// ([`runtime::fused::Indexed`]) through its native loop. False when its
/// operands do not fit: nothing ran, and the frame is as it was but for the
/// outputs' values from the loop's last iteration.
fn run_indexed_group(frame: &mut Frame, group: &Group, ix: &Indexed) -> bool {
    let mut spare: SmallVec<[Option<Tensor>; 16]> = SmallVec::new();
    for (&v, sink) in group.outputs.iter().zip(&ix.sinks) {
        spare.push(match (take(frame, v), sink) {
            (Val::Tensor(t), None) => Some(t),
            _ => None,
        });
    }
    // The accumulators leave the frame (a copy stays when another use
    // follows), so that no one else holds their buffers.
    let restore = |frame: &mut Frame, accs: Vec<Tensor>| {
        for (into, t) in ix.accs.iter().zip(accs) {
            if let Some(&(v, true)) = group.inputs.get(into.acc) {
                set(frame, v, Val::Tensor(t));
            }
        }
    };
    let mut accs = Vec::with_capacity(ix.accs.len());
    for into in &ix.accs {
        let Some(&(v, taken)) = group.inputs.get(into.acc) else {
            restore(frame, accs);
            return false;
        };
        match if taken { take(frame, v) } else { get(frame, v) } {
            Val::Tensor(t) => accs.push(t),
            other => {
                if taken {
                    set(frame, v, other);
                }
                restore(frame, accs);
                return false;
            }
        }
    }
    let result = {
        let mut refs: SmallVec<[Option<&Tensor>; 32]> = SmallVec::new();
        for &(v, _) in &group.inputs {
            refs.push(frame.get(v.0 as usize).and_then(Val::as_tensor));
        }
        group.kernel.run_indexed(ix, &refs, accs, &mut spare)
    };
    match result {
        Ok(outputs) => {
            for &(v, taken) in &group.inputs {
                if taken {
                    drop(take(frame, v));
                }
            }
            for (&v, t) in group.outputs.iter().zip(outputs) {
                set(frame, v, Val::Tensor(t));
            }
            true
        }
        Err(accs) => {
            restore(frame, accs);
            false
        }
    }
}

fn read(frame: &mut Frame, v: Value, moves: u64, i: usize) -> Val {
    if i < 64 && moves & (1 << i) != 0 {
        take(frame, v)
    } else {
        get(frame, v)
    }
}

/// Binds every projection of a run ([`super::plan::Unpack`]) at once.
fn exec_unpack(plan: &Plan, frame: &mut Frame, inst: &Inst) -> Result<(), RunError> {
    let Some(run) = plan.unpack(inst) else {
        return Err(Diagnostic::internal(inst.span, "unpacking without a plan"));
    };
    let aggregate = if run.last {
        take(frame, run.aggregate)
    } else {
        get(frame, run.aggregate)
    };
    let (Val::Tuple(mut xs) | Val::Record(_, mut xs)) = aggregate else {
        return Err(Diagnostic::internal(inst.span, "projection of a non-aggregate"));
    };
    // The fields of a run are distinct, so each can be moved out.
    match Rc::get_mut(&mut xs) {
        Some(slots) => {
            for &(i, r) in &run.fields {
                set(
                    frame,
                    r,
                    slots.get_mut(i).map(std::mem::take).unwrap_or(Val::Undef),
                );
            }
        }
        None => {
            for &(i, r) in &run.fields {
                set(frame, r, xs.get(i).cloned().unwrap_or(Val::Undef));
            }
        }
    }
    Ok(())
}

/// Binds the fields of a tape entry that a run of projections reads
/// ([`Fused::ListUnpack`]), copied from the entry where it lies in its list.
fn exec_list_unpack(plan: &Plan, frame: &mut Frame, inst: &Inst, ip: InstPlan) -> Result<(), RunError> {
    let span = inst.span;
    let (Some(run), [list, index]) = (plan.unpack(inst), inst.args.as_slice()) else {
        return Err(Diagnostic::internal(span, "unpacking without a plan"));
    };
    let i = int_of(frame.get(index.0 as usize).unwrap_or(&Val::Undef), span)?;
    let fields: SmallVec<[Val; 12]> = {
        let list = frame.get(list.0 as usize).unwrap_or(&Val::Undef);
        let (Val::Tuple(ys) | Val::Record(_, ys)) = list_entry(list, i, span)? else {
            return Err(Diagnostic::internal(span, "projection of a non-aggregate"));
        };
        run.fields
            .iter()
            .map(|&(f, _)| ys.get(f).cloned().unwrap_or(Val::Undef))
            .collect()
    };
    for (&(_, r), v) in run.fields.iter().zip(fields) {
        set(frame, r, v);
    }
    for (j, &a) in inst.args.iter().enumerate() {
        if ip.moves & (1 << j) != 0 {
            drop(take(frame, a));
        }
    }
    Ok(())
}

/// Entry `i` of `list`; a negative `i` counts from the end, as for tensors.
fn list_entry(list: &Val, i: i64, span: Span) -> Result<&Val, RunError> {
    let Val::List(xs) = list else {
        return Err(Diagnostic::internal(span, "index of a non-list"));
    };
    let len = xs.len() as i64;
    let k = if i < 0 { i + len } else { i };
    usize::try_from(k)
        .ok()
        .and_then(|k| xs.get(k))
        .ok_or_else(|| list_index_error(span, i, len))
}

/// Pushes the tuple that the instruction before (`tuple`, skipped) would
/// have made ([`Fused::PushTuple`]).
fn exec_push_tuple(
    plan: &Plan,
    frame: &mut Frame,
    tuple: Option<&Inst>,
    push: &Inst,
) -> Result<(), RunError> {
    let span = push.span;
    let (Some(tuple), Some(&list), [r]) = (tuple, push.args.first(), push.results.as_slice()) else {
        return Err(Diagnostic::internal(span, "a tape push without its tuple"));
    };
    let moves = plan.inst(tuple).moves;
    let item = Val::Tuple(
        tuple
            .args
            .iter()
            .enumerate()
            .map(|(i, &v)| read(frame, v, moves, i))
            .collect(),
    );
    // The list is always taken (it is rebound), as for a plain push.
    let Val::List(mut xs) = take(frame, list) else {
        return Err(Diagnostic::internal(span, "push to a non-list"));
    };
    Rc::make_mut(&mut xs).push(item);
    set(frame, *r, Val::List(xs));
    Ok(())
}

/// Field `i` of the aggregate in slot `v`, which is read later for its other
/// fields only: taken out of it when no one else holds the aggregate.
fn take_field(frame: &mut Frame, v: Value, i: usize) -> Option<Val> {
    match frame.get_mut(v.0 as usize) {
        Some(Val::Tuple(xs) | Val::Record(_, xs)) => Some(match Rc::get_mut(xs) {
            Some(slots) => slots.get_mut(i).map(std::mem::take).unwrap_or(Val::Undef),
            None => xs.get(i).cloned().unwrap_or(Val::Undef),
        }),
        _ => None,
    }
}

/// Element `i` of an aggregate; taken out rather than copied when the
/// aggregate is no longer shared (its last use), so the element stays unshared.
fn project(mut xs: Rc<[Val]>, i: usize) -> Val {
    match Rc::get_mut(&mut xs) {
        Some(slots) => slots.get_mut(i).map(std::mem::take).unwrap_or(Val::Undef),
        None => xs.get(i).cloned().unwrap_or(Val::Undef),
    }
}

/// The sum of two deferred `index_grad`s of the same index at the same
/// operands: the first with the sum of both gradients.
fn sum_deferred(a: Val, b: Val) -> Result<Val, Failure> {
    let internal = || {
        Failure::from(KernelError::Internal(
            "a deferred index_grad without its operands".into(),
        ))
    };
    let (Val::Tuple(a), Val::Tuple(b)) = (a, b) else {
        return Err(internal());
    };
    let gradient = |p: &Rc<[Val]>| p.first().and_then(Val::as_tensor).cloned().ok_or_else(internal);
    let g = runtime::binary(crate::ir::op::BinaryOp::Add, &gradient(&a)?, &gradient(&b)?)?;
    let mut parts = a.to_vec();
    if let Some(first) = parts.first_mut() {
        *first = Val::Tensor(g);
    }
    Ok(Val::Tuple(parts.into()))
}

/// `acc + index_grad(g, like, operands…)` where `pack` holds the deferred
/// `index_grad`'s operands `(g, like, operands…)`.
fn index_grad_add(acc: Val, pack: Val, items: &[crate::ir::op::IndexItem]) -> Result<Val, Failure> {
    let internal = || {
        Failure::from(KernelError::Internal(
            "a deferred index_grad without its operands".into(),
        ))
    };
    let (Val::Tensor(acc), Val::Tuple(pack)) = (acc, pack) else {
        return Err(internal());
    };
    let g = pack.first().and_then(Val::as_tensor).ok_or_else(internal)?;
    let operands = pack
        .get(2..)
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_tensor().and_then(Tensor::as_scalar_i64))
        .collect::<Option<SmallVec<[i64; 4]>>>()
        .ok_or_else(internal)?;
    Ok(Val::Tensor(runtime::index_grad_add(acc, g, items, &operands)?))
}

/// The error of a call that would nest deeper than [`MAX_DEPTH`].
pub fn depth_error(span: Span, callee: &str) -> RunError {
    Diagnostic::error(
        span,
        format!("recursion depth limit exceeded ({MAX_DEPTH} nested calls)"),
    )
    .with_label(format!("calling `{callee}` here went too deep"))
    .with_help("check that the recursion reaches a base case")
}

/// The error of a run stopped by its deadline (`--timeout`).
pub fn timeout_error(span: Span, secs: f64) -> RunError {
    Diagnostic::error(span, format!("the run took longer than the timeout of {secs} s"))
        .with_label("running here when time ran out")
}

/// The error of a list read at index `i` of a list of length `len` that has no such element.
pub fn list_index_error(span: Span, i: i64, len: i64) -> RunError {
    Diagnostic::error(
        span,
        format!("index {i} is out of range for a list of length {len}"),
    )
}

/// The error of a run stopped by Ctrl-C.
pub fn interrupted_error(span: Span) -> RunError {
    Diagnostic::error(span, "interrupted").with_label("running here when interrupted")
}

/// A kernel's failure as the interpreter reports it at `span`.
pub fn kernel_error(e: KernelError, span: Span) -> RunError {
    prims::Failure::from(e).into_diagnostic(span)
}

fn get(frame: &Frame, v: Value) -> Val {
    frame.get(v.0 as usize).cloned().unwrap_or(Val::Undef)
}

/// Moves a value out of the frame (leaving `Undef`).
fn take(frame: &mut Frame, v: Value) -> Val {
    frame
        .get_mut(v.0 as usize)
        .map(std::mem::take)
        .unwrap_or(Val::Undef)
}

fn set(frame: &mut Frame, v: Value, val: Val) {
    if let Some(slot) = frame.get_mut(v.0 as usize) {
        *slot = val;
    }
}

fn bind_results(frame: &mut Frame, results: &[Value], ys: Vec<Val>) -> Result<(), RunError> {
    for (&r, y) in results.iter().zip(ys) {
        set(frame, r, y);
    }
    Ok(())
}

fn bool_of(v: &Val, span: Span) -> Result<bool, RunError> {
    v.as_tensor()
        .and_then(Tensor::as_scalar_bool)
        .ok_or_else(|| Diagnostic::internal(span, "expected a bool"))
}

fn int_of(v: &Val, span: Span) -> Result<i64, RunError> {
    v.as_tensor()
        .and_then(Tensor::as_scalar_i64)
        .ok_or_else(|| Diagnostic::internal(span, "expected an int"))
}

fn const_val(c: &Const, ty: Option<&Ty>) -> Val {
    match c {
        Const::Int(i) => match ty.and_then(Ty::as_tensor).map(|t| t.dtype) {
            Some(d @ (DType::F32 | DType::F64)) => Val::Tensor(Tensor::scalar_float(*i as f64, d)),
            _ => Val::Tensor(Tensor::scalar_i64(*i)),
        },
        Const::Float(f) => {
            let d = ty.and_then(Ty::as_tensor).map(|t| t.dtype).unwrap_or(DType::F32);
            Val::Tensor(Tensor::scalar_float(*f, d))
        }
        Const::Bool(b) => Val::Tensor(Tensor::scalar_bool(*b)),
        Const::Str(s) => Val::Str(Rc::from(s.as_str())),
        Const::Unit => Val::unit(),
        Const::Undef => Val::Undef,
    }
}

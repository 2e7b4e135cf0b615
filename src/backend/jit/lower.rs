//! Lowering one specialized function to Cranelift IR: the walk over its
//! instructions, constants, aggregates (flattened to slots), direct calls,
//! and the checks compiled code makes (recursion depth, deadline polls, error
//! exits). Prims are in `scalar`, structured control flow in `control`.

use super::abi::{Site, code, offset};
use super::layout::{self, Slot};
use super::list;
use crate::backend::interp::MAX_DEPTH;
use crate::ir::types::{DType, Ty};
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Program, Value};
use crate::syntax::{Span, Symbol};
use cranelift_codegen::ir::{
    self, AbiParam, BlockArg, FuncRef, InstBuilder, MemFlagsData, Signature, condcodes::IntCC, types,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId as ClifId, Module};
use std::collections::HashMap;

/// A Cranelift value.
pub type CVal = ir::Value;

/// What lowering needs from the module being built.
pub struct ModuleEnv<'m> {
    pub module: &'m mut JITModule,
    /// The compiled functions' declarations.
    pub funcs: &'m HashMap<FuncId, ClifId>,
    pub helpers: &'m HashMap<&'static str, ClifId>,
    pub sites: &'m mut Vec<Site>,
}

/// The type of a function's result: its first yield, or unit.
pub fn result_ty(f: &Func) -> Ty {
    f.body
        .yields
        .first()
        .and_then(|&y| f.ty(y).cloned())
        .unwrap_or_else(Ty::unit)
}

fn param_tys(f: &Func) -> Result<Vec<Ty>, String> {
    f.param_values
        .iter()
        .map(|&p| f.ty(p).cloned().ok_or_else(|| "an untyped parameter".to_string()))
        .collect()
}

fn slots_of(ty: &Ty) -> Result<Vec<Slot>, String> {
    layout::slots(ty).map_err(|_| "a type without a layout".to_string())
}

/// The internal signature of `f`: `(ctx, params…) -> (status, result…)`.
pub fn signature(module: &JITModule, f: &Func) -> Result<Signature, String> {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(types::I64));
    for ty in param_tys(f)? {
        sig.params
            .extend(slots_of(&ty)?.iter().map(|s| AbiParam::new(s.clif())));
    }
    sig.returns.push(AbiParam::new(types::I8));
    sig.returns
        .extend(slots_of(&result_ty(f))?.iter().map(|s| AbiParam::new(s.clif())));
    Ok(sig)
}

/// The lowering state of one function.
pub struct FnLower<'a, 'b> {
    pub b: FunctionBuilder<'b>,
    pub env: ModuleEnv<'a>,
    pub program: &'a Program,
    pub func: &'a Func,
    vals: Vec<Option<Vec<CVal>>>,
    ctx: CVal,
    refs: HashMap<ClifId, FuncRef>,
    err_exit: Option<ir::Block>,
}

/// Lowers `f` into the function that `b` builds; `b` must be fresh.
pub fn lower_function<'a>(
    mut b: FunctionBuilder<'_>,
    env: ModuleEnv<'a>,
    program: &'a Program,
    f: FuncId,
) -> Result<(), String> {
    let func = program.func(f).ok_or("a missing function")?;
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (&ctx, mut rest) = params.split_first().ok_or("no context parameter")?;
    let frontend = env.module.target_config();
    let mut l = FnLower {
        b,
        env,
        program,
        func,
        vals: vec![None; func.values.len()],
        ctx,
        refs: HashMap::new(),
        err_exit: None,
    };
    for (&p, ty) in func.param_values.iter().zip(param_tys(func)?) {
        let w = layout::width(&ty);
        let (mine, others) = rest.split_at_checked(w).ok_or("too few parameters")?;
        l.bind(p, mine.to_vec());
        rest = others;
    }
    let mark = if list::makes_lists(&func.body) {
        let m = l.helper("diffl_list_mark", &[ctx])?;
        Some(*m.first().ok_or("no mark")?)
    } else {
        None
    };
    let rty = result_ty(func);
    let mut ys = l.block(&func.body, std::slice::from_ref(&rty))?;
    if let Some(m) = mark {
        l.helper("diffl_list_release", &[ctx, m])?;
    }
    let ok = l.b.ins().iconst(types::I8, 0);
    ys.insert(0, ok);
    l.b.ins().return_(&ys);
    l.finish_err_exit(&rty)?;
    l.b.seal_all_blocks();
    l.b.finalize(frontend);
    Ok(())
}

impl FnLower<'_, '_> {
    pub fn bind(&mut self, v: Value, vals: Vec<CVal>) {
        if let Some(slot) = self.vals.get_mut(v.0 as usize) {
            *slot = Some(vals);
        }
    }

    pub fn ty(&self, v: Value) -> Result<&Ty, String> {
        self.func
            .ty(v)
            .ok_or_else(|| format!("value %{} has no type", v.0))
    }

    /// The context pointer, the first parameter of every compiled function.
    pub fn ctx_value(&self) -> CVal {
        self.ctx
    }

    /// The slots of `v`.
    pub fn slots_of_value(&self, v: Value) -> Result<&[CVal], String> {
        self.vals(v)
    }

    fn vals(&self, v: Value) -> Result<&[CVal], String> {
        self.vals
            .get(v.0 as usize)
            .and_then(|x| x.as_deref())
            .ok_or_else(|| format!("value %{} is used before it is defined", v.0))
    }

    /// The one slot of a scalar value, and its dtype.
    pub fn scalar(&self, v: Value) -> Result<(CVal, DType), String> {
        let dtype = match self.ty(v)? {
            Ty::Tensor(t) if t.shape.is_scalar() => t.dtype,
            _ => return Err(format!("value %{} is not a scalar", v.0)),
        };
        match self.vals(v)? {
            [x] => Ok((*x, dtype)),
            _ => Err(format!("value %{} does not have one slot", v.0)),
        }
    }

    /// The slots of `v` as a value of type `to` (a `never` value becomes zeros).
    pub fn get_as(&mut self, v: Value, to: &Ty) -> Result<Vec<CVal>, String> {
        let from = self.ty(v)?.clone();
        if from == Ty::Never {
            return self.zeros(to);
        }
        let vals = self.vals(v)?.to_vec();
        self.convert(&vals, &from, to)
    }

    /// Re-lays `vals` (of type `from`) out as type `to`: they agree but for
    /// `never` parts, which become zeros.
    pub fn convert(&mut self, vals: &[CVal], from: &Ty, to: &Ty) -> Result<Vec<CVal>, String> {
        if from == to {
            return Ok(vals.to_vec());
        }
        if *from == Ty::Never {
            return self.zeros(to);
        }
        let (fp, tp) = (layout::part_types(from), layout::part_types(to));
        if layout::is_leaf(from) || layout::is_leaf(to) {
            let same = slots_of(from)? == slots_of(to)?;
            return if same {
                Ok(vals.to_vec())
            } else {
                Err("values of different types meet".into())
            };
        }
        if fp.len() != tp.len() {
            return Err("aggregates of different shapes meet".into());
        }
        let mut out = Vec::new();
        let mut at = 0;
        for (f, t) in fp.into_iter().zip(tp) {
            let w = layout::width(f);
            let part = vals.get(at..at + w).ok_or("too few slots")?;
            out.extend(self.convert(part, f, t)?);
            at += w;
        }
        Ok(out)
    }

    /// Zero slots of type `ty` (the value of `undef`).
    pub fn zeros(&mut self, ty: &Ty) -> Result<Vec<CVal>, String> {
        Ok(slots_of(ty)?.into_iter().map(|s| self.zero(s)).collect())
    }

    fn zero(&mut self, s: Slot) -> CVal {
        match s {
            Slot::Bool => self.b.ins().iconst(types::I8, 0),
            Slot::I64 => self.b.ins().iconst(types::I64, 0),
            Slot::F32 => self.b.ins().f32const(0.0),
            Slot::F64 => self.b.ins().f64const(0.0),
        }
    }

    /// Lowers the instructions of `block` (its parameters already bound) and
    /// returns its yields laid out as `tys`.
    pub fn block(&mut self, block: &Block, tys: &[Ty]) -> Result<Vec<CVal>, String> {
        for inst in &block.insts {
            self.inst(inst)?;
        }
        if block.yields.len() != tys.len() && !(block.yields.is_empty() && tys.iter().all(Ty::is_unit)) {
            return Err("a block yields the wrong number of values".into());
        }
        let mut out = Vec::new();
        for (&y, ty) in block.yields.iter().zip(tys) {
            out.extend(self.get_as(y, ty)?);
        }
        Ok(out)
    }

    /// Binds the slots `vals` (laid out as `tys`) to `values`, in order.
    pub fn bind_all(&mut self, values: &[Value], tys: &[Ty], vals: &[CVal]) -> Result<(), String> {
        let mut at = 0;
        for (&v, ty) in values.iter().zip(tys) {
            let w = layout::width(ty);
            let part = vals.get(at..at + w).ok_or("too few slots")?.to_vec();
            let to = self.ty(v)?.clone();
            let part = self.convert(&part, ty, &to)?;
            self.bind(v, part);
            at += w;
        }
        Ok(())
    }

    /// The types of `values`.
    pub fn tys(&self, values: &[Value]) -> Result<Vec<Ty>, String> {
        values.iter().map(|&v| self.ty(v).cloned()).collect()
    }

    fn inst(&mut self, inst: &Inst) -> Result<(), String> {
        let result = inst.results.first().copied();
        let rty = match result {
            Some(r) => self.ty(r)?.clone(),
            None => Ty::unit(),
        };
        let arg = |i: usize| inst.args.get(i).copied().ok_or("a missing operand");
        let vals = match &inst.kind {
            InstKind::Const(c) => self.constant(c, &rty)?,
            InstKind::Prim(p) => vec![self.prim(p, inst)?],
            InstKind::Call(g) => return self.call(*g, inst),
            InstKind::BuiltinRef(_) => Vec::new(),
            InstKind::Closure(_) | InstKind::Tuple | InstKind::Record(_) => {
                let parts: Vec<Ty> = layout::part_types(&rty).into_iter().cloned().collect();
                if parts.len() != inst.args.len() {
                    return Err("an aggregate of the wrong size".into());
                }
                let mut out = Vec::new();
                for (&a, t) in inst.args.iter().zip(&parts) {
                    out.extend(self.get_as(a, t)?);
                }
                out
            }
            InstKind::CaptureGet(i) | InstKind::TupleGet(i) | InstKind::RecordGet(i) => {
                let a = arg(0)?;
                let aty = self.ty(a)?.clone();
                let range = layout::part_range(&aty, *i as usize).ok_or("a projection out of range")?;
                let part_ty = layout::part_types(&aty)
                    .get(*i as usize)
                    .map(|t| (*t).clone())
                    .ok_or("a projection out of range")?;
                let all = self.vals(a)?.to_vec();
                let part = all.get(range).ok_or("a projection out of range")?.to_vec();
                self.convert(&part, &part_ty, &rty)?
            }
            InstKind::Derive(_) => {
                let a = arg(0)?;
                let v = self.vals(a)?.to_vec();
                if v.len() != layout::width(&rty) {
                    return Err("a derivative of another layout".into());
                }
                v
            }
            InstKind::If { then, else_ } => return self.lower_if(inst, then, else_),
            InstKind::For { body } => return self.lower_for(inst, body),
            InstKind::While { cond, body } => return self.lower_while(inst, cond, body),
            InstKind::ListNew | InstKind::ListPush | InstKind::ListGet | InstKind::ListLen => {
                self.list_inst(inst, &rty)?
            }
            InstKind::Builtin(_) | InstKind::CallValue { .. } | InstKind::Field(_) => {
                return Err("an instruction without a lowering".into());
            }
        };
        if let Some(r) = result {
            self.bind(r, vals);
        }
        Ok(())
    }

    /// A constant, converted to its type as the interpreter converts it.
    fn constant(&mut self, c: &Const, ty: &Ty) -> Result<Vec<CVal>, String> {
        let slot = match ty {
            Ty::Tensor(t) if t.shape.is_scalar() => Some(Slot::of(t.dtype)),
            _ => None,
        };
        Ok(vec![match (c, slot) {
            (Const::Unit, _) => return Ok(Vec::new()),
            (Const::Undef, _) => return self.zeros(ty),
            (Const::Int(i), Some(Slot::I64)) => self.b.ins().iconst(types::I64, *i),
            (Const::Int(i), Some(Slot::F32)) => self.b.ins().f32const((*i as f64) as f32),
            (Const::Int(i), Some(Slot::F64)) => self.b.ins().f64const(*i as f64),
            (Const::Float(f), Some(Slot::F32)) => self.b.ins().f32const(*f as f32),
            (Const::Float(f), Some(Slot::F64)) => self.b.ins().f64const(*f),
            (Const::Float(f), Some(Slot::I64)) => self.b.ins().iconst(types::I64, *f as i64),
            (Const::Float(f), Some(Slot::Bool)) => self.b.ins().iconst(types::I8, i64::from(*f != 0.0)),
            (Const::Bool(b), Some(Slot::Bool)) => self.b.ins().iconst(types::I8, i64::from(*b)),
            _ => return Err("a constant whose type does not fit it".into()),
        }])
    }

    fn func_ref(&mut self, id: ClifId) -> FuncRef {
        if let Some(r) = self.refs.get(&id) {
            return *r;
        }
        let r = self.env.module.declare_func_in_func(id, self.b.func);
        self.refs.insert(id, r);
        r
    }

    /// Calls the Rust helper `name`.
    pub fn helper(&mut self, name: &str, args: &[CVal]) -> Result<Vec<CVal>, String> {
        let id = *self
            .env
            .helpers
            .get(name)
            .ok_or_else(|| format!("no helper `{name}`"))?;
        let r = self.func_ref(id);
        let call = self.b.ins().call(r, args);
        Ok(self.b.inst_results(call).to_vec())
    }

    /// Records a place that can fail; its index goes into the error slot.
    pub fn site(&mut self, span: Span, callee: Option<Symbol>) -> i64 {
        self.env.sites.push(Site { span, callee });
        (self.env.sites.len() - 1) as i64
    }

    /// The block that returns a non-zero status (the error is already recorded).
    fn err_exit(&mut self) -> ir::Block {
        if let Some(b) = self.err_exit {
            return b;
        }
        let b = self.b.create_block();
        self.b.set_cold_block(b);
        self.err_exit = Some(b);
        b
    }

    fn finish_err_exit(&mut self, rty: &Ty) -> Result<(), String> {
        let Some(b) = self.err_exit else { return Ok(()) };
        self.b.switch_to_block(b);
        let mut out = vec![self.b.ins().iconst(types::I8, 1)];
        out.extend(self.zeros(rty)?);
        self.b.ins().return_(&out);
        Ok(())
    }

    /// Returns the status `status` to the caller when it is non-zero.
    fn propagate(&mut self, status: CVal) {
        let exit = self.err_exit();
        let cont = self.b.create_block();
        self.b.ins().brif(status, exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Fails with error `code` at `site` when `cond` is true; `payload` is
    /// recorded with it.
    pub fn fail_if(&mut self, cond: CVal, code: i64, site: i64, payload: Option<CVal>) {
        let fail = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(fail);
        self.b.ins().brif(cond, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        let flags = MemFlagsData::trusted();
        let c = self.b.ins().iconst(types::I64, code);
        let s = self.b.ins().iconst(types::I64, site);
        self.b.ins().store(flags, c, self.ctx, offset::ERR_CODE);
        self.b.ins().store(flags, s, self.ctx, offset::ERR_SITE);
        if let Some(p) = payload {
            self.b.ins().store(flags, p, self.ctx, offset::ERR_PAYLOAD);
        }
        let exit = self.err_exit();
        self.b.ins().jump(exit, &[]);
        self.b.switch_to_block(cont);
    }

    /// Counts a call or loop iteration; every 1024th checks the deadline and
    /// the interrupt flag, as the interpreter does.
    pub fn tick(&mut self, site: i64) -> Result<(), String> {
        let flags = MemFlagsData::trusted();
        let t = self.b.ins().load(types::I64, flags, self.ctx, offset::TICKS);
        let t1 = self.b.ins().iadd_imm_s(t, 1);
        self.b.ins().store(flags, t1, self.ctx, offset::TICKS);
        let low = self.b.ins().band_imm_u(t1, 1023);
        let poll = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(poll);
        self.b.ins().brif(low, cont, &[], poll, &[]);
        self.b.switch_to_block(poll);
        let s = self.b.ins().iconst(types::I64, site);
        self.helper("diffl_poll_preserving_registers", &[self.ctx, s])?;
        let stop = self.b.ins().load(types::I64, flags, self.ctx, offset::ERR_CODE);
        let exit = self.err_exit();
        self.b.ins().brif(stop, exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
        Ok(())
    }

    /// A direct call of a compiled function, with the interpreter's depth limit.
    fn call(&mut self, g: FuncId, inst: &Inst) -> Result<(), String> {
        let program = self.program;
        let callee = program.func(g).ok_or("a call of a missing function")?;
        let id = *self
            .env
            .funcs
            .get(&g)
            .ok_or("a call of a function that is not compiled")?;
        if inst.args.len() != callee.param_values.len() {
            return Err("a call with the wrong number of arguments".into());
        }
        let mut args = vec![self.ctx];
        for (&a, &p) in inst.args.iter().zip(&callee.param_values) {
            let pty = callee.ty(p).ok_or("an untyped parameter")?.clone();
            args.extend(self.get_as(a, &pty)?);
        }
        let site = self.site(inst.span, Some(callee.name));
        let flags = MemFlagsData::trusted();
        let depth = self.b.ins().load(types::I64, flags, self.ctx, offset::DEPTH);
        let too_deep = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, depth, MAX_DEPTH as i64);
        self.fail_if(too_deep, code::DEPTH, site, None);
        self.tick(site)?;
        let deeper = self.b.ins().iadd_imm_s(depth, 1);
        self.b.ins().store(flags, deeper, self.ctx, offset::DEPTH);
        let r = self.func_ref(id);
        let call = self.b.ins().call(r, &args);
        let results = self.b.inst_results(call).to_vec();
        self.b.ins().store(flags, depth, self.ctx, offset::DEPTH);
        let (&status, rest) = results.split_first().ok_or("a call without a status")?;
        self.propagate(status);
        if let Some(&res) = inst.results.first() {
            let to = self.ty(res)?.clone();
            let vals = self.convert(rest, &result_ty(callee), &to)?;
            self.bind(res, vals);
        }
        Ok(())
    }

    /// Jumps to `target` passing `args`.
    pub fn jump(&mut self, target: ir::Block, args: &[CVal]) {
        let args: Vec<BlockArg> = args.iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(target, &args);
    }

    /// A new block whose parameters hold values laid out as `tys`.
    pub fn block_with_params(&mut self, tys: &[Ty]) -> Result<ir::Block, String> {
        let blk = self.b.create_block();
        for ty in tys {
            for s in slots_of(ty)? {
                self.b.append_block_param(blk, s.clif());
            }
        }
        Ok(blk)
    }
}

/// The entry wrapper of a compiled function: loads the arguments from an
/// array of `u64` slots, calls it, stores the results and returns the status
/// (see `abi::EntryFn`).
pub fn lower_entry(
    mut b: FunctionBuilder<'_>,
    module: &mut JITModule,
    f: &Func,
    internal: ClifId,
) -> Result<(), String> {
    let blk = b.create_block();
    b.append_block_params_for_function_params(blk);
    b.switch_to_block(blk);
    let (ctx, args, out) = match b.block_params(blk) {
        &[c, a, o] => (c, a, o),
        _ => return Err("the entry wrapper's signature".into()),
    };
    let flags = MemFlagsData::trusted();
    let mut call_args = vec![ctx];
    let mut k = 0i32;
    for ty in param_tys(f)? {
        for s in slots_of(&ty)? {
            call_args.push(b.ins().load(s.clif(), flags, args, 8 * k));
            k += 1;
        }
    }
    let r = module.declare_func_in_func(internal, b.func);
    let call = b.ins().call(r, &call_args);
    let results = b.inst_results(call).to_vec();
    let (&status, rest) = results.split_first().ok_or("no status")?;
    for (i, &v) in rest.iter().enumerate() {
        b.ins().store(flags, v, out, 8 * i as i32);
    }
    let status = b.ins().uextend(types::I64, status);
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
    Ok(())
}

/// The signature of every entry wrapper.
pub fn entry_signature(module: &JITModule) -> Signature {
    let mut sig = module.make_signature();
    sig.params.extend([AbiParam::new(types::I64); 3]);
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

//! The compiled module of one specialized program: which functions it holds,
//! their code (compiled once per specialization, kept for the whole run),
//! how the interpreter enters them, and what compiling cost.

use super::abi::{self, Ctx, EntryFn, Site};
use super::layout;
use super::lower::{self, ModuleEnv};
use super::select::{Selection, select};
use crate::backend::interp::{RunError, Val};
use crate::backend::{CallEnv, Native};
use crate::diag::Diagnostic;
use crate::ir::types::{StructNames, Ty};
use crate::ir::{FuncId, Program};
use crate::syntax::Span;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId as ClifId, Linkage, Module, default_libcall_names};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the interpreter enters one compiled function.
struct Entry {
    code: EntryFn,
    params: Vec<Ty>,
    result: Ty,
    result_width: usize,
}

/// What was compiled, what was not and why, and the time it took.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Each compiled specialization (`name(types) -> type`) and its compile time.
    pub compiled: Vec<(String, Duration)>,
    /// Each specialization left to the interpreter, and why.
    pub interpreted: Vec<(String, String)>,
    /// Linking the module (after every function is compiled).
    pub link: Duration,
    /// Everything: selection, lowering, compiling, linking.
    pub total: Duration,
}

impl Report {
    /// Writes the report to stderr as `--timings` lines.
    pub fn print(&self) {
        use crate::backend::staged::millis;
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for (name, t) in &self.compiled {
            let _ = writeln!(err, "timings: jit compiled {name} in {}", millis(*t));
        }
        for (name, why) in &self.interpreted {
            let _ = writeln!(err, "timings: jit left {name} to the interpreter: it {why}");
        }
        let _ = writeln!(
            err,
            "timings: jit compiled {} of {} specializations in {} (linking {})",
            self.compiled.len(),
            self.compiled.len() + self.interpreted.len(),
            millis(self.total),
            millis(self.link)
        );
    }
}

/// Native code for the compilable functions of a program (see `select`).
pub struct Jit {
    module: Option<JITModule>,
    entries: HashMap<FuncId, Entry>,
    sites: Vec<Site>,
    report: Report,
    /// Fused elementwise groups compiled while the program runs (the
    /// interpreter asks for them when it first runs a function).
    fused: Mutex<FusedReport>,
}

/// How many fused groups became native loops, and the time they took.
#[derive(Clone, Copy, Debug, Default)]
pub struct FusedReport {
    pub compiled: usize,
    /// Groups looked at, compiled or not.
    pub tried: usize,
    pub time: Duration,
}

impl FusedReport {
    /// Writes the report to stderr as a `--timings` line.
    pub fn print(&self) {
        use crate::backend::staged::millis;
        eprintln!(
            "timings: jit compiled {} of {} fused elementwise groups to native loops in {}",
            self.compiled,
            self.tried,
            millis(self.time)
        );
    }
}

/// Why one attempt to build the module stopped.
enum Stop {
    /// This function could not be lowered or compiled: leave it (and its
    /// callers) to the interpreter and try again.
    Function(FuncId, String),
    /// The host cannot run compiled code at all.
    Host(String),
}

impl Jit {
    /// Compiles every compilable function of `program`. Fails only when the
    /// host machine cannot run Cranelift's code.
    pub fn compile(program: &Program) -> Result<Jit, String> {
        let start = Instant::now();
        let mut excluded = BTreeMap::new();
        loop {
            let sel = select(program, &excluded);
            match build(program, &sel) {
                Ok(mut jit) => {
                    jit.report.interpreted = sel
                        .interpreted
                        .iter()
                        .map(|(&f, why)| (describe(program, f), why.clone()))
                        .collect();
                    jit.report.total = start.elapsed();
                    return Ok(jit);
                }
                Err(Stop::Function(f, why)) => {
                    excluded.insert(f, format!("cannot be compiled: {why}"));
                }
                Err(Stop::Host(why)) => return Err(why),
            }
        }
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The fused groups compiled so far.
    pub fn fused_report(&self) -> FusedReport {
        self.fused.lock().map(|r| *r).unwrap_or_default()
    }

    /// Whether `f` runs as compiled code.
    pub fn is_compiled(&self, f: FuncId) -> bool {
        self.entries.contains_key(&f)
    }

    fn run(&self, e: &Entry, args: &[Val], env: &CallEnv) -> Result<Val, RunError> {
        let bad = |m: String| Diagnostic::internal(Span::default(), format!("calling compiled code: {m}"));
        if args.len() != e.params.len() {
            return Err(bad("wrong number of arguments".into()));
        }
        let mut slots = Vec::new();
        for (a, ty) in args.iter().zip(&e.params) {
            layout::write_val(a, ty, &mut slots).map_err(bad)?;
        }
        let mut out = vec![0u64; e.result_width];
        let mut ctx = Ctx::new(env);
        // SAFETY: `code` is the entry wrapper of a function defined and
        // finalized in `self.module`, which lives as long as `self`. It reads
        // one slot per parameter slot and writes one per result slot, the
        // layouts `slots` and `out` were sized from; `ctx` outlives the call.
        let status = unsafe { (e.code)(&mut ctx, slots.as_ptr(), out.as_mut_ptr()) };
        if status != 0 {
            return Err(abi::error_of(&ctx, &self.sites));
        }
        Ok(layout::read_val(&e.result, &mut out.into_iter()))
    }
}

impl Native for Jit {
    fn call(&self, f: FuncId, args: &[Val], env: &CallEnv) -> Option<Result<Val, RunError>> {
        let e = self.entries.get(&f)?;
        Some(self.run(e, args, env))
    }

    fn compile_fused(
        &self,
        dtype: crate::runtime::DType,
        input_bools: &[bool],
        input_scalars: &[bool],
        steps: &[crate::runtime::fused::FusedStep],
        outputs: &[usize],
    ) -> Option<crate::runtime::fused::NativeLoop> {
        let start = Instant::now();
        let compiled = super::fused::compile_group(dtype, input_bools, input_scalars, steps, outputs);
        if let Ok(mut r) = self.fused.lock() {
            r.tried += 1;
            r.compiled += usize::from(compiled.is_some());
            r.time += start.elapsed();
        }
        compiled
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the only pointers into the module's memory are the
            // entries of `self`, which go away with it.
            unsafe { m.free_memory() };
        }
    }
}

/// `name(param types) -> result type` of a specialization.
pub fn describe(program: &Program, f: FuncId) -> String {
    let Some(func) = program.func(f) else {
        return "?".into();
    };
    let names = program as &dyn StructNames;
    let params: Vec<String> = func.param_tys().iter().map(|t| t.describe(names)).collect();
    format!(
        "{}({}) -> {}",
        func.name,
        params.join(", "),
        lower::result_ty(func).describe(names)
    )
}

/// The code generator for this machine, made once per process.
fn isa() -> Result<cranelift_codegen::isa::OwnedTargetIsa, String> {
    static ISA: std::sync::OnceLock<Result<cranelift_codegen::isa::OwnedTargetIsa, String>> =
        std::sync::OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        for (k, v) in [
            ("opt_level", "speed"),
            ("enable_multi_ret_implicit_sret", "true"),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
        ] {
            flags.set(k, v).map_err(|e| e.to_string())?;
        }
        cranelift_native::builder()
            .map_err(|e| format!("this machine is not supported by Cranelift: {e}"))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
}

pub(super) fn new_module() -> Result<JITModule, String> {
    let mut jb = JITBuilder::with_isa(isa()?, default_libcall_names());
    for h in abi::helpers() {
        jb.symbol(h.name, h.addr);
    }
    Ok(JITModule::new(jb))
}

/// One attempt at compiling the selected functions into a fresh module.
fn build(program: &Program, sel: &Selection) -> Result<Jit, Stop> {
    let mut module = new_module().map_err(Stop::Host)?;
    let r = define_all(program, sel, &mut module);
    match r {
        Ok((entries, sites, mut report)) => {
            let t = Instant::now();
            if let Err(e) = module.finalize_definitions() {
                // SAFETY: no code of this module has been handed out.
                unsafe { module.free_memory() };
                return Err(Stop::Host(e.to_string()));
            }
            report.link = t.elapsed();
            let entries = entries
                .into_iter()
                .map(|(f, (id, params, result))| {
                    let ptr = module.get_finalized_function(id);
                    // SAFETY: `id` is an entry wrapper, defined with
                    // `entry_signature`, which is the C ABI of `EntryFn`.
                    let code = unsafe { std::mem::transmute::<*const u8, EntryFn>(ptr) };
                    let result_width = layout::width(&result);
                    let e = Entry {
                        code,
                        params,
                        result,
                        result_width,
                    };
                    (f, e)
                })
                .collect();
            Ok(Jit {
                module: Some(module),
                entries,
                sites,
                report,
                fused: Mutex::default(),
            })
        }
        Err(stop) => {
            // SAFETY: nothing of this module was finalized or handed out.
            unsafe { module.free_memory() };
            Err(stop)
        }
    }
}

/// `diffl_poll` behind a function that keeps every register (Cranelift's
/// `preserve_all` convention). Loops poll every 1024th iteration; with a
/// plain call there, every float a loop carries would live in memory for
/// the whole loop (the C convention keeps no float register), which puts a
/// store and a load on each step of, say, a reverse sweep's adjoint chain.
/// It returns nothing: the caller reads `Ctx::err_code`, which `diffl_poll`
/// sets when the run must stop.
fn define_poll_preserving_registers(
    module: &mut JITModule,
    helpers: &HashMap<&'static str, ClifId>,
) -> Result<ClifId, Stop> {
    use cranelift_codegen::ir::{AbiParam, InstBuilder, types};
    let host = |e: String| Stop::Host(e);
    let &poll = helpers
        .get("diffl_poll")
        .ok_or_else(|| host("no helper `diffl_poll`".into()))?;
    let mut sig = module.make_signature();
    sig.call_conv = cranelift_codegen::isa::CallConv::PreserveAll;
    sig.params
        .extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
    let id = module
        .declare_function("poll_preserving_registers", Linkage::Local, &sig)
        .map_err(|e| host(e.to_string()))?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let callee = module.declare_func_in_func(poll, b.func);
    b.ins().call(callee, &params);
    b.ins().return_(&[]);
    b.finalize(module.target_config());
    module
        .define_function(id, &mut ctx)
        .map_err(|e| host(format!("{e:?}")))?;
    Ok(id)
}

type Defined = (HashMap<FuncId, (ClifId, Vec<Ty>, Ty)>, Vec<Site>, Report);

fn define_all(program: &Program, sel: &Selection, module: &mut JITModule) -> Result<Defined, Stop> {
    let host = |e: cranelift_module::ModuleError| Stop::Host(e.to_string());
    let mut helpers = HashMap::new();
    for h in abi::helpers() {
        let mut sig = module.make_signature();
        sig.params
            .extend(h.params.iter().map(|&t| cranelift_codegen::ir::AbiParam::new(t)));
        sig.returns
            .extend(h.returns.iter().map(|&t| cranelift_codegen::ir::AbiParam::new(t)));
        let id = module
            .declare_function(h.name, Linkage::Import, &sig)
            .map_err(host)?;
        helpers.insert(h.name, id);
    }
    let poll = define_poll_preserving_registers(module, &helpers)?;
    helpers.insert("diffl_poll_preserving_registers", poll);
    let mut funcs = HashMap::new();
    let mut wrappers = HashMap::new();
    for &f in &sel.compiled {
        let func = program.func(f).ok_or(Stop::Function(f, "missing".into()))?;
        let sig = lower::signature(module, func).map_err(|e| Stop::Function(f, e))?;
        let id = module
            .declare_function(&format!("f{}", f.0), Linkage::Local, &sig)
            .map_err(host)?;
        funcs.insert(f, id);
        let entry_sig = lower::entry_signature(module);
        let wid = module
            .declare_function(&format!("entry{}", f.0), Linkage::Local, &entry_sig)
            .map_err(host)?;
        wrappers.insert(f, wid);
    }
    let mut sites = Vec::new();
    let mut report = Report::default();
    let mut entries = HashMap::new();
    let mut ctx = module.make_context();
    for &f in &sel.compiled {
        let t = Instant::now();
        let (Some(&id), Some(&wid), Some(func)) = (funcs.get(&f), wrappers.get(&f), program.func(f)) else {
            return Err(Stop::Function(f, "not declared".into()));
        };
        let fail = |e: String| Stop::Function(f, e);
        module.clear_context(&mut ctx);
        ctx.func.signature = lower::signature(module, func).map_err(fail)?;
        let mut fctx = FunctionBuilderContext::new();
        let env = ModuleEnv {
            module,
            funcs: &funcs,
            helpers: &helpers,
            sites: &mut sites,
        };
        lower::lower_function(FunctionBuilder::new(&mut ctx.func, &mut fctx), env, program, f)
            .map_err(fail)?;
        module
            .define_function(id, &mut ctx)
            .map_err(|e| fail(format!("{e:?}")))?;
        module.clear_context(&mut ctx);
        ctx.func.signature = lower::entry_signature(module);
        let mut fctx = FunctionBuilderContext::new();
        lower::lower_entry(FunctionBuilder::new(&mut ctx.func, &mut fctx), module, func, id).map_err(fail)?;
        module
            .define_function(wid, &mut ctx)
            .map_err(|e| fail(format!("{e:?}")))?;
        report.compiled.push((describe(program, f), t.elapsed()));
        entries.insert(f, (wid, func.param_tys(), lower::result_ty(func)));
    }
    module.clear_context(&mut ctx);
    Ok((entries, sites, report))
}

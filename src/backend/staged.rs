//! Running an entry point stage by stage (see `ir::stage`) on the chosen
//! backend: run the first stage (already specialized), then for each later
//! stage read the type of the file its load reads, specialize it with the
//! values the previous stage returned, and run it. This is how
//! `let m = load(path)` gets the type of the value that was saved, even when
//! this same program saved it. With the JIT, each stage's program is
//! compiled before it runs and the interpreter calls the compiled functions.

use super::interp::data::{file_diagnostic, file_type};
use super::interp::{Interp, Val};
use super::jit::Jit;
use crate::diag::Diagnostic;
use crate::ir::shapes::Known;
use crate::ir::specialize::ArgInfo;
use crate::ir::stage::Stage;
use crate::ir::types::{DType, Ty};
use crate::ir::{FuncId, Program};
use crate::pipeline::{self, Options};
use crate::runtime::{Rng, Tensor};
use crate::syntax::Span;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Whether a run uses the JIT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JitUse {
    /// The interpreter alone (`--backend interp`, the REPL).
    #[default]
    Off,
    /// The JIT where Cranelift can generate code for this machine, the
    /// interpreter alone elsewhere (no `--backend` given).
    Preferred,
    /// The JIT, or an error (`--backend jit`).
    Required,
}

/// How every stage of a run is compiled and executed.
#[derive(Clone, Debug, Default)]
pub struct RunSettings {
    pub opts: Options,
    /// The folder relative file paths start from.
    pub base_dir: Option<PathBuf>,
    /// Seconds for the whole run, all stages together.
    pub timeout: Option<f64>,
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The random generator's seed (`--seed`; 0 when absent).
    pub seed: Option<u64>,
    /// Whether each stage is compiled with the JIT (mixed mode).
    pub jit: JitUse,
    /// Report compile times and the run time on stderr (`--timings`).
    pub timings: bool,
}

impl RunSettings {
    /// An interpreter for one stage: the time left of the run's timeout, and
    /// the generator where the previous stage left it.
    fn interp<'p>(
        &self,
        program: &'p Program,
        out: &'p mut dyn Write,
        started: Instant,
        rng: Rng,
        jit: Option<&'p Jit>,
    ) -> Interp<'p> {
        // A timeout too long for the clock (`inf`) is no deadline at all.
        let deadline = self.timeout.and_then(|t| {
            let d = std::time::Duration::try_from_secs_f64(t.max(0.0)).ok()?;
            Some((started.checked_add(d)?, t))
        });
        let mut i = Interp::new(program, out)
            .with_deadline(deadline)
            .with_base_dir(self.base_dir.clone())
            .with_rng(rng);
        if let Some(flag) = &self.interrupt {
            i = i.with_interrupt(flag.clone());
        }
        if let Some(jit) = jit {
            i = i.with_native(jit);
        }
        i
    }

    /// The compiled form of one stage's program, when the JIT is chosen.
    fn compile(&self, program: &Program) -> Result<Option<Jit>, Diagnostic> {
        if self.jit == JitUse::Off {
            return Ok(None);
        }
        let jit = match (self.jit, Jit::compile(program)) {
            (JitUse::Off | JitUse::Preferred, Err(_)) => return Ok(None),
            (_, Ok(jit)) => jit,
            (JitUse::Required, Err(e)) => {
                return Err(Diagnostic::error(
                    Span::default(),
                    format!("the jit backend cannot run here: {e}"),
                )
                .with_help("run with `--backend interp`"));
            }
        };
        if self.timings {
            jit.report().print();
        }
        Ok(Some(jit))
    }

    /// Reports, after a stage has run, the fused groups it compiled.
    fn report_fused(&self, jit: Option<&Jit>) {
        if let Some(report) = jit.map(Jit::fused_report)
            && self.timings
            && report.tried > 0
        {
            report.print();
        }
    }
}

/// Runs the stages of one entry point; `first` is its first stage,
/// specialized in `program`. Returns the entry's result.
pub fn run_stages(
    untyped: &Program,
    stages: &[Stage],
    program: &Program,
    first: FuncId,
    settings: &RunSettings,
    out: &mut dyn Write,
) -> Result<Val, Diagnostic> {
    let started = Instant::now();
    let result = run_all_stages(untyped, stages, program, first, settings, out, started);
    if settings.timings {
        let name = program.func(first).map(|x| x.name.as_str()).unwrap_or("?");
        eprintln!("timings: ran {name} in {}", millis(started.elapsed()));
    }
    result
}

fn run_all_stages(
    untyped: &Program,
    stages: &[Stage],
    program: &Program,
    first: FuncId,
    settings: &RunSettings,
    out: &mut dyn Write,
    started: Instant,
) -> Result<Val, Diagnostic> {
    let jit = settings.compile(program)?;
    let mut interp = settings.interp(
        program,
        out,
        started,
        Rng::new(settings.seed.unwrap_or(0)),
        jit.as_ref(),
    );
    let mut result = interp.call(first, Vec::new(), Span::default())?;
    settings.report_fused(jit.as_ref());
    let mut rng = interp.rng();
    let mut result_ty = program.func(first).map(|f| f.result_ty()).unwrap_or(Ty::Never);
    for stage in stages.iter().skip(1) {
        let (vals, tys) = match (result, result_ty) {
            (Val::Tuple(vs), Ty::Tuple(ts)) if vs.len() == ts.len() => (vs.to_vec(), ts),
            _ => {
                return Err(Diagnostic::internal(
                    Span::default(),
                    "a stage did not return the values of the next one",
                ));
            }
        };
        let loads = match stage.load {
            Some(site) => {
                let path = site.path_param.and_then(|i| vals.get(i));
                match path {
                    Some(Val::Str(p)) => {
                        let ty = file_type(site.npy, p, untyped, settings.base_dir.as_deref())
                            .map_err(|e| file_diagnostic(&e, site.span, settings.base_dir.as_deref()))?;
                        Some((site.span, ty))
                    }
                    // Not a string: specialization reports it at the call.
                    _ => None,
                }
            }
            None => None,
        };
        let args = vals
            .iter()
            .zip(tys)
            .map(|(v, ty)| ArgInfo { ty, known: known(v) })
            .collect();
        let (prog, f) = pipeline::specialize_stage(untyped, stage.func, args, loads, settings.opts)?;
        let jit = settings.compile(&prog)?;
        let mut interp = settings.interp(&prog, out, started, rng, jit.as_ref());
        result = interp.call(f, vals, Span::default())?;
        settings.report_fused(jit.as_ref());
        rng = interp.rng();
        result_ty = prog.func(f).map(|f| f.result_ty()).unwrap_or(Ty::Never);
    }
    Ok(result)
}

/// A duration as the `--timings` lines show it.
pub fn millis(d: std::time::Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The longest int vector passed on as a constant (a shape, not data).
const MAX_SHAPE: usize = 16;

/// What specialization may treat as a constant in a value passed between
/// stages: ints, bools, and shapes (int vectors and tuples of ints), as
/// they would have been had the entry not been cut.
fn known(v: &Val) -> Option<Known> {
    let int = |t: &Tensor| t.as_scalar_i64().filter(|_| t.dtype() == DType::I64);
    match v {
        Val::Tensor(t) if t.rank() == 0 => match t.dtype() {
            DType::I64 => int(t).map(Known::Int),
            DType::Bool => t.as_scalar_bool().map(Known::Bool),
            DType::F32 | DType::F64 => None,
        },
        Val::Tensor(t) if t.rank() == 1 && t.dtype() == DType::I64 && t.numel() <= MAX_SHAPE => {
            Some(Known::Ints(t.to_i64_vec()))
        }
        Val::Tuple(xs) if !xs.is_empty() && xs.len() <= MAX_SHAPE => xs
            .iter()
            .map(|x| x.as_tensor().and_then(int))
            .collect::<Option<Vec<i64>>>()
            .map(Known::Ints),
        _ => None,
    }
}

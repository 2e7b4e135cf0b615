//! The compiler pipeline in one place. Every pass is listed here, in order;
//! passes never call each other. In debug and test builds the verifier
//! re-checks the IR after every pass that produces it.
//!
//! ```text
//! source ─ load (parse each file) ─ lower ─ [verify] ─ split entries into stages
//!        ─ specialize (+ AD on demand) ─ optimize (CSE, DCE) ─ [verify] ─ interpret
//! ```
//!
//! An entry point with a top-level `load(path)` runs in stages (`ir::stage`):
//! each stage after the first is specialized ([`specialize_stage`]) once the
//! one before it has run, with the type read from the file it loads.

use crate::diag::Diagnostic;
use crate::front::{load, lower};
use crate::ir::specialize::{ArgInfo, SpecOptions, Specializer};
use crate::ir::stage::{Stage as EntryStage, split_entry};
use crate::ir::verify::{self, Stage};
use crate::ir::{DType, FuncId, Program, Ty};
use crate::syntax::{FileId, SourceMap, Span};
use std::collections::HashMap;

/// Choices that change how a program compiles.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The type of `float` and of float literals: f32, or f64 with `--f64`.
    pub default_float: DType,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            default_float: DType::F32,
        }
    }
}

/// Front end: load the main file and its imports, then lower to untyped IR.
/// Returns the program even when there are errors (with placeholders where
/// code was wrong), so that callers can run what is unaffected.
pub fn front_end(sources: &mut SourceMap, main: FileId) -> (Program, Vec<Diagnostic>) {
    let (modules, mut diags) = load::load_program(sources, main);
    let (program, lower_diags) = lower::lower_program(&modules, sources);
    diags.extend(lower_diags);
    if diags.is_empty() {
        diags.extend(check(&program, Stage::Untyped));
    }
    (program, diags)
}

/// The result of specializing several entry points into one typed program.
pub struct Specialized {
    pub program: Program,
    /// For each requested entry: its specialized function, or why it failed.
    pub entries: Vec<Result<FuncId, Diagnostic>>,
}

/// The specialized, optimized program of source text `src` (default
/// options) and its main body's function: what tests of the later stages
/// start from. Panics on any diagnostic.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
pub(crate) fn specialize_source(src: &str) -> (Program, FuncId) {
    let mut sources = SourceMap::new();
    let main = sources.add("test.dl", None, src);
    let (program, diags) = front_end(&mut sources, main);
    assert!(diags.is_empty(), "{diags:?}");
    let entry = program.main.unwrap();
    let spec = specialize(&program, &[entry], Options::default());
    let f = spec.entries.into_iter().next().unwrap().unwrap();
    (spec.program, f)
}

/// Specializes each entry point (main, test bodies: functions of no arguments).
pub fn specialize(untyped: &Program, entries: &[FuncId], opts: Options) -> Specialized {
    let mut s = Specializer::new(
        untyped,
        SpecOptions {
            default_float: opts.default_float,
        },
    );
    let results: Vec<Result<FuncId, Diagnostic>> = entries.iter().map(|&e| s.entry(e)).collect();
    let mut program = s.finish();
    crate::opt::optimize(&mut program);
    let problems = check(&program, Stage::Specialized);
    let entries = match problems.into_iter().next() {
        Some(d) => results.into_iter().map(|r| r.and(Err(d.clone()))).collect(),
        None => results,
    };
    Specialized { program, entries }
}

/// The stages of each entry point (see `ir::stage`), by the entry's first stage.
#[derive(Clone, Debug, Default)]
pub struct Stages(HashMap<FuncId, Vec<EntryStage>>);

impl Stages {
    /// The stages of the entry whose first stage is `first`.
    pub fn of(&self, first: FuncId) -> Vec<EntryStage> {
        self.0.get(&first).cloned().unwrap_or_else(|| {
            vec![EntryStage {
                func: first,
                load: None,
            }]
        })
    }
}

/// Cuts the main body and every test into stages at their top-level loads,
/// and makes each entry point its first stage: checking and printing see
/// the code up to the first such load, and running goes on with [`Stages`].
pub fn split_stages(p: &mut Program) -> Stages {
    let mut out = HashMap::new();
    if let Some(m) = p.main {
        let stages = split_entry(p, m);
        if let Some(first) = stages.first() {
            p.main = Some(first.func);
            out.insert(first.func, stages);
        }
    }
    for i in 0..p.tests.len() {
        let Some(f) = p.tests.get(i).map(|t| t.func) else {
            continue;
        };
        let stages = split_entry(p, f);
        if let (Some(first), Some(t)) = (stages.first(), p.tests.get_mut(i)) {
            t.func = first.func;
            out.insert(first.func, stages);
        }
    }
    Stages(out)
}

/// Specializes a later stage of an entry point, given its arguments and the
/// type of the file its first instruction loads.
pub fn specialize_stage(
    untyped: &Program,
    stage: FuncId,
    args: Vec<ArgInfo>,
    loads: Option<(Span, Ty)>,
    opts: Options,
) -> Result<(Program, FuncId), Diagnostic> {
    let mut s = Specializer::new(
        untyped,
        SpecOptions {
            default_float: opts.default_float,
        },
    );
    if let Some((span, ty)) = loads {
        s.set_file_type(span, ty);
    }
    let f = s.entry_with(stage, args)?;
    let mut program = s.finish();
    crate::opt::optimize(&mut program);
    if let Some(d) = check(&program, Stage::Specialized).into_iter().next() {
        return Err(d);
    }
    Ok((program, f))
}

/// Runs the verifier in debug and test builds; its findings are internal errors.
fn check(p: &Program, stage: Stage) -> Vec<Diagnostic> {
    if !cfg!(debug_assertions) {
        return Vec::new();
    }
    match verify::verify_program(p, stage) {
        Ok(()) => Vec::new(),
        Err(errs) => errs
            .into_iter()
            .map(|e| {
                Diagnostic::internal(
                    e.span,
                    format!("IR verifier ({:?}) in `{}`: {}", stage, e.func, e.message),
                )
            })
            .collect(),
    }
}

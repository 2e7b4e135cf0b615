//! The compiler pipeline in one place. Every pass is listed here, in order;
//! passes never call each other. In debug and test builds the verifier
//! re-checks the IR after every pass that produces it.
//!
//! ```text
//! source ─ load (parse each file) ─ lower ─ [verify] ─ specialize (+ AD on demand)
//!        ─ optimize (CSE, DCE) ─ [verify] ─ interpret
//! ```

use crate::diag::Diagnostic;
use crate::front::{load, lower};
use crate::ir::specialize::{SpecOptions, Specializer};
use crate::ir::verify::{self, Stage};
use crate::ir::{DType, FuncId, Program};
use crate::syntax::{FileId, SourceMap};

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

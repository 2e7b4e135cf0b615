//! Running specialized functions on the chosen backend: the interpreter
//! alone, or the interpreter calling the JIT's compiled functions (mixed
//! mode). With `--timings`, the compile time of each specialization and the
//! run time go to stderr.

use super::Backend;
use crate::backend::interp::{Interp, Val};
use crate::backend::jit::{Jit, Report};
use crate::diag::Diagnostic;
use crate::ir::{FuncId, Program};
use crate::syntax::Span;
use std::io::Write;
use std::time::{Duration, Instant};

/// The backends this version runs; `None` means "use the default".
pub fn check_backend(b: Option<Backend>) -> Result<Backend, String> {
    match b {
        None => Ok(Backend::Interp),
        Some(b @ (Backend::Interp | Backend::Jit)) => Ok(b),
        Some(Backend::Cuda) => Err(
            "the `cuda` backend is not available in this version of diffl; use `--backend interp` or `--backend jit`"
                .into(),
        ),
    }
}

/// A program ready to run on one backend.
pub struct Engine<'p> {
    program: &'p Program,
    jit: Option<Jit>,
    timings: bool,
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn print_report(r: &Report) {
    let mut err = std::io::stderr().lock();
    for (name, t) in &r.compiled {
        let _ = writeln!(err, "timings: jit compiled {name} in {}", ms(*t));
    }
    for (name, why) in &r.interpreted {
        let _ = writeln!(err, "timings: jit left {name} to the interpreter: it {why}");
    }
    let _ = writeln!(
        err,
        "timings: jit compiled {} of {} specializations in {} (linking {})",
        r.compiled.len(),
        r.compiled.len() + r.interpreted.len(),
        ms(r.total),
        ms(r.link)
    );
}

impl<'p> Engine<'p> {
    /// Prepares `program` for `backend` (compiling it for the JIT).
    pub fn new(program: &'p Program, backend: Backend, timings: bool) -> Result<Engine<'p>, String> {
        let jit = match backend {
            Backend::Jit => {
                let jit = Jit::compile(program)?;
                if timings {
                    print_report(jit.report());
                }
                Some(jit)
            }
            Backend::Interp | Backend::Cuda => None,
        };
        Ok(Engine {
            program,
            jit,
            timings,
        })
    }

    /// Calls `f`, a function of no arguments, printing to `out`.
    pub fn run(
        &self,
        f: FuncId,
        out: &mut dyn Write,
        timeout: Option<f64>,
        seed: Option<u64>,
    ) -> Result<Val, Diagnostic> {
        let start = Instant::now();
        let mut interp = Interp::new(self.program, out)
            .with_timeout(timeout)
            .with_seed(seed);
        if let Some(jit) = &self.jit {
            interp = interp.with_native(jit);
        }
        let r = interp.call(f, Vec::new(), Span::default());
        if self.timings {
            let name = self.program.func(f).map(|x| x.name.as_str()).unwrap_or("?");
            eprintln!("timings: ran {name} in {}", ms(start.elapsed()));
        }
        r
    }
}

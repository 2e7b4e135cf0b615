//! The subcommands. Each reads its files, runs the pipeline, prints results
//! to stdout and diagnostics to stderr, and returns the exit code.

use super::{Backend, RunOptions};
use crate::backend::staged::{JitUse, RunSettings, run_stages};
use crate::diag::{Diagnostic, render};
use crate::ir::stage::Stage;
use crate::ir::{DType, FuncId, Program};
use crate::pipeline::{self, Options};
use crate::syntax::{FileId, SourceMap, Span};
use std::io::{IsTerminal, Write};
use std::path::Path;

const EXIT_ERROR: i32 = 1;
const EXIT_USAGE: i32 = 2;

fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn report(diags: &[Diagnostic], sources: &SourceMap) {
    let color = color_stderr();
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = write!(err, "{}", render(d, sources, color));
    }
}

/// Reads the main file into a new source map.
fn load_file(path: &Path) -> Result<(SourceMap, FileId), i32> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut sources = SourceMap::new();
            let id = sources.add(path.display().to_string(), Some(path.to_path_buf()), text);
            Ok((sources, id))
        }
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            Err(EXIT_USAGE)
        }
    }
}

fn options(f64: bool) -> Options {
    Options {
        default_float: if f64 { DType::F64 } else { DType::F32 },
    }
}

/// The backends this version runs, or a usage error. `None` (no
/// `--backend`) is the JIT where Cranelift supports the machine, the
/// interpreter elsewhere.
fn check_backend(b: Option<Backend>) -> Result<JitUse, i32> {
    match b {
        None => Ok(JitUse::Preferred),
        Some(Backend::Jit) => Ok(JitUse::Required),
        Some(Backend::Interp) => Ok(JitUse::Off),
        Some(Backend::Cuda) => {
            eprintln!(
                "error: the `cuda` backend is not available in this version of diffl; use `--backend interp` or `--backend jit`"
            );
            Err(EXIT_USAGE)
        }
    }
}

/// Runs `f` on a thread with a large stack, so deep (but limited) recursion
/// in the interpreter never overflows.
fn with_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(s, f)
            .ok()
            .and_then(|h| h.join().ok())
    })
}

/// How to run the stages of a program read from `path`.
fn run_settings(path: &Path, opts: &RunOptions, jit: JitUse, seed: Option<u64>) -> RunSettings {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    RunSettings {
        opts: options(opts.f64),
        base_dir: Some(dir),
        timeout: opts.timeout,
        interrupt: None,
        seed,
        jit,
        timings: opts.timings,
    }
}

pub fn run(path: &Path, opts: &RunOptions, seed: Option<u64>) -> i32 {
    let backend = match check_backend(opts.backend) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let (mut sources, main) = match load_file(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (mut program, diags) = pipeline::front_end(&mut sources, main);
    if !diags.is_empty() {
        report(&diags, &sources);
        return EXIT_ERROR;
    }
    let stages = pipeline::split_stages(&mut program);
    let Some(entry) = program.main else { return 0 };
    let spec = pipeline::specialize(&program, &[entry], options(opts.f64));
    let f = match spec.entries.into_iter().next() {
        Some(Ok(f)) => f,
        Some(Err(d)) => {
            report(&[d], &sources);
            return EXIT_ERROR;
        }
        None => return 0,
    };
    let settings = run_settings(path, opts, backend, seed);
    let typed = spec.program;
    let result = with_big_stack(|| {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let r = run_stages(&program, &stages.of(entry), &typed, f, &settings, &mut out);
        let _ = out.flush();
        r.map(|_| ())
    });
    match result {
        Some(Ok(())) => 0,
        Some(Err(d)) => {
            report(&[d], &sources);
            EXIT_ERROR
        }
        None => {
            eprintln!("error: internal error: the interpreter thread failed");
            EXIT_ERROR
        }
    }
}

pub fn check(path: &Path, f64: bool) -> i32 {
    let (mut sources, main) = match load_file(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (mut program, mut diags) = pipeline::front_end(&mut sources, main);
    // Code after a top-level `load(path)` is compiled only once it runs.
    pipeline::split_stages(&mut program);
    if diags.is_empty() {
        let entries: Vec<FuncId> = program
            .main
            .into_iter()
            .chain(program.tests.iter().map(|t| t.func))
            .collect();
        let spec = pipeline::specialize(&program, &entries, options(f64));
        for e in spec.entries {
            if let Err(d) = e
                && !diags.contains(&d)
            {
                diags.push(d);
            }
        }
    }
    if diags.is_empty() {
        eprintln!("{}: no errors", path.display());
        0
    } else {
        report(&diags, &sources);
        eprintln!(
            "{}: {} error{}",
            path.display(),
            diags.len(),
            if diags.len() == 1 { "" } else { "s" }
        );
        EXIT_ERROR
    }
}

/// `diffl test FILE… [--stdlib]`: the tests of each file, and with `--stdlib`
/// those of every embedded standard-library module (named `stdlib/NAME.dl`).
pub fn test(files: &[std::path::PathBuf], stdlib: bool, opts: &RunOptions) -> i32 {
    let backend = match check_backend(opts.backend) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    if stdlib {
        for name in crate::front::load::stdlib_modules() {
            let text = crate::front::load::stdlib_source(name).unwrap_or_default();
            let mut sources = SourceMap::new();
            let main = sources.add(format!("stdlib/{name}.dl"), None, text);
            let (p, f) = test_file(sources, main, opts, backend);
            passed += p;
            failed += f;
        }
    }
    for path in files {
        let (p, f) = match load_file(path) {
            Ok((sources, main)) => test_file(sources, main, opts, backend),
            Err(_) => (0, 1),
        };
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 { EXIT_ERROR } else { 0 }
}

/// Runs the tests of one file; errors inside a test's body fail that test only.
fn test_file(mut sources: SourceMap, main: FileId, opts: &RunOptions, backend: JitUse) -> (usize, usize) {
    let (mut program, diags) = pipeline::front_end(&mut sources, main);
    let stages = pipeline::split_stages(&mut program);
    let file_path = sources.get(main).and_then(|f| f.path.clone()).unwrap_or_default();
    let settings = run_settings(&file_path, opts, backend, None);
    let name = sources.get(main).map(|f| f.name.clone()).unwrap_or_default();
    let inside = |d: &Diagnostic, s: Span| d.span.file == s.file && d.span.lo >= s.lo && d.span.hi <= s.hi;
    let outside: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| !program.tests.iter().any(|t| inside(d, t.span)))
        .cloned()
        .collect();
    if !outside.is_empty() {
        report(&outside, &sources);
        let n = program.tests.len().max(1);
        println!(
            "{name}: cannot run its tests: {} error(s) outside test blocks",
            outside.len()
        );
        return (0, n);
    }
    let runnable: Vec<FuncId> = program.tests.iter().map(|t| t.func).collect();
    let spec = pipeline::specialize(&program, &runnable, options(opts.f64));
    let (mut passed, mut failed) = (0, 0);
    for (t, entry) in program.tests.iter().zip(spec.entries) {
        let own: Vec<Diagnostic> = diags.iter().filter(|d| inside(d, t.span)).cloned().collect();
        let outcome = if !own.is_empty() {
            Err(own)
        } else {
            match entry {
                Err(d) => Err(vec![d]),
                Ok(f) => {
                    run_test(&program, &stages.of(t.func), &spec.program, f, &settings).map_err(|d| vec![d])
                }
            }
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} :: {} ... ok", t.name);
            }
            Err(ds) => {
                failed += 1;
                println!("test {name} :: {} ... FAILED", t.name);
                let _ = std::io::stdout().flush();
                report(&ds, &sources);
            }
        }
    }
    (passed, failed)
}

fn run_test(
    untyped: &Program,
    stages: &[Stage],
    program: &Program,
    f: FuncId,
    settings: &RunSettings,
) -> Result<(), Diagnostic> {
    let r = with_big_stack(|| {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        run_stages(untyped, stages, program, f, settings, &mut out).map(|_| ())
    });
    r.unwrap_or_else(|| {
        Err(Diagnostic::internal(
            Span::default(),
            "the interpreter thread failed",
        ))
    })
}

/// The derivative IR of every specialization of `name`: its gradient with
/// respect to all float arguments and the vector-Jacobian product it calls.
fn print_derivatives(program: &mut Program, name: &str) -> i32 {
    let copies: Vec<FuncId> = (0..program.funcs.len())
        .map(|i| FuncId(i as u32))
        .filter(|&f| program.func(f).is_some_and(|x| x.name.as_str() == name))
        .collect();
    if copies.is_empty() {
        eprintln!(
            "error: `{name}` is not called from the main body or the tests, so its argument types are unknown"
        );
        eprintln!("help: call it once (for example in a `test` block) to fix its argument types");
        return EXIT_ERROR;
    }
    let mut cache = crate::ad::reverse::VjpCache::new();
    for f in copies {
        let Some(func) = program.func(f) else { continue };
        let n_lead = func.n_captures;
        let wrt: Vec<usize> = func
            .param_values
            .iter()
            .skip(n_lead)
            .enumerate()
            .filter(|(_, p)| func.ty(**p).is_some_and(crate::ad::activity::differentiable))
            .map(|(i, _)| i)
            .collect();
        if wrt.is_empty() {
            continue;
        }
        let span = func.span;
        let mark = program.funcs.len();
        let kind = crate::ir::DerivKind::Grad {
            wrt,
            tuple: true,
            with_value: true,
        };
        if let Err(d) = crate::ad::api::derivative(program, f, &kind, n_lead, &mut cache, span) {
            eprintln!("error: {}", d.message);
            return EXIT_ERROR;
        }
        crate::opt::optimize(program);
        for i in mark..program.funcs.len() {
            print!("{}", crate::ir::print::print_func(program, FuncId(i as u32)));
        }
    }
    0
}

pub fn ir(path: &Path, name: &str, grad: bool, specialized: bool, f64: bool) -> i32 {
    let (mut sources, main) = match load_file(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (mut program, diags) = pipeline::front_end(&mut sources, main);
    if !diags.is_empty() {
        report(&diags, &sources);
        return EXIT_ERROR;
    }
    let Some(id) = program.find_func(name) else {
        let names: Vec<&str> = program
            .funcs
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !n.starts_with("lambda@") && !n.starts_with("test ") && !n.starts_with("default"))
            .collect();
        eprintln!("error: no function named `{name}` in {}", path.display());
        if let Some(h) = crate::diag::did_you_mean(name, names.iter().copied()) {
            eprintln!("help: {h}");
        } else {
            eprintln!("help: its functions are: {}", names.join(", "));
        }
        return EXIT_ERROR;
    };
    if !specialized && !grad {
        print!("{}", crate::ir::print::print_func(&program, id));
        return 0;
    }
    pipeline::split_stages(&mut program);
    let entries: Vec<FuncId> = program
        .main
        .into_iter()
        .chain(program.tests.iter().map(|t| t.func))
        .collect();
    let mut spec = pipeline::specialize(&program, &entries, options(f64));
    if grad {
        return print_derivatives(&mut spec.program, name);
    }
    let mut found = false;
    // Its specializations, then the derivatives the program takes of them
    // (`name'vjp`, `name'grad`, …), with the activity the program asks for.
    let derived = format!("{name}'");
    for (i, f) in spec.program.funcs.iter().enumerate() {
        if f.name.as_str() == name || f.name.as_str().starts_with(&derived) {
            found = true;
            print!(
                "{}",
                crate::ir::print::print_func(&spec.program, FuncId(i as u32))
            );
        }
    }
    if !found {
        eprintln!("`{name}` is not called from the main body or the tests, so it has no specialization");
    }
    0
}

/// `diffl grad FILE --fn NAME`: the gradient of `name` with respect to every
/// parameter (each a float scalar of the default float type), printed as
/// diffl source.
pub fn grad(path: &Path, name: &str, f64: bool) -> i32 {
    let (mut sources, main) = match load_file(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (program, diags) = pipeline::front_end(&mut sources, main);
    if !diags.is_empty() {
        report(&diags, &sources);
        return EXIT_ERROR;
    }
    let Some(func) = program.find_func(name).and_then(|id| program.func(id)) else {
        eprintln!("error: no function named `{name}` in {}", path.display());
        let names: Vec<&str> = program
            .funcs
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !n.starts_with("lambda@") && !n.starts_with("test ") && !n.starts_with("default"))
            .collect();
        if let Some(h) = crate::diag::did_you_mean(name, names.iter().copied()) {
            eprintln!("help: {h}");
        }
        return EXIT_ERROR;
    };
    let params: Vec<String> = func
        .params
        .iter()
        .skip(func.n_captures)
        .map(|p| p.name.as_str().to_string())
        .collect();
    if params.is_empty() {
        eprintln!("error: `{name}` has no parameters, so it has no gradient");
        return EXIT_ERROR;
    }
    // Specialize a probe that takes the gradient at float scalars.
    let mut probe = String::from("__grad_probe");
    while program.find_func(&probe).is_some() {
        probe.push('_');
    }
    let dtype = if f64 { "f64" } else { "f32" };
    let wrt = if params.len() == 1 {
        "0".to_string()
    } else {
        let idx: Vec<String> = (0..params.len()).map(|i| i.to_string()).collect();
        format!("({})", idx.join(", "))
    };
    let args = vec![format!("{dtype}(1.0)"); params.len()].join(", ");
    let text = sources.get(main).map(|f| f.text.clone()).unwrap_or_default();
    let text = format!("{text}\nfn {probe}() = grad({name}, wrt: {wrt})({args});\n");
    let mut sources = SourceMap::new();
    let main = sources.add(path.display().to_string(), Some(path.to_path_buf()), text);
    let (program, diags) = pipeline::front_end(&mut sources, main);
    if !diags.is_empty() {
        report(&diags, &sources);
        return EXIT_ERROR;
    }
    let Some(entry) = program.find_func(&probe) else {
        eprintln!("error: internal error: the gradient probe was not found");
        return EXIT_ERROR;
    };
    let spec = pipeline::specialize(&program, &[entry], options(f64));
    let probe_fn = match spec.entries.into_iter().next() {
        Some(Ok(f)) => f,
        Some(Err(d)) => {
            report(&[d], &sources);
            eprintln!("note: `diffl grad` differentiates functions whose parameters are all float scalars");
            return EXIT_ERROR;
        }
        None => return EXIT_ERROR,
    };
    let wanted = format!("{name}'grad");
    let deriv = spec.program.func(probe_fn).and_then(|f| {
        f.body.insts.iter().find_map(|inst| match inst.kind {
            crate::ir::InstKind::Call(id)
                if spec.program.func(id).is_some_and(|g| g.name.as_str() == wanted) =>
            {
                Some(id)
            }
            _ => None,
        })
    });
    let Some(deriv) = deriv else {
        eprintln!("error: internal error: the gradient of `{name}` was not built");
        return EXIT_ERROR;
    };
    let existing: std::collections::HashSet<String> = program
        .funcs
        .iter()
        .map(|f| f.name.as_str().to_string())
        .filter(|n| n != &probe)
        .collect();
    match crate::ad::source::function_to_source_beside(&spec.program, deriv, &existing) {
        Ok(src) => {
            let wrt_text = if params.len() == 1 {
                params.join("")
            } else {
                format!("({})", params.join(", "))
            };
            println!("// gradient of {name} with respect to {wrt_text}, generated by diffl");
            print!("{src}");
            0
        }
        Err(e) => {
            eprintln!("error: the gradient of `{name}`: {e}");
            EXIT_ERROR
        }
    }
}

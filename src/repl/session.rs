//! The accumulated program of a REPL session, and the evaluation of new input.
//!
//! The compiler works on whole files, so a session keeps text: every item
//! entered so far (`fn`, `struct`, `import`, `adjoint`, `test`; a later
//! definition of the same name replaces the earlier one) and every statement
//! entered so far (`let …;`, assignments, expression statements). A new input
//! is compiled as one file:
//!
//! ```text
//! <session items>
//! <the input's items>
//! fn __repl_main() {
//! <session statements>
//! <the input's statements and final expression>
//! }
//! ```
//!
//! and `__repl_main` is specialized and run; its result is the value of the
//! input's final expression (printed unless it is `()`). Earlier statements are
//! run again each time (simple and always consistent with the current items;
//! a long computation in an earlier statement is repeated). Their output is
//! not shown again: the session knows how many bytes its statements printed
//! when they first ran, and the writer drops that many bytes before passing
//! output through.
//!
//! Diagnostics are rendered against the input alone (a file named `<repl>`):
//! the compiled file records where each piece of the input was placed, and
//! spans inside those pieces are moved back onto the input. Input with an
//! error is not added to the session.

use crate::backend::interp::Val;
use crate::backend::staged::{JitUse, RunSettings, run_stages};
use crate::diag::{Diagnostic, Severity, render};
use crate::ir::stage::{Stage, split_entry};
use crate::ir::types::Ty;
use crate::ir::{DType, FuncId, Program};
use crate::pipeline::{self, Options};
use crate::syntax::ast::{ExprKind, Import, Item, StmtKind};
use crate::syntax::parser::parse_module;
use crate::syntax::{FileId, SourceMap, Span};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The name of the function that holds the session's statements.
pub const ENTRY: &str = "__repl_main";

/// One definition kept by the session.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemText {
    /// What a later definition replaces: `fn f`, `struct P`, `import nn`.
    pub key: String,
    /// The name it defines (for completion).
    pub name: String,
    pub text: String,
    /// Its offset in the input it came from.
    pub from: usize,
}

/// One input, split into its parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split {
    pub items: Vec<ItemText>,
    /// Statements, each with its terminating `;` when it had one, as
    /// (offset in the input, text).
    pub stmts: Vec<(usize, String)>,
    /// The final expression without `;`, if any: (offset in the input, text).
    pub tail: Option<(usize, String)>,
    /// Names bound by `let` statements (for completion).
    pub lets: Vec<String>,
}

/// A compiled session: the untyped program, the stages of its entry, and
/// the first stage specialized (`f` in `typed`).
struct Compiled {
    untyped: Program,
    stages: Vec<Stage>,
    typed: Program,
    f: FuncId,
    built: Built,
}

/// Where a piece of the input landed in the compiled file.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    at: usize,
    from: usize,
    len: usize,
}

/// A compiled file and the places of the input's pieces in it.
#[derive(Debug, Default, PartialEq)]
pub struct Built {
    pub text: String,
    pieces: Vec<Piece>,
}

/// Parses the input and splits it into items, statements and a final expression.
/// Syntax errors come back as diagnostics against `FileId(0)` (the input).
pub fn split(input: &str) -> Result<Split, Vec<Diagnostic>> {
    let (module, diags) = parse_module(input, FileId(0));
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    let text = |s: Span| -> (usize, String) {
        let lo = (s.lo as usize).min(input.len());
        let hi = with_semi(input, s.hi as usize);
        (lo, input.get(lo..hi).unwrap_or("").to_string())
    };
    let mut out = Split::default();
    for item in &module.items {
        let (key, name, span) = match item {
            Item::Fn(f) => (format!("fn {}", f.name.name), f.name.name.to_string(), f.span),
            Item::Struct(s) => (format!("struct {}", s.name.name), s.name.name.to_string(), s.span),
            Item::Import(Import::Module { name, alias, span }) => {
                let n = alias.as_ref().unwrap_or(name).name.to_string();
                (format!("import {n}"), n, *span)
            }
            Item::Import(Import::File { alias, span, .. }) => {
                (format!("import {}", alias.name), alias.name.to_string(), *span)
            }
            Item::Test(t) => (format!("test {}", t.name), String::new(), t.span),
            Item::Adjoint(a) => (format!("adjoint {}", a.name.name), String::new(), a.span),
        };
        let (from, text) = text(span);
        out.items.push(ItemText {
            key,
            name,
            text,
            from,
        });
    }
    let n = module.stmts.len();
    for (i, s) in module.stmts.iter().enumerate() {
        let (at, t) = text(s.span);
        if let StmtKind::Let { pat, .. } = &s.kind {
            collect_names(pat, &mut out.lets);
        }
        let is_last = i + 1 == n;
        if is_last && matches!(s.kind, StmtKind::Expr(_)) && !t.trim_end().ends_with(';') {
            out.tail = Some((at, t));
        } else {
            out.stmts.push((at, t));
        }
    }
    Ok(out)
}

fn collect_names(p: &crate::syntax::ast::Pattern, out: &mut Vec<String>) {
    use crate::syntax::ast::Pattern;
    match p {
        Pattern::Name(id) => out.push(id.name.to_string()),
        Pattern::Tuple { elems, .. } => elems.iter().for_each(|e| collect_names(e, out)),
        Pattern::Wildcard(_) => {}
    }
}

/// Extends an end offset over whitespace and one `;` that follows it.
fn with_semi(input: &str, hi: usize) -> usize {
    let hi = hi.min(input.len());
    let rest = input.get(hi..).unwrap_or("");
    let trimmed = rest.trim_start();
    if trimmed.starts_with(';') {
        hi + (rest.len() - trimmed.len()) + 1
    } else {
        hi
    }
}

/// True for expressions that stand as statements without a `;`.
fn block_like(text: &str) -> bool {
    let t = text.trim_start();
    ["if", "for", "while", "{"].iter().any(|k| {
        t.starts_with(k)
            && t.get(k.len()..)
                .is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// Builds the compiled file from the session's items and statements and the
/// input's parts (whose offsets are recorded as pieces).
pub fn build(items: &[ItemText], stmts: &[String], new: &Split) -> Built {
    let mut b = Built::default();
    let replaced = |it: &ItemText| new.items.iter().any(|n| n.key == it.key);
    for it in items.iter().filter(|it| !replaced(it)) {
        b.text.push_str(&it.text);
        b.text.push('\n');
    }
    for it in &new.items {
        b.pieces.push(Piece {
            at: b.text.len(),
            from: it.from,
            len: it.text.len(),
        });
        b.text.push_str(&it.text);
        b.text.push('\n');
    }
    b.text.push_str(&format!("fn {ENTRY}() {{\n"));
    for s in stmts {
        b.text.push_str(s);
        b.text.push('\n');
    }
    for (from, s) in new.stmts.iter().chain(new.tail.iter()) {
        b.pieces.push(Piece {
            at: b.text.len(),
            from: *from,
            len: s.len(),
        });
        b.text.push_str(s);
        b.text.push('\n');
    }
    b.text.push_str("}\n");
    b
}

/// The state of one REPL session.
pub struct Session {
    pub items: Vec<ItemText>,
    pub stmts: Vec<String>,
    /// Names bound by the session's `let` statements.
    pub lets: Vec<String>,
    /// How many bytes the session's statements print when run.
    printed: usize,
    pub opts: Options,
    pub interrupt: Arc<AtomicBool>,
    pub color: bool,
}

/// A writer that drops the first `skip` bytes and counts the rest.
struct Skip<W: Write> {
    inner: W,
    skip: usize,
    written: usize,
}

impl<W: Write> Write for Skip<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let drop = self.skip.min(buf.len());
        self.skip -= drop;
        let rest = buf.get(drop..).unwrap_or(&[]);
        self.written += rest.len();
        if !rest.is_empty() {
            self.inner.write_all(rest)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new(Options::default(), false)
    }
}

impl Session {
    pub fn new(opts: Options, color: bool) -> Session {
        Session {
            items: Vec::new(),
            stmts: Vec::new(),
            lets: Vec::new(),
            printed: 0,
            opts,
            interrupt: Arc::new(AtomicBool::new(false)),
            color,
        }
    }

    pub fn reset(&mut self) {
        self.items.clear();
        self.stmts.clear();
        self.lets.clear();
        self.printed = 0;
    }

    /// Names defined in the session (for completion).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .items
            .iter()
            .map(|i| i.name.clone())
            .filter(|n| !n.is_empty())
            .collect();
        v.extend(self.lets.iter().cloned());
        v.sort();
        v.dedup();
        v
    }

    fn render_input(&self, diags: &[Diagnostic], name: &str, input: &str) -> String {
        let mut sources = SourceMap::new();
        sources.add(name, None, input);
        diags.iter().map(|d| render(d, &sources, self.color)).collect()
    }

    /// Renders diagnostics of a compiled file: spans inside the input's pieces
    /// are shown against the input, others against the whole compiled file.
    fn render_built(
        &self,
        diags: &[Diagnostic],
        sources: &SourceMap,
        main: FileId,
        built: &Built,
        name: &str,
        input: &str,
    ) -> String {
        let mut map = sources.clone();
        let repl = map.add(name, None, input);
        let at = |s: Span| -> Span {
            if s.file != main {
                return s;
            }
            let (lo, hi) = (s.lo as usize, s.hi as usize);
            for p in &built.pieces {
                if lo >= p.at && lo <= p.at + p.len {
                    let nlo = p.from + (lo - p.at);
                    let nhi = p.from + (hi.min(p.at + p.len).max(lo) - p.at);
                    return Span::new(repl, nlo, nhi);
                }
            }
            s
        };
        diags
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.span = at(d.span);
                for (s, _) in &mut d.secondary {
                    *s = at(*s);
                }
                render(&d, &map, self.color)
            })
            .collect()
    }

    /// Compiles the session with `new` added (up to its first top-level
    /// `load`, see `ir::stage`), or returns the rendered errors.
    fn compile(&self, new: &Split, name: &str, input: &str) -> Result<Compiled, String> {
        let built = build(&self.items, &self.stmts, new);
        let mut sources = SourceMap::new();
        let main = sources.add("<session>", None, built.text.clone());
        let (mut program, diags) = pipeline::front_end(&mut sources, main);
        let errors: Vec<Diagnostic> = diags
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            return Err(self.render_built(&errors, &sources, main, &built, name, input));
        }
        let Some(entry) = program.find_func(ENTRY) else {
            return Err("error: internal error: the REPL entry was not found\n".into());
        };
        let stages = split_entry(&mut program, entry);
        let first = stages.first().map_or(entry, |s| s.func);
        let spec = pipeline::specialize(&program, &[first], self.opts);
        match spec.entries.into_iter().next() {
            Some(Ok(f)) => Ok(Compiled {
                untyped: program,
                stages,
                typed: spec.program,
                f,
                built,
            }),
            Some(Err(d)) => Err(self.render_built(&[d], &sources, main, &built, name, input)),
            None => Err("error: internal error: nothing was specialized\n".into()),
        }
    }

    /// The untyped program of the session (for `:ir`, `:grad` parameter names).
    pub fn untyped(&self, extra_items: &str) -> Result<Program, String> {
        let mut text: String = self.items.iter().map(|i| format!("{}\n", i.text)).collect();
        text.push_str(extra_items);
        let mut sources = SourceMap::new();
        let main = sources.add("<session>", None, text);
        let (program, diags) = pipeline::front_end(&mut sources, main);
        let errors: Vec<Diagnostic> = diags
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if errors.is_empty() {
            Ok(program)
        } else {
            Err(errors.iter().map(|d| render(d, &sources, self.color)).collect())
        }
    }

    /// The type of an expression, specialized in the session's context.
    /// Returns the type and its description (`f32[2, 3]`).
    pub fn type_of(&self, expr: &str) -> Result<(Ty, String), String> {
        let c = self.compile_expr(expr)?;
        if c.stages.len() > 1 {
            return Err(
                "error: the type of what `load` reads is known only when it runs; evaluate the expression instead\n"
                    .into(),
            );
        }
        let (program, f) = (c.typed, c.f);
        let ty = program
            .func(f)
            .and_then(|func| func.body.yields.first().and_then(|&v| func.ty(v)).cloned())
            .ok_or_else(|| "error: the expression has no value\n".to_string())?;
        let text = ty.describe(&program);
        Ok((ty, text))
    }

    fn compile_expr(&self, expr: &str) -> Result<Compiled, String> {
        let parts = split(expr).map_err(|d| self.render_input(&d, "<repl>", expr))?;
        if !parts.items.is_empty() || parts.tail.is_none() {
            return Err("error: expected an expression\n".into());
        }
        self.compile(&parts, "<repl>", expr)
    }

    /// Evaluates an expression in the session's context without adding it;
    /// `inspect` turns its value into the result.
    pub fn eval_expr<T: Send>(
        &mut self,
        expr: &str,
        inspect: impl FnOnce(Val, &Program) -> T + Send,
    ) -> Result<T, String> {
        let c = self.compile_expr(expr)?;
        let (value, _) = self.run(&c, self.printed, true, inspect).map_err(|d| {
            let mut sources = SourceMap::new();
            let main = sources.add("<session>", None, c.built.text.clone());
            self.render_built(&[d], &sources, main, &c.built, "<repl>", expr)
        })?;
        Ok(value)
    }

    /// Runs `f` on a thread with a large stack; returns what `inspect` makes
    /// of its value and the number of bytes printed after the first `skip`.
    fn run<T: Send>(
        &self,
        c: &Compiled,
        skip: usize,
        show: bool,
        inspect: impl FnOnce(Val, &Program) -> T + Send,
    ) -> Result<(T, usize), Diagnostic> {
        self.interrupt.store(false, Ordering::SeqCst);
        let flag = self.interrupt.clone();
        let r = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(1 << 30)
                .spawn_scoped(s, move || {
                    let stdout = std::io::stdout();
                    let inner: Box<dyn Write> = if show {
                        Box::new(stdout.lock())
                    } else {
                        Box::new(std::io::sink())
                    };
                    let mut out = Skip {
                        inner,
                        skip,
                        written: 0,
                    };
                    let settings = RunSettings {
                        opts: self.opts,
                        base_dir: None,
                        timeout: None,
                        interrupt: Some(flag),
                        seed: None,
                        jit: JitUse::Off,
                        timings: false,
                    };
                    let r = run_stages(&c.untyped, &c.stages, &c.typed, c.f, &settings, &mut out);
                    let _ = out.flush();
                    r.map(|v| (inspect(v, &c.typed), out.written))
                })
                .ok()
                .and_then(|h| h.join().ok())
        });
        r.unwrap_or_else(|| {
            Err(Diagnostic::internal(
                Span::default(),
                "the interpreter thread failed",
            ))
        })
    }

    /// Evaluates one input (`name` is the file name shown in errors: `<repl>`
    /// or a loaded file's path). On success the input's items and statements
    /// join the session, and the value of its final expression is returned
    /// (`None` when there is none or it is `()`).
    pub fn eval(&mut self, input: &str, name: &str) -> Result<Option<String>, String> {
        let parts = split(input).map_err(|d| self.render_input(&d, name, input))?;
        let c = self.compile(&parts, name, input)?;
        let show = |v: Val, p: &Program| {
            let unit = matches!(&v, Val::Tuple(t) if t.is_empty());
            (!unit).then(|| v.display(p))
        };
        let (value, written) = self.run(&c, self.printed, true, show).map_err(|d| {
            let mut sources = SourceMap::new();
            let main = sources.add("<session>", None, c.built.text.clone());
            self.render_built(&[d], &sources, main, &c.built, name, input)
        })?;
        let is_unit = value.is_none();
        for it in parts.items {
            match self.items.iter_mut().find(|i| i.key == it.key) {
                Some(old) => *old = it,
                None => self.items.push(it),
            }
        }
        self.stmts.extend(parts.stmts.iter().map(|(_, s)| s.clone()));
        self.lets.extend(parts.lets);
        let keep_tail = is_unit && parts.tail.is_some();
        if let Some((_, t)) = parts.tail.as_ref().filter(|_| keep_tail) {
            let t = t.trim_end();
            self.stmts.push(if block_like(t) {
                t.to_string()
            } else {
                format!("{t};")
            });
        }
        if parts.tail.is_none() || keep_tail {
            self.printed += written;
        } else if written > 0 && !parts.stmts.is_empty() {
            // The statements printed part of `written`: count them alone.
            self.recount();
        }
        Ok(value)
    }

    /// Recomputes how many bytes the session's statements print.
    fn recount(&mut self) {
        let built = build(&self.items, &self.stmts, &Split::default());
        let mut sources = SourceMap::new();
        let main = sources.add("<session>", None, built.text.clone());
        let (mut program, diags) = pipeline::front_end(&mut sources, main);
        if !diags.is_empty() {
            return;
        }
        let Some(entry) = program.find_func(ENTRY) else {
            return;
        };
        let stages = split_entry(&mut program, entry);
        let first = stages.first().map_or(entry, |s| s.func);
        let spec = pipeline::specialize(&program, &[first], self.opts);
        if let Some(Ok(f)) = spec.entries.into_iter().next() {
            let c = Compiled {
                untyped: program,
                stages,
                typed: spec.program,
                f,
                built,
            };
            if let Ok((_, n)) = self.run(&c, 0, false, |_, _| ()) {
                self.printed = n;
            }
        }
    }

    /// The float type of scalar probes (`:adjoint`).
    pub fn float_name(&self) -> &'static str {
        if self.opts.default_float == DType::F64 {
            "f64"
        } else {
            "f32"
        }
    }
}

/// Whether the value of an expression's type is a float (a scalar or tensor).
pub fn is_float(t: &Ty) -> bool {
    matches!(t, Ty::Tensor(tt) if tt.dtype.is_float())
}

/// The callee and argument texts of a call `f(a, b)`.
pub fn parse_call(text: &str) -> Result<(String, Vec<String>), String> {
    let (module, diags) = parse_module(text, FileId(0));
    if !diags.is_empty() || !module.items.is_empty() || module.stmts.len() != 1 {
        return Err("expected a call like `f(3.0, -4.0)`".into());
    }
    let Some(StmtKind::Expr(e)) = module.stmts.first().map(|s| &s.kind) else {
        return Err("expected a call like `f(3.0, -4.0)`".into());
    };
    let ExprKind::Call { callee, args } = &e.kind else {
        return Err("expected a call like `f(3.0, -4.0)`".into());
    };
    let name = text
        .get(callee.span.lo as usize..callee.span.hi as usize)
        .unwrap_or("")
        .trim()
        .to_string();
    let mut out = Vec::new();
    for a in args {
        if a.name.is_some() {
            return Err("named arguments are not supported by `:grad`".into());
        }
        let s = a.value.span;
        out.push(text.get(s.lo as usize..s.hi as usize).unwrap_or("").to_string());
    }
    Ok((name, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_items_statements_and_tail() {
        let s = split("fn f(x) = x + 1;\nlet a = 2;\nf(a)").unwrap();
        assert_eq!(s.items.len(), 1);
        assert_eq!(s.items[0].key, "fn f");
        assert_eq!(s.items[0].text, "fn f(x) = x + 1;");
        assert_eq!(s.stmts, vec![(17, "let a = 2;".to_string())]);
        assert_eq!(s.tail, Some((28, "f(a)".to_string())));
        assert_eq!(s.lets, vec!["a".to_string()]);
    }

    #[test]
    fn statement_with_semicolon_has_no_tail() {
        let s = split("print(1);").unwrap();
        assert!(s.tail.is_none());
        assert_eq!(s.stmts.len(), 1);
    }

    #[test]
    fn build_places_input_last() {
        let items = vec![ItemText {
            key: "fn f".into(),
            name: "f".into(),
            text: "fn f(x) = x;".into(),
            from: 0,
        }];
        let new = split("fn f(x) = 2 * x;\nf(1.0)").unwrap();
        let b = build(&items, &["let a = 1;".into()], &new);
        assert!(!b.text.contains("fn f(x) = x;"));
        assert!(b.text.contains("fn f(x) = 2 * x;"));
        assert!(b.text.ends_with("let a = 1;\nf(1.0)\n}\n"));
        assert_eq!(b.pieces.len(), 2);
    }

    #[test]
    fn parses_calls() {
        let (f, args) = parse_call("f(3.0, -4.0)").unwrap();
        assert_eq!(f, "f");
        assert_eq!(args, vec!["3.0".to_string(), "-4.0".to_string()]);
        assert!(parse_call("1 + 2").is_err());
    }

    #[test]
    fn session_keeps_definitions_and_values() {
        let mut s = Session::default();
        assert_eq!(s.eval("fn f(x, y) = x * y;", "<repl>").unwrap(), None);
        assert_eq!(s.eval("let a = 41;", "<repl>").unwrap(), None);
        assert_eq!(s.eval("a + 1", "<repl>").unwrap(), Some("42".to_string()));
        let err = s.eval("let z = nosuch + 1;", "<repl>").unwrap_err();
        assert!(err.contains("nosuch"), "{err}");
        assert!(err.contains("<repl>"), "{err}");
        assert_eq!(s.stmts.len(), 1);
        s.reset();
        assert!(s.eval("a", "<repl>").is_err());
    }
}

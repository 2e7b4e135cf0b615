//! The `:` commands: parsing a command line and carrying it out against a session.

use super::session::{self, Session};
use crate::backend::interp::Val;
use crate::ir::FuncId;
use crate::ir::print::print_func;

/// Every command with its one-line description (for `:help` and completion).
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":grad",
        "f(3.0, -4.0) [wrt x, y]  gradient with respect to the float arguments",
    ),
    (
        ":adjoint",
        "f                      the derivative of `f` as diffl source",
    ),
    (":ir", "f                           the IR of function `f`"),
    (
        ":type",
        "EXPR                      the type and shape of an expression",
    ),
    (
        ":load",
        "FILE                      add a file's definitions and run its statements",
    ),
    (":reset", "                         forget every definition"),
    (":help", "                          this list"),
    (":quit", "                          leave (also Ctrl-D)"),
];

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Grad { call: String, wrt: Option<Vec<String>> },
    Adjoint(String),
    Ir(String),
    Type(String),
    Load(String),
    Reset,
    Help,
    Quit,
}

/// Parses a line that starts with `:`.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (word, rest) = match line.find(char::is_whitespace) {
        Some(i) => (line.get(..i).unwrap_or(""), line.get(i..).unwrap_or("").trim()),
        None => (line, ""),
    };
    let need = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!("`{word}` needs {what}"))
        } else {
            Ok(rest.to_string())
        }
    };
    match word {
        ":grad" | ":g" => {
            let text = need("a call, e.g. `:grad f(3.0, -4.0)`")?;
            let (call, wrt) = match text.rfind(" wrt ") {
                Some(i)
                    if text
                        .get(i + 5..)
                        .is_some_and(|t| t.chars().all(|c| c.is_alphanumeric() || "_,() \t".contains(c))) =>
                {
                    let names = text.get(i + 5..).unwrap_or("");
                    let names: Vec<String> = names
                        .trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    (text.get(..i).unwrap_or("").trim().to_string(), Some(names))
                }
                _ => (text, None),
            };
            Ok(Command::Grad { call, wrt })
        }
        ":adjoint" => Ok(Command::Adjoint(need("a function name")?)),
        ":ir" => Ok(Command::Ir(need("a function name")?)),
        ":type" | ":t" => Ok(Command::Type(need("an expression")?)),
        ":load" | ":l" => Ok(Command::Load(need("a file name")?)),
        ":reset" => Ok(Command::Reset),
        ":help" | ":h" | ":?" => Ok(Command::Help),
        ":quit" | ":q" | ":exit" => Ok(Command::Quit),
        _ => {
            let names = COMMANDS.iter().map(|(c, _)| *c);
            let mut msg = format!("unknown command `{word}`");
            if let Some(h) = crate::diag::did_you_mean(word, names) {
                msg.push_str(&format!("; {h}"));
            } else {
                msg.push_str("; `:help` lists the commands");
            }
            Err(msg)
        }
    }
}

pub fn help() -> String {
    let mut s = String::from(
        "Enter items (fn, struct, import, adjoint) and statements; an expression's value is printed.\n\
         Input continues on the next line while a bracket is open.\n",
    );
    for (c, d) in COMMANDS {
        s.push_str(&format!("  {c} {d}\n"));
    }
    s
}

/// What the loop should do after a command.
pub enum Flow {
    Continue,
    Quit,
}

/// Runs a command; its output goes to stdout, errors to stderr.
pub fn run(session: &mut Session, cmd: Command) -> Flow {
    let result = match cmd {
        Command::Quit => return Flow::Quit,
        Command::Help => Ok(help()),
        Command::Reset => {
            session.reset();
            Ok("session cleared\n".to_string())
        }
        Command::Type(e) => session.type_of(&e).map(|(_, t)| format!("{t}\n")),
        Command::Ir(name) => ir(session, &name),
        Command::Adjoint(name) => adjoint(session, &name),
        Command::Load(path) => load(session, &path),
        Command::Grad { call, wrt } => grad(session, &call, wrt.as_deref()),
    };
    match result {
        Ok(s) => print!("{s}"),
        Err(e) => {
            eprint!("{e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
        }
    }
    Flow::Continue
}

fn user_functions(program: &crate::ir::Program) -> Vec<String> {
    program
        .funcs
        .iter()
        .map(|f| f.name.as_str().to_string())
        .filter(|n| {
            !n.starts_with("lambda@") && !n.starts_with("test ") && !n.starts_with("default") && n != "main"
        })
        .collect()
}

fn no_function(program: &crate::ir::Program, name: &str) -> String {
    let names = user_functions(program);
    let mut s = format!("error: no function named `{name}`\n");
    if let Some(h) = crate::diag::did_you_mean(name, names.iter().map(String::as_str)) {
        s.push_str(&format!("help: {h}\n"));
    }
    s
}

fn ir(session: &Session, name: &str) -> Result<String, String> {
    let program = session.untyped("")?;
    match program.find_func(name) {
        Some(id) => Ok(print_func(&program, id)),
        None => Err(no_function(&program, name)),
    }
}

fn params_of(session: &Session, name: &str) -> Result<Vec<String>, String> {
    let program = session.untyped("")?;
    let Some(func) = program.find_func(name).and_then(|id| program.func(id)) else {
        return Err(no_function(&program, name));
    };
    Ok(func
        .params
        .iter()
        .skip(func.n_captures)
        .map(|p| p.name.as_str().to_string())
        .collect())
}

fn wrt_text(idx: &[usize]) -> String {
    match idx {
        [i] => i.to_string(),
        _ => format!(
            "({})",
            idx.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `:grad f(a, b) [wrt x, y]`.
fn grad(session: &mut Session, call: &str, wrt: Option<&[String]>) -> Result<String, String> {
    let (name, args) = session::parse_call(call).map_err(|e| format!("error: {e}\n"))?;
    let params = params_of(session, &name)?;
    if params.len() != args.len() {
        return Err(format!(
            "error: `{name}` takes {} argument{}, but {} were given\n",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len()
        ));
    }
    let idx: Vec<usize> = match wrt {
        Some(names) => {
            let mut v = Vec::new();
            for n in names {
                match params.iter().position(|p| p == n) {
                    Some(i) => v.push(i),
                    None => {
                        return Err(format!(
                            "error: `{name}` has no parameter `{n}`; its parameters are {}\n",
                            params.join(", ")
                        ));
                    }
                }
            }
            v
        }
        None => {
            let mut v = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if session::is_float(&session.type_of(a)?.0) {
                    v.push(i);
                }
            }
            v
        }
    };
    if idx.is_empty() {
        return Err(format!(
            "error: no float argument of `{name}` to differentiate with respect to\n"
        ));
    }
    let expr = format!(
        "value_and_grad({name}, wrt: {})({})",
        wrt_text(&idx),
        args.join(", ")
    );
    let n = idx.len();
    let shown = session.eval_expr(&expr, move |v, p| -> Option<(String, Vec<String>)> {
        let Val::Tuple(pair) = &v else { return None };
        let (value, g) = (pair.first()?, pair.get(1)?);
        let grads: Vec<String> = match (n, g) {
            (1, g) => vec![g.display(p)],
            (_, Val::Tuple(gs)) => gs.iter().map(|g| g.display(p)).collect(),
            _ => return None,
        };
        Some((value.display(p), grads))
    })?;
    let Some((value, grads)) = shown else {
        return Err("error: internal error: value_and_grad gave an unexpected value\n".into());
    };
    let mut out = format!("{name}({}) = {value}\n", args.join(", "));
    for (i, g) in idx.iter().zip(grads) {
        let p = params.get(*i).map(String::as_str).unwrap_or("?");
        out.push_str(&format!("{p} = {g}\n"));
    }
    Ok(out)
}

/// `:adjoint f`: the gradient of `f` with respect to every parameter (float
/// scalars of the default float type), as diffl source.
fn adjoint(session: &Session, name: &str) -> Result<String, String> {
    let params = params_of(session, name)?;
    if params.is_empty() {
        return Err(format!(
            "error: `{name}` has no parameters, so it has no gradient\n"
        ));
    }
    let probe = "__repl_grad_probe";
    let idx: Vec<usize> = (0..params.len()).collect();
    let args = vec![format!("{}(1.0)", session.float_name()); params.len()].join(", ");
    let extra = format!("fn {probe}() = grad({name}, wrt: {})({args});\n", wrt_text(&idx));
    let program = session.untyped(&extra)?;
    let Some(entry) = program.find_func(probe) else {
        return Err("error: internal error: the gradient probe was not found\n".into());
    };
    let spec = crate::pipeline::specialize(&program, &[entry], session.opts);
    let probe_fn = match spec.entries.into_iter().next() {
        Some(Ok(f)) => f,
        Some(Err(d)) => {
            return Err(format!(
                "error: {}\nnote: `:adjoint` differentiates functions whose parameters are all float scalars\n",
                d.message
            ));
        }
        None => return Err("error: internal error: nothing was specialized\n".into()),
    };
    let wanted = format!("{name}'grad");
    let deriv: Option<FuncId> = spec.program.func(probe_fn).and_then(|f| {
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
        return Err(format!(
            "error: internal error: the gradient of `{name}` was not built\n"
        ));
    };
    let existing: std::collections::HashSet<String> = program
        .funcs
        .iter()
        .map(|f| f.name.as_str().to_string())
        .filter(|n| n != probe)
        .collect();
    let src = crate::ad::source::function_to_source_beside(&spec.program, deriv, &existing)
        .map_err(|e| format!("error: the gradient of `{name}`: {e}\n"))?;
    let wrt = if params.len() == 1 {
        params.join("")
    } else {
        format!("({})", params.join(", "))
    };
    Ok(format!("// gradient of {name} with respect to {wrt}\n{src}"))
}

fn load(session: &mut Session, path: &str) -> Result<String, String> {
    let path = path.trim().trim_matches('"');
    let text = std::fs::read_to_string(path).map_err(|e| format!("error: cannot read `{path}`: {e}\n"))?;
    match session.eval(&text, path)? {
        Some(v) => Ok(format!("{v}\nloaded {path}\n")),
        None => Ok(format!("loaded {path}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse(":quit").unwrap(), Command::Quit);
        assert_eq!(parse(":help").unwrap(), Command::Help);
        assert_eq!(
            parse(":type [[1.0, 2.0]]").unwrap(),
            Command::Type("[[1.0, 2.0]]".into())
        );
        assert_eq!(
            parse(":grad f(3.0, -4.0)").unwrap(),
            Command::Grad {
                call: "f(3.0, -4.0)".into(),
                wrt: None
            }
        );
        assert_eq!(
            parse(":grad f(x, y) wrt y").unwrap(),
            Command::Grad {
                call: "f(x, y)".into(),
                wrt: Some(vec!["y".into()])
            }
        );
        assert_eq!(
            parse(":grad f(x, y) wrt (x, y)").unwrap(),
            Command::Grad {
                call: "f(x, y)".into(),
                wrt: Some(vec!["x".into(), "y".into()])
            }
        );
        assert!(parse(":grad").is_err());
        assert!(parse(":hepl").unwrap_err().contains(":help"));
    }

    #[test]
    fn grad_names_parameters() {
        let mut s = Session::default();
        s.eval("fn f(x, y) = x * y + sin(x);", "<repl>").unwrap();
        let out = grad(&mut s, "f(3.0, -4.0)", None).unwrap();
        assert!(out.contains("\nx = -4.98999"), "{out}");
        assert!(out.contains("\ny = 3"), "{out}");
        s.eval("let a = 3.0;", "<repl>").unwrap();
        s.eval("let b = -4.0;", "<repl>").unwrap();
        let names = vec!["y".to_string()];
        let out = grad(&mut s, "f(a, b)", Some(&names)).unwrap();
        assert!(!out.contains("\nx ="), "{out}");
        assert!(out.contains("\ny = 3"), "{out}");
    }

    #[test]
    fn type_adjoint_and_ir() {
        let mut s = Session::default();
        s.eval("fn f(x, y) = x * y + sin(x);", "<repl>").unwrap();
        assert_eq!(s.type_of("[[1.0, 2.0]]").unwrap().1, "f32[1, 2]");
        assert!(adjoint(&s, "f").unwrap().contains("fn "));
        assert!(ir(&s, "f").unwrap().contains("f"));
        assert!(ir(&s, "g").is_err());
    }
}

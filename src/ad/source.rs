//! Typed IR back to diffl source: prints a specialized function (a
//! derivative built by `api::derivative`, say) and every function it calls as
//! ordinary `fn` items that `diffl check` accepts and that compute the same
//! numbers. Used by `diffl grad FILE --fn NAME`.
//!
//! Every SSA value becomes a `let`; values keep the user's names where they
//! have them (made unique per function: `num`, `num_1`) and get short names
//! (`t3`) otherwise. Structured control flow maps back to `if` expressions and
//! `for`/`while` loops over `let mut` variables. Instructions with no surface
//! syntax (tapes, closures, the internal shape prims of derivative rules) are
//! reported as errors.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::ir::builtin::Builtin;
use crate::ir::op::{BinaryOp, IndexItem, Prim, UnaryOp};
use crate::ir::types::{DType, Ty};
use crate::ir::{Block, Const, Func, FuncId, Inst, InstKind, Program, Value};

/// Words that cannot name a value or a function.
const KEYWORDS: &[&str] = &[
    "fn", "struct", "let", "mut", "if", "else", "for", "in", "while", "break", "continue", "return",
    "import", "as", "test", "adjoint", "true", "false", "float", "int", "f32", "f64", "bool",
];

/// Prints `f` and every function it calls, transitively, `f` first, then the
/// callees in the order they are first called.
pub fn function_to_source(program: &Program, f: FuncId) -> Result<String, String> {
    function_to_source_beside(program, f, &HashSet::new())
}

/// Like [`function_to_source`], for source that goes beside a file whose
/// functions are named in `existing`: calls of those functions keep their
/// names and their definitions are not printed again, and no printed name
/// clashes with them.
pub fn function_to_source_beside(
    program: &Program,
    f: FuncId,
    existing: &HashSet<String>,
) -> Result<String, String> {
    let is_existing = |id: FuncId| {
        id != f
            && program
                .func(id)
                .is_some_and(|g| existing.contains(g.name.as_str()))
    };
    let order = reachable(program, f, &is_existing)?;
    let names = function_names(program, &order, existing);
    let mut out = String::new();
    let mut first = true;
    for id in &order {
        if is_existing(*id) {
            continue;
        }
        let func = program
            .func(*id)
            .ok_or_else(|| format!("function #{} does not exist", id.0))?;
        if !first {
            out.push('\n');
        }
        first = false;
        let mut w = FuncWriter::new(program, *id, func, &names);
        w.func(&mut out)?;
    }
    Ok(out)
}

/// The source name `function_to_source` gives `f` (its first function).
pub fn source_name(program: &Program, f: FuncId) -> String {
    program
        .func(f)
        .map(|func| sanitize(func.name.as_str()))
        .unwrap_or_else(|| "f".to_string())
}

/// The functions `f` calls, transitively, in first-call order (`f` first).
fn reachable(program: &Program, f: FuncId, leaf: &dyn Fn(FuncId) -> bool) -> Result<Vec<FuncId>, String> {
    let mut order = vec![f];
    let mut seen: HashSet<FuncId> = HashSet::from([f]);
    let mut i = 0;
    while let Some(&id) = order.get(i) {
        i += 1;
        if leaf(id) {
            continue;
        }
        let func = program
            .func(id)
            .ok_or_else(|| format!("function #{} does not exist", id.0))?;
        let mut calls = Vec::new();
        collect_calls(&func.body, &mut calls);
        for c in calls {
            if seen.insert(c) {
                order.push(c);
            }
        }
    }
    Ok(order)
}

fn collect_calls(b: &Block, out: &mut Vec<FuncId>) {
    for inst in &b.insts {
        match &inst.kind {
            InstKind::Call(id) => out.push(*id),
            InstKind::If { then, else_ } => {
                collect_calls(then, out);
                collect_calls(else_, out);
            }
            InstKind::For { body } => collect_calls(body, out),
            InstKind::While { cond, body } => {
                collect_calls(cond, out);
                collect_calls(body, out);
            }
            _ => {}
        }
    }
}

/// Identifier-safe, unique names for the printed functions; the functions
/// named in `existing` keep their names.
fn function_names(
    program: &Program,
    order: &[FuncId],
    existing: &HashSet<String>,
) -> HashMap<FuncId, String> {
    let mut taken: HashSet<String> = reserved();
    for e in existing {
        taken.insert(e.clone());
        taken.insert(sanitize(e));
        if let Some((module, _)) = e.split_once('.') {
            taken.insert(module.to_string());
        }
    }
    let mut names = HashMap::new();
    for (i, id) in order.iter().enumerate() {
        let own = program.func(*id).map(|g| g.name.as_str().to_string());
        match own {
            Some(n) if i > 0 && existing.contains(&n) => {
                names.insert(*id, n);
            }
            _ => {
                let base = source_name(program, *id);
                names.insert(*id, unique(&base, &mut taken));
            }
        }
    }
    names
}

fn reserved() -> HashSet<String> {
    KEYWORDS
        .iter()
        .map(|s| s.to_string())
        .chain(Builtin::ALL.iter().map(|b| b.name().to_string()))
        .collect()
}

/// `staged'grad` → `staged_grad`, `nn.dense` → `nn_dense`.
fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_').to_string();
    if s.is_empty() {
        "f".to_string()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f_{s}")
    } else {
        s
    }
}

/// `base`, or `base_1`, `base_2`, … when it is taken; marks the result taken.
fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 1;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

fn no_syntax(what: &str) -> String {
    format!("{what} cannot be written as diffl source yet")
}

struct FuncWriter<'a> {
    program: &'a Program,
    id: FuncId,
    func: &'a Func,
    funcs: &'a HashMap<FuncId, String>,
    /// The source text of each value: a variable name, or `()`.
    vals: HashMap<Value, String>,
    taken: HashSet<String>,
}

impl<'a> FuncWriter<'a> {
    fn new(
        program: &'a Program,
        id: FuncId,
        func: &'a Func,
        funcs: &'a HashMap<FuncId, String>,
    ) -> FuncWriter<'a> {
        let mut taken = reserved();
        for n in funcs.values() {
            taken.insert(n.clone());
            if let Some((module, _)) = n.split_once('.') {
                taken.insert(module.to_string());
            }
        }
        FuncWriter {
            program,
            id,
            func,
            funcs,
            vals: HashMap::new(),
            taken,
        }
    }

    /// Gives `v` a fresh variable name and returns it.
    fn define(&mut self, v: Value) -> String {
        let base = self
            .func
            .name_of(v)
            .map(|s| sanitize(s.as_str()))
            .unwrap_or_else(|| format!("t{}", v.0));
        let name = unique(&base, &mut self.taken);
        self.vals.insert(v, name.clone());
        name
    }

    fn alias(&mut self, v: Value, text: &str) {
        self.vals.insert(v, text.to_string());
    }

    fn get(&self, v: Value) -> Result<String, String> {
        self.vals.get(&v).cloned().ok_or_else(|| {
            format!(
                "value %{} of `{}` is used before it is defined",
                v.0, self.func.name
            )
        })
    }

    fn args(&self, inst: &Inst) -> Result<Vec<String>, String> {
        inst.args.iter().map(|a| self.get(*a)).collect()
    }

    fn ty(&self, v: Value) -> Option<&Ty> {
        self.func.ty(v)
    }

    fn func(&mut self, out: &mut String) -> Result<(), String> {
        let f = self.func;
        if f.n_captures > 0 {
            return Err(no_syntax(&format!("the closure `{}`", f.name)));
        }
        let name = self.funcs.get(&self.id).cloned().unwrap_or_default();
        let params: Vec<String> = f.param_values.iter().map(|p| self.define(*p)).collect();
        let _ = writeln!(out, "fn {name}({}) {{", params.join(", "));
        self.block_body(&f.body, 1, out)?;
        let result = match f.body.yields.as_slice() {
            [] => "()".to_string(),
            [y] => self.get(*y)?,
            ys => tuple_text(&ys.iter().map(|y| self.get(*y)).collect::<Result<Vec<_>, _>>()?),
        };
        indent(out, 1);
        out.push_str(&result);
        out.push_str("\n}\n");
        Ok(())
    }

    /// The instructions of `b` as statements (its parameters must already be
    /// named; its yields are left to the caller).
    fn block_body(&mut self, b: &Block, depth: usize, out: &mut String) -> Result<(), String> {
        for inst in &b.insts {
            self.inst(inst, depth, out)?;
        }
        Ok(())
    }

    /// `{ stmts; yields }` of an `if` branch, without the braces' first line.
    fn branch(&mut self, b: &Block, depth: usize, out: &mut String) -> Result<(), String> {
        self.block_body(b, depth + 1, out)?;
        let ys: Vec<String> = b.yields.iter().map(|y| self.get(*y)).collect::<Result<_, _>>()?;
        let tail = match ys.as_slice() {
            [] => None,
            [y] => Some(y.clone()),
            _ => Some(tuple_text(&ys)),
        };
        if let Some(t) = tail {
            indent(out, depth + 1);
            out.push_str(&t);
            out.push('\n');
        }
        indent(out, depth);
        out.push('}');
        Ok(())
    }

    /// `let r = ` (or `let (a, b) = `) for the results of `inst`.
    fn bind(&mut self, inst: &Inst) -> String {
        let names: Vec<String> = inst.results.iter().map(|r| self.define(*r)).collect();
        match names.as_slice() {
            [] => "let _ = ".to_string(),
            [n] => format!("let {n} = "),
            _ => format!("let ({}) = ", names.join(", ")),
        }
    }

    fn inst(&mut self, inst: &Inst, depth: usize, out: &mut String) -> Result<(), String> {
        match &inst.kind {
            InstKind::If { then, else_ } => {
                let c = self.get(*inst.args.first().ok_or("an `if` without a condition")?)?;
                let mut text = String::new();
                let _ = writeln!(text, "if {c} {{");
                self.branch(then, depth, &mut text)?;
                text.push_str(" else {\n");
                self.branch(else_, depth, &mut text)?;
                indent(out, depth);
                if inst.results.is_empty() {
                    out.push_str(&text);
                    out.push('\n');
                } else {
                    let lhs = self.bind(inst);
                    out.push_str(&lhs);
                    out.push_str(&text);
                    out.push_str(";\n");
                }
                Ok(())
            }
            InstKind::For { body } => self.for_loop(inst, body, depth, out),
            InstKind::While { cond, body } => self.while_loop(inst, cond, body, depth, out),
            _ => {
                let rhs = self.simple(inst)?;
                match rhs {
                    Rhs::Expr(e) => {
                        let lhs = self.bind(inst);
                        indent(out, depth);
                        let _ = writeln!(out, "{lhs}{e};");
                    }
                    Rhs::Alias(a) => {
                        if let Some(r) = inst.results.first() {
                            self.alias(*r, &a);
                        }
                    }
                    Rhs::Effect(e) => {
                        indent(out, depth);
                        let _ = writeln!(out, "{e};");
                        for r in &inst.results {
                            self.alias(*r, "()");
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Declares `let mut` variables for loop-carried values and names the
    /// block parameters (one list per block) after them.
    fn carried(
        &mut self,
        inits: &[Value],
        params: &[&[Value]],
        depth: usize,
        out: &mut String,
    ) -> Result<Vec<String>, String> {
        let mut vars = Vec::new();
        for (i, init) in inits.iter().enumerate() {
            let init_text = self.get(*init)?;
            let first = params.iter().find_map(|ps| ps.get(i)).copied();
            let name = match first {
                Some(p) => self.define(p),
                None => unique(&format!("c{i}"), &mut self.taken),
            };
            for ps in params {
                if let Some(p) = ps.get(i) {
                    self.alias(*p, &name);
                }
            }
            indent(out, depth);
            let _ = writeln!(out, "let mut {name} = {init_text};");
            vars.push(name);
        }
        Ok(vars)
    }

    /// `vars = yields;` at the end of a loop body.
    fn assign(
        &self,
        vars: &[String],
        yields: &[Value],
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        let ys: Vec<String> = yields.iter().map(|y| self.get(*y)).collect::<Result<_, _>>()?;
        if vars.len() != ys.len() {
            return Err(format!(
                "a loop in `{}` yields the wrong number of values",
                self.func.name
            ));
        }
        let changed = vars.iter().zip(&ys).any(|(v, y)| v != y);
        if !changed {
            return Ok(());
        }
        indent(out, depth);
        match (vars, ys.as_slice()) {
            ([v], [y]) => {
                let _ = writeln!(out, "{v} = {y};");
            }
            _ => {
                let _ = writeln!(out, "{} = {};", tuple_text(vars), tuple_text(&ys));
            }
        }
        Ok(())
    }

    fn for_loop(&mut self, inst: &Inst, body: &Block, depth: usize, out: &mut String) -> Result<(), String> {
        let (bounds, inits) = inst.args.split_at(inst.args.len().min(2));
        let [lo, hi] = bounds else {
            return Err("a `for` loop without bounds".into());
        };
        let (lo, hi) = (self.get(*lo)?, self.get(*hi)?);
        let (index, carried_params) = match body.params.split_first() {
            Some((i, rest)) => (*i, rest),
            None => return Err("a `for` loop without an index".into()),
        };
        let vars = self.carried(inits, &[carried_params], depth, out)?;
        let i = self.define(index);
        indent(out, depth);
        let _ = writeln!(out, "for {i} in {lo}..{hi} {{");
        self.block_body(body, depth + 1, out)?;
        self.assign(&vars, &body.yields, depth + 1, out)?;
        indent(out, depth);
        out.push_str("}\n");
        for (r, v) in inst.results.iter().zip(&vars) {
            self.alias(*r, v);
        }
        Ok(())
    }

    fn while_loop(
        &mut self,
        inst: &Inst,
        cond: &Block,
        body: &Block,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        let vars = self.carried(&inst.args, &[&cond.params, &body.params], depth, out)?;
        let c = cond
            .yields
            .first()
            .ok_or("a `while` condition that yields nothing")?;
        if cond.insts.is_empty() {
            let c = self.get(*c)?;
            indent(out, depth);
            let _ = writeln!(out, "while {c} {{");
            self.block_body(body, depth + 1, out)?;
            self.assign(&vars, &body.yields, depth + 1, out)?;
        } else {
            // The condition is computed before the loop and again at the end
            // of every iteration, into a flag.
            self.block_body(cond, depth, out)?;
            let first = self.get(*c)?;
            let flag = unique("go", &mut self.taken);
            indent(out, depth);
            let _ = writeln!(out, "let mut {flag} = {first};");
            indent(out, depth);
            let _ = writeln!(out, "while {flag} {{");
            self.block_body(body, depth + 1, out)?;
            self.assign(&vars, &body.yields, depth + 1, out)?;
            self.block_body(cond, depth + 1, out)?;
            let again = self.get(*c)?;
            indent(out, depth + 1);
            let _ = writeln!(out, "{flag} = {again};");
        }
        indent(out, depth);
        out.push_str("}\n");
        for (r, v) in inst.results.iter().zip(&vars) {
            self.alias(*r, v);
        }
        Ok(())
    }

    /// The right-hand side of a straight-line instruction.
    fn simple(&self, inst: &Inst) -> Result<Rhs, String> {
        let a = self.args(inst)?;
        let arg = |i: usize| -> Result<String, String> {
            a.get(i)
                .cloned()
                .ok_or_else(|| format!("an instruction of `{}` lacks an operand", self.func.name))
        };
        let result_ty = inst.results.first().and_then(|r| self.ty(*r));
        Ok(Rhs::Expr(match &inst.kind {
            InstKind::Const(c) => const_text(c, result_ty)?,
            InstKind::Prim(p) => return self.prim(p, inst, &a),
            InstKind::Call(id) => {
                let name = self
                    .funcs
                    .get(id)
                    .ok_or_else(|| format!("a call of the missing function #{}", id.0))?;
                format!("{name}({})", a.join(", "))
            }
            InstKind::Tuple => tuple_text(&a),
            InstKind::TupleGet(i) => format!("{}.{i}", arg(0)?),
            InstKind::Record(s) => {
                let def = self
                    .program
                    .struct_def(*s)
                    .ok_or("a record of a missing struct")?;
                let fields: Vec<String> = def
                    .fields
                    .iter()
                    .zip(&a)
                    .map(|(f, v)| format!("{f}: {v}"))
                    .collect();
                format!("{} {{ {} }}", def.name, fields.join(", "))
            }
            InstKind::RecordGet(i) => {
                let field = inst
                    .args
                    .first()
                    .and_then(|v| self.ty(*v))
                    .and_then(|t| match t {
                        Ty::Record(s, _) => self.program.struct_def(*s),
                        _ => None,
                    })
                    .and_then(|d| d.fields.get(*i as usize))
                    .ok_or("a field of a value that is not a record")?;
                format!("{}.{field}", arg(0)?)
            }
            InstKind::Builtin(b) | InstKind::BuiltinRef(b) => {
                return Err(no_syntax(&format!("the builtin `{}` used as a value", b.name())));
            }
            InstKind::CallValue { .. } => return Err(no_syntax("a call of a function value")),
            InstKind::Closure(_) | InstKind::CaptureGet(_) => return Err(no_syntax("a closure")),
            InstKind::Field(_) => return Err(no_syntax("an untyped field access")),
            InstKind::Derive(_) => return Err(no_syntax("a derivative used as a value")),
            InstKind::ListNew | InstKind::ListPush | InstKind::ListGet | InstKind::ListLen => {
                return Err(no_syntax("the tape of a differentiated loop"));
            }
            InstKind::If { .. } | InstKind::For { .. } | InstKind::While { .. } => {
                return Err("internal: control flow is not a simple instruction".into());
            }
        }))
    }

    fn prim(&self, p: &Prim, inst: &Inst, a: &[String]) -> Result<Rhs, String> {
        let arg = |i: usize| -> Result<&str, String> {
            a.get(i)
                .map(|s| s.as_str())
                .ok_or_else(|| format!("the `{}` of `{}` lacks an operand", p.info().name, self.func.name))
        };
        let call = |name: &str| format!("{name}({})", a.join(", "));
        let same_type = || {
            let r = inst.results.first().and_then(|r| self.ty(*r));
            let x = inst.args.first().and_then(|x| self.ty(*x));
            r.is_some() && r == x
        };
        let text = match p {
            Prim::Unary(u) => match u {
                UnaryOp::Neg => format!("-{}", arg(0)?),
                UnaryOp::Not => format!("!{}", arg(0)?),
                _ => call(p.info().name),
            },
            Prim::Binary(b) => {
                let op = match b {
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Mul => "*",
                    BinaryOp::Div => "/",
                    BinaryOp::Rem => "%",
                    BinaryOp::Pow => "**",
                    BinaryOp::Lt => "<",
                    BinaryOp::Le => "<=",
                    BinaryOp::Gt => ">",
                    BinaryOp::Ge => ">=",
                    BinaryOp::Eq => "==",
                    BinaryOp::Ne => "!=",
                    BinaryOp::And => "&&",
                    BinaryOp::Or => "||",
                    BinaryOp::Maximum | BinaryOp::Minimum => {
                        return Ok(Rhs::Expr(call(p.info().name)));
                    }
                };
                format!("{} {op} {}", arg(0)?, arg(1)?)
            }
            Prim::Where | Prim::Clip | Prim::Shape | Prim::Len | Prim::Arange | Prim::StopGradient => {
                call(p.info().name)
            }
            Prim::Random(_) | Prim::ScoreGrad { .. } => return Err(no_syntax("random sampling")),
            Prim::Cast(d) => match d {
                DType::Bool => return Err(no_syntax("a cast to bool")),
                d => format!("{}({})", d.name(), arg(0)?),
            },
            Prim::MatMul => format!("{} @ {}", arg(0)?, arg(1)?),
            Prim::Reduce {
                op: _,
                axis,
                keepdims,
            } => {
                let mut s = format!("{}({}", p.info().name, arg(0)?);
                if let Some(ax) = axis {
                    let _ = write!(s, ", axis: {ax}");
                }
                if *keepdims {
                    s.push_str(", keepdims: true");
                }
                s.push(')');
                s
            }
            Prim::Index(items) => {
                let mut ops = a.iter().skip(1);
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        IndexItem::At => {
                            parts.push(ops.next().cloned().ok_or("an index without its operand")?)
                        }
                        IndexItem::Slice { lo, hi } => {
                            let l = if *lo {
                                ops.next().cloned().unwrap_or_default()
                            } else {
                                String::new()
                            };
                            let h = if *hi {
                                ops.next().cloned().unwrap_or_default()
                            } else {
                                String::new()
                            };
                            parts.push(format!("{l}:{h}"));
                        }
                    }
                }
                format!("{}[{}]", arg(0)?, parts.join(", "))
            }
            Prim::Full(d) => format!("full({}, {})", arg(0)?, cast_text(*d, arg(1)?)?),
            Prim::Linspace(d) => cast_text(*d, &call("linspace"))?,
            Prim::Eye(d) => cast_text(*d, &call("eye"))?,
            Prim::Stack { dtype, literal } => {
                let list = format!("[{}]", a.join(", "));
                let e = if *literal { list } else { format!("stack({list})") };
                if *dtype == DType::Bool {
                    e
                } else {
                    cast_text(*dtype, &e)?
                }
            }
            Prim::Transpose(perm) => {
                let perm: Vec<String> = perm.iter().map(|i| i.to_string()).collect();
                format!("transpose({}, [{}])", arg(0)?, perm.join(", "))
            }
            Prim::ExpandDims(ax) => format!("expand_dims({}, {ax})", arg(0)?),
            Prim::Reshape(to) => {
                let to: Vec<String> = to.iter().map(|d| d.to_string()).collect();
                format!("reshape({}, [{}])", arg(0)?, to.join(", "))
            }
            Prim::Concat(ax) => format!("concat([{}], axis: {ax})", a.join(", ")),
            Prim::Take(ax) => format!("take({}, {}, axis: {ax})", arg(0)?, arg(1)?),
            Prim::Solve | Prim::Det | Prim::Cholesky => call(p.info().name),
            Prim::BroadcastLike | Prim::SumLike | Prim::ReshapeLike => {
                // Between equal shapes these are the identity.
                if same_type() {
                    return Ok(Rhs::Alias(arg(0)?.to_string()));
                }
                return Err(no_syntax(&format!("the internal operation `{}`", p.info().name)));
            }
            Prim::Conv2d { stride, padding } => format!(
                "conv2d({}, {}, stride: {stride}, padding: {padding})",
                arg(0)?,
                arg(1)?
            ),
            Prim::MaxPool2d(k) | Prim::AvgPool2d(k) => format!("{}({}, {k})", p.info().name, arg(0)?),
            Prim::IndexGrad(_)
            | Prim::IndexAdd(_)
            | Prim::TakeGrad(_)
            | Prim::ExtremeMask { .. }
            | Prim::Conv2dGradInput { .. }
            | Prim::Conv2dGradWeight { .. }
            | Prim::MaxPool2dMask(_)
            | Prim::Pool2dSpread(_) => {
                return Err(no_syntax(&format!("the internal operation `{}`", p.info().name)));
            }
            Prim::LoadCsv(d) => cast_text(*d, &format!("load_csv({}, header: {})", arg(0)?, arg(1)?))?,
            Prim::LoadNpy(_) | Prim::Load(_) | Prim::TempPath => call(p.info().name),
            Prim::Batches => format!(
                "batches({}, {}, {}, shuffle: {})",
                arg(0)?,
                arg(1)?,
                arg(2)?,
                arg(3)?
            ),
            Prim::SaveCsv | Prim::SaveNpy | Prim::Save => return Ok(Rhs::Effect(call(p.info().name))),
            Prim::Print => return Ok(Rhs::Effect(call("print"))),
            Prim::Plot => {
                let data = a.get(3..).unwrap_or(&[]).join(", ");
                return Ok(Rhs::Effect(format!(
                    "plot({data}, path: {}, title: {}, log: {})",
                    arg(0)?,
                    arg(1)?,
                    arg(2)?
                )));
            }
            Prim::Progress => {
                return Err(no_syntax("a progress bar"));
            }
            Prim::Assert => return Ok(Rhs::Effect(call("assert"))),
            Prim::AssertClose => {
                return Ok(Rhs::Effect(format!(
                    "assert_close({}, {}, tol: {})",
                    arg(0)?,
                    arg(1)?,
                    arg(2)?
                )));
            }
        };
        Ok(Rhs::Expr(text))
    }
}

enum Rhs {
    /// `let r = expr;`
    Expr(String),
    /// The result is this existing value.
    Alias(String),
    /// A statement whose result is `()`.
    Effect(String),
}

fn cast_text(d: DType, e: &str) -> Result<String, String> {
    match d {
        DType::Bool => Err(no_syntax("a conversion to bool")),
        d => Ok(format!("{}({e})", d.name())),
    }
}

fn tuple_text(parts: &[String]) -> String {
    match parts {
        [one] => format!("({one},)"),
        _ => format!("({})", parts.join(", ")),
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// A float as a literal with a decimal point (`2.0`, `1e-5`, `0.5`).
fn float_literal(x: f64) -> String {
    if x.is_nan() {
        return "(0.0 / 0.0)".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "(1.0 / 0.0)".into()
        } else {
            "(-1.0 / 0.0)".into()
        };
    }
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// A constant: plain literals take their context's type; a float of definite
/// type is written with its cast (`f64(0.5)`) so that it keeps it.
fn const_text(c: &Const, ty: Option<&Ty>) -> Result<String, String> {
    let tensor = ty.and_then(|t| t.as_tensor());
    Ok(match c {
        Const::Int(i) => i.to_string(),
        Const::Float(x) => {
            let lit = float_literal(*x);
            match tensor {
                Some(t) if !t.weak && t.dtype.is_float() => format!("{}({lit})", t.dtype.name()),
                _ => lit,
            }
        }
        Const::Bool(b) => b.to_string(),
        Const::Str(s) => format!("{s:?}"),
        Const::Unit => "()".into(),
        Const::Undef => match tensor {
            Some(t) if t.dtype.is_float() => format!("{}(0.0)", t.dtype.name()),
            Some(t) if t.dtype == DType::I64 => "0".into(),
            Some(_) => "false".into(),
            None => "()".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize("staged'grad"), "staged_grad");
        assert_eq!(sanitize("nn.dense'vjp"), "nn_dense_vjp");
        assert_eq!(sanitize("lambda@a.dl:3"), "lambda_a_dl_3");
        assert_eq!(sanitize("3x"), "f_3x");
        let mut taken = HashSet::new();
        assert_eq!(unique("num", &mut taken), "num");
        assert_eq!(unique("num", &mut taken), "num_1");
        assert_eq!(unique("num", &mut taken), "num_2");
    }

    #[test]
    fn floats_have_a_point() {
        assert_eq!(float_literal(1.0), "1.0");
        assert_eq!(float_literal(-2.0), "-2.0");
        assert_eq!(float_literal(1e-5), "1e-5");
        assert_eq!(float_literal(0.5), "0.5");
    }
}

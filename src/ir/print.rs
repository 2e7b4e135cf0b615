//! The textual form of the IR: a readable SSA listing that [`super::parse`]
//! reads back exactly (spans aside), used by `diffl ir`, snapshots and tests.
//!
//! ```text
//! struct Point { x, y }
//!
//! fn fact(%0 n is int) -> int {
//!   %1 = const 1 : int
//!   %2 = prim le %0, %1 : bool
//!   %3 = if %2 {
//!     yield %1
//!   } else {
//!     %4 = prim sub %0, %1 : int
//!     %5 = call @fact(%4) : int
//!     %6 total = prim mul %0, %5 : int
//!     yield %6
//!   } : int
//!   return %3
//! }
//!
//! main = @main
//! test "fact works" = @test0
//! ```
//!
//! - A value is `%N` (its index); where it is defined, the user's name
//!   follows (`%6 total`) and block and function parameters carry their type
//!   (`%0 n: int`). An instruction's result types follow it after `:`, one per
//!   result (`_` for a missing one); untyped IR prints no types at all.
//! - A function parameter is `%N [name][: type] [as param-name] [is annotation]
//!   [= default]`: `as` appears only when the parameter's declared name differs
//!   from its value's name, `is` gives the checked annotation (`int`, `float`,
//!   `Tensor`, `$Point`, `(int, f32)`), and a default is a constant or a
//!   thunk `@f`. A lifted lambda shows `captures N`; `values N` appears when the
//!   value table is longer than the values defined.
//! - Functions are referred to as `@name`, or `@3` by index when the name is
//!   not unique; structs as `$Point` or `$0`. Names that are not plain
//!   identifiers are quoted: `@"lambda@a.dl:3"`.
//! - Types: `int`, `bool`, `f32` (a scalar), `f64[?, 4]`, `f32~` (weak),
//!   `(int, f32)`, `(int,)`, `()`, `$Point{f32, f32}`, `str`, `fn @f(f32)`
//!   (a closure with its capture types), `builtin sqrt`.
//! - Constants: `1`, `1.0` (Rust's shortest round-trip form, so floats come
//!   back bit for bit), `true`, `"text"` (escaped), `()`.
//! - `for %lo, %hi carry(%a) |%i: int, %x: f32| { … }` and
//!   `while carry(%a) |%x| { … yield %c } do |%x| { … }`; every block ends in
//!   `yield` (or `return` for a function body), even when it yields nothing.

use std::collections::HashMap;
use std::fmt::Write;

use super::func::{
    Block, Const, DefaultValue, Func, FuncId, Inst, InstKind, Program, StructId, TypeAnn, Value,
};
use super::op::{IndexItem, Prim, RandomOp};
use super::types::{DerivKind, FnTy, Ty};
use crate::syntax::Symbol;

/// The whole program: structs, functions, then the entry points.
pub fn print_program(p: &Program) -> String {
    let pr = Printer::new(p);
    let mut out = String::new();
    for s in &p.structs {
        let fields: Vec<String> = s.fields.iter().map(|f| name_text(*f)).collect();
        let _ = writeln!(out, "struct {} {{ {} }}", name_text(s.name), fields.join(", "));
    }
    for (i, _) in p.funcs.iter().enumerate() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&pr.func(FuncId(i as u32)));
    }
    if p.main.is_some() || !p.tests.is_empty() || !p.adjoints.is_empty() {
        out.push('\n');
    }
    for (f, a) in &p.adjoints {
        let _ = writeln!(out, "adjoint {} = {}", pr.func_ref(*f), pr.func_ref(*a));
    }
    if let Some(m) = p.main {
        let _ = writeln!(out, "main = {}", pr.func_ref(m));
    }
    for t in &p.tests {
        let _ = writeln!(out, "test {:?} = {}", t.name, pr.func_ref(t.func));
    }
    out
}

/// One function, as it appears in [`print_program`].
pub fn print_func(p: &Program, f: FuncId) -> String {
    Printer::new(p).func(f)
}

/// Words the parser reads specially after a value, so names spelled like
/// them are quoted.
const RESERVED: &[&str] = &["as", "is"];

/// A name as written in the text: bare when it lexes as one identifier.
pub(crate) fn name_text(s: Symbol) -> String {
    let s = s.as_str();
    if is_bare(s) {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

pub(crate) fn is_bare(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') && !RESERVED.contains(&s)
}

pub(crate) fn const_text(c: &Const) -> String {
    match c {
        Const::Int(i) => i.to_string(),
        Const::Float(x) => format!("{x:?}"),
        Const::Bool(b) => b.to_string(),
        Const::Str(s) => format!("{s:?}"),
        Const::Unit => "()".into(),
        Const::Undef => "undef".into(),
    }
}

struct Printer<'a> {
    p: &'a Program,
    func_names: HashMap<Symbol, usize>,
    struct_names: HashMap<Symbol, usize>,
}

fn v(x: Value) -> String {
    format!("%{}", x.0)
}

fn values(xs: &[Value]) -> String {
    xs.iter().map(|x| v(*x)).collect::<Vec<_>>().join(", ")
}

impl<'a> Printer<'a> {
    fn new(p: &'a Program) -> Printer<'a> {
        let mut func_names = HashMap::new();
        for f in &p.funcs {
            *func_names.entry(f.name).or_insert(0) += 1;
        }
        let mut struct_names = HashMap::new();
        for s in &p.structs {
            *struct_names.entry(s.name).or_insert(0) += 1;
        }
        Printer {
            p,
            func_names,
            struct_names,
        }
    }

    fn func_ref(&self, id: FuncId) -> String {
        match self.p.func(id) {
            Some(f) if self.func_names.get(&f.name) == Some(&1) => format!("@{}", name_text(f.name)),
            _ => format!("@{}", id.0),
        }
    }

    fn struct_ref(&self, id: StructId) -> String {
        match self.p.struct_def(id) {
            Some(s) if self.struct_names.get(&s.name) == Some(&1) => format!("${}", name_text(s.name)),
            _ => format!("${}", id.0),
        }
    }

    fn func(&self, id: FuncId) -> String {
        let Some(f) = self.p.func(id) else {
            return String::new();
        };
        let mut out = format!("fn {}(", name_text(f.name));
        for (i, param) in f.params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let Some(&pv) = f.param_values.get(i) else {
                out.push_str("%?");
                continue;
            };
            out.push_str(&self.value_def(f, pv));
            if f.name_of(pv) != Some(param.name) {
                let _ = write!(out, " as {}", name_text(param.name));
            }
            if let Some(ann) = &param.ann {
                let _ = write!(out, " is {}", self.ann(ann));
            }
            match &param.default {
                Some(DefaultValue::Const(c)) => {
                    let _ = write!(out, " = {}", const_text(c));
                }
                Some(DefaultValue::Thunk(t)) => {
                    let _ = write!(out, " = {}", self.func_ref(*t));
                }
                None => {}
            }
        }
        out.push(')');
        if let Some(ann) = &f.ret_ann {
            let _ = write!(out, " -> {}", self.ann(ann));
        }
        if f.n_captures > 0 {
            let _ = write!(out, " captures {}", f.n_captures);
        }
        if f.values.len() != defined_len(f) {
            let _ = write!(out, " values {}", f.values.len());
        }
        out.push(' ');
        self.block(f, &f.body, 0, "return", &mut out);
        out.push('\n');
        out
    }

    /// `%N name: type` (name and type when present).
    fn value_def(&self, f: &Func, x: Value) -> String {
        let mut s = v(x);
        if let Some(n) = f.name_of(x) {
            let _ = write!(s, " {}", name_text(n));
        }
        if let Some(t) = f.ty(x) {
            let _ = write!(s, ": {}", self.ty(t));
        }
        s
    }

    fn block(&self, f: &Func, b: &Block, depth: usize, terminator: &str, out: &mut String) {
        if !b.params.is_empty() {
            let ps: Vec<String> = b.params.iter().map(|x| self.value_def(f, *x)).collect();
            let _ = write!(out, "|{}| ", ps.join(", "));
        }
        out.push_str("{\n");
        for inst in &b.insts {
            self.inst(f, inst, depth + 1, out);
        }
        indent(out, depth + 1);
        out.push_str(terminator);
        if !b.yields.is_empty() {
            let _ = write!(out, " {}", values(&b.yields));
        }
        out.push('\n');
        indent(out, depth);
        out.push('}');
    }

    fn inst(&self, f: &Func, inst: &Inst, depth: usize, out: &mut String) {
        indent(out, depth);
        if !inst.results.is_empty() {
            let rs: Vec<String> = inst
                .results
                .iter()
                .map(|x| match f.name_of(*x) {
                    Some(n) => format!("{} {}", v(*x), name_text(n)),
                    None => v(*x),
                })
                .collect();
            let _ = write!(out, "{} = ", rs.join(", "));
        }
        let args = values(&inst.args);
        let spaced = if args.is_empty() {
            String::new()
        } else {
            format!(" {args}")
        };
        match &inst.kind {
            InstKind::Const(c) => {
                let _ = write!(out, "const {}{spaced}", const_text(c));
            }
            InstKind::Prim(prim) => {
                let _ = write!(out, "prim {}{spaced}", prim_text(prim, &|t| self.ty(t)));
            }
            InstKind::Builtin(b) => {
                let _ = write!(out, "builtin {}({args})", b.name());
            }
            InstKind::BuiltinRef(b) => {
                let _ = write!(out, "builtin_ref {}{spaced}", b.name());
            }
            InstKind::Call(id) => {
                let _ = write!(out, "call {}({args})", self.func_ref(*id));
            }
            InstKind::CallValue { names } => {
                let callee = inst.args.first().map(|x| v(*x)).unwrap_or_default();
                let mut parts = Vec::new();
                for (i, a) in inst.args.iter().enumerate().skip(1) {
                    match names.get(i - 1).copied().flatten() {
                        Some(n) => parts.push(format!("{}={}", name_text(n), v(*a))),
                        None => parts.push(v(*a)),
                    }
                }
                let _ = write!(out, "callv {callee}({})", parts.join(", "));
            }
            InstKind::Closure(id) => {
                let _ = write!(out, "closure {}({args})", self.func_ref(*id));
            }
            InstKind::CaptureGet(i) => {
                let _ = write!(out, "capture {i}{spaced}");
            }
            InstKind::Tuple => {
                let _ = write!(out, "tuple{spaced}");
            }
            InstKind::Derive(kind) => {
                let _ = write!(out, "derive {}{spaced}", deriv_kind_text(kind));
            }
            InstKind::ListNew => out.push_str("list_new"),
            InstKind::ListPush => {
                let _ = write!(out, "list_push{spaced}");
            }
            InstKind::ListGet => {
                let _ = write!(out, "list_get{spaced}");
            }
            InstKind::ListLen => {
                let _ = write!(out, "list_len{spaced}");
            }
            InstKind::TupleGet(i) => {
                let _ = write!(out, "tget {i}{spaced}");
            }
            InstKind::Record(s) => {
                let _ = write!(out, "record {}{spaced}", self.struct_ref(*s));
            }
            InstKind::Field(name) => {
                let _ = write!(out, "field .{}{spaced}", name_text(*name));
            }
            InstKind::RecordGet(i) => {
                let _ = write!(out, "rget {i}{spaced}");
            }
            InstKind::If { then, else_ } => {
                let _ = write!(out, "if{spaced} ");
                self.block(f, then, depth, "yield", out);
                out.push_str(" else ");
                self.block(f, else_, depth, "yield", out);
            }
            InstKind::For { body } => {
                let (bounds, carried) = inst.args.split_at(inst.args.len().min(2));
                let _ = write!(out, "for {}", values(bounds));
                if !carried.is_empty() {
                    let _ = write!(out, " carry({})", values(carried));
                }
                out.push(' ');
                self.block(f, body, depth, "yield", out);
            }
            InstKind::While { cond, body } => {
                let _ = write!(out, "while carry({args}) ");
                self.block(f, cond, depth, "yield", out);
                out.push_str(" do ");
                self.block(f, body, depth, "yield", out);
            }
        }
        let tys: Vec<Option<&Ty>> = inst.results.iter().map(|x| f.ty(*x)).collect();
        if tys.iter().any(|t| t.is_some()) {
            let ts: Vec<String> = tys
                .iter()
                .map(|t| t.map(|t| self.ty(t)).unwrap_or_else(|| "_".into()))
                .collect();
            let _ = write!(out, " : {}", ts.join(", "));
        }
        out.push('\n');
    }

    fn ty(&self, t: &Ty) -> String {
        match t {
            Ty::Tensor(t) => {
                let mut s = t.dtype.name().to_string();
                if !t.shape.is_scalar() {
                    s.push_str(&t.shape.to_string());
                }
                if t.weak {
                    s.push('~');
                }
                s
            }
            Ty::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(|t| self.ty(t)).collect();
                if parts.len() == 1 {
                    format!("({},)", parts.join(""))
                } else {
                    format!("({})", parts.join(", "))
                }
            }
            Ty::Record(s, fields) => {
                let parts: Vec<String> = fields.iter().map(|t| self.ty(t)).collect();
                format!("{}{{{}}}", self.struct_ref(*s), parts.join(", "))
            }
            Ty::Str => "str".into(),
            Ty::Never => "never".into(),
            Ty::List(e) => format!("list({})", self.ty(e)),
            Ty::Fn(f) => self.fn_ty(f),
        }
    }

    /// `fn @f(captures)`, `builtin sqrt`, `deriv grad[0, 1] tuple value of …`.
    fn fn_ty(&self, f: &FnTy) -> String {
        match f {
            FnTy::User { func, captures } => {
                let parts: Vec<String> = captures.iter().map(|t| self.ty(t)).collect();
                format!("fn {}({})", self.func_ref(*func), parts.join(", "))
            }
            FnTy::Builtin(b) => format!("builtin {}", b.name()),
            FnTy::Derivative { kind, of } => format!("deriv {} of {}", deriv_kind_text(kind), self.fn_ty(of)),
        }
    }
}

/// `grad[0, 1] tuple value`, `vjp`, `jvp`, `hessian`.
fn deriv_kind_text(kind: &DerivKind) -> String {
    match kind {
        DerivKind::Grad {
            wrt,
            tuple,
            with_value,
        } => {
            let list: Vec<String> = wrt.iter().map(|w| w.to_string()).collect();
            let mut k = format!("grad[{}]", list.join(", "));
            if *tuple {
                k.push_str(" tuple");
            }
            if *with_value {
                k.push_str(" value");
            }
            k
        }
        DerivKind::Vjp => "vjp".into(),
        DerivKind::Jvp => "jvp".into(),
        DerivKind::Hessian => "hessian".into(),
    }
}

impl Printer<'_> {
    fn ann(&self, a: &TypeAnn) -> String {
        match a {
            TypeAnn::Int => "int".into(),
            TypeAnn::Bool => "bool".into(),
            TypeAnn::Float => "float".into(),
            TypeAnn::F32 => "f32".into(),
            TypeAnn::F64 => "f64".into(),
            TypeAnn::Tensor => "Tensor".into(),
            TypeAnn::Str => "str".into(),
            TypeAnn::Struct(s) => self.struct_ref(*s),
            TypeAnn::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(|t| self.ann(t)).collect();
                if parts.len() == 1 {
                    format!("({},)", parts.join(""))
                } else {
                    format!("({})", parts.join(", "))
                }
            }
        }
    }
}

/// A prim with its attributes: `sum{axis=1,keepdims}`, `index[at, lo:]`,
/// `cast{f64}`, `stack{f32,literal}`, `load{(f32[2], int)}` (types written
/// by `ty`).
pub(crate) fn prim_text(prim: &Prim, ty: &dyn Fn(&Ty) -> String) -> String {
    let name = prim.info().name;
    match prim {
        Prim::Cast(d)
        | Prim::Full(d)
        | Prim::Linspace(d)
        | Prim::Eye(d)
        | Prim::LoadCsv(d)
        | Prim::Random(RandomOp::Uniform(d) | RandomOp::Normal(d)) => format!("{name}{{{}}}", d.name()),
        Prim::LoadNpy(t) | Prim::Load(t) => format!("{name}{{{}}}", ty(t)),
        Prim::Reduce { axis, keepdims, .. } => {
            let mut attrs = Vec::new();
            if let Some(a) = axis {
                attrs.push(format!("axis={a}"));
            }
            if *keepdims {
                attrs.push("keepdims".to_string());
            }
            if attrs.is_empty() {
                name.to_string()
            } else {
                format!("{name}{{{}}}", attrs.join(","))
            }
        }
        Prim::Index(items) => format!("{name}{}", index_items_text(items)),
        Prim::Transpose(perm) => {
            let list: Vec<String> = perm.iter().map(|p| p.to_string()).collect();
            format!("{name}{{{}}}", list.join(","))
        }
        Prim::ExpandDims(axis) | Prim::Concat(axis) | Prim::Take(axis) | Prim::TakeGrad(axis) => {
            format!("{name}{{{axis}}}")
        }
        Prim::Reshape(to) => {
            let list: Vec<String> = to.iter().map(|d| d.to_string()).collect();
            format!("{name}{{{}}}", list.join(","))
        }
        Prim::IndexGrad(items) | Prim::IndexAdd(items) => format!("{name}{}", index_items_text(items)),
        Prim::Conv2d { stride, padding }
        | Prim::Conv2dGradInput { stride, padding }
        | Prim::Conv2dGradWeight { stride, padding } => {
            format!("{name}{{stride={stride},padding={padding}}}")
        }
        Prim::MaxPool2d(k) | Prim::AvgPool2d(k) | Prim::MaxPool2dMask(k) | Prim::Pool2dSpread(k) => {
            format!("{name}{{{k}}}")
        }
        Prim::ExtremeMask { min, axis } => {
            let mut attrs = Vec::new();
            if *min {
                attrs.push("min".to_string());
            }
            if let Some(a) = axis {
                attrs.push(format!("axis={a}"));
            }
            format!("{name}{{{}}}", attrs.join(","))
        }
        Prim::Stack { dtype, literal } => {
            if *literal {
                format!("{name}{{{},literal}}", dtype.name())
            } else {
                format!("{name}{{{}}}", dtype.name())
            }
        }
        Prim::Unary(_)
        | Prim::Binary(_)
        | Prim::Where
        | Prim::Clip
        | Prim::MatMul
        | Prim::Shape
        | Prim::Len
        | Prim::Arange
        | Prim::Print
        | Prim::Assert
        | Prim::AssertClose
        | Prim::SaveCsv
        | Prim::SaveNpy
        | Prim::Save
        | Prim::TempPath
        | Prim::Batches
        | Prim::Progress
        | Prim::Plot
        | Prim::StopGradient
        | Prim::Random(_)
        | Prim::ScoreGrad { .. }
        | Prim::BroadcastLike
        | Prim::SumLike
        | Prim::ReshapeLike
        | Prim::Solve
        | Prim::Det
        | Prim::Cholesky => name.to_string(),
    }
}

/// `[at, lo:hi, :]`
fn index_items_text(items: &[IndexItem]) -> String {
    let parts: Vec<&str> = items
        .iter()
        .map(|it| match it {
            IndexItem::At => "at",
            IndexItem::Slice { lo: true, hi: true } => "lo:hi",
            IndexItem::Slice { lo: true, hi: false } => "lo:",
            IndexItem::Slice { lo: false, hi: true } => ":hi",
            IndexItem::Slice { lo: false, hi: false } => ":",
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// One past the largest value the function defines (0 if none).
fn defined_len(f: &Func) -> usize {
    fn block_max(b: &Block, m: &mut usize) {
        for x in &b.params {
            *m = (*m).max(x.0 as usize + 1);
        }
        for inst in &b.insts {
            for x in &inst.results {
                *m = (*m).max(x.0 as usize + 1);
            }
            match &inst.kind {
                InstKind::If { then, else_ } => {
                    block_max(then, m);
                    block_max(else_, m);
                }
                InstKind::For { body } => block_max(body, m),
                InstKind::While { cond, body } => {
                    block_max(cond, m);
                    block_max(body, m);
                }
                InstKind::Const(_)
                | InstKind::Prim(_)
                | InstKind::Builtin(_)
                | InstKind::BuiltinRef(_)
                | InstKind::Call(_)
                | InstKind::CallValue { .. }
                | InstKind::Closure(_)
                | InstKind::CaptureGet(_)
                | InstKind::Tuple
                | InstKind::TupleGet(_)
                | InstKind::Record(_)
                | InstKind::Field(_)
                | InstKind::RecordGet(_)
                | InstKind::Derive(_)
                | InstKind::ListNew
                | InstKind::ListPush
                | InstKind::ListGet
                | InstKind::ListLen => {}
            }
        }
    }
    let mut m = f.param_values.iter().map(|x| x.0 as usize + 1).max().unwrap_or(0);
    block_max(&f.body, &mut m);
    m
}

#[cfg(test)]
pub(crate) mod samples;
#[cfg(test)]
mod tests;

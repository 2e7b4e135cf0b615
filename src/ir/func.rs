//! The IR's program structure: functions made of blocks of instructions over
//! SSA values, with structured control flow.
//!
//! - A [`Value`] is a typed index into its function's value table; every value
//!   is defined once, by a function parameter, a block parameter or an
//!   instruction result, and used only inside the block that defines it or
//!   blocks nested in it.
//! - Control flow is structured: `if`, `for` and `while` instructions own their
//!   [`Block`]s and produce results; there are no jumps. `break`, `continue` and
//!   `return` are lowered to loop-carried flags (see `front/lower.rs`), so every
//!   later stage sees only these three forms.
//! - The same data structure holds the untyped IR (after lowering) and the
//!   specialized IR (after `specialize`), where every value has a [`Ty`] and the
//!   instruction kinds marked "untyped only" no longer occur.

use super::builtin::Builtin;
use super::op::Prim;
use super::types::Ty;
use crate::syntax::{Span, Symbol};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StructId(pub u32);

/// A whole program: every function (user functions, lifted lambdas, the main
/// body, test bodies, imported modules' functions), every struct, and the
/// entry points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub structs: Vec<StructDef>,
    pub funcs: Vec<Func>,
    /// The top-level statements of the main file, as a function of no arguments.
    pub main: Option<FuncId>,
    pub tests: Vec<TestDef>,
    /// Custom reverse rules: (function, its `adjoint` declaration as a
    /// function of the arguments, the result and the result's adjoint).
    pub adjoints: Vec<(FuncId, FuncId)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StructDef {
    /// Qualified name: `Point`, `nn.Dense`.
    pub name: Symbol,
    pub fields: Vec<Symbol>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestDef {
    pub name: String,
    pub func: FuncId,
    pub span: Span,
}

/// A checked type annotation on a parameter or result.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeAnn {
    Int,
    Bool,
    /// `float`: a float scalar of either width.
    Float,
    F32,
    F64,
    /// `Tensor`: any tensor (scalars included).
    Tensor,
    Str,
    Struct(StructId),
    Tuple(Vec<TypeAnn>),
}

/// The default of a parameter: a constant, or a function of no arguments that
/// computes it (for defaults that are not literals).
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    Const(Const),
    Thunk(FuncId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Symbol,
    pub span: Span,
    pub ann: Option<TypeAnn>,
    pub default: Option<DefaultValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    /// Qualified display name: `fact`, `nn.dense`, `main`, `lambda@c01_basics.dl:12`.
    pub name: Symbol,
    /// Declared parameters. A lifted lambda's captures come first and are
    /// counted by `n_captures`; they have no defaults.
    pub params: Vec<Param>,
    pub n_captures: usize,
    /// The values bound to `params`, in order.
    pub param_values: Vec<Value>,
    pub ret_ann: Option<TypeAnn>,
    pub body: Block,
    pub span: Span,
    /// Per-value facts, indexed by `Value`.
    pub values: Vec<ValueInfo>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ValueInfo {
    /// `None` in untyped IR; always `Some` after specialization.
    pub ty: Option<Ty>,
    /// The user's name for this value, when it has one (for printing).
    pub name: Option<Symbol>,
}

/// A straight-line sequence of instructions with parameters and yielded values.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Block {
    pub params: Vec<Value>,
    pub insts: Vec<Inst>,
    /// The values the block produces: the function result, an `if` branch's
    /// results, or a loop body's next carried values.
    pub yields: Vec<Value>,
}

impl Block {
    /// How many times each value is read in this block and the blocks
    /// nested in it: as an operand or as a yield.
    pub fn read_counts(&self) -> std::collections::HashMap<Value, usize> {
        fn count(b: &Block, out: &mut std::collections::HashMap<Value, usize>) {
            for inst in &b.insts {
                for &a in &inst.args {
                    *out.entry(a).or_default() += 1;
                }
                for inner in inst.blocks() {
                    count(inner, out);
                }
            }
            for &y in &b.yields {
                *out.entry(y).or_default() += 1;
            }
        }
        let mut out = std::collections::HashMap::new();
        count(self, &mut out);
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Inst {
    pub kind: InstKind,
    pub args: Vec<Value>,
    pub results: Vec<Value>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i64),
    /// A float literal; its width comes from the value's type after specialization.
    Float(f64),
    Bool(bool),
    Str(String),
    /// The unit value `()`, also used for absent optional arguments.
    Unit,
    /// A placeholder that is never read (typed `Never` until a join gives it a
    /// type): the initial value of a function's early-return slot.
    Undef,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InstKind {
    Const(Const),
    /// A primitive operation. The untyped IR holds only prims whose attributes
    /// are syntactic (operators, indexing, tensor literals, whose `Stack` dtype
    /// is filled in by specialization); specialization produces all others.
    Prim(Prim),
    /// A builtin call with arguments bound to its parameters in order (untyped
    /// IR only; specialization turns it into prims).
    Builtin(Builtin),
    /// A builtin used as a value.
    BuiltinRef(Builtin),
    /// A direct call. In the untyped IR the callee is a declared function; in the
    /// specialized IR it is a specialized function.
    Call(FuncId),
    /// A call of a function value `args[0]` with `args[1..]`; `names` gives each
    /// argument's name when it was passed by name (untyped IR only).
    CallValue {
        names: Vec<Option<Symbol>>,
    },
    /// A closure of a lifted function over the captured values `args`. Its type
    /// names the untyped function; calls to it are resolved by specialization.
    Closure(FuncId),
    /// The `i`-th captured value of a closure (specialized IR only).
    CaptureGet(u32),
    /// A tuple of `args`.
    Tuple,
    /// The `i`-th element of a tuple.
    TupleGet(u32),
    /// A record of a struct, `args` in declared field order.
    Record(StructId),
    /// A field by name (untyped IR only).
    Field(Symbol),
    /// A field by its index in the struct (specialized IR only).
    RecordGet(u32),
    /// `grad(f)`, `vjp(f)`, …: a function value that is the derivative of the
    /// function value `args[0]` (typed IR; at run time the same value).
    Derive(super::types::DerivKind),
    /// An empty list (its element type is in the result's type).
    ListNew,
    /// `args = [list, v]`: the list with `v` appended (in place when unshared).
    ListPush,
    /// `args = [list, i]`: the `i`-th element.
    ListGet,
    /// `args = [list]`: the number of elements, an int.
    ListLen,
    /// `args[0]` is the condition; each branch yields one value per result.
    If {
        then: Block,
        else_: Block,
    },
    /// `for i in lo..hi`: `args = [lo, hi, init…]`; `body.params = [i, carried…]`;
    /// the body yields the next carried values; results are the final ones.
    For {
        body: Block,
    },
    /// `args = init…`; `cond.params` and `body.params` are the carried values;
    /// `cond` yields one bool; `body` yields the next carried values.
    While {
        cond: Block,
        body: Block,
    },
}

impl Inst {
    /// The blocks this instruction owns, in order (`if`: then, else; `while`:
    /// cond, body), so passes can walk nested code without matching on kinds.
    pub fn blocks(&self) -> Vec<&Block> {
        match &self.kind {
            InstKind::If { then, else_ } => vec![then, else_],
            InstKind::For { body } => vec![body],
            InstKind::While { cond, body } => vec![cond, body],
            _ => Vec::new(),
        }
    }

    pub fn blocks_mut(&mut self) -> Vec<&mut Block> {
        match &mut self.kind {
            InstKind::If { then, else_ } => vec![then, else_],
            InstKind::For { body } => vec![body],
            InstKind::While { cond, body } => vec![cond, body],
            _ => Vec::new(),
        }
    }
}

impl Func {
    /// A fresh value with optional type and name.
    pub fn new_value(&mut self, ty: Option<Ty>, name: Option<Symbol>) -> Value {
        self.values.push(ValueInfo { ty, name });
        Value((self.values.len() - 1) as u32)
    }

    pub fn ty(&self, v: Value) -> Option<&Ty> {
        self.values.get(v.0 as usize).and_then(|i| i.ty.as_ref())
    }

    /// The type of the function's result (`Never` when unknown).
    pub fn result_ty(&self) -> Ty {
        self.body
            .yields
            .first()
            .and_then(|&y| self.ty(y).cloned())
            .unwrap_or(Ty::Never)
    }

    /// The types of the parameters, in order (`Never` when unknown).
    pub fn param_tys(&self) -> Vec<Ty> {
        self.param_values
            .iter()
            .map(|&p| self.ty(p).cloned().unwrap_or(Ty::Never))
            .collect()
    }

    pub fn name_of(&self, v: Value) -> Option<Symbol> {
        self.values.get(v.0 as usize).and_then(|i| i.name)
    }
}

impl Program {
    pub fn func(&self, id: FuncId) -> Option<&Func> {
        self.funcs.get(id.0 as usize)
    }

    pub fn struct_def(&self, id: StructId) -> Option<&StructDef> {
        self.structs.get(id.0 as usize)
    }

    /// The custom adjoint declared for `f`, if any.
    pub fn adjoint_of(&self, f: FuncId) -> Option<FuncId> {
        self.adjoints.iter().find(|(g, _)| *g == f).map(|(_, a)| *a)
    }

    pub fn find_func(&self, name: &str) -> Option<FuncId> {
        self.funcs
            .iter()
            .position(|f| f.name.as_str() == name)
            .map(|i| FuncId(i as u32))
    }
}

impl super::types::StructNames for Program {
    fn struct_name(&self, id: StructId) -> Symbol {
        self.struct_def(id)
            .map(|s| s.name)
            .unwrap_or_else(|| Symbol::intern("?"))
    }
}

impl Func {
    /// Renumbers values in definition order and drops values that nothing
    /// defines (left over from a pass that rebuilt part of the body).
    pub fn compact(&mut self) {
        let mut map: std::collections::HashMap<Value, Value> = std::collections::HashMap::new();
        let mut values = Vec::new();
        let mut define = |v: &mut Value, old: &[ValueInfo]| {
            let info = old.get(v.0 as usize).cloned().unwrap_or_default();
            let new = Value(values.len() as u32);
            values.push(info);
            map.insert(*v, new);
            *v = new;
        };
        let old = std::mem::take(&mut self.values);
        for p in &mut self.param_values {
            define(p, &old);
        }
        // Definitions first (in order), then rewrite uses through the map.
        let mut body = std::mem::take(&mut self.body);
        rename_defs(&mut body, &mut |v| define(v, &old));
        rename_uses(&mut body, &map);
        self.body = body;
        self.values = values;
    }
}

fn rename_defs(b: &mut Block, define: &mut dyn FnMut(&mut Value)) {
    for p in &mut b.params {
        define(p);
    }
    for inst in &mut b.insts {
        for inner in inst.blocks_mut() {
            rename_defs(inner, define);
        }
        for r in &mut inst.results {
            define(r);
        }
    }
}

fn rename_uses(b: &mut Block, map: &std::collections::HashMap<Value, Value>) {
    let get = |v: &mut Value| {
        if let Some(n) = map.get(v) {
            *v = *n;
        }
    };
    for inst in &mut b.insts {
        inst.args.iter_mut().for_each(get);
        for inner in inst.blocks_mut() {
            rename_uses(inner, map);
        }
    }
    b.yields.iter_mut().for_each(get);
}

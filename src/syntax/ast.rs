//! The spanned abstract syntax tree produced by the parser.
//!
//! The AST mirrors the surface syntax of `LANGUAGE.md` one to one; nothing is
//! resolved or desugared here. `nn.dense` parses as a [`ExprKind::Field`] on the
//! name `nn`: whether `nn` is a module or a record is decided by resolution.
//! After a parse error the parser substitutes [`ExprKind::Error`] so that it can
//! keep going and report more than one error per run.

use super::span::Span;
use super::symbol::Symbol;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: Symbol,
    pub span: Span,
}

/// One parsed `.dl` file: items are hoisted, statements run in order.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub items: Vec<Item>,
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Fn(FnDecl),
    Struct(StructDecl),
    Import(Import),
    Test(TestDecl),
    Adjoint(AdjointDecl),
}

/// `fn name(params) -> ret { body }` or `fn name(params) -> ret = expr;`.
#[derive(Clone, Debug)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeAnn>,
    /// A block expression for the `{ … }` form, any expression for the `= expr;` form.
    pub body: Expr,
    pub span: Span,
}

/// `x`, `x: Tensor`, `lr = 1e-3`, `n: int = 3`.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub ty: Option<TypeAnn>,
    pub default: Option<Expr>,
    pub span: Span,
}

/// A type annotation: `int`, `float`, `bool`, `f32`, `f64`, `Tensor`, a struct
/// name (possibly module-qualified: `nn.Dense`), or a tuple of annotations.
#[derive(Clone, Debug)]
pub enum TypeAnn {
    Named { path: Vec<Ident>, span: Span },
    Tuple { elems: Vec<TypeAnn>, span: Span },
}

/// `struct Name { a, b: Tensor }`.
#[derive(Clone, Debug)]
pub struct StructDecl {
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: Option<TypeAnn>,
}

#[derive(Clone, Debug)]
pub enum Import {
    /// `import nn;` or `import nn as n;` — a standard-library module.
    Module {
        name: Ident,
        alias: Option<Ident>,
        span: Span,
    },
    /// `import "lib/layers.dl" as layers;` — a file relative to the importing file.
    File {
        path: String,
        path_span: Span,
        alias: Ident,
        span: Span,
    },
}

/// `test "name" { … }`.
#[derive(Clone, Debug)]
pub struct TestDecl {
    pub name: String,
    pub name_span: Span,
    pub body: Block,
    pub span: Span,
}

/// `adjoint f(x, y, out, dout) { … }`: the reverse rule of `fn f(x, y)`.
#[derive(Clone, Debug)]
pub struct AdjointDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// The final expression without a semicolon: the block's value. `None` means `()`.
    pub tail: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `let pat = value;` / `let mut pat = value;` / `let x: T = value;`
    Let {
        mutable: bool,
        pat: Pattern,
        ty: Option<TypeAnn>,
        value: Expr,
    },
    /// `x = e;`, `(a, b) = e;` (op = None) and `x += e;` etc. (op = Some(Add) …).
    Assign {
        target: Pattern,
        op: Option<BinOp>,
        value: Expr,
    },
    /// An expression statement: `f(x);`, or a block-like expression (`if`, `for`,
    /// `while`, `{…}`) standing without a semicolon.
    Expr(Expr),
}

#[derive(Clone, Debug)]
pub enum Pattern {
    Name(Ident),
    Tuple {
        elems: Vec<Pattern>,
        span: Span,
    },
    /// `_`
    Wildcard(Span),
}

impl Pattern {
    pub fn span(&self) -> Span {
        match self {
            Pattern::Name(id) => id.span,
            Pattern::Tuple { span, .. } | Pattern::Wildcard(span) => *span,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    MatMul,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Pow => "**",
            BinOp::MatMul => "@",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

/// A call argument: positional (`name == None`) or named (`axis: 1`).
#[derive(Clone, Debug)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// One entry of `t[…]`: an index expression or a slice `lo:hi` (either bound optional).
#[derive(Clone, Debug)]
pub enum IndexArg {
    Index(Expr),
    Slice {
        lo: Option<Expr>,
        hi: Option<Expr>,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    /// A float literal; the type it takes depends on context (see `docs/reference.md`).
    Float(f64),
    Bool(bool),
    Str(String),
    Name(Symbol),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
    },
    Index {
        base: Box<Expr>,
        indices: Vec<IndexArg>,
    },
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `t.0`
    TupleIndex {
        base: Box<Expr>,
        index: u32,
        index_span: Span,
    },
    /// `Name { a: e, ..base }` or `nn.Dense { … }`: `path` has one or two parts.
    StructLit {
        path: Vec<Ident>,
        fields: Vec<(Ident, Expr)>,
        base: Option<Box<Expr>>,
    },
    /// `(a, b)`, `(a,)`; `()` is the empty tuple.
    Tuple(Vec<Expr>),
    /// `[a, b, c]`
    TensorLit(Vec<Expr>),
    /// `|x, y| body`
    Lambda {
        params: Vec<Param>,
        body: Box<Expr>,
    },
    Block(Block),
    /// `if c { … } else …`; `else_` is a `Block` or another `If` expression.
    If {
        cond: Box<Expr>,
        then: Block,
        else_: Option<Box<Expr>>,
    },
    /// `for pat in iter { … }`: `iter` is a range, a tensor (its first axis), or an
    /// iterable such as `batches(…)`.
    For {
        pat: Pattern,
        iter: Box<Expr>,
        body: Block,
    },
    /// `a..b`: the ints from `a` up to `b` excluded. Lowest precedence, not associative.
    Range {
        lo: Box<Expr>,
        hi: Box<Expr>,
    },
    While {
        cond: Box<Expr>,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Box<Expr>>),
    /// Stands in for an expression that failed to parse.
    Error,
}

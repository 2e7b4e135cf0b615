//! Types of IR values after specialization.
//!
//! Scalars are rank-0 tensors: `int` is `Tensor(i64, [])`, `bool` is
//! `Tensor(bool, [])`, `float` is `Tensor(f32 or f64, [])`. A dimension may be
//! unknown until run time (`None`): shapes that depend on run-time ints
//! (`zeros([n, 3])` inside a loop over `n`) are checked by the kernels instead,
//! with the same span. Everything known statically is checked statically.

use crate::syntax::Symbol;
use std::fmt;

use super::builtin::Builtin;
use super::func::{FuncId, StructId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I64,
    F32,
    F64,
}

impl DType {
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I64 => "int",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    pub fn from_name(s: &str) -> Option<DType> {
        match s {
            "bool" => Some(DType::Bool),
            "int" | "i64" => Some(DType::I64),
            "f32" => Some(DType::F32),
            "f64" => Some(DType::F64),
            _ => None,
        }
    }
}

/// One dimension: known at specialization time, or only at run time.
pub type Dim = Option<usize>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    pub fn known(dims: &[usize]) -> Shape {
        Shape(dims.iter().map(|&d| Some(d)).collect())
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// All dimensions, if every one is known.
    pub fn concrete(&self) -> Option<Vec<usize>> {
        self.0.iter().copied().collect()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match d {
                Some(n) => write!(f, "{n}")?,
                None => write!(f, "?")?,
            }
        }
        write!(f, "]")
    }
}

/// A tensor type. `weak` marks a float that came from a literal and has not met
/// a float of definite type yet: it takes the other operand's float type
/// (`x_f64 * 0.1` is f64, with 0.1 rounded once to f64), like JAX's weak types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorTy {
    pub dtype: DType,
    pub shape: Shape,
    pub weak: bool,
}

impl TensorTy {
    pub fn scalar(dtype: DType) -> TensorTy {
        TensorTy {
            dtype,
            shape: Shape::scalar(),
            weak: false,
        }
    }

    pub fn new(dtype: DType, shape: Shape) -> TensorTy {
        TensorTy {
            dtype,
            shape,
            weak: false,
        }
    }
}

/// What a function value refers to: a user function or lambda (with the types of
/// its captured values), a builtin used as a value (`apply(sqrt, x)`), or a
/// derivative of another function value (`grad(f)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FnTy {
    /// A lifted function of the untyped program and the types of its captures.
    User {
        func: FuncId,
        captures: Vec<Ty>,
    },
    Builtin(Builtin),
    /// `grad(f)`, `vjp(f)`, …: the derivative `kind` of the function value
    /// `of`. At run time its value is the value of `of`.
    Derivative {
        kind: DerivKind,
        of: Box<FnTy>,
    },
}

impl FnTy {
    /// The function a derivative is taken of, through any number of layers:
    /// the run-time value of a derivative is the value of this function.
    pub fn base(&self) -> &FnTy {
        match self {
            FnTy::Derivative { of, .. } => of.base(),
            FnTy::User { .. } | FnTy::Builtin(_) => self,
        }
    }
}

/// Which derivative of a function a `FnTy::Derivative` is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DerivKind {
    /// `grad(f, wrt: …)` and `value_and_grad(f, …)`: `wrt` lists argument
    /// positions; `tuple` is true when `wrt` was written as a tuple (the
    /// result is then a tuple of gradients).
    Grad {
        wrt: Vec<usize>,
        tuple: bool,
        with_value: bool,
    },
    /// `vjp(f)(x…, dy)`
    Vjp,
    /// `jvp(f)(x…, dx…)`
    Jvp,
    /// `hessian(f)(x)`
    Hessian,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Tensor(TensorTy),
    /// Tuples; the empty tuple is the unit value `()`.
    Tuple(Vec<Ty>),
    /// A record of a declared struct, with the type of each field in declared order.
    Record(StructId, Vec<Ty>),
    Str,
    Fn(Box<FnTy>),
    /// A growable list of values of one type: the tape that reverse mode keeps
    /// for loops (never written by users).
    List(Box<Ty>),
    /// The type of a computation that produces no value: a path that always
    /// recurses, or an undefined placeholder (`Const::Undef`). It joins with
    /// anything (`Never ∨ T = T`); specialization uses it as the bottom of its
    /// fixpoints, and it never reaches a kernel.
    Never,
}

impl Ty {
    pub fn unit() -> Ty {
        Ty::Tuple(Vec::new())
    }

    pub fn scalar(dtype: DType) -> Ty {
        Ty::Tensor(TensorTy::scalar(dtype))
    }

    pub fn int() -> Ty {
        Ty::scalar(DType::I64)
    }

    pub fn bool() -> Ty {
        Ty::scalar(DType::Bool)
    }

    pub fn as_tensor(&self) -> Option<&TensorTy> {
        match self {
            Ty::Tensor(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_unit(&self) -> bool {
        matches!(self, Ty::Tuple(v) if v.is_empty())
    }
}

/// Names for printing types in diagnostics; struct names need the program.
pub trait StructNames {
    fn struct_name(&self, id: StructId) -> Symbol;
}

impl Ty {
    /// A user-facing rendering: `float`, `f32[2, 3]`, `(int, float)`, `Point`.
    pub fn describe(&self, names: &dyn StructNames) -> String {
        match self {
            Ty::Tensor(t) if t.shape.is_scalar() => match t.dtype {
                DType::Bool => "bool".into(),
                DType::I64 => "int".into(),
                DType::F32 => "f32 scalar".into(),
                DType::F64 => "f64 scalar".into(),
            },
            Ty::Tensor(t) => format!("{}{}", t.dtype.name(), t.shape),
            Ty::Tuple(v) => {
                let parts: Vec<String> = v.iter().map(|t| t.describe(names)).collect();
                if parts.len() == 1 {
                    format!("({},)", parts.join(", "))
                } else {
                    format!("({})", parts.join(", "))
                }
            }
            Ty::Record(id, _) => names.struct_name(*id).to_string(),
            Ty::Str => "string".into(),
            Ty::Fn(_) => "function".into(),
            Ty::List(t) => format!("list of {}", t.describe(names)),
            Ty::Never => "never".into(),
        }
    }
}

//! Shape and dtype rules: for each prim, the type of its result given the
//! types (and, where known, the constant values) of its operands.
//!
//! Specialization calls [`result_type`] to type every prim and to report shape
//! errors before the program runs; the verifier calls the same function to
//! re-check specialized IR. Dimensions unknown statically (`None`) are treated
//! as compatible with anything here and checked by the kernels at run time.
//!
//! Dtypes follow the language's promotion order bool < int < float ([`promote`]):
//! f32 with f64 gives f64, a weak float (from a literal) takes the other
//! operand's float type, and bools count as numbers in arithmetic. The compiler
//! inserts casts so that kernels see equal dtypes, but the rules accept unequal
//! ones and return the promoted result, so the same function serves both.
//!
//! ```text
//! add(f32[2, 1], f64[3])       -> f64[2, 3]
//! matmul(f32[4, 2, 3], f32[3]) -> f32[4, 2]
//! sum{axis=1}(int[2, 3])       -> int[2]
//! ```

mod rules;
#[cfg(test)]
mod tests;

pub(crate) use rules::storable;

use super::op::Prim;
use super::types::{DType, Shape, TensorTy, Ty};

/// A statically known constant value of an operand (ints for shapes, axes,
/// indices; floats and bools for folding).
#[derive(Clone, Debug, PartialEq)]
pub enum Known {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A vector of ints or a tuple of ints: a shape such as `[2, 3]` or `(2, 3)`.
    Ints(Vec<i64>),
}

/// One operand as the rule sees it.
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    pub ty: &'a Ty,
    pub known: Option<&'a Known>,
}

/// Why a prim cannot take these operands; specialization adds the span.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeError {
    pub message: String,
    /// The operand at fault, if one is.
    pub operand: Option<usize>,
    pub help: Option<String>,
}

impl ShapeError {
    pub(crate) fn new(message: impl Into<String>) -> ShapeError {
        ShapeError {
            message: message.into(),
            operand: None,
            help: None,
        }
    }

    pub(crate) fn at(operand: usize, message: impl Into<String>) -> ShapeError {
        ShapeError {
            message: message.into(),
            operand: Some(operand),
            help: None,
        }
    }
}

/// The result type of `prim` applied to `operands`.
pub fn result_type(prim: &Prim, operands: &[Operand<'_>], default_float: DType) -> Result<Ty, ShapeError> {
    rules::result_type(prim, operands, default_float)
}

/// NumPy broadcasting of two shapes, aligned at the last axis. An unknown
/// dimension against 1 stays unknown, against a known `n != 1` becomes `n`
/// (the kernel checks the run-time value), and two unknowns stay unknown.
pub fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, ShapeError> {
    let rank = a.rank().max(b.rank());
    let mut dims = Vec::with_capacity(rank);
    for i in 0..rank {
        let da = dim_from_end(a, rank - 1 - i);
        let db = dim_from_end(b, rank - 1 - i);
        let d = match (da, db) {
            (None, d) | (d, None) => d.unwrap_or(Some(1)),
            (Some(Some(x)), Some(Some(y))) if x == y => Some(x),
            (Some(Some(1)), Some(y)) => y,
            (Some(x), Some(Some(1))) => x,
            (Some(None), Some(None)) => None,
            (Some(None), Some(Some(y))) | (Some(Some(y)), Some(None)) => Some(y),
            (Some(Some(_)), Some(Some(_))) => {
                return Err(ShapeError::new(format!("cannot broadcast shapes {a} and {b}")));
            }
        };
        dims.push(d);
    }
    Ok(Shape(dims))
}

/// The dimension `k` places before the last one, or `None` (outer `Option`)
/// when the shape has fewer axes.
fn dim_from_end(s: &Shape, k: usize) -> Option<Option<usize>> {
    let r = s.rank();
    if k < r { s.0.get(r - 1 - k).copied() } else { None }
}

/// The promoted dtype of tensors meeting in one operation, and whether the
/// result is a weak float. Bools stay bool only when every operand is bool;
/// callers doing arithmetic turn that into int.
pub fn promote(tys: &[&TensorTy], default_float: DType) -> Result<(DType, bool), ShapeError> {
    if tys.is_empty() {
        return Err(ShapeError::new("no operands to promote"));
    }
    let strong_float = tys
        .iter()
        .filter(|t| t.dtype.is_float() && !t.weak)
        .map(|t| t.dtype)
        .max();
    if let Some(d) = strong_float {
        return Ok((d, false));
    }
    let weak_float = tys.iter().filter(|t| t.dtype.is_float()).map(|t| t.dtype).max();
    let any_int = tys.iter().any(|t| t.dtype == DType::I64);
    let any_bool = tys.iter().any(|t| t.dtype == DType::Bool);
    match weak_float {
        Some(_) if any_int || any_bool => Ok((default_float, true)),
        Some(d) => Ok((d, true)),
        None if any_int => Ok((DType::I64, false)),
        None => Ok((DType::Bool, false)),
    }
}

/// How a dtype is named in messages: "bool", "int" or "float".
pub(crate) fn kind_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::I64 => "int",
        DType::F32 | DType::F64 => "float",
    }
}

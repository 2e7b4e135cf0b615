//! Shape and dtype rules: for each prim, the type of its result given the
//! types (and, where known, the constant values) of its operands.
//!
//! Specialization calls [`result_type`] to type every prim and to report shape
//! errors before the program runs; the verifier calls the same function to
//! re-check specialized IR. Dimensions unknown statically (`None`) are treated
//! as compatible with anything here and checked by the kernels at run time.

use super::op::Prim;
use super::types::{DType, Ty};

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

/// The result type of `prim` applied to `operands`.
pub fn result_type(prim: &Prim, operands: &[Operand<'_>], default_float: DType) -> Result<Ty, ShapeError> {
    let _ = (prim, operands, default_float);
    Err(ShapeError {
        message: "shape rules not implemented yet".into(),
        operand: None,
        help: None,
    })
}

/// Temporary: the promotion rule.
pub fn promote(tys: &[&super::types::TensorTy], default_float: DType) -> Result<(DType, bool), ShapeError> {
    let _ = (tys, default_float);
    Err(ShapeError { message: "not yet".into(), operand: None, help: None })
}

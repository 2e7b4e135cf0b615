//! Joining types where control flow merges: the results of an `if`, and the
//! carried values of a loop across iterations (the loop's fixpoint).
//!
//! `Never` joins with anything; tensors of one dtype join to a shape whose
//! differing dimensions become unknown; numeric dtypes join by promotion (an
//! `int` accumulator that receives floats becomes a float); aggregates join
//! field by field. Anything else is a type error at the merge.

use crate::ir::types::{DType, Shape, TensorTy, Ty};

/// Why two types cannot be joined.
#[derive(Debug)]
pub struct JoinError {
    pub message: String,
}

pub fn join(a: &Ty, b: &Ty, default_float: DType) -> Result<Ty, JoinError> {
    match (a, b) {
        (Ty::Never, t) | (t, Ty::Never) => Ok(t.clone()),
        (Ty::Tensor(x), Ty::Tensor(y)) => join_tensors(x, y, default_float).map(Ty::Tensor),
        (Ty::Tuple(xs), Ty::Tuple(ys)) if xs.len() == ys.len() => {
            let parts: Result<Vec<Ty>, JoinError> = xs
                .iter()
                .zip(ys)
                .map(|(x, y)| join(x, y, default_float))
                .collect();
            parts.map(Ty::Tuple)
        }
        (Ty::Record(s, xs), Ty::Record(t, ys)) if s == t && xs.len() == ys.len() => {
            let parts: Result<Vec<Ty>, JoinError> = xs
                .iter()
                .zip(ys)
                .map(|(x, y)| join(x, y, default_float))
                .collect();
            parts.map(|p| Ty::Record(*s, p))
        }
        (Ty::Str, Ty::Str) => Ok(Ty::Str),
        (Ty::Fn(f), Ty::Fn(g)) if f == g => Ok(a.clone()),
        (Ty::Fn(_), Ty::Fn(_)) => Err(JoinError {
            message: "the two paths give different functions; a value here must always be the same function"
                .into(),
        }),
        _ => Err(JoinError {
            message: "the two paths give values of different kinds".into(),
        }),
    }
}

fn join_tensors(x: &TensorTy, y: &TensorTy, default_float: DType) -> Result<TensorTy, JoinError> {
    if x.shape.rank() != y.shape.rank() {
        return Err(JoinError {
            message: format!(
                "the two paths give tensors of different rank ({} and {})",
                x.shape, y.shape
            ),
        });
    }
    let dims = x
        .shape
        .0
        .iter()
        .zip(&y.shape.0)
        .map(|(a, b)| if a == b { *a } else { None })
        .collect();
    let dtype = join_dtype(x, y, default_float).ok_or_else(|| JoinError {
        message: format!(
            "the two paths give {} and {} values",
            x.dtype.name(),
            y.dtype.name()
        ),
    })?;
    Ok(TensorTy {
        dtype,
        shape: Shape(dims),
        weak: x.weak && y.weak,
    })
}

fn join_dtype(x: &TensorTy, y: &TensorTy, default_float: DType) -> Option<DType> {
    use DType::*;
    if x.dtype == y.dtype {
        return Some(x.dtype);
    }
    match (x.dtype, y.dtype) {
        (Bool, _) | (_, Bool) => None,
        (I64, f) | (f, I64) => Some(if f.is_float() { f } else { default_float }),
        (F32, F64) | (F64, F32) => Some(match (x.weak, y.weak) {
            (true, false) => y.dtype,
            (false, true) => x.dtype,
            _ => F64,
        }),
        _ => None,
    }
}

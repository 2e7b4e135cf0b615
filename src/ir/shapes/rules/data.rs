//! Rules of the data prims: files (CSV, NPY, checkpoints), `temp_path` and
//! `batches`. A path is a string; what a load returns is fixed by the type
//! the prim carries (read from the file's header before specialization, or
//! taken from a `like:` template), so the rule only checks that type.

use super::{operand, scalar, tensor};
use crate::ir::shapes::{Operand, ShapeError};
use crate::ir::types::{DType, Shape, TensorTy, Ty};

pub(super) fn load_csv(d: DType, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    bool_scalar(ops, 1, "`header:`")?;
    if !d.is_float() {
        return Err(ShapeError::new("load_csv reads floats"));
    }
    Ok(Ty::Tensor(TensorTy::new(d, Shape(vec![None, None]))))
}

pub(super) fn save_csv(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    let t = tensor(ops, 1)?;
    if t.shape.rank() > 2 {
        return Err(ShapeError::at(
            1,
            format!(
                "save_csv writes a table (rank 0, 1 or 2), found a tensor of rank {}",
                t.shape.rank()
            ),
        ));
    }
    Ok(Ty::unit())
}

pub(super) fn load_npy(ty: &Ty, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    match ty {
        Ty::Tensor(_) => Ok(ty.clone()),
        _ => Err(ShapeError::new("load_npy reads a tensor")),
    }
}

pub(super) fn save_npy(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    tensor(ops, 1)?;
    Ok(Ty::unit())
}

pub(super) fn load(ty: &Ty, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    storable(ty).map_err(ShapeError::new)?;
    Ok(ty.clone())
}

pub(super) fn save(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    path(ops, 0)?;
    storable(operand(ops, 1)?.ty).map_err(|m| ShapeError::at(1, m))?;
    Ok(Ty::unit())
}

pub(super) fn temp_path(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    match operand(ops, 0)?.ty {
        Ty::Str => Ok(Ty::Str),
        _ => Err(ShapeError::at(0, "temp_path needs a file name (a string)")),
    }
}

fn path(ops: &[Operand<'_>], i: usize) -> Result<(), ShapeError> {
    match operand(ops, i)?.ty {
        Ty::Str => Ok(()),
        _ => Err(ShapeError::at(i, "a path must be a string")),
    }
}

fn bool_scalar(ops: &[Operand<'_>], i: usize, what: &str) -> Result<(), ShapeError> {
    let t = scalar(ops, i, what)?;
    if t.dtype != DType::Bool {
        return Err(ShapeError::at(i, format!("{what} must be a bool")));
    }
    Ok(())
}

/// Whether a checkpoint can hold values of type `t`: tensors of any dtype,
/// and records and tuples of them.
pub(crate) fn storable(t: &Ty) -> Result<(), String> {
    match t {
        Ty::Tensor(_) => Ok(()),
        Ty::Tuple(parts) | Ty::Record(_, parts) => parts.iter().try_for_each(storable),
        Ty::Str => Err("a checkpoint cannot hold a string".into()),
        Ty::Fn(_) => Err("a checkpoint cannot hold a function".into()),
        Ty::List(_) => Err("a checkpoint cannot hold a list".into()),
        Ty::Never => Err("a checkpoint cannot hold a value that is never computed".into()),
    }
}

/// `batches(x, y, size, shuffle)`: `x` and `y` share their first axis; each
/// batch has an unknown first dimension (the last one may be short).
pub(super) fn batches(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    let (x, y) = (tensor(ops, 0)?, tensor(ops, 1)?);
    for (i, t) in [(0, x), (1, y)] {
        if t.shape.is_scalar() {
            return Err(ShapeError::at(
                i,
                "batches splits tensors along their first axis, found a scalar",
            ));
        }
    }
    if let (Some(Some(n)), Some(Some(m))) = (x.shape.0.first(), y.shape.0.first())
        && n != m
    {
        return Err(ShapeError::at(
            1,
            format!("batches needs x and y with the same number of rows, found {n} and {m}"),
        ));
    }
    let size = scalar(ops, 2, "the batch size")?;
    if size.dtype != DType::I64 {
        return Err(ShapeError::at(2, "the batch size must be an int"));
    }
    bool_scalar(ops, 3, "`shuffle:`")?;
    let rows = |t: &TensorTy| {
        let mut t = t.clone();
        if let Some(d) = t.shape.0.first_mut() {
            *d = None;
        }
        t.weak = false;
        Ty::Tensor(t)
    };
    Ok(Ty::List(Box::new(Ty::Tuple(vec![rows(x), rows(y)]))))
}

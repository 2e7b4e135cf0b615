//! The per-prim rules behind [`super::result_type`], one exhaustive match over
//! [`Prim`] dispatching to one function per op family.

mod data;

pub(crate) use data::storable;

use super::{Known, Operand, ShapeError, broadcast, kind_name, promote};
use crate::ir::op::{BinaryOp, IndexItem, Prim, RandomOp, ReduceOp, UnaryOp};
use crate::ir::types::{DType, Shape, TensorTy, Ty};

mod nn;

pub(super) fn result_type(prim: &Prim, ops: &[Operand<'_>], default_float: DType) -> Result<Ty, ShapeError> {
    let info = prim.info();
    if let Some(n) = info.arity
        && ops.len() != n
    {
        return Err(ShapeError::new(format!(
            "{} takes {n} operand{}, found {}",
            info.name,
            if n == 1 { "" } else { "s" },
            ops.len()
        )));
    }
    let df = default_float;
    match prim {
        Prim::Unary(op) => unary(*op, tensor(ops, 0)?, df),
        Prim::Binary(op) => binary(*op, tensor(ops, 0)?, tensor(ops, 1)?, df),
        Prim::Where => where_(tensor(ops, 0)?, tensor(ops, 1)?, tensor(ops, 2)?, df),
        Prim::Clip => clip(tensor(ops, 0)?, tensor(ops, 1)?, tensor(ops, 2)?, df),
        Prim::Cast(d) => {
            let t = tensor(ops, 0)?;
            Ok(Ty::Tensor(TensorTy::new(*d, t.shape.clone())))
        }
        Prim::MatMul => matmul(tensor(ops, 0)?, tensor(ops, 1)?, df),
        Prim::Reduce { op, axis, keepdims } => reduce(*op, *axis, *keepdims, tensor(ops, 0)?, df),
        Prim::Index(items) => index(items, ops),
        Prim::Shape => {
            let t = tensor(ops, 0)?;
            Ok(Ty::Tuple(vec![Ty::int(); t.shape.rank()]))
        }
        Prim::Len => {
            let t = tensor(ops, 0)?;
            if t.shape.is_scalar() {
                return Err(ShapeError::at(0, "len of a scalar"));
            }
            Ok(Ty::int())
        }
        Prim::Full(d) => full(*d, ops),
        Prim::Arange => Ok(Ty::Tensor(TensorTy::new(DType::I64, Shape(vec![count(ops, 0)?])))),
        Prim::Linspace(d) => {
            scalar(ops, 0, "linspace start")?;
            scalar(ops, 1, "linspace stop")?;
            Ok(Ty::Tensor(TensorTy::new(*d, Shape(vec![count(ops, 2)?]))))
        }
        Prim::Eye(d) => {
            let n = count(ops, 0)?;
            Ok(Ty::Tensor(TensorTy::new(*d, Shape(vec![n, n]))))
        }
        Prim::Stack { dtype, literal } => stack(*dtype, *literal, ops),
        Prim::BroadcastLike => {
            let (x, like) = (tensor(ops, 0)?, tensor(ops, 1)?);
            let b = broadcast(&x.shape, &like.shape)?;
            if b.rank() != like.shape.rank() {
                return Err(ShapeError::at(
                    0,
                    format!("cannot broadcast {} to {}", x.shape, like.shape),
                ));
            }
            Ok(Ty::Tensor(TensorTy {
                dtype: x.dtype,
                shape: like.shape.clone(),
                weak: x.weak,
            }))
        }
        Prim::SumLike => {
            let (x, like) = (tensor(ops, 0)?, tensor(ops, 1)?);
            broadcast(&like.shape, &x.shape)?;
            Ok(Ty::Tensor(TensorTy {
                dtype: x.dtype,
                shape: like.shape.clone(),
                weak: x.weak,
            }))
        }
        Prim::ReshapeLike => {
            let (x, like) = (tensor(ops, 0)?, tensor(ops, 1)?);
            if let (Some(a), Some(b)) = (x.shape.concrete(), like.shape.concrete())
                && a.iter().product::<usize>() != b.iter().product::<usize>()
            {
                return Err(ShapeError::at(
                    0,
                    format!("cannot reshape {} to {}", x.shape, like.shape),
                ));
            }
            Ok(Ty::Tensor(TensorTy {
                dtype: x.dtype,
                shape: like.shape.clone(),
                weak: x.weak,
            }))
        }
        Prim::Transpose(perm) => {
            let x = tensor(ops, 0)?;
            let mut seen = vec![false; x.shape.rank()];
            let mut dims = Vec::with_capacity(perm.len());
            for &p in perm {
                match (seen.get_mut(p), x.shape.0.get(p)) {
                    (Some(s), Some(d)) if !*s => {
                        *s = true;
                        dims.push(*d);
                    }
                    _ => {
                        return Err(ShapeError::at(
                            0,
                            format!("{perm:?} is not a permutation of the axes of {}", x.shape),
                        ));
                    }
                }
            }
            if dims.len() != x.shape.rank() {
                return Err(ShapeError::at(
                    0,
                    format!("{perm:?} is not a permutation of the axes of {}", x.shape),
                ));
            }
            Ok(Ty::Tensor(TensorTy {
                dtype: x.dtype,
                shape: Shape(dims),
                weak: x.weak,
            }))
        }
        Prim::ExpandDims(axis) => {
            let x = tensor(ops, 0)?;
            if *axis > x.shape.rank() {
                return Err(ShapeError::at(
                    0,
                    format!("axis {axis} is out of range for a new axis of {}", x.shape),
                ));
            }
            let mut dims = x.shape.0.clone();
            dims.insert(*axis, Some(1));
            Ok(Ty::Tensor(TensorTy {
                dtype: x.dtype,
                shape: Shape(dims),
                weak: x.weak,
            }))
        }
        Prim::Reshape(to) => reshape(to, tensor(ops, 0)?),
        Prim::Concat(axis) => concat(*axis, ops),
        Prim::Take(axis) => take(*axis, tensor(ops, 0)?, tensor(ops, 1)?),
        Prim::TakeGrad(_) => {
            let (g, like) = (tensor(ops, 0)?, tensor(ops, 1)?);
            Ok(Ty::Tensor(TensorTy {
                dtype: g.dtype,
                shape: like.shape.clone(),
                weak: g.weak,
            }))
        }
        Prim::Solve => solve(tensor(ops, 0)?, tensor(ops, 1)?),
        Prim::Det => {
            let a = square(tensor(ops, 0)?, "det", 0)?;
            Ok(tensor_ty(a.dtype, Shape::scalar(), a.weak))
        }
        Prim::Cholesky => Ok(Ty::Tensor(square(tensor(ops, 0)?, "cholesky", 0)?.clone())),
        Prim::IndexGrad(_) => {
            let (g, like) = (tensor(ops, 0)?, tensor(ops, 1)?);
            Ok(Ty::Tensor(TensorTy {
                dtype: g.dtype,
                shape: like.shape.clone(),
                weak: g.weak,
            }))
        }
        Prim::IndexAdd(_) => {
            let (acc, g) = (tensor(ops, 0)?, tensor(ops, 1)?);
            tensor(ops, 2)?;
            if acc.dtype != g.dtype {
                return Err(ShapeError::at(
                    1,
                    "index_add of a gradient of another dtype than its accumulator",
                ));
            }
            Ok(Ty::Tensor(acc.clone()))
        }
        Prim::ExtremeMask { axis, .. } => {
            let x = tensor(ops, 0)?;
            if let Some(a) = axis
                && *a >= x.shape.rank()
            {
                return Err(ShapeError::at(
                    0,
                    format!("axis {a} is out of range for {}", x.shape),
                ));
            }
            Ok(Ty::Tensor(TensorTy::new(DType::Bool, x.shape.clone())))
        }
        Prim::Conv2d { stride, padding } => nn::conv2d(ops, *stride, *padding),
        Prim::Conv2dGradInput { .. } => nn::conv2d_grad(ops, "conv2d_grad_input"),
        Prim::Conv2dGradWeight { .. } => nn::conv2d_grad(ops, "conv2d_grad_weight"),
        Prim::MaxPool2d(k) => nn::pool2d(ops, *k, "max_pool2d"),
        Prim::AvgPool2d(k) => nn::pool2d(ops, *k, "avg_pool2d"),
        Prim::MaxPool2dMask(k) => nn::pool2d_mask(ops, *k),
        Prim::Pool2dSpread(k) => nn::pool2d_spread(ops, *k),
        Prim::StopGradient => Ok(Ty::Tensor(tensor(ops, 0)?.clone())),
        Prim::Random(op) => random(*op, ops),
        Prim::ScoreGrad { .. } => Ok(Ty::Tensor(tensor(ops, 0)?.clone())),
        Prim::Print => Ok(Ty::unit()),
        Prim::Progress => {
            for i in 0..3 {
                let t = tensor(ops, i)?;
                if t.dtype != DType::I64 || !t.shape.is_scalar() {
                    return Err(ShapeError::at(
                        i,
                        format!("expected an int, found {}", describe(t)),
                    ));
                }
            }
            Ok(Ty::unit())
        }
        Prim::Plot => plot(ops),
        Prim::Assert => {
            let c = tensor(ops, 0)?;
            if c.dtype != DType::Bool || !c.shape.is_scalar() {
                return Err(ShapeError::at(
                    0,
                    format!("condition must be bool, found {}", describe(c)),
                ));
            }
            match ops.get(1).map(|o| o.ty) {
                Some(Ty::Str) => Ok(Ty::unit()),
                _ => Err(ShapeError::at(1, "the assertion message must be a string")),
            }
        }
        Prim::AssertClose => {
            let a = operand(ops, 0)?;
            let b = operand(ops, 1)?;
            scalar(ops, 2, "the tolerance")?;
            same_structure(a.ty, b.ty)?;
            Ok(Ty::unit())
        }
        Prim::LoadCsv(d) => data::load_csv(*d, ops),
        Prim::SaveCsv => data::save_csv(ops),
        Prim::LoadNpy(ty) => data::load_npy(ty, ops),
        Prim::SaveNpy => data::save_npy(ops),
        Prim::Load(ty) => data::load(ty, ops),
        Prim::Save => data::save(ops),
        Prim::TempPath => data::temp_path(ops),
        Prim::Batches => data::batches(ops),
    }
}

/// `plot`: two strings and a bool, then `ys` or `xs, ys`, where `xs` is a
/// vector and `ys` a vector, a matrix (one series per row) or a tuple of
/// vectors, all numeric.
fn plot(ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    for i in 0..2 {
        if !matches!(operand(ops, i)?.ty, Ty::Str) {
            return Err(ShapeError::at(i, "`path` and `title` of `plot` must be strings"));
        }
    }
    let log = tensor(ops, 2)?;
    if log.dtype != DType::Bool || !log.shape.is_scalar() {
        return Err(ShapeError::at(2, "`log` of `plot` must be a bool"));
    }
    if !matches!(operand(ops, 3)?.ty, Ty::Str) {
        return Err(ShapeError::at(3, "`style` of `plot` must be a string"));
    }
    let numeric = |t: &TensorTy, ranks: &[usize]| t.dtype != DType::Bool && ranks.contains(&t.shape.rank());
    let data = ops.get(4..).unwrap_or(&[]);
    let bad = |i: usize, what: &str, found: String| {
        ShapeError::at(i, format!("`plot` needs {what}, found {found}"))
    };
    let (ys_at, ys) = match data {
        [ys] => (4, ys),
        [xs, ys] => {
            match xs.ty {
                Ty::Tensor(t) if numeric(t, &[1]) => {}
                Ty::Tensor(t) => return Err(bad(4, "a vector of x values", describe(t))),
                _ => return Err(bad(4, "a vector of x values", "another kind of value".into())),
            }
            (5, ys)
        }
        _ => {
            return Err(ShapeError::new(format!(
                "`plot` takes `ys` or `xs, ys`, found {} positional arguments",
                data.len()
            )));
        }
    };
    let what = "a vector, a matrix (one series per row), a tuple of vectors, or images";
    match ys.ty {
        // Ranks 3 and 4 are images (`style: "image"`), checked when drawn.
        Ty::Tensor(t) if numeric(t, &[1, 2, 3, 4]) => Ok(Ty::unit()),
        Ty::Tensor(t) => Err(bad(ys_at, what, describe(t))),
        Ty::Tuple(parts)
            if !parts.is_empty()
                && parts
                    .iter()
                    .all(|p| matches!(p, Ty::Tensor(t) if numeric(t, &[1]))) =>
        {
            Ok(Ty::unit())
        }
        _ => Err(bad(ys_at, what, "another kind of value".into())),
    }
}

fn operand<'a>(ops: &[Operand<'a>], i: usize) -> Result<Operand<'a>, ShapeError> {
    ops.get(i)
        .copied()
        .ok_or_else(|| ShapeError::new(format!("missing operand {}", i + 1)))
}

fn tensor<'a>(ops: &[Operand<'a>], i: usize) -> Result<&'a TensorTy, ShapeError> {
    let o = operand(ops, i)?;
    match o.ty {
        Ty::Tensor(t) => Ok(t),
        Ty::Tuple(_) => Err(ShapeError::at(i, "expected a tensor, found a tuple")),
        Ty::Record(..) => Err(ShapeError::at(i, "expected a tensor, found a record")),
        Ty::Str => Err(ShapeError::at(i, "expected a tensor, found a string")),
        Ty::Fn(_) => Err(ShapeError::at(i, "expected a tensor, found a function")),
        Ty::Never => Err(ShapeError::at(
            i,
            "expected a tensor, found a value that is never computed",
        )),
        Ty::List(_) => Err(ShapeError::at(i, "expected a tensor, found a list")),
    }
}

fn scalar<'a>(ops: &[Operand<'a>], i: usize, what: &str) -> Result<&'a TensorTy, ShapeError> {
    let t = tensor(ops, i)?;
    if !t.shape.is_scalar() {
        return Err(ShapeError::at(
            i,
            format!("{what} must be a scalar, found {}", describe(t)),
        ));
    }
    Ok(t)
}

/// An int scalar operand used as a length; its value if known.
fn count(ops: &[Operand<'_>], i: usize) -> Result<Option<usize>, ShapeError> {
    let t = scalar(ops, i, "the length")?;
    if t.dtype != DType::I64 {
        return Err(ShapeError::at(
            i,
            format!("the length must be an int, found {}", kind_name(t.dtype)),
        ));
    }
    match ops.get(i).and_then(|o| o.known) {
        Some(Known::Int(n)) if *n < 0 => Err(ShapeError::at(i, format!("negative length {n}"))),
        Some(Known::Int(n)) => Ok(Some(*n as usize)),
        _ => Ok(None),
    }
}

/// `f32[2, 3]`, `int`, `f32 scalar`: how a tensor type is named in messages.
pub(super) fn describe(t: &TensorTy) -> String {
    if t.shape.is_scalar() {
        kind_name(t.dtype).to_string()
    } else {
        format!("{}{}", t.dtype.name(), t.shape)
    }
}

fn tensor_ty(dtype: DType, shape: Shape, weak: bool) -> Ty {
    Ty::Tensor(TensorTy {
        dtype,
        shape,
        weak: weak && dtype.is_float(),
    })
}

/// A float dtype for a result that must be float: floats keep theirs.
fn floated(t: &TensorTy, default_float: DType) -> (DType, bool) {
    if t.dtype.is_float() {
        (t.dtype, t.weak)
    } else {
        (default_float, false)
    }
}

fn unary(op: UnaryOp, t: &TensorTy, df: DType) -> Result<Ty, ShapeError> {
    let shape = t.shape.clone();
    let (dtype, weak) = match op {
        UnaryOp::Neg => {
            if t.dtype == DType::Bool {
                return Err(ShapeError::at(0, "cannot negate a bool; use `not`"));
            }
            (t.dtype, t.weak)
        }
        UnaryOp::Not => {
            if t.dtype != DType::Bool {
                return Err(ShapeError::at(
                    0,
                    format!("`not` needs a bool operand, found {}", kind_name(t.dtype)),
                ));
            }
            (DType::Bool, false)
        }
        UnaryOp::Abs | UnaryOp::Sign | UnaryOp::Relu | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => {
            match t.dtype {
                DType::Bool => (DType::I64, false),
                d => (d, t.weak),
            }
        }
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Sin
        | UnaryOp::Cos
        | UnaryOp::Tan
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid => floated(t, df),
    };
    Ok(tensor_ty(dtype, shape, weak))
}

fn binary(op: BinaryOp, a: &TensorTy, b: &TensorTy, df: DType) -> Result<Ty, ShapeError> {
    let shape = broadcast(&a.shape, &b.shape)?;
    match op {
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Rem
        | BinaryOp::Pow
        | BinaryOp::Maximum
        | BinaryOp::Minimum => {
            let (dtype, weak) = promote(&[a, b], df)?;
            let dtype = if dtype == DType::Bool { DType::I64 } else { dtype };
            Ok(tensor_ty(dtype, shape, weak))
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne => {
            Ok(tensor_ty(DType::Bool, shape, false))
        }
        BinaryOp::And | BinaryOp::Or => {
            let name = if op == BinaryOp::And { "and" } else { "or" };
            for (i, t) in [a, b].into_iter().enumerate() {
                if t.dtype != DType::Bool {
                    return Err(ShapeError::at(
                        i,
                        format!("`{name}` needs bool operands, found {}", kind_name(t.dtype)),
                    ));
                }
            }
            Ok(tensor_ty(DType::Bool, shape, false))
        }
    }
}

fn where_(c: &TensorTy, a: &TensorTy, b: &TensorTy, df: DType) -> Result<Ty, ShapeError> {
    if c.dtype != DType::Bool {
        return Err(ShapeError::at(
            0,
            format!("condition must be bool, found {}", kind_name(c.dtype)),
        ));
    }
    let shape = broadcast(&broadcast(&c.shape, &a.shape)?, &b.shape)?;
    let (dtype, weak) = promote(&[a, b], df)?;
    Ok(tensor_ty(dtype, shape, weak))
}

fn clip(x: &TensorTy, lo: &TensorTy, hi: &TensorTy, df: DType) -> Result<Ty, ShapeError> {
    let shape = broadcast(&broadcast(&x.shape, &lo.shape)?, &hi.shape)?;
    let (dtype, weak) = promote(&[x, lo, hi], df)?;
    let dtype = if dtype == DType::Bool { DType::I64 } else { dtype };
    Ok(tensor_ty(dtype, shape, weak))
}

fn matmul(a: &TensorTy, b: &TensorTy, df: DType) -> Result<Ty, ShapeError> {
    for (i, t) in [a, b].into_iter().enumerate() {
        if t.dtype == DType::Bool {
            return Err(ShapeError::at(i, "matrix product needs numbers, found bool"));
        }
        if t.shape.is_scalar() {
            return Err(ShapeError::at(i, "matrix product of a scalar; use `*`"));
        }
    }
    let (dtype, weak) = promote(&[a, b], df)?;
    let (sa, sb) = (&a.shape.0, &b.shape.0);
    // The contracted axis of each side, and the axes that remain.
    let (ka, kb) = match (sa.as_slice(), sb.as_slice()) {
        ([.., ka], [kb]) => (*ka, *kb),
        ([.., ka], [.., kb, _]) => (*ka, *kb),
        _ => (None, None),
    };
    if let (Some(x), Some(y)) = (ka, kb)
        && x != y
    {
        return Err(ShapeError::new(format!(
            "matrix product: inner dimensions differ ({} @ {}: {x} vs {y})",
            a.shape, b.shape
        )));
    }
    let dims = match (sa.as_slice(), sb.as_slice()) {
        ([_], [_]) => Vec::new(),
        ([_], [batch @ .., _, n]) => [batch, &[*n]].concat(),
        ([batch @ .., m, _], [_]) => [batch, &[*m]].concat(),
        ([ba @ .., m, _], [bb @ .., _, n]) => {
            let batch = broadcast(&Shape(ba.to_vec()), &Shape(bb.to_vec()))?;
            [batch.0.as_slice(), &[*m, *n]].concat()
        }
        _ => Vec::new(),
    };
    Ok(tensor_ty(dtype, Shape(dims), weak))
}

fn reduce(
    op: ReduceOp,
    axis: Option<usize>,
    keepdims: bool,
    t: &TensorTy,
    df: DType,
) -> Result<Ty, ShapeError> {
    let rank = t.shape.rank();
    let dims = match axis {
        Some(a) if a >= rank => {
            return Err(ShapeError::new(format!(
                "axis {a} is out of range for a tensor of rank {rank}"
            )));
        }
        Some(a) if keepdims => {
            let mut d = t.shape.0.clone();
            if let Some(slot) = d.get_mut(a) {
                *slot = Some(1);
            }
            d
        }
        Some(a) => {
            let mut d = t.shape.0.clone();
            d.remove(a);
            d
        }
        None if keepdims => vec![Some(1); rank],
        None => Vec::new(),
    };
    let (dtype, weak) = match op {
        ReduceOp::Sum | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min => match t.dtype {
            DType::Bool => (df, false),
            d => (d, t.weak),
        },
        ReduceOp::Mean | ReduceOp::Logsumexp | ReduceOp::Norm => floated(t, df),
        ReduceOp::Argmax | ReduceOp::Argmin => (DType::I64, false),
    };
    Ok(tensor_ty(dtype, Shape(dims), weak))
}

fn index(items: &[IndexItem], ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    let t = tensor(ops, 0)?;
    let wanted = 1 + items
        .iter()
        .map(|it| match it {
            IndexItem::At => 1,
            IndexItem::Slice { lo, hi } => usize::from(*lo) + usize::from(*hi),
        })
        .sum::<usize>();
    if ops.len() != wanted {
        return Err(ShapeError::new(format!(
            "index pattern needs {wanted} operands, found {}",
            ops.len()
        )));
    }
    if items.len() > t.shape.rank() {
        return Err(ShapeError::new(format!(
            "too many indices: {} for a tensor of rank {}",
            items.len(),
            t.shape.rank()
        )));
    }
    // Each index operand in turn: its position and known value.
    let mut next = 1;
    let mut take = |ops: &[Operand<'_>]| -> Result<Option<i64>, ShapeError> {
        let i = next;
        next += 1;
        let it = scalar(ops, i, "an index")?;
        if it.dtype != DType::I64 {
            return Err(ShapeError::at(
                i,
                format!("an index must be an int, found {}", kind_name(it.dtype)),
            ));
        }
        Ok(match ops.get(i).and_then(|o| o.known) {
            Some(Known::Int(v)) => Some(*v),
            _ => None,
        })
    };
    let mut dims = Vec::new();
    for (axis, (item, len)) in items.iter().zip(t.shape.0.iter()).enumerate() {
        match item {
            IndexItem::At => {
                let k = take(ops)?;
                if let (Some(k), Some(n)) = (k, len) {
                    let n = *n as i64;
                    if k >= n || k < -n {
                        return Err(ShapeError::at(
                            1 + axis,
                            format!("index {k} is out of range for axis {axis} of length {n}"),
                        ));
                    }
                }
            }
            IndexItem::Slice { lo, hi } => {
                let lo = if *lo { Some(take(ops)?) } else { None };
                let hi = if *hi { Some(take(ops)?) } else { None };
                dims.push(slice_len(*len, lo, hi));
            }
        }
    }
    dims.extend(t.shape.0.iter().skip(items.len()).copied());
    Ok(tensor_ty(t.dtype, Shape(dims), t.weak))
}

/// The length of `lo:hi` on an axis of length `len` (Python semantics);
/// `None` for a bound means absent, `Some(None)` present but unknown.
fn slice_len(len: Option<usize>, lo: Option<Option<i64>>, hi: Option<Option<i64>>) -> Option<usize> {
    let n = len? as i64;
    let bound = |b: Option<Option<i64>>, absent: i64| -> Option<i64> {
        let v = b.unwrap_or(Some(absent))?;
        let v = if v < 0 { v + n } else { v };
        Some(v.clamp(0, n))
    };
    let lo = bound(lo, 0)?;
    let hi = bound(hi, n)?;
    Some((hi - lo).max(0) as usize)
}

fn full(dtype: DType, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    scalar(ops, 1, "the fill value")?;
    Ok(Ty::Tensor(TensorTy::new(dtype, shape_operand(ops, 0)?)))
}

/// The shape given by operand `i`: an int, a vector or a tuple of ints.
fn shape_operand(ops: &[Operand<'_>], i: usize) -> Result<Shape, ShapeError> {
    let s = operand(ops, i)?;
    let rank = match s.ty {
        Ty::Tensor(t) if t.dtype == DType::I64 && t.shape.rank() == 1 => t.shape.0.first().copied().flatten(),
        Ty::Tensor(t) if t.dtype == DType::I64 && t.shape.is_scalar() => Some(1),
        Ty::Tuple(items) if items.iter().all(|t| *t == Ty::int()) => Some(items.len()),
        _ => return Err(ShapeError::at(i, "a shape must be a vector or a tuple of ints")),
    };
    Ok(match s.known {
        Some(Known::Ints(dims)) => {
            if let Some(d) = dims.iter().find(|d| **d < 0) {
                return Err(ShapeError::at(i, format!("negative dimension {d} in a shape")));
            }
            Shape::known(&dims.iter().map(|d| *d as usize).collect::<Vec<_>>())
        }
        Some(Known::Int(d)) if *d >= 0 => Shape::known(&[*d as usize]),
        _ => match rank {
            Some(r) => Shape(vec![None; r]),
            None => {
                return Err(ShapeError::at(
                    i,
                    "the rank of this shape is not known statically",
                ));
            }
        },
    })
}

fn random(op: RandomOp, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    let float_tensor = |i: usize, what: &str| -> Result<&TensorTy, ShapeError> {
        let t = tensor(ops, i)?;
        if t.dtype.is_float() {
            Ok(t)
        } else {
            Err(ShapeError::at(
                i,
                format!("{what} must be floats, found {}", describe(t)),
            ))
        }
    };
    match op {
        RandomOp::Seed => {
            int_scalar(ops, 0, "the seed")?;
            Ok(Ty::unit())
        }
        RandomOp::Uniform(d) | RandomOp::Normal(d) => {
            Ok(Ty::Tensor(TensorTy::new(d, shape_operand(ops, 0)?)))
        }
        RandomOp::NormalLike => {
            let t = float_tensor(0, "the mean and scale")?;
            Ok(Ty::Tensor(TensorTy::new(t.dtype, t.shape.clone())))
        }
        RandomOp::Permutation => {
            let n = int_scalar(ops, 0, "the length")?;
            let len = match n {
                Some(k) if k < 0 => {
                    return Err(ShapeError::at(
                        0,
                        format!("`permutation` of a negative length {k}"),
                    ));
                }
                Some(k) => Some(k as usize),
                None => None,
            };
            Ok(Ty::Tensor(TensorTy::new(DType::I64, Shape(vec![len]))))
        }
        RandomOp::Bernoulli => {
            let p = float_tensor(0, "probabilities")?;
            scalar(ops, 1, "the baseline")?;
            Ok(Ty::Tensor(TensorTy::new(DType::I64, p.shape.clone())))
        }
        RandomOp::Categorical => {
            let p = float_tensor(0, "probabilities")?;
            scalar(ops, 1, "the baseline")?;
            match p.shape.0.split_last() {
                Some((_, rows)) => Ok(Ty::Tensor(TensorTy::new(DType::I64, Shape(rows.to_vec())))),
                None => Err(ShapeError::at(
                    0,
                    "`sample_categorical` needs a vector of probabilities, found a scalar",
                )),
            }
        }
        RandomOp::GetState => Ok(Ty::Tensor(TensorTy::new(DType::I64, Shape::known(&[2])))),
        RandomOp::SetState => Ok(Ty::unit()),
    }
}

/// A rank-0 int operand, with its value when known.
fn int_scalar(ops: &[Operand<'_>], i: usize, what: &str) -> Result<Option<i64>, ShapeError> {
    let o = operand(ops, i)?;
    match o.ty {
        Ty::Tensor(t) if t.dtype == DType::I64 && t.shape.is_scalar() => Ok(match o.known {
            Some(Known::Int(k)) => Some(*k),
            _ => None,
        }),
        Ty::Tensor(t) => Err(ShapeError::at(
            i,
            format!("{what} must be an int, found {}", describe(t)),
        )),
        _ => Err(ShapeError::at(i, format!("{what} must be an int"))),
    }
}

fn stack(dtype: DType, literal: bool, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    let ts = (0..ops.len())
        .map(|i| tensor(ops, i))
        .collect::<Result<Vec<_>, _>>()?;
    let what = if literal { "tensor literal" } else { "stack" };
    let has_bool = ts.iter().any(|t| t.dtype == DType::Bool) || (dtype == DType::Bool && !ts.is_empty());
    if has_bool && let Some((i, t)) = ts.iter().enumerate().find(|(_, t)| t.dtype != DType::Bool) {
        return Err(ShapeError {
            message: format!(
                "{what} mixes bool and {} elements: elements must share one type",
                kind_name(t.dtype)
            ),
            operand: Some(i),
            help: Some("convert explicitly, e.g. `int(b)` or `float(b)`".into()),
        });
    }
    let mut merged: Option<Shape> = None;
    for (i, t) in ts.iter().enumerate() {
        let Some(m) = &mut merged else {
            merged = Some(t.shape.clone());
            continue;
        };
        let agrees = m.rank() == t.shape.rank()
            && m.0
                .iter()
                .zip(&t.shape.0)
                .all(|(x, y)| x.is_none() || y.is_none() || x == y);
        if !agrees {
            let first = ts.first().map(|f| &f.shape).unwrap_or(m);
            let (noun, a, b) = if first.rank() == 1 && t.shape.rank() == 1 {
                ("length", dims_text(first), dims_text(&t.shape))
            } else {
                ("shape", first.to_string(), t.shape.to_string())
            };
            let message = if literal {
                format!(
                    "ragged tensor literal: row {} has {noun} {b}, but row 1 has {noun} {a}",
                    i + 1
                )
            } else {
                format!(
                    "stack: tensor {} has {noun} {b}, but tensor 1 has {noun} {a}",
                    i + 1
                )
            };
            return Err(ShapeError::at(i, message));
        }
        for (x, y) in m.0.iter_mut().zip(&t.shape.0) {
            if x.is_none() {
                *x = *y;
            }
        }
    }
    let mut dims = vec![Some(ts.len())];
    dims.extend(merged.map(|m| m.0).unwrap_or_default());
    let weak = !ts.is_empty() && ts.iter().all(|t| t.weak && t.dtype.is_float());
    Ok(tensor_ty(dtype, Shape(dims), weak))
}

fn reshape(to: &[i64], x: &TensorTy) -> Result<Ty, ShapeError> {
    let text = || {
        let parts: Vec<String> = to.iter().map(|d| d.to_string()).collect();
        format!("[{}]", parts.join(", "))
    };
    if to.iter().filter(|d| **d == -1).count() > 1 {
        return Err(ShapeError::new(format!(
            "reshape to {}: at most one dimension can be -1",
            text()
        )));
    }
    if let Some(d) = to.iter().find(|d| **d < -1) {
        return Err(ShapeError::new(format!("negative dimension {d} in a shape")));
    }
    let dims = match x.shape.concrete() {
        Some(from) => {
            let n: usize = from.iter().product();
            let known: usize = to.iter().filter(|d| **d >= 0).map(|d| *d as usize).product();
            let inferred = if to.contains(&-1) {
                if known == 0 || !n.is_multiple_of(known) {
                    None
                } else {
                    Some(n / known)
                }
            } else if known == n {
                Some(0)
            } else {
                None
            };
            let Some(inferred) = inferred else {
                return Err(ShapeError::at(
                    0,
                    format!("cannot reshape a tensor of shape {} to {}", x.shape, text()),
                ));
            };
            to.iter()
                .map(|&d| Some(if d == -1 { inferred } else { d as usize }))
                .collect()
        }
        None => to
            .iter()
            .map(|&d| if d == -1 { None } else { Some(d as usize) })
            .collect(),
    };
    Ok(tensor_ty(x.dtype, Shape(dims), x.weak))
}

fn concat(axis: usize, ops: &[Operand<'_>]) -> Result<Ty, ShapeError> {
    let ts = (0..ops.len())
        .map(|i| tensor(ops, i))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = ts.first() else {
        return Err(ShapeError::new("concat needs at least one tensor"));
    };
    let rank = first.shape.rank();
    if axis >= rank {
        return Err(ShapeError::new(format!(
            "concat: axis {axis} is out of range for a tensor of rank {rank}"
        )));
    }
    let mut dims = first.shape.0.clone();
    let mut total = Some(0usize);
    for (i, t) in ts.iter().enumerate() {
        if t.dtype != first.dtype {
            return Err(ShapeError::at(
                i,
                format!(
                    "concat: tensor {} is {}, but tensor 1 is {}",
                    i + 1,
                    kind_name(t.dtype),
                    kind_name(first.dtype)
                ),
            ));
        }
        let agrees = t.shape.rank() == rank
            && dims
                .iter()
                .zip(&t.shape.0)
                .enumerate()
                .all(|(k, (x, y))| k == axis || x.is_none() || y.is_none() || x == y);
        if !agrees {
            return Err(ShapeError::at(
                i,
                format!(
                    "concat: tensor {} has shape {}, which does not match {} outside axis {axis}",
                    i + 1,
                    t.shape,
                    first.shape
                ),
            ));
        }
        for (k, (x, y)) in dims.iter_mut().zip(&t.shape.0).enumerate() {
            if k != axis && x.is_none() {
                *x = *y;
            }
        }
        total = match (total, t.shape.0.get(axis).copied().flatten()) {
            (Some(s), Some(n)) => Some(s + n),
            _ => None,
        };
    }
    if let Some(slot) = dims.get_mut(axis) {
        *slot = total;
    }
    let weak = ts.iter().all(|t| t.weak);
    Ok(tensor_ty(first.dtype, Shape(dims), weak))
}

fn take(axis: usize, x: &TensorTy, idx: &TensorTy) -> Result<Ty, ShapeError> {
    if idx.dtype != DType::I64 {
        return Err(ShapeError::at(
            1,
            format!("take: indices must be ints, found {}", kind_name(idx.dtype)),
        ));
    }
    let rank = x.shape.rank();
    if axis >= rank {
        return Err(ShapeError::at(
            0,
            format!("take: axis {axis} is out of range for a tensor of rank {rank}"),
        ));
    }
    let mut dims: Vec<_> = x.shape.0.iter().take(axis).copied().collect();
    dims.extend(idx.shape.0.iter().copied());
    dims.extend(x.shape.0.iter().skip(axis + 1).copied());
    Ok(tensor_ty(x.dtype, Shape(dims), x.weak))
}

/// A square float matrix operand of a linear-algebra prim.
fn square<'a>(a: &'a TensorTy, what: &str, i: usize) -> Result<&'a TensorTy, ShapeError> {
    if !a.dtype.is_float() {
        return Err(ShapeError::at(
            i,
            format!("{what} needs a float matrix, found {}", describe(a)),
        ));
    }
    match a.shape.0.as_slice() {
        [n, m] if n.is_none() || m.is_none() || n == m => Ok(a),
        _ => Err(ShapeError::at(
            i,
            format!("{what} needs a square matrix, found {}", describe(a)),
        )),
    }
}

fn solve(a: &TensorTy, b: &TensorTy) -> Result<Ty, ShapeError> {
    square(a, "solve", 0)?;
    if b.dtype != a.dtype {
        return Err(ShapeError::at(
            1,
            format!(
                "solve: the right-hand side is {}, the matrix {}",
                kind_name(b.dtype),
                kind_name(a.dtype)
            ),
        ));
    }
    let n = a.shape.0.first().copied().flatten();
    let rows = match b.shape.0.as_slice() {
        [m] | [m, _] => *m,
        _ => {
            return Err(ShapeError::at(
                1,
                format!(
                    "solve: the right-hand side must be a vector or a matrix, found {}",
                    describe(b)
                ),
            ));
        }
    };
    if let (Some(n), Some(m)) = (n, rows)
        && n != m
    {
        return Err(ShapeError::at(
            1,
            format!(
                "solve: a matrix of {} with a right-hand side of {}: {n} rows vs {m}",
                a.shape, b.shape
            ),
        ));
    }
    Ok(tensor_ty(a.dtype, b.shape.clone(), a.weak && b.weak))
}

fn dims_text(s: &Shape) -> String {
    match s.0.first() {
        Some(Some(n)) => n.to_string(),
        _ => "?".into(),
    }
}

/// `assert_close` operands: the same structure, and equal shapes where both
/// are fully known.
fn same_structure(a: &Ty, b: &Ty) -> Result<(), ShapeError> {
    match (a, b) {
        (Ty::Tensor(x), Ty::Tensor(y)) => match (x.shape.concrete(), y.shape.concrete()) {
            (Some(p), Some(q)) if p != q => Err(ShapeError::new(format!(
                "assert_close: shapes differ ({} vs {})",
                x.shape, y.shape
            ))),
            _ => Ok(()),
        },
        (Ty::Tuple(xs), Ty::Tuple(ys)) if xs.len() == ys.len() => {
            xs.iter().zip(ys).try_for_each(|(x, y)| same_structure(x, y))
        }
        (Ty::Record(s, xs), Ty::Record(t, ys)) if s == t && xs.len() == ys.len() => {
            xs.iter().zip(ys).try_for_each(|(x, y)| same_structure(x, y))
        }
        _ => Err(ShapeError::new(
            "assert_close compares tensors, tuples and records of the same structure",
        )),
    }
}

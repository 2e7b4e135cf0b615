//! Builtin calls become prims: reductions get their static axis, math lifts
//! over records and tuples, constructors get their dtype, `*_like` and casts
//! apply leaf by leaf. Builtins of later versions are rejected by lowering.

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::shapes::Known;
use crate::ir::types::{DType, DerivKind, FnTy, Ty};
use crate::ir::{BinaryOp, Builtin, Const, InstKind, Prim, ReduceOp, UnaryOp, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    pub(super) fn spec_builtin(
        &mut self,
        b: &mut FnBuild<'_>,
        bi: Builtin,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
        let df = self.opts.default_float;
        let unary = |u: UnaryOp| Prim::Unary(u);
        match bi {
            Builtin::Exp => self.lifted(b, &unary(UnaryOp::Exp), &args, span),
            Builtin::Log => self.lifted(b, &unary(UnaryOp::Log), &args, span),
            Builtin::Sqrt => self.lifted(b, &unary(UnaryOp::Sqrt), &args, span),
            Builtin::Sin => self.lifted(b, &unary(UnaryOp::Sin), &args, span),
            Builtin::Cos => self.lifted(b, &unary(UnaryOp::Cos), &args, span),
            Builtin::Tan => self.lifted(b, &unary(UnaryOp::Tan), &args, span),
            Builtin::Tanh => self.lifted(b, &unary(UnaryOp::Tanh), &args, span),
            Builtin::Sigmoid => self.lifted(b, &unary(UnaryOp::Sigmoid), &args, span),
            Builtin::Relu => self.lifted(b, &unary(UnaryOp::Relu), &args, span),
            Builtin::Abs => self.lifted(b, &unary(UnaryOp::Abs), &args, span),
            Builtin::Sign => self.lifted(b, &unary(UnaryOp::Sign), &args, span),
            Builtin::Floor => self.lifted(b, &unary(UnaryOp::Floor), &args, span),
            Builtin::Ceil => self.lifted(b, &unary(UnaryOp::Ceil), &args, span),
            Builtin::Round => self.lifted(b, &unary(UnaryOp::Round), &args, span),
            Builtin::Pow => self.lifted(b, &Prim::Binary(BinaryOp::Pow), &args, span),
            Builtin::Maximum => self.lifted(b, &Prim::Binary(BinaryOp::Maximum), &args, span),
            Builtin::Minimum => self.lifted(b, &Prim::Binary(BinaryOp::Minimum), &args, span),
            Builtin::Clip => self.lifted(b, &Prim::Clip, &args, span),
            Builtin::Where => self.elementwise(b, Prim::Where, args, span),
            Builtin::Sum => self.reduce(b, ReduceOp::Sum, &args, span),
            Builtin::Mean => self.reduce(b, ReduceOp::Mean, &args, span),
            Builtin::Prod => self.reduce(b, ReduceOp::Prod, &args, span),
            Builtin::Max => self.reduce(b, ReduceOp::Max, &args, span),
            Builtin::Min => self.reduce(b, ReduceOp::Min, &args, span),
            Builtin::Argmax => self.reduce(b, ReduceOp::Argmax, &args, span),
            Builtin::Argmin => self.reduce(b, ReduceOp::Argmin, &args, span),
            Builtin::Logsumexp => self.reduce(b, ReduceOp::Logsumexp, &args, span),
            Builtin::Norm => self.reduce(b, ReduceOp::Norm, &args, span),
            Builtin::Shape => {
                let x = arg(0);
                let Some(dims) = b.ty(x).as_tensor().map(|t| t.shape.0.clone()) else {
                    return self.emit_prim(b, Prim::Shape, vec![x], span);
                };
                // Dimensions known statically are constants (so `shape(x)[-1]`
                // can size a `one_hot` even when the batch size is not known).
                let mut run_time = None;
                let mut parts = Vec::with_capacity(dims.len());
                for (i, d) in dims.iter().enumerate() {
                    parts.push(match d {
                        Some(d) => self.emit_const(b, Const::Int(*d as i64), Ty::int(), span),
                        None => {
                            let all = match run_time {
                                Some(all) => all,
                                None => self.emit_prim(b, Prim::Shape, vec![x], span)?,
                            };
                            run_time = Some(all);
                            self.project(b, all, InstKind::TupleGet(i as u32), span)?
                        }
                    });
                }
                Ok(self.aggregate(b, InstKind::Tuple, parts, span))
            }
            Builtin::Len => match b.ty(arg(0)) {
                Ty::Tuple(parts) => Ok(self.tuple_len(b, parts.len(), span)),
                Ty::Tensor(t) if matches!(t.shape.0.first(), Some(Some(_))) => {
                    let n = t.shape.0.first().copied().flatten().unwrap_or(0);
                    Ok(self.emit_const(b, Const::Int(n as i64), Ty::int(), span))
                }
                Ty::List(_) => Ok(self.list_len(b, arg(0), span)),
                _ => self.emit_prim(b, Prim::Len, vec![arg(0)], span),
            },
            Builtin::Stack => match b.ty(arg(0)) {
                // `[a, b]` already stacks its elements.
                Ty::Tensor(_) | Ty::Never => Ok(arg(0)),
                Ty::Tuple(parts) => {
                    let mut elems = Vec::new();
                    for i in 0..parts.len() {
                        elems.push(self.project(b, arg(0), InstKind::TupleGet(i as u32), span)?);
                    }
                    self.spec_stack(b, elems, false, span)
                }
                t => Err(Diagnostic::error(
                    span,
                    format!("`stack` needs a list of tensors, found {}", t.describe(&self.out)),
                )),
            },
            Builtin::Zeros | Builtin::Ones => {
                let fill = if bi == Builtin::Zeros { 0.0 } else { 1.0 };
                let v = self.emit_const(b, Const::Float(fill), Ty::scalar(df), span);
                let shape = self.shape_operand(b, arg(0), span)?;
                self.emit_prim(b, Prim::Full(df), vec![shape, v], span)
            }
            Builtin::Full => {
                let v = arg(1);
                let dtype = match b.ty(v).as_tensor() {
                    Some(t) if t.shape.is_scalar() => t.dtype,
                    _ => {
                        return Err(Diagnostic::error(span, "`full` needs a scalar fill value"));
                    }
                };
                let shape = self.shape_operand(b, arg(0), span)?;
                self.emit_prim(b, Prim::Full(dtype), vec![shape, v], span)
            }
            Builtin::ZerosLike | Builtin::OnesLike => {
                let fill = if bi == Builtin::ZerosLike { 0.0 } else { 1.0 };
                self.like(b, arg(0), fill, span)
            }
            Builtin::Arange => self.emit_prim(b, Prim::Arange, vec![arg(0)], span),
            Builtin::Linspace => {
                let a = self.coerce(b, arg(0), df, span)?;
                let c = self.coerce(b, arg(1), df, span)?;
                self.emit_prim(b, Prim::Linspace(df), vec![a, c, arg(2)], span)
            }
            Builtin::Grad | Builtin::ValueAndGrad => {
                let wrt_v = arg(1);
                let (wrt, tuple) = match (b.ty(wrt_v), b.known.get(&wrt_v)) {
                    (_, Some(Known::Int(w))) => (vec![*w], false),
                    (Ty::Tuple(_), Some(Known::Ints(ws))) => (ws.clone(), true),
                    _ => {
                        return Err(Diagnostic::error(
                            span,
                            "`wrt:` must be a constant int or a tuple of constant ints",
                        ));
                    }
                };
                if let Some(w) = wrt.iter().find(|w| **w < 0) {
                    return Err(Diagnostic::error(
                        span,
                        format!("`wrt: {w}` is out of range: arguments are numbered from 0"),
                    ));
                }
                let wrt = wrt.into_iter().map(|w| w as usize).collect();
                let kind = DerivKind::Grad {
                    wrt,
                    tuple,
                    with_value: bi == Builtin::ValueAndGrad,
                };
                self.derive(b, kind, arg(0), span)
            }
            Builtin::Vjp => self.derive(b, DerivKind::Vjp, arg(0), span),
            Builtin::Gradcheck => self.gradcheck(b, &args, span),
            Builtin::MapFloats => self.map_floats(b, arg(0), arg(1), span),
            Builtin::SumFloats => self.sum_floats(b, arg(0), span),
            Builtin::Jvp => self.derive(b, DerivKind::Jvp, arg(0), span),
            Builtin::Hessian => self.derive(b, DerivKind::Hessian, arg(0), span),
            Builtin::StopGradient => self.lifted(b, &Prim::StopGradient, &args, span),
            Builtin::Eye => self.emit_prim(b, Prim::Eye(df), vec![arg(0)], span),
            Builtin::F32 | Builtin::F64 | Builtin::Float => {
                let d = match bi {
                    Builtin::F32 => DType::F32,
                    Builtin::F64 => DType::F64,
                    _ => df,
                };
                // A float literal (weak, value known) takes the new precision
                // directly: `f64(0.1)` is the f64 nearest 0.1, not a widened f32.
                if let (Some(t), Some(Known::Float(f))) = (b.ty(arg(0)).as_tensor(), b.known.get(&arg(0)))
                    && t.weak
                    && t.shape.is_scalar()
                {
                    let f = *f;
                    return Ok(self.emit_const(b, Const::Float(f), Ty::scalar(d), span));
                }
                self.lifted(b, &Prim::Cast(d), &args, span)
            }
            Builtin::Int => self.lifted(b, &Prim::Cast(DType::I64), &args, span),
            Builtin::Print => self.emit_prim(b, Prim::Print, args, span),
            Builtin::Plot => {
                // The positional arguments come first, then `path`, `title`, `log`, `style`.
                let n = args.len().saturating_sub(4);
                let (data, named) = args.split_at(n);
                let ops = named.iter().chain(data).copied().collect();
                self.emit_prim(b, Prim::Plot, ops, span)
            }
            Builtin::Progress => Err(progress_outside_for(span)),
            Builtin::Assert => {
                match b.ty(arg(0)) {
                    Ty::Tensor(t) if t.dtype == DType::Bool && t.shape.is_scalar() => {}
                    Ty::Never => {}
                    t => {
                        return Err(Diagnostic::error(
                            span,
                            format!("`assert` needs a bool condition, found {}", t.describe(&self.out)),
                        ));
                    }
                }
                self.emit_prim(b, Prim::Assert, args, span)
            }
            Builtin::AssertClose => {
                // A literal on either side takes the other side's float type; the
                // tolerance is compared in f64.
                let (mut x, mut y) = (arg(0), arg(1));
                if let (Some(tx), Some(ty)) = (b.ty(x).as_tensor().cloned(), b.ty(y).as_tensor().cloned())
                    && (tx.dtype.is_float() || ty.dtype.is_float())
                {
                    let d = self.common_dtype(b, &[x, y], span)?;
                    x = self.coerce(b, x, d, span)?;
                    y = self.coerce(b, y, d, span)?;
                }
                let tol = self.coerce(b, arg(2), DType::F64, span)?;
                self.emit_prim(b, Prim::AssertClose, vec![x, y, tol], span)
            }
            Builtin::Reshape
            | Builtin::Transpose
            | Builtin::Concat
            | Builtin::Flatten
            | Builtin::ExpandDims
            | Builtin::Squeeze
            | Builtin::OneHot
            | Builtin::Take
            | Builtin::Solve
            | Builtin::Inv
            | Builtin::Det
            | Builtin::Cholesky
            | Builtin::Outer
            | Builtin::Diag
            | Builtin::Trace => self.tensor_builtin(b, bi, &args, span),
            Builtin::LoadCsv
            | Builtin::SaveCsv
            | Builtin::LoadNpy
            | Builtin::SaveNpy
            | Builtin::Save
            | Builtin::Load
            | Builtin::Batches
            | Builtin::TempPath => self.data_builtin(b, bi, args, span),
            Builtin::Conv2d | Builtin::MaxPool2d | Builtin::AvgPool2d => self.nn_builtin(b, bi, &args, span),
            Builtin::Seed
            | Builtin::Rand
            | Builtin::Randn
            | Builtin::Permutation
            | Builtin::SampleNormal
            | Builtin::SampleBernoulli
            | Builtin::SampleCategorical => self.spec_random(b, bi, &args, span),
        }
    }

    /// Shape and linear-algebra builtins. Axes, shapes and permutations must
    /// be constants; `flatten`, `squeeze`, `one_hot`, `inv`, `outer`, `diag`
    /// and `trace` are written with other prims, so they need no rules of
    /// their own.
    fn tensor_builtin(
        &mut self,
        b: &mut FnBuild<'_>,
        bi: Builtin,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
        let name = bi.name();
        // Tensor operands (a tuple is the list of `concat`).
        let operands: &[usize] = match bi {
            Builtin::Concat | Builtin::Reshape | Builtin::Transpose | Builtin::Flatten => &[],
            Builtin::Solve | Builtin::Outer | Builtin::Take | Builtin::OneHot => &[0, 1],
            _ => &[0],
        };
        for &i in operands {
            match b.ty(arg(i)) {
                Ty::Tensor(_) => {}
                Ty::Never => return Ok(self.emit_undef(b, span)),
                t => {
                    return Err(Diagnostic::error(
                        span,
                        format!("`{name}` needs a tensor, found {}", t.describe(&self.out)),
                    ));
                }
            }
        }
        let rank_of = |b: &FnBuild<'_>, v: Value| b.ty(v).as_tensor().map(|t| t.shape.rank());
        match bi {
            Builtin::Reshape | Builtin::Flatten | Builtin::Transpose => {
                let x = arg(0);
                let rank = match b.ty(x) {
                    Ty::Tensor(t) => t.shape.rank(),
                    Ty::Never => return Ok(self.emit_undef(b, span)),
                    t => {
                        return Err(Diagnostic::error(
                            span,
                            format!("`{name}` needs a tensor, found {}", t.describe(&self.out)),
                        ));
                    }
                };
                match bi {
                    Builtin::Flatten => self.emit_prim(b, Prim::Reshape(vec![-1]), vec![x], span),
                    Builtin::Reshape => {
                        let dims = match b.known.get(&arg(1)) {
                            Some(Known::Ints(d)) => d.clone(),
                            Some(Known::Int(d)) => vec![*d],
                            _ => {
                                return Err(Diagnostic::error(
                                    span,
                                    "the shape of `reshape` must be a constant list of ints like `[2, -1]`",
                                ));
                            }
                        };
                        self.emit_prim(b, Prim::Reshape(dims), vec![x], span)
                    }
                    _ => {
                        let perm: Vec<usize> = if b.ty(arg(1)).is_unit() {
                            (0..rank).rev().collect()
                        } else {
                            let Some(Known::Ints(p)) = b.known.get(&arg(1)) else {
                                return Err(Diagnostic::error(
                                    span,
                                    "the axes of `transpose` must be a constant list of ints like `[1, 0]`",
                                ));
                            };
                            let mut perm = Vec::new();
                            for &a in p {
                                perm.push(normalize_axis(a, rank, rank, span)?);
                            }
                            perm
                        };
                        self.emit_prim(b, Prim::Transpose(perm), vec![x], span)
                    }
                }
            }
            Builtin::Concat => {
                let list = arg(0);
                let parts = match b.ty(list) {
                    Ty::Tuple(ps) => {
                        let mut parts = Vec::new();
                        for i in 0..ps.len() {
                            parts.push(self.project(b, list, InstKind::TupleGet(i as u32), span)?);
                        }
                        parts
                    }
                    Ty::Tensor(t) => {
                        // A stacked tensor: its elements along the first axis.
                        let Some(Some(k)) = t.shape.0.first().copied() else {
                            return Err(Diagnostic::error(
                                span,
                                "`concat` needs a list of tensors like `[a, b]`",
                            ));
                        };
                        let mut parts = Vec::new();
                        for i in 0..k {
                            let idx = self.emit_const(b, Const::Int(i as i64), Ty::int(), span);
                            parts.push(self.emit_prim(
                                b,
                                Prim::Index(vec![crate::ir::IndexItem::At]),
                                vec![list, idx],
                                span,
                            )?);
                        }
                        parts
                    }
                    Ty::Never => return Ok(self.emit_undef(b, span)),
                    t => {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "`concat` needs a list of tensors, found {}",
                                t.describe(&self.out)
                            ),
                        ));
                    }
                };
                if parts.is_empty() {
                    return Err(Diagnostic::error(span, "`concat` needs at least one tensor"));
                }
                for &p in &parts {
                    match b.ty(p) {
                        Ty::Tensor(t) if !t.shape.is_scalar() => {}
                        Ty::Never => return Ok(self.emit_undef(b, span)),
                        t => {
                            return Err(Diagnostic::error(
                                span,
                                format!(
                                    "`concat` joins tensors of rank 1 or more, found {}",
                                    t.describe(&self.out)
                                ),
                            ));
                        }
                    }
                }
                let rank = parts.first().and_then(|&p| rank_of(b, p)).unwrap_or(0);
                let axis = self.const_axis(b, arg(1), rank, rank, span)?;
                let d = self.common_dtype(b, &parts, span)?;
                let parts = parts
                    .into_iter()
                    .map(|p| self.coerce(b, p, d, span))
                    .collect::<Result<Vec<_>, _>>()?;
                self.emit_prim(b, Prim::Concat(axis), parts, span)
            }
            Builtin::ExpandDims => {
                let rank = rank_of(b, arg(0)).unwrap_or(0);
                let axis = self.const_axis(b, arg(1), rank + 1, rank + 1, span)?;
                self.emit_prim(b, Prim::ExpandDims(axis), vec![arg(0)], span)
            }
            Builtin::Squeeze => {
                let x = arg(0);
                let shape = b
                    .ty(x)
                    .as_tensor()
                    .map(|t| t.shape.clone())
                    .unwrap_or_else(crate::ir::types::Shape::scalar);
                let rank = shape.rank();
                let axes: Vec<usize> = if b.ty(arg(1)).is_unit() {
                    if shape.concrete().is_none() {
                        return Err(Diagnostic::error(
                            span,
                            format!("`squeeze` without an axis needs a known shape, found {shape}"),
                        )
                        .with_help("name the axis: `squeeze(x, 0)`"));
                    }
                    (0..rank).filter(|&i| shape.0.get(i) == Some(&Some(1))).collect()
                } else {
                    let a = self.const_axis(b, arg(1), rank, rank, span)?;
                    match shape.0.get(a) {
                        Some(Some(1)) | Some(None) => {}
                        _ => {
                            return Err(Diagnostic::error(
                                span,
                                format!("`squeeze`: axis {a} of {shape} does not have length 1"),
                            ));
                        }
                    }
                    vec![a]
                };
                if let Some(dims) = shape.concrete() {
                    let to: Vec<i64> = dims
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !axes.contains(i))
                        .map(|(_, &d)| d as i64)
                        .collect();
                    return self.emit_prim(b, Prim::Reshape(to), vec![x], span);
                }
                // Unknown lengths elsewhere: index 0 along the axis.
                let a = axes.first().copied().unwrap_or(0);
                let mut items = vec![crate::ir::IndexItem::Slice { lo: false, hi: false }; a];
                items.push(crate::ir::IndexItem::At);
                let zero = self.emit_const(b, Const::Int(0), Ty::int(), span);
                self.emit_prim(b, Prim::Index(items), vec![x, zero], span)
            }
            Builtin::OneHot => {
                let labels = arg(0);
                match b.ty(labels).as_tensor() {
                    Some(t) if t.dtype == DType::I64 => {}
                    _ => {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "`one_hot` needs int labels, found {}",
                                b.ty(labels).describe(&self.out)
                            ),
                        ));
                    }
                }
                if !matches!(b.known.get(&arg(1)), Some(Known::Int(n)) if *n >= 0) {
                    return Err(Diagnostic::error(
                        span,
                        "the class count of `one_hot` must be a constant non-negative int",
                    ));
                }
                let rank = rank_of(b, labels).unwrap_or(0);
                let col = self.emit_prim(b, Prim::ExpandDims(rank), vec![labels], span)?;
                let classes = self.emit_prim(b, Prim::Arange, vec![arg(1)], span)?;
                let eq = self.emit_prim(b, Prim::Binary(BinaryOp::Eq), vec![col, classes], span)?;
                self.emit_prim(b, Prim::Cast(self.opts.default_float), vec![eq], span)
            }
            Builtin::Take => {
                let (x, idx) = (arg(0), arg(1));
                match b.ty(idx).as_tensor() {
                    Some(t) if t.dtype == DType::I64 => {}
                    _ => {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "`take` needs int indices, found {}",
                                b.ty(idx).describe(&self.out)
                            ),
                        ));
                    }
                }
                let rank = rank_of(b, x).unwrap_or(0);
                if rank == 0 {
                    return Err(Diagnostic::error(span, "`take` needs a tensor of rank 1 or more"));
                }
                let axis = self.const_axis(b, arg(2), rank, rank, span)?;
                self.emit_prim(b, Prim::Take(axis), vec![x, idx], span)
            }
            Builtin::Solve => {
                let (a, rhs) = self.floats(b, &[arg(0), arg(1)], span)?;
                self.emit_prim(b, Prim::Solve, vec![a, rhs], span)
            }
            Builtin::Outer => {
                for i in 0..2 {
                    if rank_of(b, arg(i)) != Some(1) {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "`outer` needs two vectors, found {}",
                                b.ty(arg(i)).describe(&self.out)
                            ),
                        ));
                    }
                }
                let col = self.emit_prim(b, Prim::ExpandDims(1), vec![arg(0)], span)?;
                let row = self.emit_prim(b, Prim::ExpandDims(0), vec![arg(1)], span)?;
                self.lifted(b, &Prim::Binary(BinaryOp::Mul), &[col, row], span)
            }
            Builtin::Inv | Builtin::Det | Builtin::Cholesky | Builtin::Diag | Builtin::Trace => {
                let a = arg(0);
                let rank = rank_of(b, a).unwrap_or(0);
                let square_only = bi != Builtin::Diag || rank == 2;
                if square_only {
                    let shape = b
                        .ty(a)
                        .as_tensor()
                        .map(|t| t.shape.clone())
                        .unwrap_or_else(crate::ir::types::Shape::scalar);
                    let square = match shape.0.as_slice() {
                        [n, m] => n.is_none() || m.is_none() || n == m,
                        _ => false,
                    };
                    if !square {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "`{name}` needs a square matrix, found {}",
                                b.ty(a).describe(&self.out)
                            ),
                        ));
                    }
                } else if rank != 1 {
                    return Err(Diagnostic::error(
                        span,
                        format!(
                            "`diag` needs a vector or a square matrix, found {}",
                            b.ty(a).describe(&self.out)
                        ),
                    ));
                }
                let float = matches!(bi, Builtin::Inv | Builtin::Det | Builtin::Cholesky);
                let a = if float { self.floats(b, &[a], span)?.0 } else { a };
                let d = b
                    .ty(a)
                    .as_tensor()
                    .map(|t| t.dtype)
                    .unwrap_or(self.opts.default_float);
                let eye = |s: &mut Self, b: &mut FnBuild<'_>| -> Result<Value, Diagnostic> {
                    let n = match b
                        .ty(a)
                        .as_tensor()
                        .and_then(|t| t.shape.0.first().copied().flatten())
                    {
                        Some(n) => s.emit_const(b, Const::Int(n as i64), Ty::int(), span),
                        None => s.emit_prim(b, Prim::Len, vec![a], span)?,
                    };
                    let d = if d == DType::Bool { DType::I64 } else { d };
                    s.emit_prim(b, Prim::Eye(d), vec![n], span)
                };
                match bi {
                    Builtin::Inv => {
                        let i = eye(self, b)?;
                        self.emit_prim(b, Prim::Solve, vec![a, i], span)
                    }
                    Builtin::Det => self.emit_prim(b, Prim::Det, vec![a], span),
                    Builtin::Cholesky => self.emit_prim(b, Prim::Cholesky, vec![a], span),
                    Builtin::Diag if rank == 1 => {
                        let i = eye(self, b)?;
                        let row = self.emit_prim(b, Prim::ExpandDims(0), vec![a], span)?;
                        self.lifted(b, &Prim::Binary(BinaryOp::Mul), &[row, i], span)
                    }
                    _ => {
                        // The diagonal (`diag`) or its sum (`trace`) of a * I.
                        let i = eye(self, b)?;
                        let m = self.lifted(b, &Prim::Binary(BinaryOp::Mul), &[a, i], span)?;
                        let axis = if bi == Builtin::Diag { Some(1) } else { None };
                        let op = Prim::Reduce {
                            op: ReduceOp::Sum,
                            axis,
                            keepdims: false,
                        };
                        self.emit_prim(b, op, vec![m], span)
                    }
                }
            }
            _ => Err(Diagnostic::internal(
                span,
                format!("`{name}` is not a tensor builtin"),
            )),
        }
    }

    /// Operands of a linear-algebra builtin converted to one float dtype.
    fn floats(
        &mut self,
        b: &mut FnBuild<'_>,
        vs: &[Value],
        span: Span,
    ) -> Result<(Value, Value), Diagnostic> {
        let d = self.common_dtype(b, vs, span)?;
        let d = if d.is_float() { d } else { self.opts.default_float };
        let mut out = Vec::new();
        for &v in vs {
            out.push(self.coerce(b, v, d, span)?);
        }
        let first = out.first().copied().unwrap_or(Value(0));
        Ok((first, out.get(1).copied().unwrap_or(first)))
    }

    /// A constant axis argument, negative values counting from the end of
    /// `len` positions; `rank` is used in the message.
    fn const_axis(
        &self,
        b: &FnBuild<'_>,
        v: Value,
        len: usize,
        rank: usize,
        span: Span,
    ) -> Result<usize, Diagnostic> {
        match b.known.get(&v) {
            Some(Known::Int(a)) => normalize_axis(*a, len, rank, span),
            _ => Err(Diagnostic::error(span, "`axis` must be a constant int")),
        }
    }

    /// `gradcheck(f, x…)`: arguments cast to f64, then a generated check
    /// function (see `ad::gradcheck`) comparing AD with finite differences.
    fn gradcheck(&mut self, b: &mut FnBuild<'_>, args: &[Value], span: Span) -> Result<Value, Diagnostic> {
        let Some((&f, xs)) = args.split_first() else {
            return Err(Diagnostic::error(
                span,
                "`gradcheck` needs a function and its arguments",
            ));
        };
        let fty = match b.ty(f) {
            Ty::Fn(t) => *t,
            t => {
                return Err(Diagnostic::error(
                    span,
                    format!("`gradcheck` needs a function, found {}", t.describe(&self.out)),
                ));
            }
        };
        if xs.is_empty() {
            return Err(Diagnostic::error(
                span,
                "`gradcheck` needs at least one argument to check at",
            ));
        }
        let mut xs64 = Vec::new();
        for &x in xs {
            xs64.push(self.lifted(b, &Prim::Cast(DType::F64), &[x], span)?);
        }
        let (fid, call_args, n_lead, ret) =
            self.resolve_callable(b, f, &fty, &xs64, &vec![None; xs64.len()], span)?;
        match &ret {
            Ty::Tensor(t) if t.dtype.is_float() && t.shape.is_scalar() => {}
            other => {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "`gradcheck` needs a function with a scalar float result, found {}",
                        other.describe(&self.out)
                    ),
                ));
            }
        }
        let kind = DerivKind::Grad {
            wrt: vec![0],
            tuple: false,
            with_value: false,
        };
        let grad = crate::ad::api::derivative(&mut self.out, fid, &kind, n_lead, &mut self.vjp_cache, span)?;
        let check = crate::ad::gradcheck::build(&mut self.out, fid, grad, n_lead, span)?;
        let r = b.fresh(Ty::scalar(DType::F64), None);
        b.push(crate::ir::Inst {
            kind: InstKind::Call(check),
            args: call_args,
            results: vec![r],
            span,
        });
        Ok(r)
    }

    /// `grad(f)`, `vjp(f)`, …: a function value that is the derivative of `f`.
    fn derive(
        &mut self,
        b: &mut FnBuild<'_>,
        kind: DerivKind,
        f: Value,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let of = match b.ty(f) {
            Ty::Fn(of) => of,
            Ty::Never => return Ok(self.emit_undef(b, span)),
            t => {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "can only differentiate a function, found {}",
                        t.describe(&self.out)
                    ),
                ));
            }
        };
        let ty = Ty::Fn(Box::new(FnTy::Derivative {
            kind: kind.clone(),
            of,
        }));
        let r = b.fresh(ty, None);
        b.push(crate::ir::Inst {
            kind: InstKind::Derive(kind),
            args: vec![f],
            results: vec![r],
            span,
        });
        Ok(r)
    }

    /// A reduction with its axis and keepdims made static.
    fn reduce(
        &mut self,
        b: &mut FnBuild<'_>,
        op: ReduceOp,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let x = args.first().copied().unwrap_or(Value(0));
        let rank = match b.ty(x) {
            Ty::Tensor(t) => t.shape.rank(),
            Ty::Never => return Ok(self.emit_undef(b, span)),
            t => {
                return Err(Diagnostic::error(
                    span,
                    format!("`{:?}` reduces a tensor, found {}", op, t.describe(&self.out)).to_lowercase(),
                ));
            }
        };
        let axis_v = args.get(1).copied().unwrap_or(Value(0));
        // `max(a, b)` meaning the larger of two values is a common slip.
        let pairwise = match op {
            ReduceOp::Max => Some(("max", "larger", "maximum")),
            ReduceOp::Min => Some(("min", "smaller", "minimum")),
            _ => None,
        };
        let with_pairwise_hint = |d: Diagnostic| match pairwise {
            Some((name, which, elementwise)) => d.with_help(format!(
                "`{name}` reduces one tensor (its second argument is `axis`); \
                 for the {which} of two values use `{elementwise}(a, b)`"
            )),
            None => d,
        };
        let axis = match (b.ty(axis_v), b.known.get(&axis_v)) {
            (t, _) if t.is_unit() => None,
            (_, Some(Known::Int(a))) => {
                let r = rank as i64;
                let norm = if *a < 0 { a + r } else { *a };
                if norm < 0 || norm >= r.max(1) || rank == 0 {
                    return Err(with_pairwise_hint(Diagnostic::error(
                        span,
                        format!("axis {a} is out of range for a tensor of rank {rank}"),
                    )));
                }
                Some(norm as usize)
            }
            _ => {
                return Err(with_pairwise_hint(Diagnostic::error(
                    span,
                    "`axis:` must be a constant int",
                )));
            }
        };
        let keepdims = match b.known.get(&args.get(2).copied().unwrap_or(Value(0))) {
            Some(Known::Bool(k)) => *k,
            None if args.len() < 3 => false,
            _ => return Err(Diagnostic::error(span, "`keepdims:` must be a constant bool")),
        };
        let df = self.opts.default_float;
        let input_dtype = b.ty(x).as_tensor().map(|t| t.dtype).unwrap_or(df);
        let x = match op {
            ReduceOp::Mean | ReduceOp::Logsumexp | ReduceOp::Norm if !input_dtype.is_float() => {
                self.coerce(b, x, df, span)?
            }
            ReduceOp::Sum | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min if input_dtype == DType::Bool => {
                self.coerce(b, x, df, span)?
            }
            _ => x,
        };
        self.emit_prim(b, Prim::Reduce { op, axis, keepdims }, vec![x], span)
    }

    /// A shape argument: an int vector or a tuple of ints.
    pub(super) fn shape_operand(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        match b.ty(v) {
            Ty::Tensor(t) if t.dtype == DType::I64 && t.shape.rank() <= 1 => {
                if t.shape.is_scalar() {
                    // `zeros(3)` means `zeros([3])`.
                    return self.spec_stack(b, vec![v], false, span);
                }
                Ok(v)
            }
            Ty::Tuple(parts)
                if parts.iter().all(|p| {
                    p.as_tensor()
                        .is_some_and(|t| t.dtype == DType::I64 && t.shape.is_scalar())
                }) =>
            {
                Ok(v)
            }
            t => Err(Diagnostic::error(
                span,
                format!(
                    "a shape must be a list of ints like `[2, 3]`, found {}",
                    t.describe(&self.out)
                ),
            )),
        }
    }

    /// `zeros_like` / `ones_like`, leaf by leaf through records and tuples.
    fn like(&mut self, b: &mut FnBuild<'_>, v: Value, fill: f64, span: Span) -> Result<Value, Diagnostic> {
        match b.ty(v) {
            Ty::Tensor(t) => {
                let shape = if let Some(dims) = t.shape.concrete() {
                    let parts: Vec<Value> = dims
                        .iter()
                        .map(|&d| self.emit_const(b, Const::Int(d as i64), Ty::int(), span))
                        .collect();
                    self.aggregate(b, InstKind::Tuple, parts, span)
                } else {
                    self.emit_prim(b, Prim::Shape, vec![v], span)?
                };
                let c = match t.dtype {
                    DType::I64 => self.emit_const(b, Const::Int(fill as i64), Ty::int(), span),
                    DType::Bool => self.emit_const(b, Const::Bool(fill != 0.0), Ty::bool(), span),
                    d => self.emit_const(b, Const::Float(fill), Ty::scalar(d), span),
                };
                self.emit_prim(b, Prim::Full(t.dtype), vec![shape, c], span)
            }
            Ty::Tuple(parts) => {
                let mut out = Vec::new();
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::TupleGet(i as u32), span)?;
                    out.push(self.like(b, p, fill, span)?);
                }
                Ok(self.aggregate(b, InstKind::Tuple, out, span))
            }
            Ty::Record(s, parts) => {
                let mut out = Vec::new();
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::RecordGet(i as u32), span)?;
                    out.push(self.like(b, p, fill, span)?);
                }
                Ok(self.aggregate(b, InstKind::Record(s), out, span))
            }
            Ty::Never => Ok(self.emit_undef(b, span)),
            t => Err(Diagnostic::error(
                span,
                format!("cannot make zeros like {}", t.describe(&self.out)),
            )),
        }
    }
}

/// `a` as an index into `len` positions (negative: from the end).
fn normalize_axis(a: i64, len: usize, rank: usize, span: Span) -> Result<usize, Diagnostic> {
    let n = len as i64;
    let k = if a < 0 { a + n } else { a };
    if k < 0 || k >= n {
        return Err(Diagnostic::error(
            span,
            format!("axis {a} is out of range for a tensor of rank {rank}"),
        ));
    }
    Ok(k as usize)
}

/// `progress(…)` anywhere but as the iterable of a `for` loop.
pub fn progress_outside_for(span: Span) -> Diagnostic {
    Diagnostic::error(span, "`progress` can only be the iterable of a `for` loop")
        .with_label("not iterated by `for` here")
        .with_help("write `for i in progress(a..b) { … }`")
}

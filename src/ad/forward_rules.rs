//! Forward-mode rules: for each prim, the tangent of its result given the
//! tangents of its operands (`None` for a zero tangent), written as
//! IR-building code. One exhaustive match, mirroring the reverse rules in
//! `rules.rs`: the same conventions at kinks, and factors that can be
//! infinite are applied so that a zero tangent stays zero.

use super::activity::{cotangent, differentiable};
use super::emit::{AdResult, Emitter};
use super::rules::safe_div;
use crate::ir::types::Ty;
use crate::ir::{BinaryOp, Prim, ReduceOp, UnaryOp, Value};

/// The element type of a list of differentiable values.
pub(super) fn list_elem(ty: &Ty) -> Option<&Ty> {
    match ty {
        Ty::List(t) if differentiable(t) => Some(t),
        _ => None,
    }
}

/// The type of a tangent of a value of type `ty`: its cotangent type, and a
/// list of tangents for a list.
pub(super) fn tangent_ty(ty: &Ty) -> Ty {
    match list_elem(ty) {
        Some(t) => Ty::List(Box::new(cotangent(t))),
        None => cotangent(ty),
    }
}

/// `t` converted to the dtype of a tensor type `ty` where they differ.
pub(super) fn conform(e: &mut Emitter, t: Value, ty: &Ty) -> AdResult<Value> {
    match (e.ty(t).as_tensor(), ty.as_tensor()) {
        (Some(a), Some(b)) if a.dtype != b.dtype && b.dtype.is_float() => e.cast(t, b.dtype),
        _ => Ok(t),
    }
}

/// A tangent given the shape and dtype of the prim's result `out`
/// (broadcasting a tangent that came from a smaller operand).
pub(super) fn fit(e: &mut Emitter, t: Value, out: Value) -> AdResult<Value> {
    let (tt, ot) = (e.ty(t), e.ty(out));
    let (Some(tt), Some(ot)) = (tt.as_tensor(), ot.as_tensor()) else {
        return Ok(t);
    };
    let same = tt.shape == ot.shape && ot.shape.concrete().is_some();
    let t = if same {
        t
    } else {
        e.prim(Prim::BroadcastLike, vec![t, out])?
    };
    if ot.dtype.is_float() && tt.dtype != ot.dtype {
        return e.cast(t, ot.dtype);
    }
    Ok(t)
}

/// `a + b` where either may be absent (zero).
fn add_opt(e: &mut Emitter, a: Option<Value>, b: Option<Value>) -> AdResult<Option<Value>> {
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(e.add(a, b)?),
        (a, None) => a,
        (None, b) => b,
    })
}

/// Maps an optional tangent through `f`.
fn map_t(
    e: &mut Emitter,
    t: Option<Value>,
    f: impl FnOnce(&mut Emitter, Value) -> AdResult<Value>,
) -> AdResult<Option<Value>> {
    match t {
        Some(t) => Ok(Some(f(e, t)?)),
        None => Ok(None),
    }
}

/// The tangent of a prim's result from its operands' tangents (`None`:
/// zero). The caller broadcasts and casts it to the result's type.
pub(super) fn prim_tangent(
    e: &mut Emitter,
    prim: &Prim,
    args: &[Value],
    out: Value,
    tans: &[Option<Value>],
) -> AdResult<Option<Value>> {
    let a = args.first().copied().unwrap_or(Value(0));
    let b = args.get(1).copied().unwrap_or(Value(0));
    let ta = tans.first().copied().flatten();
    let tb = tans.get(1).copied().flatten();
    let tc = tans.get(2).copied().flatten();
    let rest = |from: usize| args.iter().skip(from).copied();
    Ok(match prim {
        Prim::Binary(op) => match op {
            BinaryOp::Add => add_opt(e, ta, tb)?,
            BinaryOp::Sub => match (ta, tb) {
                (Some(x), Some(y)) => Some(e.sub(x, y)?),
                (Some(x), None) => Some(x),
                (None, Some(y)) => Some(e.neg(y)?),
                (None, None) => None,
            },
            BinaryOp::Mul => {
                let x = map_t(e, ta, |e, t| e.mul_safe(t, b))?;
                let y = map_t(e, tb, |e, t| e.mul_safe(t, a))?;
                add_opt(e, x, y)?
            }
            BinaryOp::Div => {
                let x = map_t(e, ta, |e, t| safe_div(e, t, b))?;
                let y = map_t(e, tb, |e, t| {
                    let q = safe_div(e, t, b)?;
                    let m = e.mul_safe(q, out)?;
                    e.neg(m)
                })?;
                add_opt(e, x, y)?
            }
            BinaryOp::Pow => {
                let x = map_t(e, ta, |e, t| {
                    let one = e.float(1.0, e.dtype(b));
                    let bm1 = e.sub(b, one)?;
                    let p = e.binary(BinaryOp::Pow, a, bm1)?;
                    let f = e.mul(b, p)?;
                    e.mul_safe(t, f)
                })?;
                let y = map_t(e, tb, |e, t| {
                    let l = e.unary(UnaryOp::Log, a)?;
                    let f = e.mul(out, l)?;
                    e.mul_safe(t, f)
                })?;
                add_opt(e, x, y)?
            }
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let cmp = if *op == BinaryOp::Maximum {
                    BinaryOp::Ge
                } else {
                    BinaryOp::Le
                };
                let m = e.binary(cmp, a, b)?;
                let d = e.dtype(out);
                let x = match ta {
                    Some(t) => t,
                    None => e.float(0.0, d),
                };
                let y = match tb {
                    Some(t) => t,
                    None => e.float(0.0, d),
                };
                Some(e.prim(Prim::Where, vec![m, x, y])?)
            }
            BinaryOp::Rem => {
                let y = map_t(e, tb, |e, t| {
                    let q = e.div(a, b)?;
                    let s = e.unary(UnaryOp::Sign, q)?;
                    let aq = e.unary(UnaryOp::Abs, q)?;
                    let f = e.unary(UnaryOp::Floor, aq)?;
                    let k = e.mul(s, f)?;
                    let tk = e.mul(t, k)?;
                    e.neg(tk)
                })?;
                add_opt(e, ta, y)?
            }
            BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::And
            | BinaryOp::Or => None,
        },
        Prim::Unary(op) => {
            let Some(t) = ta else { return Ok(None) };
            super::rules::unary_derivative(e, *op, t, a, out)?
        }
        Prim::Where => {
            if tb.is_none() && tc.is_none() {
                return Ok(None);
            }
            let d = e.dtype(out);
            let x = match tb {
                Some(t) => t,
                None => e.float(0.0, d),
            };
            let y = match tc {
                Some(t) => t,
                None => e.float(0.0, d),
            };
            Some(e.prim(Prim::Where, vec![a, x, y])?)
        }
        Prim::Clip => {
            let hi = args.get(2).copied().unwrap_or(Value(0));
            map_t(e, ta, |e, t| {
                let above = e.binary(BinaryOp::Gt, a, b)?;
                let below = e.binary(BinaryOp::Lt, a, hi)?;
                let inside = e.binary(BinaryOp::And, above, below)?;
                e.mask(inside, t)
            })?
        }
        Prim::Cast(d) => {
            if d.is_float() {
                map_t(e, ta, |e, t| e.cast(t, *d))?
            } else {
                None
            }
        }
        Prim::MatMul => {
            let x = map_t(e, ta, |e, t| e.prim(Prim::MatMul, vec![t, b]))?;
            let y = map_t(e, tb, |e, t| e.prim(Prim::MatMul, vec![a, t]))?;
            add_opt(e, x, y)?
        }
        Prim::Reduce { op, axis, keepdims } => match ta {
            Some(t) => reduce(e, *op, *axis, *keepdims, a, out, t)?,
            None => None,
        },
        Prim::Index(items) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(Prim::Index(items.clone()), ops)
        })?,
        Prim::Stack { dtype, .. } => {
            let mut parts = Vec::new();
            for (i, &x) in args.iter().enumerate() {
                match tans.get(i).copied().flatten() {
                    Some(t) => parts.push(t),
                    None => {
                        let ty = e.ty(x);
                        parts.push(e.zeros_like(&ty, Some(x))?);
                    }
                }
            }
            Some(e.prim(
                Prim::Stack {
                    dtype: *dtype,
                    literal: false,
                },
                parts,
            )?)
        }
        Prim::Full(d) => {
            if d.is_float() {
                map_t(e, tb, |e, t| e.prim(Prim::Full(*d), vec![a, t]))?
            } else {
                None
            }
        }
        Prim::BroadcastLike | Prim::SumLike | Prim::ReshapeLike => {
            map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t, b]))?
        }
        Prim::Transpose(_) | Prim::ExpandDims(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t]))?,
        Prim::IndexGrad(_) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(prim.clone(), ops)
        })?,
        Prim::IndexAdd(items) => match (ta, tb) {
            (Some(t), Some(u)) => {
                let mut ops = vec![t, u];
                ops.extend(rest(2));
                Some(e.prim(prim.clone(), ops)?)
            }
            (Some(t), None) => Some(t),
            (None, Some(u)) => {
                let mut ops = vec![u];
                ops.extend(rest(2));
                Some(e.prim(Prim::IndexGrad(items.clone()), ops)?)
            }
            (None, None) => None,
        },
        Prim::Reshape(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t]))?,
        Prim::Concat(_) => {
            if tans.iter().all(Option::is_none) {
                return Ok(None);
            }
            let mut parts = Vec::new();
            for (i, &x) in args.iter().enumerate() {
                match tans.get(i).copied().flatten() {
                    Some(t) => parts.push(t),
                    None => {
                        let ty = e.ty(x);
                        parts.push(e.zeros_like(&ty, Some(x))?);
                    }
                }
            }
            Some(e.prim(prim.clone(), parts)?)
        }
        Prim::Take(_) => map_t(e, ta, |e, t| e.prim(prim.clone(), vec![t, b]))?,
        Prim::TakeGrad(_) => map_t(e, ta, |e, t| {
            let mut ops = vec![t];
            ops.extend(rest(1));
            e.prim(prim.clone(), ops)
        })?,
        Prim::Solve => {
            // dx = A⁻¹ (db - dA x).
            let rhs = match (ta, tb) {
                (None, None) => return Ok(None),
                (Some(da), tb) => {
                    let p = e.prim(Prim::MatMul, vec![da, out])?;
                    match tb {
                        Some(db) => e.sub(db, p)?,
                        None => e.neg(p)?,
                    }
                }
                (None, Some(db)) => db,
            };
            Some(e.prim(Prim::Solve, vec![a, rhs])?)
        }
        Prim::Det => map_t(e, ta, |e, t| {
            // d det = det · trace(A⁻¹ dA).
            let q = e.prim(Prim::Solve, vec![a, t])?;
            let eye = super::rules::eye_like(e, a)?;
            let d = e.mul(q, eye)?;
            let tr = e.prim(
                Prim::Reduce {
                    op: ReduceOp::Sum,
                    axis: None,
                    keepdims: false,
                },
                vec![d],
            )?;
            e.mul(out, tr)
        })?,
        Prim::Cholesky => map_t(e, ta, |e, t| {
            // dL = L Φ(L⁻¹ sym(dA) L⁻ᵀ), sym(dA) = (dA + dAᵀ) / 2.
            let tt = super::rules::swap_last(e, t)?;
            let sum = e.add(t, tt)?;
            let half = e.float(0.5, e.dtype(out));
            let sym = e.mul(half, sum)?;
            let z = e.prim(Prim::Solve, vec![out, sym])?;
            let zt = super::rules::swap_last(e, z)?;
            let wt = e.prim(Prim::Solve, vec![out, zt])?;
            let w = super::rules::swap_last(e, wt)?;
            let m = super::rules::lower_half_mask(e, out)?;
            let phi = e.mul(w, m)?;
            e.prim(Prim::MatMul, vec![out, phi])
        })?,
        Prim::Conv2d { .. }
        | Prim::Conv2dGradInput { .. }
        | Prim::Conv2dGradWeight { .. }
        | Prim::MaxPool2d(_)
        | Prim::AvgPool2d(_)
        | Prim::MaxPool2dMask(_)
        | Prim::Pool2dSpread(_) => super::nn_rules::tangent(e, prim, args, tans)?,
        Prim::StopGradient
        | Prim::Shape
        | Prim::Len
        | Prim::Arange
        | Prim::Linspace(_)
        | Prim::Eye(_)
        | Prim::ExtremeMask { .. }
        | Prim::Print
        | Prim::Assert
        | Prim::AssertClose
        | Prim::LoadCsv(_)
        | Prim::SaveCsv
        | Prim::LoadNpy(_)
        | Prim::SaveNpy
        | Prim::Load(_)
        | Prim::Save
        | Prim::TempPath
        | Prim::Progress
        | Prim::Plot
        | Prim::Random(_) => None,
        Prim::Batches => return Err(super::rules::not_differentiable(e, "batches")),
        // `∂s/∂p = -s²` (see the reverse rule).
        Prim::ScoreGrad { .. } => map_t(e, ta, |e, t| {
            let s2 = e.mul(out, out)?;
            let d = e.mul(t, s2)?;
            e.neg(d)
        })?,
    })
}

/// The tangent of a reduction of `x` (result `out`) given `x`'s tangent `t`.
fn reduce(
    e: &mut Emitter,
    op: ReduceOp,
    axis: Option<usize>,
    keepdims: bool,
    x: Value,
    out: Value,
    t: Value,
) -> AdResult<Option<Value>> {
    let same = |e: &mut Emitter, v: Value| {
        e.prim(
            Prim::Reduce {
                op: ReduceOp::Sum,
                axis,
                keepdims,
            },
            vec![v],
        )
    };
    // Brings a value of the result's shape back to x's shape.
    let expand = |e: &mut Emitter, v: Value| -> AdResult<Value> {
        let v = match axis {
            Some(ax) if !keepdims => e.prim(Prim::ExpandDims(ax), vec![v])?,
            _ => v,
        };
        e.prim(Prim::BroadcastLike, vec![v, x])
    };
    Ok(match op {
        ReduceOp::Sum => Some(same(e, t)?),
        ReduceOp::Mean => Some(e.prim(Prim::Reduce { op, axis, keepdims }, vec![t])?),
        ReduceOp::Prod => {
            let ob = expand(e, out)?;
            let q = safe_div(e, ob, x)?;
            let m = e.mul(t, q)?;
            Some(same(e, m)?)
        }
        ReduceOp::Max | ReduceOp::Min => {
            let m = e.prim(
                Prim::ExtremeMask {
                    min: op == ReduceOp::Min,
                    axis,
                },
                vec![x],
            )?;
            let mt = e.mask(m, t)?;
            Some(same(e, mt)?)
        }
        ReduceOp::Logsumexp => {
            let ob = expand(e, out)?;
            let d = e.sub(x, ob)?;
            let w = e.unary(UnaryOp::Exp, d)?;
            let m = e.mul(t, w)?;
            Some(same(e, m)?)
        }
        ReduceOp::Norm => {
            let ob = expand(e, out)?;
            let q = safe_div(e, x, ob)?;
            let m = e.mul(t, q)?;
            Some(same(e, m)?)
        }
        ReduceOp::Argmax | ReduceOp::Argmin => None,
    })
}

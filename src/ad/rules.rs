//! Reverse-mode rules: for each prim, the adjoints of its operands given the
//! adjoint `g` of its result, written as IR-building code (so derivatives of
//! derivatives work and every backend runs them). One exhaustive match.
//!
//! Conventions at kinks (LANGUAGE.md): `relu'(0) = abs'(0) = 0`; `sign`,
//! `floor`, `ceil`, `round` have zero derivative; `maximum`/`minimum` send
//! the adjoint to the first argument on ties, `max`/`min` reductions to the
//! first extreme element; `clip` passes it only strictly inside the interval.
//! Factors that can be infinite (`1/x`, `1/sqrt(x)`, `log`) are applied with
//! `mul_safe`, so a zero adjoint stays zero instead of becoming NaN.

use super::emit::{AdResult, Emitter};
use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, IndexItem, Prim, ReduceOp, UnaryOp, Value};

/// Adjoint contributions to each operand (`None`: zero or not wanted).
pub fn reverse(
    e: &mut Emitter,
    prim: &Prim,
    args: &[Value],
    out: Value,
    g: Value,
    wanted: &[bool],
) -> AdResult<Vec<Option<Value>>> {
    let a = args.first().copied().unwrap_or(Value(0));
    let b = args.get(1).copied().unwrap_or(Value(0));
    let want = |i: usize| wanted.get(i).copied().unwrap_or(false);
    let none = vec![None; args.len()];
    Ok(match prim {
        Prim::Binary(op) => {
            let (da, db) = match op {
                BinaryOp::Add => (Some(g), Some(g)),
                BinaryOp::Sub => (Some(g), if want(1) { Some(e.neg(g)?) } else { None }),
                // `mul_safe`: a zero adjoint times an infinite factor (the
                // `log(x)` of `x * log(x)` at 0 in an untaken branch) stays zero.
                BinaryOp::Mul => (
                    if want(0) { Some(e.mul_safe(g, b)?) } else { None },
                    if want(1) { Some(e.mul_safe(g, a)?) } else { None },
                ),
                BinaryOp::Div => {
                    let q = safe_div(e, g, b)?;
                    let db = if want(1) {
                        let t = e.mul(q, out)?;
                        Some(e.neg(t)?)
                    } else {
                        None
                    };
                    (Some(q), db)
                }
                BinaryOp::Pow => {
                    // A constant exponent k >= 1 (`x ** 2`): k * x^(k-1) is finite, no guard.
                    let const_exp = e.known_float(b).filter(|k| *k >= 1.0);
                    let da = if want(0) && const_exp.is_some() {
                        let k = const_exp.unwrap_or(1.0);
                        let f = if k == 1.0 {
                            b
                        } else if k == 2.0 {
                            e.mul(b, a)?
                        } else {
                            let km1 = e.float(k - 1.0, e.dtype(b));
                            let p = e.binary(BinaryOp::Pow, a, km1)?;
                            e.mul(b, p)?
                        };
                        Some(e.mul(g, f)?)
                    } else if want(0) {
                        let one = e.float(1.0, e.dtype(b));
                        let bm1 = e.sub(b, one)?;
                        let p = e.binary(BinaryOp::Pow, a, bm1)?;
                        let f = e.mul(b, p)?;
                        Some(e.mul_safe(g, f)?)
                    } else {
                        None
                    };
                    let db = if want(1) {
                        let l = e.unary(UnaryOp::Log, a)?;
                        let f = e.mul(out, l)?;
                        Some(e.mul_safe(g, f)?)
                    } else {
                        None
                    };
                    (da, db)
                }
                BinaryOp::Maximum | BinaryOp::Minimum => {
                    let cmp = if *op == BinaryOp::Maximum {
                        BinaryOp::Ge
                    } else {
                        BinaryOp::Le
                    };
                    let m = e.binary(cmp, a, b)?;
                    let da = e.mask(m, g)?;
                    let not = e.unary(UnaryOp::Not, m)?;
                    let db = e.mask(not, g)?;
                    (Some(da), Some(db))
                }
                BinaryOp::Rem => {
                    let db = if want(1) {
                        let q = e.div(a, b)?;
                        let s = e.unary(UnaryOp::Sign, q)?;
                        let aq = e.unary(UnaryOp::Abs, q)?;
                        let f = e.unary(UnaryOp::Floor, aq)?;
                        let t = e.mul(s, f)?;
                        let gt = e.mul(g, t)?;
                        Some(e.neg(gt)?)
                    } else {
                        None
                    };
                    (Some(g), db)
                }
                BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::And
                | BinaryOp::Or => (None, None),
            };
            vec![unbroadcast(e, da, a, want(0))?, unbroadcast(e, db, b, want(1))?]
        }
        Prim::Unary(op) => vec![unary_derivative(e, *op, g, a, out)?],
        Prim::Where => {
            let c = a;
            let (x, y) = (b, args.get(2).copied().unwrap_or(Value(0)));
            let dx = e.mask(c, g)?;
            let nc = e.unary(UnaryOp::Not, c)?;
            let dy = e.mask(nc, g)?;
            vec![
                None,
                unbroadcast(e, Some(dx), x, want(1))?,
                unbroadcast(e, Some(dy), y, want(2))?,
            ]
        }
        Prim::Clip => {
            let (lo, hi) = (b, args.get(2).copied().unwrap_or(Value(0)));
            let above = e.binary(BinaryOp::Gt, a, lo)?;
            let below = e.binary(BinaryOp::Lt, a, hi)?;
            let inside = e.binary(BinaryOp::And, above, below)?;
            let dx = e.mask(inside, g)?;
            vec![unbroadcast(e, Some(dx), a, want(0))?, None, None]
        }
        Prim::Cast(_) => {
            let d = e.dtype(a);
            if d.is_float() {
                vec![Some(e.cast(g, d)?)]
            } else {
                vec![None]
            }
        }
        Prim::MatMul => matmul(e, a, b, g, want(0), want(1))?,
        Prim::Reduce { op, axis, keepdims } => vec![reduce(e, *op, *axis, *keepdims, a, out, g)?],
        Prim::Index(items) => {
            let mut ops = vec![g, a];
            ops.extend(args.iter().skip(1).copied());
            let mut v = vec![Some(e.prim(Prim::IndexGrad(items.clone()), ops)?)];
            v.extend(std::iter::repeat_n(None, args.len().saturating_sub(1)));
            v
        }
        Prim::Stack { .. } => {
            let mut v = Vec::new();
            for (i, &x) in args.iter().enumerate() {
                if !want(i) {
                    v.push(None);
                    continue;
                }
                let idx = e.int(i as i64);
                let part = e.prim(Prim::Index(vec![IndexItem::At]), vec![g, idx])?;
                v.push(Some(e.cast(part, e.dtype(x))?));
            }
            v
        }
        Prim::Full(_) => {
            let value = b;
            if want(1) {
                let s = e.prim(
                    Prim::Reduce {
                        op: ReduceOp::Sum,
                        axis: None,
                        keepdims: false,
                    },
                    vec![g],
                )?;
                vec![None, Some(e.cast(s, e.dtype(value))?)]
            } else {
                none
            }
        }
        Prim::BroadcastLike => vec![Some(e.prim(Prim::SumLike, vec![g, a])?), None],
        Prim::SumLike => vec![Some(e.prim(Prim::BroadcastLike, vec![g, a])?), None],
        Prim::ReshapeLike => vec![Some(e.prim(Prim::ReshapeLike, vec![g, a])?), None],
        Prim::Transpose(perm) => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                if let Some(slot) = inv.get_mut(p) {
                    *slot = i;
                }
            }
            vec![Some(e.prim(Prim::Transpose(inv), vec![g])?)]
        }
        Prim::ExpandDims(_) => vec![Some(e.prim(Prim::ReshapeLike, vec![g, a])?)],
        Prim::Reshape(_) => vec![Some(e.prim(Prim::ReshapeLike, vec![g, a])?)],
        Prim::Concat(axis) => {
            let mut v = Vec::new();
            // The start of each part along the axis: a constant while all
            // lengths so far are known statically.
            let mut known = Some(0i64);
            let mut offset = e.int(0);
            for (i, &x) in args.iter().enumerate() {
                let n = e
                    .ty(x)
                    .as_tensor()
                    .and_then(|t| t.shape.0.get(*axis).copied().flatten());
                known = known.zip(n).map(|(k, n)| k + n as i64);
                let end = match known {
                    Some(k) => e.int(k),
                    None => {
                        let len = axis_len(e, x, *axis)?;
                        e.add(offset, len)?
                    }
                };
                if want(i) {
                    let mut items = vec![IndexItem::Slice { lo: false, hi: false }; *axis];
                    items.push(IndexItem::Slice { lo: true, hi: true });
                    let part = e.prim(Prim::Index(items), vec![g, offset, end])?;
                    v.push(Some(e.cast(part, e.dtype(x))?));
                } else {
                    v.push(None);
                }
                offset = end;
            }
            v
        }
        Prim::Take(axis) => vec![Some(e.prim(Prim::TakeGrad(*axis), vec![g, a, b])?), None],
        Prim::TakeGrad(axis) => {
            let idx = args.get(2).copied().unwrap_or(Value(0));
            vec![Some(e.prim(Prim::Take(*axis), vec![g, idx])?), None, None]
        }
        Prim::Solve => {
            // x = A⁻¹ b: db = A⁻ᵀ g, dA = -db xᵀ.
            let at = swap_last(e, a)?;
            let db = e.prim(Prim::Solve, vec![at, g])?;
            let da = if want(0) {
                let p = if rank(e, b) == 1 {
                    let c = e.prim(Prim::ExpandDims(1), vec![db])?;
                    let r = e.prim(Prim::ExpandDims(0), vec![out])?;
                    e.mul(c, r)?
                } else {
                    let xt = swap_last(e, out)?;
                    e.prim(Prim::MatMul, vec![db, xt])?
                };
                Some(e.neg(p)?)
            } else {
                None
            };
            vec![da, want(1).then_some(db)]
        }
        Prim::Det => {
            // d det(A) / dA = det(A) A⁻ᵀ.
            let at = swap_last(e, a)?;
            let eye = eye_like(e, a)?;
            let inv_t = e.prim(Prim::Solve, vec![at, eye])?;
            let s = e.mul(g, out)?;
            vec![Some(e.mul(s, inv_t)?)]
        }
        Prim::Cholesky => vec![Some(cholesky_adjoint(e, out, g)?)],
        Prim::Conv2d { .. }
        | Prim::Conv2dGradInput { .. }
        | Prim::Conv2dGradWeight { .. }
        | Prim::MaxPool2d(_)
        | Prim::AvgPool2d(_)
        | Prim::MaxPool2dMask(_)
        | Prim::Pool2dSpread(_) => super::nn_rules::reverse(e, prim, args, g, want)?,
        Prim::IndexAdd(items) => {
            // The accumulator's adjoint is the result's; `g`'s is the index of it.
            let mut ops = vec![g];
            ops.extend(args.iter().skip(3).copied());
            let mut v = vec![Some(g), Some(e.prim(Prim::Index(items.clone()), ops)?)];
            v.extend(std::iter::repeat_n(None, args.len().saturating_sub(2)));
            v
        }
        Prim::IndexGrad(items) => {
            let mut ops = vec![g];
            ops.extend(args.iter().skip(2).copied());
            let mut v = vec![Some(e.prim(Prim::Index(items.clone()), ops)?), None];
            v.extend(std::iter::repeat_n(None, args.len().saturating_sub(2)));
            v
        }
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
        // Draws have zero pathwise derivative (`sample_normal`'s flows through
        // `mu + sigma * eps`); discrete samples' score terms are added by
        // `reverse.rs`, which knows the function's result.
        | Prim::Progress
        | Prim::Plot
        | Prim::Random(_) => none,
        Prim::Batches => return Err(not_differentiable(e, "batches")),
        // `s = ∂ log p(z)/∂p` is `1/p` or `-1/(1-p)` (Bernoulli) and `1/p` or 0
        // (categorical): in every case `∂s/∂p = -s²`, elementwise. This makes
        // second derivatives of sampling code unbiased.
        Prim::ScoreGrad { .. } => {
            let s2 = e.mul(out, out)?;
            let d = e.mul(g, s2)?;
            vec![Some(e.neg(d)?), None]
        }
    })
}

/// The error for differentiating through a prim that has no derivative rule
/// (data plumbing such as `batches`): a gradient that silently stopped there
/// would be wrong.
pub fn not_differentiable(e: &Emitter, name: &str) -> crate::diag::Diagnostic {
    crate::diag::Diagnostic::error(e.span, format!("cannot differentiate through `{name}`")).with_help(
        format!("call `{name}` outside the differentiated function and pass its results in as arguments"),
    )
}

/// `s * f'(a)` for an elementwise function `f` with result `out`: the same
/// in both modes, since the Jacobian is diagonal (`s` is the adjoint in
/// reverse mode, the tangent in forward mode). `None` for a zero derivative.
pub fn unary_derivative(
    e: &mut Emitter,
    op: UnaryOp,
    s: Value,
    a: Value,
    out: Value,
) -> AdResult<Option<Value>> {
    let g = s;
    Ok(match op {
        UnaryOp::Neg => Some(e.neg(g)?),
        UnaryOp::Exp => Some(e.mul(g, out)?),
        UnaryOp::Log => Some(safe_div(e, g, a)?),
        UnaryOp::Sqrt => {
            let two = e.float(2.0, e.dtype(out));
            let d = e.mul(two, out)?;
            Some(safe_div(e, g, d)?)
        }
        UnaryOp::Sin => {
            let c = e.unary(UnaryOp::Cos, a)?;
            Some(e.mul(g, c)?)
        }
        UnaryOp::Cos => {
            let s = e.unary(UnaryOp::Sin, a)?;
            let t = e.mul(g, s)?;
            Some(e.neg(t)?)
        }
        UnaryOp::Tan => {
            let one = e.float(1.0, e.dtype(out));
            let sq = e.mul(out, out)?;
            let f = e.add(one, sq)?;
            Some(e.mul(g, f)?)
        }
        UnaryOp::Tanh => {
            let one = e.float(1.0, e.dtype(out));
            let sq = e.mul(out, out)?;
            let f = e.sub(one, sq)?;
            Some(e.mul(g, f)?)
        }
        UnaryOp::Sigmoid => {
            let one = e.float(1.0, e.dtype(out));
            let c = e.sub(one, out)?;
            let f = e.mul(out, c)?;
            Some(e.mul(g, f)?)
        }
        UnaryOp::Relu => {
            // `relu(a) > 0` exactly where `a > 0` (both false for NaN and
            // ±0): reading the result lets the input die after the forward
            // pass (a fused layer then writes only its activations).
            let z = e.float(0.0, e.dtype(out));
            let pos = e.binary(BinaryOp::Gt, out, z)?;
            Some(e.mask(pos, g)?)
        }
        UnaryOp::Abs => {
            let s = e.unary(UnaryOp::Sign, a)?;
            Some(e.mul(g, s)?)
        }
        UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::Not => None,
    })
}

/// `g / d`, zero where `g` is zero.
pub fn safe_div(e: &mut Emitter, g: Value, d: Value) -> AdResult<Value> {
    let q = e.div(g, d)?;
    let z = e.float(0.0, e.dtype(g));
    let nz = e.binary(BinaryOp::Ne, g, z)?;
    e.prim(Prim::Where, vec![nz, q, z])
}

/// Sums a contribution down to the operand's shape when broadcasting
/// widened it, and casts it to the operand's dtype.
fn unbroadcast(e: &mut Emitter, c: Option<Value>, operand: Value, wanted: bool) -> AdResult<Option<Value>> {
    let Some(c) = c else { return Ok(None) };
    if !wanted {
        return Ok(None);
    }
    let (ct, ot) = (e.ty(c), e.ty(operand));
    let (Some(ct), Some(ot)) = (ct.as_tensor(), ot.as_tensor()) else {
        return Ok(Some(c));
    };
    if !ot.dtype.is_float() {
        return Ok(None);
    }
    let same = ct.shape.concrete().is_some() && ct.shape == ot.shape;
    let c = if same {
        c
    } else {
        e.prim(Prim::SumLike, vec![c, operand])?
    };
    Ok(Some(e.cast(c, ot.dtype)?))
}

fn rank(e: &Emitter, v: Value) -> usize {
    e.ty(v).as_tensor().map(|t| t.shape.rank()).unwrap_or(0)
}

/// The last two axes swapped.
pub fn swap_last(e: &mut Emitter, v: Value) -> AdResult<Value> {
    let r = rank(e, v);
    let mut perm: Vec<usize> = (0..r).collect();
    if r >= 2 {
        perm.swap(r - 1, r - 2);
    }
    e.prim(Prim::Transpose(perm), vec![v])
}

/// Only the wanted operands' contributions are emitted: with a batch of
/// unknown size, an unused product could fail, so DCE keeps it.
fn matmul(e: &mut Emitter, a: Value, b: Value, g: Value, wa: bool, wb: bool) -> AdResult<Vec<Option<Value>>> {
    let (ra, rb) = (rank(e, a), rank(e, b));
    let (da, db) = match (ra, rb) {
        (1, 1) => (
            wa.then(|| e.mul(g, b)).transpose()?,
            wb.then(|| e.mul(g, a)).transpose()?,
        ),
        (_, 1) => {
            // a [..., m, n] @ b [n] = g [..., m]
            let da = if wa {
                let gx = e.prim(Prim::ExpandDims(rank(e, g)), vec![g])?;
                Some(e.mul(gx, b)?)
            } else {
                None
            };
            let db = wb.then(|| e.prim(Prim::MatMul, vec![g, a])).transpose()?;
            (da, db)
        }
        (1, _) => {
            // a [n] @ b [..., n, k] = g [..., k]
            let da = wa.then(|| e.prim(Prim::MatMul, vec![b, g])).transpose()?;
            let db = if wb {
                let ax = e.prim(Prim::ExpandDims(1), vec![a])?;
                let gx = e.prim(Prim::ExpandDims(rank(e, g).saturating_sub(1)), vec![g])?;
                Some(e.mul(ax, gx)?)
            } else {
                None
            };
            (da, db)
        }
        _ => {
            let da = if wa {
                let bt = swap_last(e, b)?;
                Some(e.prim(Prim::MatMul, vec![g, bt])?)
            } else {
                None
            };
            let db = if wb {
                let at = swap_last(e, a)?;
                Some(e.prim(Prim::MatMul, vec![at, g])?)
            } else {
                None
            };
            (da, db)
        }
    };
    Ok(vec![unbroadcast(e, da, a, wa)?, unbroadcast(e, db, b, wb)?])
}

fn reduce(
    e: &mut Emitter,
    op: ReduceOp,
    axis: Option<usize>,
    keepdims: bool,
    x: Value,
    out: Value,
    g: Value,
) -> AdResult<Option<Value>> {
    // Brings a value of the result's shape back to x's shape.
    let expand = |e: &mut Emitter, v: Value| -> AdResult<Value> {
        let v = match axis {
            Some(ax) if !keepdims => e.prim(Prim::ExpandDims(ax), vec![v])?,
            _ => v,
        };
        e.prim(Prim::BroadcastLike, vec![v, x])
    };
    Ok(match op {
        ReduceOp::Sum => Some(expand(e, g)?),
        ReduceOp::Mean => {
            let gb = expand(e, g)?;
            let n = count(e, axis, x)?;
            Some(e.div(gb, n)?)
        }
        ReduceOp::Prod => {
            let gb = expand(e, g)?;
            let ob = expand(e, out)?;
            let q = safe_div(e, ob, x)?;
            Some(e.mul(gb, q)?)
        }
        ReduceOp::Max | ReduceOp::Min => {
            let m = e.prim(
                Prim::ExtremeMask {
                    min: op == ReduceOp::Min,
                    axis,
                },
                vec![x],
            )?;
            let gb = expand(e, g)?;
            Some(e.mask(m, gb)?)
        }
        ReduceOp::Logsumexp => {
            let gb = expand(e, g)?;
            let ob = expand(e, out)?;
            let d = e.sub(x, ob)?;
            let w = e.unary(UnaryOp::Exp, d)?;
            Some(e.mul(gb, w)?)
        }
        ReduceOp::Norm => {
            let gb = expand(e, g)?;
            let ob = expand(e, out)?;
            let q = safe_div(e, x, ob)?;
            Some(e.mul(gb, q)?)
        }
        ReduceOp::Argmax | ReduceOp::Argmin => None,
    })
}

/// The number of elements a reduction averages over, as a float scalar.
fn count(e: &mut Emitter, axis: Option<usize>, x: Value) -> AdResult<Value> {
    let d = e.dtype(x);
    let t = e.ty(x);
    let Some(t) = t.as_tensor() else {
        return Ok(e.float(1.0, d));
    };
    let n = match axis {
        Some(a) => t.shape.0.get(a).copied().flatten(),
        None => t.shape.concrete().map(|dims| dims.iter().product()),
    };
    if let Some(n) = n {
        return Ok(e.float(n as f64, d));
    }
    // Unknown statically: count the ones.
    let one = e.float(1.0, d);
    let ones = e.prim(Prim::BroadcastLike, vec![one, x])?;
    e.prim(
        Prim::Reduce {
            op: ReduceOp::Sum,
            axis,
            keepdims: true,
        },
        vec![ones],
    )
}

/// The length of axis `axis` of `x`: a constant when known statically.
fn axis_len(e: &mut Emitter, x: Value, axis: usize) -> AdResult<Value> {
    let known = e
        .ty(x)
        .as_tensor()
        .and_then(|t| t.shape.0.get(axis).copied().flatten());
    if let Some(n) = known {
        return Ok(e.int(n as i64));
    }
    let s = e.prim(Prim::Shape, vec![x])?;
    e.project(s, axis)
}

/// The identity matrix of the size and dtype of the square matrix `a`.
pub fn eye_like(e: &mut Emitter, a: Value) -> AdResult<Value> {
    let n = axis_len(e, a, 0)?;
    let d = e.dtype(a);
    e.prim(Prim::Eye(d), vec![n])
}

/// The mask of `Φ`: 1 below the diagonal, 1/2 on it, 0 above (the shape
/// and dtype of the square matrix `l`).
pub fn lower_half_mask(e: &mut Emitter, l: Value) -> AdResult<Value> {
    let n = axis_len(e, l, 0)?;
    let d = e.dtype(l);
    let r = e.prim(Prim::Arange, vec![n])?;
    let rows = e.prim(Prim::ExpandDims(1), vec![r])?;
    let cols = e.prim(Prim::ExpandDims(0), vec![r])?;
    let below = e.binary(BinaryOp::Gt, rows, cols)?;
    let below = e.cast(below, d)?;
    let eye = e.prim(Prim::Eye(d), vec![n])?;
    let half = e.float(0.5, d);
    let diag = e.mul(half, eye)?;
    e.add(below, diag)
}

/// The adjoint of `a` for `l = cholesky(a)` (whose kernel reads the
/// symmetric part of `a`): with `P = Φ(lᵀ g)` and `S = l⁻ᵀ P l⁻¹`, it is the
/// symmetric part of `S`.
fn cholesky_adjoint(e: &mut Emitter, l: Value, g: Value) -> AdResult<Value> {
    let lt = swap_last(e, l)?;
    let ltg = e.prim(Prim::MatMul, vec![lt, g])?;
    let m = lower_half_mask(e, l)?;
    let p = e.mul(ltg, m)?;
    // Y = l⁻ᵀ P; S = Y l⁻¹ = (l⁻ᵀ Yᵀ)ᵀ.
    let y = e.prim(Prim::Solve, vec![lt, p])?;
    let yt = swap_last(e, y)?;
    let st = e.prim(Prim::Solve, vec![lt, yt])?;
    let s = swap_last(e, st)?;
    let sum = e.add(s, st)?;
    let half = e.float(0.5, e.dtype(l));
    e.mul(half, sum)
}

#[allow(dead_code)]
fn float_of(t: &Ty) -> DType {
    t.as_tensor().map(|t| t.dtype).unwrap_or(DType::F32)
}

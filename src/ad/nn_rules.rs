//! Derivative rules of the neural-network prims, in both modes.
//!
//! `conv2d(x, w)` is bilinear, and so are its transposes
//! `conv2d_grad_input(g, w)` (in `x`) and `conv2d_grad_weight(g, x)` (in
//! `w`); the three are each other's adjoints, so derivatives of any order
//! stay among them:
//! `<conv2d(x, w), g> = <x, grad_input(g, w)> = <w, grad_weight(g, x)>`.
//! `avg_pool2d` is linear, with the transpose `pool2d_spread / k²`;
//! `max_pool2d` is linear given the mask of the first maximum of each
//! window (the contract's kink convention: the whole adjoint goes to the
//! first extreme element).

use super::emit::{AdResult, Emitter};
use crate::diag::Diagnostic;
use crate::ir::{Prim, Value};

/// `k²` as a float of the dtype of `like`.
fn window_size(e: &mut Emitter, k: usize, like: Value) -> Value {
    e.float((k * k) as f64, e.dtype(like))
}

/// `conv2d` and its two transposes, for one stride and padding.
fn conv_family(stride: usize, padding: usize) -> (Prim, Prim, Prim) {
    (
        Prim::Conv2d { stride, padding },
        Prim::Conv2dGradInput { stride, padding },
        Prim::Conv2dGradWeight { stride, padding },
    )
}

/// Reverse mode: the adjoints of the operands of a neural-network prim with
/// result adjoint `g` (`None`: zero or not wanted).
pub fn reverse(
    e: &mut Emitter,
    prim: &Prim,
    args: &[Value],
    g: Value,
    want: impl Fn(usize) -> bool,
) -> AdResult<Vec<Option<Value>>> {
    let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
    let (a, b) = (arg(0), arg(1));
    let emit = |e: &mut Emitter, wanted: bool, p: Prim, ops: Vec<Value>| -> AdResult<Option<Value>> {
        if wanted {
            Ok(Some(e.prim(p, ops)?))
        } else {
            Ok(None)
        }
    };
    Ok(match *prim {
        Prim::Conv2d { stride, padding } => {
            // y = conv(x, w): dx = grad_input(g, w), dw = grad_weight(g, x).
            let (x, w) = (a, b);
            let (_, gi, gw) = conv_family(stride, padding);
            vec![
                emit(e, want(0), gi, vec![g, w, x])?,
                emit(e, want(1), gw, vec![g, x, w])?,
            ]
        }
        Prim::Conv2dGradInput { stride, padding } => {
            // y = grad_input(h, w), shaped like x: dh = conv(g, w), dw = grad_weight(h, g).
            let (h, w) = (a, b);
            let (conv, _, gw) = conv_family(stride, padding);
            vec![
                emit(e, want(0), conv, vec![g, w])?,
                emit(e, want(1), gw, vec![h, g, w])?,
                None,
            ]
        }
        Prim::Conv2dGradWeight { stride, padding } => {
            // y = grad_weight(h, x), shaped like w: dh = conv(x, g), dx = grad_input(h, g).
            let (h, x) = (a, b);
            let (conv, gi, _) = conv_family(stride, padding);
            vec![
                emit(e, want(0), conv, vec![x, g])?,
                emit(e, want(1), gi, vec![h, g, x])?,
                None,
            ]
        }
        Prim::MaxPool2d(k) => {
            let m = e.prim(Prim::MaxPool2dMask(k), vec![a])?;
            let s = e.prim(Prim::Pool2dSpread(k), vec![g, a])?;
            vec![Some(e.mask(m, s)?)]
        }
        Prim::AvgPool2d(k) => {
            let s = e.prim(Prim::Pool2dSpread(k), vec![g, a])?;
            let n = window_size(e, k, s);
            vec![Some(e.div(s, n)?)]
        }
        Prim::Pool2dSpread(k) => vec![Some(sum_pool(e, k, g)?), None],
        Prim::MaxPool2dMask(_) => vec![None],
        _ => return Err(not_nn(e, prim)),
    })
}

/// Forward mode: the tangent of the result of a neural-network prim from
/// its operands' tangents (`None`: zero).
pub fn tangent(
    e: &mut Emitter,
    prim: &Prim,
    args: &[Value],
    tans: &[Option<Value>],
) -> AdResult<Option<Value>> {
    let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
    let tan = |i: usize| tans.get(i).copied().flatten();
    // A bilinear prim `p(u, v, rest…)`: p(du, v, rest…) + p(u, dv, rest…).
    let bilinear = |e: &mut Emitter, p: Prim| -> AdResult<Option<Value>> {
        let rest: Vec<Value> = args.iter().skip(2).copied().collect();
        let mut terms = Vec::new();
        if let Some(du) = tan(0) {
            terms.push(e.prim(p.clone(), [vec![du, arg(1)], rest.clone()].concat())?);
        }
        if let Some(dv) = tan(1) {
            terms.push(e.prim(p, [vec![arg(0), dv], rest].concat())?);
        }
        Ok(match terms.as_slice() {
            [] => None,
            [t] => Some(*t),
            [s, t, ..] => Some(e.add(*s, *t)?),
        })
    };
    Ok(match prim {
        Prim::Conv2d { .. } | Prim::Conv2dGradInput { .. } | Prim::Conv2dGradWeight { .. } => {
            bilinear(e, prim.clone())?
        }
        Prim::MaxPool2d(k) => match tan(0) {
            Some(t) => {
                // The tangent at each window's first maximum: a sum over the window of the masked tangent.
                let m = e.prim(Prim::MaxPool2dMask(*k), vec![arg(0)])?;
                let mt = e.mask(m, t)?;
                Some(sum_pool(e, *k, mt)?)
            }
            None => None,
        },
        Prim::AvgPool2d(k) => match tan(0) {
            Some(t) => Some(e.prim(Prim::AvgPool2d(*k), vec![t])?),
            None => None,
        },
        Prim::Pool2dSpread(k) => match tan(0) {
            Some(t) => Some(e.prim(Prim::Pool2dSpread(*k), vec![t, arg(1)])?),
            None => None,
        },
        Prim::MaxPool2dMask(_) => None,
        _ => return Err(not_nn(e, prim)),
    })
}

/// The error for a prim that the callers route here by mistake.
fn not_nn(e: &Emitter, prim: &Prim) -> Diagnostic {
    Diagnostic::internal(
        e.span,
        format!("`{}` has no neural-network derivative rule", prim.info().name),
    )
}

/// The sum of each `k x k` window of `v`: `avg_pool2d(v, k) * k²`.
fn sum_pool(e: &mut Emitter, k: usize, v: Value) -> AdResult<Value> {
    let avg = e.prim(Prim::AvgPool2d(k), vec![v])?;
    let n = window_size(e, k, avg);
    e.mul(avg, n)
}

//! `gradcheck(f, x…)`: the largest disagreement between the AD gradient of
//! `f` with respect to its first argument and central finite differences,
//! `max |ad - fd| / (1 + |fd|)`, with step `1e-5 * max(1, |x_i|)`, in f64.
//!
//! The check is itself a generated IR function: for each tensor leaf of the
//! first argument (a tensor, or tensors inside records and tuples) a loop
//! perturbs one element at a time.

use super::emit::{AdResult, Emitter};
use crate::diag::Diagnostic;
use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, FuncId, IndexItem, InstKind, Prim, Program, UnaryOp, Value};
use crate::syntax::{Span, Symbol};

/// Builds the check for the specialized `f` (its arguments already f64) and
/// its gradient function `grad` (same parameters); the first `n_leading`
/// parameters are captures.
pub fn build(
    program: &mut Program,
    f: FuncId,
    grad: FuncId,
    n_leading: usize,
    span: Span,
) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(span, "gradcheck of a missing function"))?;
    let g_ty = program
        .func(grad)
        .and_then(|g| g.body.yields.first().and_then(|&y| g.ty(y).cloned()))
        .unwrap_or(Ty::Never);
    let y_ty = src.result_ty();
    let mut e = Emitter::new(
        Symbol::intern(&format!("{}'gradcheck", src.name)),
        span,
        DType::F64,
    );
    let params: Vec<Value> = e.params_like(&src);
    let x0 = *params
        .get(n_leading)
        .ok_or_else(|| Diagnostic::error(span, "`gradcheck` needs an argument"))?;
    let g = e.inst(InstKind::Call(grad), params.clone(), g_ty);
    let mut err = e.float(0.0, DType::F64);
    let mut leaves = Vec::new();
    leaf_paths(&e.ty(x0), &mut Vec::new(), &mut leaves);
    for path in leaves {
        err = check_leaf(&mut e, f, &y_ty, &params, n_leading, g, &path, err)?;
    }
    let func = e.finish(err);
    program.funcs.push(func);
    Ok(FuncId((program.funcs.len() - 1) as u32))
}

/// Paths (field indices) to every float tensor inside a value of type `t`.
fn leaf_paths(t: &Ty, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    match t {
        Ty::Tensor(tt) if tt.dtype.is_float() => out.push(prefix.clone()),
        Ty::Tuple(parts) | Ty::Record(_, parts) => {
            for (i, p) in parts.iter().enumerate() {
                prefix.push(i);
                leaf_paths(p, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_path(e: &mut Emitter, mut v: Value, path: &[usize]) -> AdResult<Value> {
    for &i in path {
        v = e.project(v, i)?;
    }
    Ok(v)
}

/// `v` with the leaf at `path` replaced by `leaf`.
fn replace(e: &mut Emitter, v: Value, path: &[usize], leaf: Value) -> AdResult<Value> {
    let Some((&first, rest)) = path.split_first() else {
        return Ok(leaf);
    };
    let ty = e.ty(v);
    let n = match &ty {
        Ty::Tuple(p) | Ty::Record(_, p) => p.len(),
        _ => 0,
    };
    let mut parts = Vec::with_capacity(n);
    for i in 0..n {
        let p = e.project(v, i)?;
        parts.push(if i == first { replace(e, p, rest, leaf)? } else { p });
    }
    Ok(match ty {
        Ty::Record(s, _) => {
            let tys = parts.iter().map(|&p| e.ty(p)).collect();
            e.inst(InstKind::Record(s), parts, Ty::Record(s, tys))
        }
        _ => e.tuple(parts),
    })
}

/// Folds the worst error over the elements of one leaf into `err`.
#[allow(clippy::too_many_arguments)]
fn check_leaf(
    e: &mut Emitter,
    f: FuncId,
    y_ty: &Ty,
    params: &[Value],
    n_leading: usize,
    g: Value,
    path: &[usize],
    err: Value,
) -> AdResult<Value> {
    let x0 = params.get(n_leading).copied().unwrap_or(Value(0));
    let leaf = at_path(e, x0, path)?;
    let g_leaf = at_path(e, g, path)?;
    let t = e.ty(leaf);
    let numel = t
        .as_tensor()
        .and_then(|t| t.shape.concrete())
        .map(|d| d.iter().product::<usize>())
        .ok_or_else(|| Diagnostic::error(e.span, "`gradcheck` needs arguments whose shapes are known"))?;
    let scalar = t.as_tensor().is_some_and(|t| t.shape.is_scalar());
    // Flat views of the leaf and of its gradient, and the identity for one-hots.
    let flat_like = if scalar {
        None
    } else {
        let n = e.int(numel as i64);
        let shape = e.tuple(vec![n]);
        let z = e.float(0.0, DType::F64);
        Some(e.prim(Prim::Full(DType::F64), vec![shape, z])?)
    };
    let n = e.int(numel as i64);
    let eye = if scalar {
        None
    } else {
        Some(e.prim(Prim::Eye(DType::F64), vec![n])?)
    };
    let lo = e.int(0);
    let i = e.fresh(Ty::int(), None);
    let acc = e.fresh(Ty::scalar(DType::F64), None);
    e.push_block(vec![i, acc]);
    let (xi, gi, dir) = match (flat_like, eye) {
        (Some(like), Some(eye)) => {
            let flat = e.prim(Prim::ReshapeLike, vec![leaf, like])?;
            let gflat = e.prim(Prim::ReshapeLike, vec![g_leaf, like])?;
            let xi = e.prim(Prim::Index(vec![IndexItem::At]), vec![flat, i])?;
            let gi = e.prim(Prim::Index(vec![IndexItem::At]), vec![gflat, i])?;
            let row = e.prim(Prim::Index(vec![IndexItem::At]), vec![eye, i])?;
            let dir = e.prim(Prim::ReshapeLike, vec![row, leaf])?;
            (xi, gi, dir)
        }
        _ => (leaf, g_leaf, e.float(1.0, DType::F64)),
    };
    let ax = e.unary(UnaryOp::Abs, xi)?;
    let one = e.float(1.0, DType::F64);
    let m = e.binary(BinaryOp::Maximum, one, ax)?;
    let step0 = e.float(1e-5, DType::F64);
    let h = e.mul(step0, m)?;
    let hd = e.mul(h, dir)?;
    let value_at = |e: &mut Emitter, plus: bool| -> AdResult<Value> {
        let moved = if plus { e.add(leaf, hd)? } else { e.sub(leaf, hd)? };
        let x = replace(e, x0, path, moved)?;
        let mut args = params.to_vec();
        if let Some(slot) = args.get_mut(n_leading) {
            *slot = x;
        }
        let y = e.inst(InstKind::Call(f), args, y_ty.clone());
        e.cast(y, DType::F64)
    };
    let fp = value_at(e, true)?;
    let fm = value_at(e, false)?;
    let diff = e.sub(fp, fm)?;
    let two = e.float(2.0, DType::F64);
    let den = e.mul(two, h)?;
    let fd = e.div(diff, den)?;
    let gi = e.cast(gi, DType::F64)?;
    let d = e.sub(gi, fd)?;
    let ad = e.unary(UnaryOp::Abs, d)?;
    let afd = e.unary(UnaryOp::Abs, fd)?;
    let one = e.float(1.0, DType::F64);
    let scale = e.add(one, afd)?;
    let rel = e.div(ad, scale)?;
    let next = e.binary(BinaryOp::Maximum, acc, rel)?;
    let body = e.pop_block(vec![next]);
    let n_iter = e.int(numel as i64);
    let r = e.fresh(Ty::scalar(DType::F64), None);
    let span = e.span;
    e.push(crate::ir::Inst {
        kind: InstKind::For { body },
        args: vec![lo, n_iter, err],
        results: vec![r],
        span,
    });
    Ok(r)
}

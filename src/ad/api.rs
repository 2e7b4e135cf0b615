//! The functions behind `grad`, `value_and_grad` and `vjp`: wrappers around
//! a vector-Jacobian product that seed the result's adjoint and pick the
//! requested parts. Each is an ordinary function of the same arguments as
//! the function it differentiates (plus `dy` for `vjp`), so derivatives nest.

use super::emit::{AdResult, Emitter};
use super::reverse::{VjpCache, vjp};
use crate::diag::Diagnostic;
use crate::ir::types::{DerivKind, Ty};
use crate::ir::{FuncId, InstKind, Program};
use crate::syntax::{Span, Symbol};

/// Builds the derivative `kind` of the specialized function `f`, whose first
/// `n_leading` parameters are captured values (never differentiated).
pub fn derivative(
    program: &mut Program,
    f: FuncId,
    kind: &DerivKind,
    n_leading: usize,
    cache: &mut VjpCache,
    span: Span,
) -> AdResult<FuncId> {
    let src = program
        .func(f)
        .cloned()
        .ok_or_else(|| Diagnostic::internal(span, "derivative of a missing function"))?;
    let n = src.param_values.len();
    let ret_ty = src.result_ty();
    let default_float = ret_ty
        .as_tensor()
        .map(|t| t.dtype)
        .unwrap_or(crate::ir::DType::F32);
    let (label, active): (&str, Vec<bool>) = match kind {
        DerivKind::Grad { wrt, .. } => (
            "grad",
            (0..n)
                .map(|i| i >= n_leading && wrt.contains(&(i - n_leading)))
                .collect(),
        ),
        DerivKind::Vjp => ("vjp", (0..n).map(|i| i >= n_leading).collect()),
        DerivKind::Jvp => return super::forward::jvp_wrapper(program, f, n_leading, cache, span),
        DerivKind::Hessian => return super::forward::hessian_wrapper(program, f, n_leading, cache, span),
    };
    let v = vjp(program, f, &active, cache)?;
    let v_ret = program
        .func(v)
        .and_then(|g| g.body.yields.first().and_then(|&y| g.ty(y).cloned()))
        .unwrap_or(Ty::Never);
    let mut e = Emitter::new(
        Symbol::intern(&format!("{}'{label}", src.name)),
        span,
        default_float,
    );
    let params = e.params_like(&src);
    let dy = match kind {
        DerivKind::Vjp => e.param(Symbol::intern("dy"), ret_ty.clone()),
        _ => {
            let d = ret_ty.as_tensor().map(|t| t.dtype).unwrap_or(default_float);
            e.float(1.0, d)
        }
    };
    let mut args = params.clone();
    args.push(dy);
    let r = e.inst(InstKind::Call(v), args, v_ret);
    let result = match kind {
        DerivKind::Grad {
            wrt,
            tuple,
            with_value,
        } => {
            let mut grads = Vec::new();
            for &w in wrt {
                grads.push(e.project(r, 1 + n_leading + w)?);
            }
            let g = if *tuple {
                e.tuple(grads)
            } else {
                grads
                    .into_iter()
                    .next()
                    .ok_or_else(|| Diagnostic::internal(span, "grad of nothing"))?
            };
            if *with_value {
                let y = e.project(r, 0)?;
                e.tuple(vec![y, g])
            } else {
                g
            }
        }
        _ => {
            let user = n - n_leading;
            let mut parts = Vec::new();
            for i in 0..user {
                parts.push(e.project(r, 1 + n_leading + i)?);
            }
            if user == 1 {
                parts.into_iter().next().unwrap_or(r)
            } else {
                e.tuple(parts)
            }
        }
    };
    let func = e.finish(result);
    program.funcs.push(func);
    let id = FuncId((program.funcs.len() - 1) as u32);
    // With the vjp inlined, what the wrapper drops (the zeros of parameters
    // not differentiated, the value for `grad`) is dead code.
    if let Some(inlined) = crate::opt::inline::inline_calls(program, id)
        && let Some(slot) = program.funcs.get_mut(id.0 as usize)
    {
        *slot = inlined;
    }
    Ok(id)
}

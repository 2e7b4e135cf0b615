//! The neural-network builtins `conv2d`, `max_pool2d` and `avg_pool2d`
//! become prims: stride, padding and window must be constant ints (they
//! decide the result's shape), and the tensors must be floats (an f32 and an
//! f64 operand meet at f64).

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::shapes::Known;
use crate::ir::types::Ty;
use crate::ir::{Builtin, Prim, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    pub(super) fn nn_builtin(
        &mut self,
        b: &mut FnBuild<'_>,
        bi: Builtin,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
        let name = bi.name();
        let n_tensors = if bi == Builtin::Conv2d { 2 } else { 1 };
        for i in 0..n_tensors {
            match b.ty(arg(i)) {
                Ty::Tensor(t) if t.dtype.is_float() => {}
                Ty::Never => return Ok(self.emit_undef(b, span)),
                t @ Ty::Tensor(_) => {
                    return Err(Diagnostic::error(
                        span,
                        format!("`{name}` needs float tensors, found {}", t.describe(&self.out)),
                    )
                    .with_help("convert with `float(x)`"));
                }
                t => {
                    return Err(Diagnostic::error(
                        span,
                        format!("`{name}` needs a tensor, found {}", t.describe(&self.out)),
                    ));
                }
            }
        }
        match bi {
            Builtin::Conv2d => {
                let stride = self.const_int(b, arg(2), "stride", name, span)?;
                if stride < 1 {
                    return Err(Diagnostic::error(
                        span,
                        format!("the stride of `conv2d` must be at least 1, found {stride}"),
                    ));
                }
                let padding = self.const_int(b, arg(3), "padding", name, span)?;
                if padding < 0 {
                    return Err(Diagnostic::error(
                        span,
                        format!("the padding of `conv2d` must not be negative, found {padding}"),
                    ));
                }
                let (x, w) = (arg(0), arg(1));
                let d = self.common_dtype(b, &[x, w], span)?;
                let x = self.coerce(b, x, d, span)?;
                let w = self.coerce(b, w, d, span)?;
                let prim = Prim::Conv2d {
                    stride: stride as usize,
                    padding: padding as usize,
                };
                self.emit_prim(b, prim, vec![x, w], span)
            }
            Builtin::MaxPool2d | Builtin::AvgPool2d => {
                let k = self.const_int(b, arg(1), "window", name, span)?;
                if k < 1 {
                    return Err(Diagnostic::error(
                        span,
                        format!("the window of `{name}` must be at least 1, found {k}"),
                    ));
                }
                let prim = if bi == Builtin::MaxPool2d {
                    Prim::MaxPool2d(k as usize)
                } else {
                    Prim::AvgPool2d(k as usize)
                };
                self.emit_prim(b, prim, vec![arg(0)], span)
            }
            _ => Err(Diagnostic::internal(
                span,
                format!("`{name}` is not a neural-network builtin"),
            )),
        }
    }

    /// A parameter that must be a constant int.
    fn const_int(
        &self,
        b: &FnBuild<'_>,
        v: Value,
        what: &str,
        name: &str,
        span: Span,
    ) -> Result<i64, Diagnostic> {
        match b.known.get(&v) {
            Some(Known::Int(n)) => Ok(*n),
            _ => Err(
                Diagnostic::error(span, format!("the {what} of `{name}` must be a constant int")).with_help(
                    "it decides the shape of the result, so it must be known before the program runs",
                ),
            ),
        }
    }
}

//! Randomness builtins become `Prim::Random` draws. `sample_normal` is
//! written as `mu + sigma * eps` here, so its pathwise derivative needs no rule
//! of its own; discrete samples carry their baseline as an operand for the
//! score-function term that reverse mode adds.

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, Builtin, Const, Prim, RandomOp, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    pub(super) fn spec_random(
        &mut self,
        b: &mut FnBuild<'_>,
        bi: Builtin,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
        let df = self.opts.default_float;
        let draw = |op| Prim::Random(op);
        match bi {
            Builtin::Seed => self.emit_prim(b, draw(RandomOp::Seed), vec![arg(0)], span),
            Builtin::Rand | Builtin::Randn => {
                let shape = self.shape_operand(b, arg(0), span)?;
                let op = if bi == Builtin::Rand {
                    RandomOp::Uniform(df)
                } else {
                    RandomOp::Normal(df)
                };
                self.emit_prim(b, draw(op), vec![shape], span)
            }
            Builtin::Permutation => self.emit_prim(b, draw(RandomOp::Permutation), vec![arg(0)], span),
            Builtin::SampleNormal => {
                let d = self.float_dtype(b, &[arg(0), arg(1)], span)?;
                let mu = self.coerce(b, arg(0), d, span)?;
                let sigma = self.coerce(b, arg(1), d, span)?;
                // The noise takes the broadcast shape of `mu` and `sigma`.
                let both = self.elementwise(b, Prim::Binary(BinaryOp::Add), vec![mu, sigma], span)?;
                let eps = self.emit_prim(b, draw(RandomOp::NormalLike), vec![both], span)?;
                let scaled = self.elementwise(b, Prim::Binary(BinaryOp::Mul), vec![sigma, eps], span)?;
                self.elementwise(b, Prim::Binary(BinaryOp::Add), vec![mu, scaled], span)
            }
            Builtin::SampleBernoulli | Builtin::SampleCategorical => {
                let d = self.float_dtype(b, &[arg(0)], span)?;
                let p = self.coerce(b, arg(0), d, span)?;
                let baseline = match b.ty(arg(1)) {
                    t if t.is_unit() => self.emit_const(b, Const::Float(0.0), Ty::scalar(d), span),
                    _ => self.coerce(b, arg(1), d, span)?,
                };
                let op = if bi == Builtin::SampleBernoulli {
                    RandomOp::Bernoulli
                } else {
                    RandomOp::Categorical
                };
                self.emit_prim(b, draw(op), vec![p, baseline], span)
            }
            _ => Err(Diagnostic::internal(span, "not a randomness builtin")),
        }
    }

    /// The float dtype that these operands promote to (ints become the default float).
    fn float_dtype(&self, b: &FnBuild<'_>, vs: &[Value], span: Span) -> Result<DType, Diagnostic> {
        for &v in vs {
            if !matches!(b.ty(v), Ty::Tensor(_) | Ty::Never) {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "expected numbers or tensors, found {}",
                        b.ty(v).describe(&self.out)
                    ),
                ));
            }
        }
        let d = self.common_dtype(b, vs, span)?;
        Ok(if d.is_float() { d } else { self.opts.default_float })
    }
}

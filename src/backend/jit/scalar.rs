//! Prims on scalars: arithmetic, comparisons, casts and math functions, each
//! giving bit for bit what the interpreter's kernels give (`runtime::
//! elementwise`). IEEE operations (`+ - * /`, `sqrt`, `abs`, `floor`, `ceil`,
//! comparisons, conversions) are single instructions, which round exactly as
//! Rust does; `exp`, `log`, `sin`, `pow`, `round`, float `%`, … call the
//! helpers in `abi`, which run the kernels' own functions. Integer division
//! by zero and negative integer powers are errors with the prim's span.

use super::abi::code;
use super::lower::{CVal, FnLower};
use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, Inst, Prim, UnaryOp};
use cranelift_codegen::ir::{
    InstBuilder,
    condcodes::{FloatCC, IntCC},
    types,
};

/// Whether `p` has a scalar lowering (its operands being scalars is checked
/// by the layout of every value).
pub fn supported(p: &Prim) -> Result<(), String> {
    match p {
        Prim::Unary(_)
        | Prim::Binary(_)
        | Prim::Where
        | Prim::Clip
        | Prim::Cast(_)
        | Prim::StopGradient
        | Prim::BroadcastLike
        | Prim::SumLike
        | Prim::ReshapeLike => Ok(()),
        _ => Err(format!("uses `{}`", p.info().name)),
    }
}

fn float_suffix(d: DType) -> &'static str {
    if d == DType::F32 { "f32" } else { "f64" }
}

impl FnLower<'_, '_> {
    /// The value of a prim whose operands and result are scalars.
    pub fn prim(&mut self, p: &Prim, inst: &Inst) -> Result<CVal, String> {
        let mut ops = Vec::new();
        for &a in &inst.args {
            ops.push(self.scalar(a)?);
        }
        let out = match inst.results.first() {
            Some(&r) => match self.ty(r)? {
                Ty::Tensor(t) if t.shape.is_scalar() => t.dtype,
                _ => return Err("a prim whose result is not a scalar".into()),
            },
            None => return Err("a prim without a result".into()),
        };
        let op = |i: usize| ops.get(i).copied().ok_or("a missing operand");
        match p {
            Prim::Unary(u) => {
                let (x, d) = op(0)?;
                self.unary(*u, x, d)
            }
            Prim::Binary(bop) => {
                let ((a, d), (b, _)) = (op(0)?, op(1)?);
                self.binary(*bop, a, b, d, inst)
            }
            Prim::Where => {
                let ((c, _), (a, _), (b, _)) = (op(0)?, op(1)?, op(2)?);
                Ok(self.b.ins().select(c, a, b))
            }
            Prim::Clip => {
                let ((x, d), (lo, _), (hi, _)) = (op(0)?, op(1)?, op(2)?);
                let m = self.binary(BinaryOp::Maximum, x, lo, d, inst)?;
                self.binary(BinaryOp::Minimum, m, hi, d, inst)
            }
            Prim::Cast(to) => {
                let (x, from) = op(0)?;
                Ok(self.cast(x, from, *to))
            }
            Prim::StopGradient | Prim::BroadcastLike | Prim::SumLike | Prim::ReshapeLike => {
                let (x, d) = op(0)?;
                if d != out {
                    return Err("a shape prim that changes the dtype".into());
                }
                Ok(x)
            }
            _ => Err(format!("no scalar lowering of `{}`", p.info().name)),
        }
    }

    fn call1(&mut self, name: &str, d: DType, args: &[CVal]) -> Result<CVal, String> {
        let full = format!("diffl_{name}_{}", float_suffix(d));
        let r = self.helper(&full, args)?;
        r.first()
            .copied()
            .ok_or_else(|| format!("`{full}` returns nothing"))
    }

    fn float_const(&mut self, d: DType, v: f64) -> CVal {
        if d == DType::F32 {
            self.b.ins().f32const(v as f32)
        } else {
            self.b.ins().f64const(v)
        }
    }

    fn unary(&mut self, u: UnaryOp, x: CVal, d: DType) -> Result<CVal, String> {
        match d {
            DType::F32 | DType::F64 => match u {
                UnaryOp::Neg => Ok(self.b.ins().fneg(x)),
                UnaryOp::Sqrt => Ok(self.b.ins().sqrt(x)),
                UnaryOp::Abs => Ok(self.b.ins().fabs(x)),
                UnaryOp::Floor => Ok(self.b.ins().floor(x)),
                UnaryOp::Ceil => Ok(self.b.ins().ceil(x)),
                UnaryOp::Exp => self.call1("exp", d, &[x]),
                UnaryOp::Log => self.call1("ln", d, &[x]),
                UnaryOp::Sin => self.call1("sin", d, &[x]),
                UnaryOp::Cos => self.call1("cos", d, &[x]),
                UnaryOp::Tan => self.call1("tan", d, &[x]),
                UnaryOp::Tanh => self.call1("tanh", d, &[x]),
                UnaryOp::Sigmoid => self.call1("sigmoid", d, &[x]),
                UnaryOp::Round => self.call1("round", d, &[x]),
                UnaryOp::Relu => {
                    // x if x is NaN or x > 0, else 0
                    let zero = self.float_const(d, 0.0);
                    let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, zero);
                    Ok(self.b.ins().select(keep, x, zero))
                }
                UnaryOp::Sign => {
                    let zero = self.float_const(d, 0.0);
                    let one = self.float_const(d, 1.0);
                    let minus = self.float_const(d, -1.0);
                    let pos = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                    let neg = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
                    let s = self.b.ins().select(neg, minus, x);
                    Ok(self.b.ins().select(pos, one, s))
                }
                UnaryOp::Not => Err("`not` of a float".into()),
            },
            DType::I64 => match u {
                UnaryOp::Neg => Ok(self.b.ins().ineg(x)),
                UnaryOp::Abs => Ok(self.b.ins().iabs(x)),
                UnaryOp::Relu => {
                    let zero = self.b.ins().iconst(types::I64, 0);
                    Ok(self.b.ins().smax(x, zero))
                }
                UnaryOp::Sign => {
                    let pos = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
                    let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                    let pos = self.b.ins().uextend(types::I64, pos);
                    let neg = self.b.ins().uextend(types::I64, neg);
                    Ok(self.b.ins().isub(pos, neg))
                }
                UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => Ok(x),
                _ => Err(format!("`{}` of an int", Prim::Unary(u).info().name)),
            },
            DType::Bool => match u {
                UnaryOp::Not => Ok(self.b.ins().bxor_imm_u(x, 1)),
                _ => Err(format!("`{}` of a bool", Prim::Unary(u).info().name)),
            },
        }
    }

    fn binary(&mut self, op: BinaryOp, a: CVal, b: CVal, d: DType, inst: &Inst) -> Result<CVal, String> {
        match d {
            DType::F32 | DType::F64 => self.float_binary(op, a, b, d),
            DType::I64 => self.int_binary(op, a, b, inst),
            DType::Bool => {
                let cmp = |cc| Some(cc);
                let cc = match op {
                    BinaryOp::And | BinaryOp::Minimum => return Ok(self.b.ins().band(a, b)),
                    BinaryOp::Or | BinaryOp::Maximum => return Ok(self.b.ins().bor(a, b)),
                    // On 0 and 1, `!a & b` is `a < b` unsigned, and so on.
                    BinaryOp::Lt => cmp(IntCC::UnsignedLessThan),
                    BinaryOp::Le => cmp(IntCC::UnsignedLessThanOrEqual),
                    BinaryOp::Gt => cmp(IntCC::UnsignedGreaterThan),
                    BinaryOp::Ge => cmp(IntCC::UnsignedGreaterThanOrEqual),
                    BinaryOp::Eq => cmp(IntCC::Equal),
                    BinaryOp::Ne => cmp(IntCC::NotEqual),
                    _ => None,
                };
                let cc = cc.ok_or_else(|| format!("`{}` of bools", Prim::Binary(op).info().name))?;
                Ok(self.b.ins().icmp(cc, a, b))
            }
        }
    }

    fn float_binary(&mut self, op: BinaryOp, a: CVal, b: CVal, d: DType) -> Result<CVal, String> {
        let cmp = |l: &mut Self, cc| Ok(l.b.ins().fcmp(cc, a, b));
        match op {
            BinaryOp::Add => Ok(self.b.ins().fadd(a, b)),
            BinaryOp::Sub => Ok(self.b.ins().fsub(a, b)),
            BinaryOp::Mul => Ok(self.b.ins().fmul(a, b)),
            BinaryOp::Div => Ok(self.b.ins().fdiv(a, b)),
            BinaryOp::Rem => self.call1("rem", d, &[a, b]),
            BinaryOp::Pow => self.call1("pow", d, &[a, b]),
            BinaryOp::Maximum | BinaryOp::Minimum => {
                // NumPy's: NaN if either is NaN, else `a` when `a >= b` (max) or `a <= b` (min).
                let cc = if op == BinaryOp::Maximum {
                    FloatCC::GreaterThanOrEqual
                } else {
                    FloatCC::LessThanOrEqual
                };
                let pick_a = self.b.ins().fcmp(cc, a, b);
                let m = self.b.ins().select(pick_a, a, b);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, a, b);
                let q = if d == DType::F32 {
                    self.b.ins().f32const(f32::NAN)
                } else {
                    self.b.ins().f64const(f64::NAN)
                };
                Ok(self.b.ins().select(nan, q, m))
            }
            BinaryOp::Lt => cmp(self, FloatCC::LessThan),
            BinaryOp::Le => cmp(self, FloatCC::LessThanOrEqual),
            BinaryOp::Gt => cmp(self, FloatCC::GreaterThan),
            BinaryOp::Ge => cmp(self, FloatCC::GreaterThanOrEqual),
            BinaryOp::Eq => cmp(self, FloatCC::Equal),
            BinaryOp::Ne => cmp(self, FloatCC::NotEqual),
            BinaryOp::And | BinaryOp::Or => Err(format!("`{}` of floats", Prim::Binary(op).info().name)),
        }
    }

    fn int_binary(&mut self, op: BinaryOp, a: CVal, b: CVal, inst: &Inst) -> Result<CVal, String> {
        let cmp = |l: &mut Self, cc| Ok(l.b.ins().icmp(cc, a, b));
        match op {
            BinaryOp::Add => Ok(self.b.ins().iadd(a, b)),
            BinaryOp::Sub => Ok(self.b.ins().isub(a, b)),
            BinaryOp::Mul => Ok(self.b.ins().imul(a, b)),
            BinaryOp::Div | BinaryOp::Rem => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
                let site = self.site(inst.span, None);
                self.fail_if(zero, code::DIV_ZERO, site, None);
                // `i64::MIN / -1` wraps to `i64::MIN` and its remainder is 0,
                // as in the kernel; divide by 1 instead of -1 to never trap.
                let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
                let one = self.b.ins().iconst(types::I64, 1);
                let safe = self.b.ins().select(minus_one, one, b);
                if op == BinaryOp::Div {
                    let q = self.b.ins().sdiv(a, safe);
                    let neg = self.b.ins().ineg(a);
                    Ok(self.b.ins().select(minus_one, neg, q))
                } else {
                    Ok(self.b.ins().srem(a, safe))
                }
            }
            BinaryOp::Pow => {
                let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                let site = self.site(inst.span, None);
                self.fail_if(negative, code::NEG_EXPONENT, site, Some(b));
                let r = self.helper("diffl_ipow", &[a, b])?;
                r.first()
                    .copied()
                    .ok_or_else(|| "`diffl_ipow` returns nothing".into())
            }
            BinaryOp::Maximum => Ok(self.b.ins().smax(a, b)),
            BinaryOp::Minimum => Ok(self.b.ins().smin(a, b)),
            BinaryOp::Lt => cmp(self, IntCC::SignedLessThan),
            BinaryOp::Le => cmp(self, IntCC::SignedLessThanOrEqual),
            BinaryOp::Gt => cmp(self, IntCC::SignedGreaterThan),
            BinaryOp::Ge => cmp(self, IntCC::SignedGreaterThanOrEqual),
            BinaryOp::Eq => cmp(self, IntCC::Equal),
            BinaryOp::Ne => cmp(self, IntCC::NotEqual),
            BinaryOp::And | BinaryOp::Or => Err(format!("`{}` of ints", Prim::Binary(op).info().name)),
        }
    }

    /// Converts as `runtime::cast`: floats to int truncate (saturating, NaN to
    /// 0), anything to bool is `!= 0`, bool to number is 0 or 1.
    fn cast(&mut self, x: CVal, from: DType, to: DType) -> CVal {
        let fty = |d| if d == DType::F32 { types::F32 } else { types::F64 };
        match (from, to) {
            _ if from == to => x,
            (DType::Bool, DType::I64) => self.b.ins().uextend(types::I64, x),
            (DType::Bool, DType::F32 | DType::F64) => {
                let one = self.float_const(to, 1.0);
                let zero = self.float_const(to, 0.0);
                self.b.ins().select(x, one, zero)
            }
            (DType::I64, DType::Bool) => self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
            (DType::I64, _) => self.b.ins().fcvt_from_sint(fty(to), x),
            (DType::F32 | DType::F64, DType::Bool) => {
                let zero = self.float_const(from, 0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, zero)
            }
            (DType::F32 | DType::F64, DType::I64) => self.b.ins().fcvt_to_sint_sat(types::I64, x),
            (DType::F32, DType::F64) => self.b.ins().fpromote(types::F64, x),
            (DType::F64, _) => self.b.ins().fdemote(types::F32, x),
            (DType::F32 | DType::Bool, _) => x,
        }
    }
}

//! Emitting prims with their operands made ready: dtype promotion as explicit
//! casts (a float literal is re-emitted at the needed width, so it is rounded
//! once), lifting of elementwise math over records and tuples, and whole-value
//! `==`/`!=` on aggregates.

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::shapes::{self, Known, Operand};
use crate::ir::types::{DType, TensorTy, Ty};
use crate::ir::{BinaryOp, Const, Inst, InstKind, Prim, UnaryOp, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    /// Emits `prim` over `operands` as they are (no casts); types the result
    /// with the shape rule and records constant ints it can fold.
    pub(super) fn emit_prim(
        &mut self,
        b: &mut FnBuild<'_>,
        prim: Prim,
        operands: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        if operands.iter().any(|&v| b.ty(v) == Ty::Never) {
            return Ok(self.emit_undef(b, span));
        }
        let tys: Vec<Ty> = operands.iter().map(|&v| b.ty(v)).collect();
        let knowns: Vec<Option<Known>> = operands.iter().map(|v| b.known.get(v).cloned()).collect();
        let ops: Vec<Operand<'_>> = tys
            .iter()
            .zip(&knowns)
            .map(|(ty, known)| Operand {
                ty,
                known: known.as_ref(),
            })
            .collect();
        let ty = shapes::result_type(&prim, &ops, self.opts.default_float).map_err(|e| {
            let mut d = Diagnostic::error(span, e.message.clone());
            if let Some(h) = e.help {
                d = d.with_help(h);
            }
            d
        })?;
        let folded = fold(&prim, &knowns);
        let r = b.fresh(ty, None);
        if let Some(k) = folded {
            b.known.insert(r, k);
        }
        b.push(Inst {
            kind: InstKind::Prim(prim),
            args: operands,
            results: vec![r],
            span,
        });
        Ok(r)
    }

    pub(super) fn emit_undef(&mut self, b: &mut FnBuild<'_>, span: Span) -> Value {
        let r = b.fresh(Ty::Never, None);
        b.push(Inst {
            kind: InstKind::Const(Const::Undef),
            args: Vec::new(),
            results: vec![r],
            span,
        });
        r
    }

    pub(super) fn emit_const(&mut self, b: &mut FnBuild<'_>, c: Const, ty: Ty, span: Span) -> Value {
        let known = match &c {
            Const::Int(i) => Some(Known::Int(*i)),
            Const::Bool(x) => Some(Known::Bool(*x)),
            Const::Float(f) => Some(Known::Float(*f)),
            Const::Str(_) | Const::Unit | Const::Undef => None,
        };
        let r = b.fresh(ty, None);
        if let Some(k) = known {
            b.known.insert(r, k);
        }
        b.push(Inst {
            kind: InstKind::Const(c),
            args: Vec::new(),
            results: vec![r],
            span,
        });
        r
    }

    /// `v` converted to `dtype` (same shape); a float constant is re-emitted at
    /// that width rather than cast, so a literal is rounded once.
    pub(super) fn coerce(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        dtype: DType,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let Ty::Tensor(t) = b.ty(v) else { return Ok(v) };
        if t.dtype == dtype {
            return Ok(v);
        }
        if t.shape.is_scalar()
            && let Some(k) = b.known.get(&v).cloned()
        {
            let c = match (k, dtype) {
                (Known::Float(f), d) if d.is_float() => Some(Const::Float(f)),
                (Known::Int(i), d) if d.is_float() => Some(Const::Float(i as f64)),
                (Known::Bool(x), DType::I64) => Some(Const::Int(i64::from(x))),
                (Known::Bool(x), d) if d.is_float() => Some(Const::Float(if x { 1.0 } else { 0.0 })),
                _ => None,
            };
            if let Some(c) = c {
                return Ok(self.emit_const(b, c, Ty::scalar(dtype), span));
            }
        }
        self.emit_prim(b, Prim::Cast(dtype), vec![v], span)
    }

    /// The dtype that tensor operands promote to.
    pub(super) fn common_dtype(
        &self,
        b: &FnBuild<'_>,
        vs: &[Value],
        span: Span,
    ) -> Result<DType, Diagnostic> {
        let tys: Vec<TensorTy> = vs.iter().filter_map(|&v| b.ty(v).as_tensor().cloned()).collect();
        let refs: Vec<&TensorTy> = tys.iter().collect();
        shapes::promote(&refs, self.opts.default_float)
            .map(|t| t.0)
            .map_err(|e| Diagnostic::error(span, e.message))
    }

    /// An elementwise prim on tensors, with operands cast to the dtype the
    /// kernel expects.
    pub(super) fn elementwise(
        &mut self,
        b: &mut FnBuild<'_>,
        prim: Prim,
        operands: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        if operands.iter().any(|&v| b.ty(v) == Ty::Never) {
            return Ok(self.emit_undef(b, span));
        }
        for &v in &operands {
            if !matches!(b.ty(v), Ty::Tensor(_)) {
                let what = b.ty(v).describe(&self.out);
                return Err(Diagnostic::error(
                    span,
                    format!("`{}` needs numbers or tensors, found {what}", prim.info().name),
                ));
            }
        }
        let df = self.opts.default_float;
        let ops = match &prim {
            Prim::Binary(op) => match op {
                BinaryOp::And | BinaryOp::Or => operands,
                _ => {
                    let d = self.common_dtype(b, &operands, span)?;
                    let d = if d == DType::Bool { DType::I64 } else { d };
                    let d = if matches!(
                        op,
                        BinaryOp::Lt
                            | BinaryOp::Le
                            | BinaryOp::Gt
                            | BinaryOp::Ge
                            | BinaryOp::Eq
                            | BinaryOp::Ne
                    ) && self.common_dtype(b, &operands, span)? == DType::Bool
                    {
                        DType::Bool
                    } else {
                        d
                    };
                    self.coerce_all(b, operands, d, span)?
                }
            },
            Prim::Unary(op) => match op {
                UnaryOp::Exp
                | UnaryOp::Log
                | UnaryOp::Sqrt
                | UnaryOp::Sin
                | UnaryOp::Cos
                | UnaryOp::Tan
                | UnaryOp::Tanh
                | UnaryOp::Sigmoid => {
                    let d = float_of(
                        b.ty(operands.first().copied().unwrap_or(Value(0))).as_tensor(),
                        df,
                    );
                    self.coerce_all(b, operands, d, span)?
                }
                UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Sign
                | UnaryOp::Relu
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round => {
                    let is_bool = b
                        .ty(operands.first().copied().unwrap_or(Value(0)))
                        .as_tensor()
                        .is_some_and(|t| t.dtype == DType::Bool);
                    if is_bool {
                        self.coerce_all(b, operands, DType::I64, span)?
                    } else {
                        operands
                    }
                }
                UnaryOp::Not => operands,
            },
            Prim::Where => {
                let mut it = operands.into_iter();
                let c = it.next().unwrap_or(Value(0));
                let rest: Vec<Value> = it.collect();
                let d = self.common_dtype(b, &rest, span)?;
                let mut out = vec![c];
                out.extend(self.coerce_all(b, rest, d, span)?);
                out
            }
            Prim::Clip | Prim::MatMul => {
                let d = self.common_dtype(b, &operands, span)?;
                let d = if d == DType::Bool { DType::I64 } else { d };
                self.coerce_all(b, operands, d, span)?
            }
            _ => operands,
        };
        self.emit_prim(b, prim, ops, span)
    }

    fn coerce_all(
        &mut self,
        b: &mut FnBuild<'_>,
        vs: Vec<Value>,
        d: DType,
        span: Span,
    ) -> Result<Vec<Value>, Diagnostic> {
        vs.into_iter().map(|v| self.coerce(b, v, d, span)).collect()
    }

    /// An elementwise prim lifted over records and tuples: aggregates are
    /// taken apart field by field, tensors broadcast into every field.
    pub(super) fn lifted(
        &mut self,
        b: &mut FnBuild<'_>,
        prim: &Prim,
        operands: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let tys: Vec<Ty> = operands.iter().map(|&v| b.ty(v)).collect();
        if tys.contains(&Ty::Never) {
            return Ok(self.emit_undef(b, span));
        }
        // The first aggregate gives the structure.
        let shape = tys
            .iter()
            .find(|t| matches!(t, Ty::Tuple(_) | Ty::Record(..)))
            .cloned();
        let Some(structure) = shape else {
            return self.elementwise(b, prim.clone(), operands.to_vec(), span);
        };
        let (n, record) = match &structure {
            Ty::Tuple(v) => (v.len(), None),
            Ty::Record(s, v) => (v.len(), Some(*s)),
            _ => (0, None),
        };
        for t in &tys {
            let compatible = match (t, &structure) {
                (Ty::Tensor(_), _) => true,
                (Ty::Tuple(v), Ty::Tuple(_)) => v.len() == n,
                (Ty::Record(s, _), Ty::Record(r, _)) => s == r,
                _ => false,
            };
            if !compatible {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "`{}` needs values of the same structure, found {} and {}",
                        prim.info().name,
                        structure.describe(&self.out),
                        t.describe(&self.out)
                    ),
                ));
            }
        }
        let mut parts = Vec::with_capacity(n);
        for i in 0..n {
            let mut field_ops = Vec::with_capacity(operands.len());
            for (&v, t) in operands.iter().zip(&tys) {
                field_ops.push(match t {
                    Ty::Tuple(_) => self.project(b, v, InstKind::TupleGet(i as u32), span)?,
                    Ty::Record(..) => self.project(b, v, InstKind::RecordGet(i as u32), span)?,
                    _ => v,
                });
            }
            parts.push(self.lifted(b, prim, &field_ops, span)?);
        }
        Ok(match record {
            Some(s) => self.aggregate(b, InstKind::Record(s), parts, span),
            None => self.aggregate(b, InstKind::Tuple, parts, span),
        })
    }

    /// A tuple element or record field of `v`.
    pub(super) fn project(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        kind: InstKind,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let (i, parts) = match (&kind, b.ty(v)) {
            (InstKind::TupleGet(i), Ty::Tuple(p)) | (InstKind::RecordGet(i), Ty::Record(_, p)) => (*i, p),
            (_, t) => {
                return Err(Diagnostic::internal(
                    span,
                    format!("projection of {}", t.describe(&self.out)),
                ));
            }
        };
        let ty = parts
            .get(i as usize)
            .cloned()
            .ok_or_else(|| Diagnostic::internal(span, "projection out of range"))?;
        let r = b.fresh(ty, None);
        if let Some(Known::Ints(xs)) = b.known.get(&v).cloned()
            && let Some(x) = xs.get(i as usize)
        {
            b.known.insert(r, Known::Int(*x));
        } else if let Some(Some(k)) = b.part_known.get(&v).and_then(|ks| ks.get(i as usize)).cloned() {
            b.known.insert(r, k);
        }
        b.push(Inst {
            kind,
            args: vec![v],
            results: vec![r],
            span,
        });
        Ok(r)
    }

    /// A tuple or record of `parts`; a tuple of known ints is itself known.
    pub(super) fn aggregate(
        &mut self,
        b: &mut FnBuild<'_>,
        kind: InstKind,
        parts: Vec<Value>,
        span: Span,
    ) -> Value {
        let tys: Vec<Ty> = parts.iter().map(|&v| b.ty(v)).collect();
        let ty = match &kind {
            InstKind::Record(s) => Ty::Record(*s, tys),
            _ => Ty::Tuple(tys),
        };
        let ints: Option<Vec<i64>> = parts
            .iter()
            .map(|v| match b.known.get(v) {
                Some(Known::Int(i)) => Some(*i),
                _ => None,
            })
            .collect();
        let r = b.fresh(ty, None);
        let parts_known: Vec<Option<Known>> = parts.iter().map(|v| b.known.get(v).cloned()).collect();
        if parts_known.iter().any(Option::is_some) {
            b.part_known.insert(r, parts_known);
        }
        if matches!(kind, InstKind::Tuple)
            && let Some(ints) = ints
        {
            b.known.insert(r, Known::Ints(ints));
        }
        b.push(Inst {
            kind,
            args: parts,
            results: vec![r],
            span,
        });
        r
    }

    /// `a == b` / `a != b` on whole tuples or records: one bool.
    pub(super) fn aggregate_eq(
        &mut self,
        b: &mut FnBuild<'_>,
        a: Value,
        c: Value,
        ne: bool,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let eq = self.values_equal(b, a, c, span)?;
        if ne {
            self.emit_prim(b, Prim::Unary(UnaryOp::Not), vec![eq], span)
        } else {
            Ok(eq)
        }
    }

    fn values_equal(
        &mut self,
        b: &mut FnBuild<'_>,
        a: Value,
        c: Value,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        match (b.ty(a), b.ty(c)) {
            (Ty::Tensor(x), Ty::Tensor(y)) => {
                if !x.shape.is_scalar() || !y.shape.is_scalar() {
                    return Err(Diagnostic::error(
                        span,
                        "`==` inside tuples and records compares scalars; compare tensors separately",
                    ));
                }
                self.elementwise(b, Prim::Binary(BinaryOp::Eq), vec![a, c], span)
            }
            (Ty::Tuple(xs), Ty::Tuple(ys)) if xs.len() == ys.len() => {
                self.fields_equal(b, a, c, xs.len(), false, span)
            }
            (Ty::Record(s, xs), Ty::Record(t, _)) if s == t => {
                self.fields_equal(b, a, c, xs.len(), true, span)
            }
            _ => Ok(self.emit_const(b, Const::Bool(false), Ty::bool(), span)),
        }
    }

    fn fields_equal(
        &mut self,
        b: &mut FnBuild<'_>,
        a: Value,
        c: Value,
        n: usize,
        record: bool,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let mut acc = self.emit_const(b, Const::Bool(true), Ty::bool(), span);
        for i in 0..n {
            let kind = |i: usize| {
                if record {
                    InstKind::RecordGet(i as u32)
                } else {
                    InstKind::TupleGet(i as u32)
                }
            };
            let x = self.project(b, a, kind(i), span)?;
            let y = self.project(b, c, kind(i), span)?;
            let e = self.values_equal(b, x, y, span)?;
            acc = self.emit_prim(b, Prim::Binary(BinaryOp::And), vec![acc, e], span)?;
        }
        Ok(acc)
    }
}

fn float_of(t: Option<&TensorTy>, default_float: DType) -> DType {
    match t {
        Some(t) if t.dtype.is_float() => t.dtype,
        _ => default_float,
    }
}

/// Constant folding of int scalars and int vectors, for shapes and axes.
fn fold(prim: &Prim, knowns: &[Option<Known>]) -> Option<Known> {
    let int = |i: usize| match knowns.get(i) {
        Some(Some(Known::Int(x))) => Some(*x),
        _ => None,
    };
    match prim {
        Prim::Binary(op) => {
            let (a, c) = (int(0)?, int(1)?);
            match op {
                BinaryOp::Add => a.checked_add(c).map(Known::Int),
                BinaryOp::Sub => a.checked_sub(c).map(Known::Int),
                BinaryOp::Mul => a.checked_mul(c).map(Known::Int),
                BinaryOp::Div => a.checked_div(c).map(Known::Int),
                BinaryOp::Rem => a.checked_rem(c).map(Known::Int),
                BinaryOp::Lt => Some(Known::Bool(a < c)),
                BinaryOp::Le => Some(Known::Bool(a <= c)),
                BinaryOp::Gt => Some(Known::Bool(a > c)),
                BinaryOp::Ge => Some(Known::Bool(a >= c)),
                BinaryOp::Eq => Some(Known::Bool(a == c)),
                BinaryOp::Ne => Some(Known::Bool(a != c)),
                BinaryOp::Pow | BinaryOp::Maximum | BinaryOp::Minimum | BinaryOp::And | BinaryOp::Or => None,
            }
        }
        Prim::Unary(UnaryOp::Neg) => int(0)?.checked_neg().map(Known::Int),
        Prim::Stack {
            dtype: DType::I64, ..
        } => {
            let ints: Option<Vec<i64>> = (0..knowns.len()).map(int).collect();
            ints.map(Known::Ints)
        }
        _ => None,
    }
}

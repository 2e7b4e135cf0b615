//! Building typed IR: an arena of values with their types, a stack of open
//! blocks, and helpers that type each new instruction with the shape rules.
//! Derivative code is emitted through this, so it is ordinary typed IR that
//! every later stage (the verifier, the interpreter, AD itself) accepts.

use crate::diag::Diagnostic;
use crate::ir::shapes::{self, Known, Operand};
use crate::ir::types::{DType, Shape, TensorTy, Ty};
use crate::ir::{BinaryOp, Block, Const, Func, Inst, InstKind, Prim, UnaryOp, Value, ValueInfo};
use crate::syntax::{Span, Symbol};
use std::collections::{HashMap, HashSet};

pub type AdResult<T> = Result<T, Diagnostic>;

pub struct Emitter {
    pub func: Func,
    blocks: Vec<Block>,
    known: HashMap<Value, Known>,
    /// Cotangents that are zero by construction (`zeros_like`): adding one
    /// is skipped, so a record's adjoint does not sum zero fields.
    zeros: HashSet<Value>,
    /// The parts of tuples and records built here from cotangents, so that
    /// projecting one reads the part without an instruction.
    parts: HashMap<Value, Vec<Value>>,
    pub span: Span,
    pub default_float: DType,
}

impl Emitter {
    pub fn new(name: Symbol, span: Span, default_float: DType) -> Emitter {
        let func = Func {
            name,
            params: Vec::new(),
            n_captures: 0,
            param_values: Vec::new(),
            ret_ann: None,
            body: Block::default(),
            span,
            values: Vec::new(),
        };
        Emitter {
            func,
            blocks: vec![Block::default()],
            known: HashMap::new(),
            zeros: HashSet::new(),
            parts: HashMap::new(),
            span,
            default_float,
        }
    }

    /// A new parameter of the function.
    pub fn param(&mut self, name: Symbol, ty: Ty) -> Value {
        let v = self.fresh(ty, Some(name));
        self.func.params.push(crate::ir::Param {
            name,
            span: self.span,
            ann: None,
            default: None,
        });
        self.func.param_values.push(v);
        v
    }

    /// Parameters with the names and types of `f`'s parameters.
    pub fn params_like(&mut self, f: &Func) -> Vec<Value> {
        f.params
            .iter()
            .zip(f.param_tys())
            .map(|(p, t)| self.param(p.name, t))
            .collect()
    }

    pub fn fresh(&mut self, ty: Ty, name: Option<Symbol>) -> Value {
        self.func.values.push(ValueInfo { ty: Some(ty), name });
        Value((self.func.values.len() - 1) as u32)
    }

    pub fn ty(&self, v: Value) -> Ty {
        self.func.ty(v).cloned().unwrap_or(Ty::Never)
    }

    pub fn push_block(&mut self, params: Vec<Value>) {
        self.blocks.push(Block {
            params,
            insts: Vec::new(),
            yields: Vec::new(),
        });
    }

    pub fn pop_block(&mut self, yields: Vec<Value>) -> Block {
        let mut b = if self.blocks.len() > 1 {
            self.blocks.pop().unwrap_or_default()
        } else {
            Block::default()
        };
        b.yields = yields;
        b
    }

    pub fn push(&mut self, inst: Inst) {
        if let Some(b) = self.blocks.last_mut() {
            b.insts.push(inst);
        }
    }

    /// Finishes the function with `result` as its value.
    pub fn finish(mut self, result: Value) -> Func {
        let mut body = if self.blocks.is_empty() {
            Block::default()
        } else {
            self.blocks.swap_remove(0)
        };
        body.yields = vec![result];
        self.func.body = body;
        self.func.compact();
        self.func
    }

    /// An instruction with one result of a given type.
    pub fn inst(&mut self, kind: InstKind, args: Vec<Value>, ty: Ty) -> Value {
        let r = self.fresh(ty, None);
        let span = self.span;
        self.push(Inst {
            kind,
            args,
            results: vec![r],
            span,
        });
        r
    }

    /// A prim typed by its shape rule.
    pub fn prim(&mut self, prim: Prim, args: Vec<Value>) -> AdResult<Value> {
        let tys: Vec<Ty> = args.iter().map(|&a| self.ty(a)).collect();
        let knowns: Vec<Option<Known>> = args.iter().map(|a| self.known.get(a).cloned()).collect();
        let ops: Vec<Operand<'_>> = tys
            .iter()
            .zip(&knowns)
            .map(|(ty, k)| Operand {
                ty,
                known: k.as_ref(),
            })
            .collect();
        let ty = shapes::result_type(&prim, &ops, self.default_float).map_err(|e| {
            Diagnostic::internal(
                self.span,
                format!("derivative code for `{}`: {}", prim.info().name, e.message),
            )
        })?;
        Ok(self.inst(InstKind::Prim(prim), args, ty))
    }

    pub fn konst(&mut self, c: Const, ty: Ty) -> Value {
        let known = match &c {
            Const::Int(i) => Some(Known::Int(*i)),
            Const::Float(f) => Some(Known::Float(*f)),
            Const::Bool(b) => Some(Known::Bool(*b)),
            Const::Str(_) | Const::Unit | Const::Undef => None,
        };
        let v = self.inst(InstKind::Const(c), Vec::new(), ty);
        if let Some(k) = known {
            self.known.insert(v, k);
        }
        v
    }

    /// The value of a float constant, if `v` is one.
    pub fn known_float(&self, v: Value) -> Option<f64> {
        match self.known.get(&v) {
            Some(Known::Float(x)) => Some(*x),
            Some(Known::Int(i)) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn float(&mut self, x: f64, dtype: DType) -> Value {
        self.konst(Const::Float(x), Ty::scalar(dtype))
    }

    pub fn int(&mut self, i: i64) -> Value {
        self.konst(Const::Int(i), Ty::int())
    }

    pub fn tuple(&mut self, parts: Vec<Value>) -> Value {
        let tys = parts.iter().map(|&p| self.ty(p)).collect();
        let ints: Option<Vec<i64>> = parts
            .iter()
            .map(|p| match self.known.get(p) {
                Some(Known::Int(i)) => Some(*i),
                _ => None,
            })
            .collect();
        let v = self.inst(InstKind::Tuple, parts, Ty::Tuple(tys));
        if let Some(ints) = ints {
            self.known.insert(v, Known::Ints(ints));
        }
        v
    }

    /// The `i`-th part of a tuple, record or closure value.
    pub fn project(&mut self, v: Value, i: usize) -> AdResult<Value> {
        if let Some(&p) = self.parts.get(&v).and_then(|ps| ps.get(i)) {
            return Ok(p);
        }
        let (kind, ty) = match self.ty(v) {
            Ty::Tuple(p) => (InstKind::TupleGet(i as u32), p.get(i).cloned()),
            Ty::Record(_, p) => (InstKind::RecordGet(i as u32), p.get(i).cloned()),
            Ty::Fn(f) => match f.base() {
                crate::ir::FnTy::User { captures, .. } => {
                    (InstKind::CaptureGet(i as u32), captures.get(i).cloned())
                }
                _ => (InstKind::CaptureGet(i as u32), None),
            },
            _ => (InstKind::TupleGet(i as u32), None),
        };
        let ty =
            ty.ok_or_else(|| Diagnostic::internal(self.span, "projection out of range in derivative code"))?;
        Ok(self.inst(kind, vec![v], ty))
    }

    pub fn dtype(&self, v: Value) -> DType {
        self.ty(v)
            .as_tensor()
            .map(|t| t.dtype)
            .unwrap_or(self.default_float)
    }

    pub fn binary(&mut self, op: BinaryOp, a: Value, b: Value) -> AdResult<Value> {
        self.prim(Prim::Binary(op), vec![a, b])
    }

    pub fn unary(&mut self, op: UnaryOp, a: Value) -> AdResult<Value> {
        self.prim(Prim::Unary(op), vec![a])
    }

    pub fn add(&mut self, a: Value, b: Value) -> AdResult<Value> {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn mul(&mut self, a: Value, b: Value) -> AdResult<Value> {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn sub(&mut self, a: Value, b: Value) -> AdResult<Value> {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn div(&mut self, a: Value, b: Value) -> AdResult<Value> {
        self.binary(BinaryOp::Div, a, b)
    }

    pub fn neg(&mut self, a: Value) -> AdResult<Value> {
        self.unary(UnaryOp::Neg, a)
    }

    /// `where(c, a, 0)`: `a` where the mask holds, zero elsewhere.
    pub fn mask(&mut self, c: Value, a: Value) -> AdResult<Value> {
        let z = self.float(0.0, self.dtype(a));
        self.prim(Prim::Where, vec![c, a, z])
    }

    /// `g * f`, but zero wherever `g` is zero even if `f` is infinite or NaN:
    /// a zero adjoint stays zero.
    pub fn mul_safe(&mut self, g: Value, f: Value) -> AdResult<Value> {
        // A finite constant factor, or a non-zero constant adjoint, needs no guard.
        let finite_factor = self.known_float(f).is_some_and(f64::is_finite);
        let nonzero_adjoint = self.known_float(g).is_some_and(|x| x != 0.0);
        if finite_factor || nonzero_adjoint {
            return self.mul(g, f);
        }
        let p = self.mul(g, f)?;
        let z = self.float(0.0, self.dtype(g));
        let nz = self.binary(BinaryOp::Ne, g, z)?;
        self.prim(Prim::Where, vec![nz, p, z])
    }

    /// `x` converted to dtype `d` (no-op when it already has it).
    pub fn cast(&mut self, x: Value, d: DType) -> AdResult<Value> {
        if self.dtype(x) == d && matches!(self.ty(x), Ty::Tensor(_)) {
            return Ok(x);
        }
        self.prim(Prim::Cast(d), vec![x])
    }

    /// Zeros with the type of `like` (tensors, tuples, records), as a value of
    /// the cotangent type of `like`.
    pub fn zeros_like(&mut self, like_ty: &Ty, like: Option<Value>) -> AdResult<Value> {
        let z = self.zeros_like_inner(like_ty, like)?;
        self.zeros.insert(z);
        Ok(z)
    }

    fn zeros_like_inner(&mut self, like_ty: &Ty, like: Option<Value>) -> AdResult<Value> {
        match like_ty {
            Ty::Tensor(t) => self.zeros_tensor(t, like),
            Ty::Tuple(parts) | Ty::Record(_, parts) => {
                let mut out = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    let sub = match like {
                        Some(v) => Some(self.project(v, i)?),
                        None => None,
                    };
                    out.push(self.zeros_like(p, sub)?);
                }
                let v = match like_ty {
                    Ty::Record(s, _) => {
                        let tys = out.iter().map(|&o| self.ty(o)).collect();
                        self.inst(InstKind::Record(*s), out.clone(), Ty::Record(*s, tys))
                    }
                    _ => self.tuple(out.clone()),
                };
                self.parts.insert(v, out);
                Ok(v)
            }
            Ty::Fn(f) => match f.base() {
                crate::ir::FnTy::User { captures, .. } => {
                    let mut out = Vec::new();
                    for (i, c) in captures.clone().iter().enumerate() {
                        let sub = match like {
                            Some(v) => Some(self.project(v, i)?),
                            None => None,
                        };
                        out.push(self.zeros_like(c, sub)?);
                    }
                    Ok(self.tuple(out))
                }
                _ => Ok(self.tuple(Vec::new())),
            },
            Ty::Str | Ty::Never | Ty::List(_) => Ok(self.tuple(Vec::new())),
        }
    }

    fn zeros_tensor(&mut self, t: &TensorTy, like: Option<Value>) -> AdResult<Value> {
        let zero = match t.dtype {
            DType::I64 => self.int(0),
            DType::Bool => self.konst(Const::Bool(false), Ty::bool()),
            d => self.float(0.0, d),
        };
        if t.shape.is_scalar() {
            self.zeros.insert(zero);
            return Ok(zero);
        }
        let shape = match (t.shape.concrete(), like) {
            (Some(dims), _) => {
                let parts = dims.iter().map(|&d| self.int(d as i64)).collect();
                self.tuple(parts)
            }
            (None, Some(v)) => self.prim(Prim::Shape, vec![v])?,
            (None, None) => {
                return Err(Diagnostic::internal(
                    self.span,
                    "zeros of an unknown shape without a value",
                ));
            }
        };
        let r = self.prim(Prim::Full(t.dtype), vec![shape, zero])?;
        self.zeros.insert(r);
        // Keep the static shape even where the rule could not see the dims.
        if let Some(info) = self.func.values.get_mut(r.0 as usize) {
            info.ty = Some(Ty::Tensor(TensorTy {
                dtype: t.dtype,
                shape: t.shape.clone(),
                weak: false,
            }));
        }
        Ok(r)
    }

    /// A record (when `ty` is one) or tuple of cotangent parts, whose parts
    /// later projections read directly.
    pub fn cotangent_aggregate(&mut self, ty: &Ty, parts: Vec<Value>) -> Value {
        let v = match ty {
            Ty::Record(s, _) => {
                let tys = parts.iter().map(|&p| self.ty(p)).collect();
                self.inst(InstKind::Record(*s), parts.clone(), Ty::Record(*s, tys))
            }
            _ => self.tuple(parts.clone()),
        };
        self.parts.insert(v, parts);
        v
    }

    /// `a + b` on cotangents of any structure; a zero by construction on
    /// either side is not added.
    pub fn add_any(&mut self, a: Value, b: Value) -> AdResult<Value> {
        if self.zeros.contains(&b) {
            return Ok(a);
        }
        if self.zeros.contains(&a) {
            return match (self.ty(a), self.ty(b)) {
                (Ty::Tensor(x), _) if x.dtype == DType::Bool => Ok(a),
                (Ty::Tensor(x), Ty::Tensor(y)) if x.dtype != y.dtype || x.shape != y.shape => {
                    let z = self.cast(b, x.dtype)?;
                    if self.ty(z).as_tensor().map(|t| &t.shape) == Some(&x.shape) {
                        Ok(z)
                    } else {
                        // A broadcast contribution: add it to the zeros.
                        self.add(a, z)
                    }
                }
                _ => Ok(b),
            };
        }
        match (self.ty(a), self.ty(b)) {
            (Ty::Tensor(x), Ty::Tensor(y)) => {
                if x.dtype == DType::Bool || y.dtype == DType::Bool {
                    return Ok(a);
                }
                let b = if x.dtype != y.dtype {
                    self.cast(b, x.dtype)?
                } else {
                    b
                };
                let s = self.add(a, b)?;
                // Keep a's static shape: cotangents have the primal's shape.
                if x.shape
                    != self
                        .ty(s)
                        .as_tensor()
                        .map(|t| t.shape.clone())
                        .unwrap_or(Shape::scalar())
                {
                    return Ok(s);
                }
                Ok(s)
            }
            (Ty::Tuple(xs), Ty::Tuple(_)) => {
                let mut out = Vec::new();
                for i in 0..xs.len() {
                    let pa = self.project(a, i)?;
                    let pb = self.project(b, i)?;
                    out.push(self.add_any(pa, pb)?);
                }
                let v = self.tuple(out.clone());
                self.parts.insert(v, out);
                Ok(v)
            }
            (Ty::Record(s, xs), Ty::Record(..)) => {
                let mut out = Vec::new();
                for i in 0..xs.len() {
                    let pa = self.project(a, i)?;
                    let pb = self.project(b, i)?;
                    out.push(self.add_any(pa, pb)?);
                }
                let tys = out.iter().map(|&o| self.ty(o)).collect();
                let v = self.inst(InstKind::Record(s), out.clone(), Ty::Record(s, tys));
                self.parts.insert(v, out);
                Ok(v)
            }
            (Ty::Never, _) => Ok(b),
            _ => Ok(a),
        }
    }
}

//! Specializing each instruction kind of the untyped IR: constants,
//! operators, calls (direct and of function values), closures, aggregates,
//! and the structured control flow with its type joins and loop fixpoints.

use super::join::join;
use super::{ArgInfo, FnBuild, Specializer};
use crate::diag::{Diagnostic, did_you_mean};
use crate::front::resolve::{Bound, ParamSlot, bind_args};
use crate::ir::types::{DerivKind, FnTy, Ty};
use crate::ir::{BinaryOp, Block, Const, DefaultValue, FuncId, Inst, InstKind, Prim, Value};
use crate::syntax::ast::Ident;
use crate::syntax::{Span, Symbol};

impl Specializer<'_> {
    pub(super) fn spec_inst(&mut self, b: &mut FnBuild<'_>, inst: &Inst) -> Result<(), Diagnostic> {
        let span = inst.span;
        let args: Vec<Value> = inst
            .args
            .iter()
            .map(|&a| b.get(a, span))
            .collect::<Result<_, _>>()?;
        let result = match &inst.kind {
            InstKind::Const(c) => {
                let ty = match c {
                    Const::Int(_) => Ty::int(),
                    Const::Float(_) => {
                        let mut t = crate::ir::TensorTy::scalar(self.opts.default_float);
                        t.weak = true;
                        Ty::Tensor(t)
                    }
                    Const::Bool(_) => Ty::bool(),
                    Const::Str(_) => Ty::Str,
                    Const::Unit => Ty::unit(),
                    Const::Undef => Ty::Never,
                };
                self.emit_const(b, c.clone(), ty, span)
            }
            InstKind::Prim(p) => self.spec_prim(b, p, args, span)?,
            InstKind::Builtin(bi) => self.spec_builtin(b, *bi, args, span)?,
            InstKind::BuiltinRef(bi) => {
                let r = b.fresh(Ty::Fn(Box::new(FnTy::Builtin(*bi))), None);
                b.push(Inst {
                    kind: InstKind::BuiltinRef(*bi),
                    args: Vec::new(),
                    results: vec![r],
                    span,
                });
                r
            }
            InstKind::Call(f) => {
                let infos = args
                    .iter()
                    .map(|&a| ArgInfo {
                        ty: b.ty(a),
                        known: b.known.get(&a).cloned(),
                    })
                    .collect();
                self.emit_call(b, *f, infos, args, span)?
            }
            InstKind::CallValue { names } => self.spec_call_value(b, &args, names, span)?,
            InstKind::Closure(f) => {
                let captures = args.iter().map(|&a| b.ty(a)).collect();
                let r = b.fresh(Ty::Fn(Box::new(FnTy::User { func: *f, captures })), None);
                b.push(Inst {
                    kind: InstKind::Closure(*f),
                    args,
                    results: vec![r],
                    span,
                });
                r
            }
            InstKind::Tuple => self.aggregate(b, InstKind::Tuple, args, span),
            InstKind::Record(s) => self.aggregate(b, InstKind::Record(*s), args, span),
            InstKind::TupleGet(i) => {
                let v = args.first().copied().unwrap_or(Value(0));
                match b.ty(v) {
                    Ty::Tuple(parts) if (*i as usize) < parts.len() => {
                        self.project(b, v, InstKind::TupleGet(*i), span)?
                    }
                    Ty::Tuple(parts) => {
                        return Err(Diagnostic::error(
                            span,
                            format!(
                                "tuple index {i} is out of range for a tuple of {} elements",
                                parts.len()
                            ),
                        ));
                    }
                    Ty::Never => self.emit_undef(b, span),
                    t => {
                        return Err(Diagnostic::error(
                            span,
                            format!("`.{i}` needs a tuple, found {}", t.describe(&self.out)),
                        ));
                    }
                }
            }
            InstKind::Field(name) => {
                self.spec_field(b, args.first().copied().unwrap_or(Value(0)), *name, span)?
            }
            InstKind::RecordGet(i) => self.project(
                b,
                args.first().copied().unwrap_or(Value(0)),
                InstKind::RecordGet(*i),
                span,
            )?,
            InstKind::CaptureGet(_)
            | InstKind::Derive(_)
            | InstKind::ListNew
            | InstKind::ListPush
            | InstKind::ListGet
            | InstKind::ListLen => {
                return Err(Diagnostic::internal(
                    span,
                    "a typed-only instruction in untyped IR",
                ));
            }
            InstKind::If { then, else_ } => return self.spec_if(b, inst, args, then, else_),
            InstKind::For { body } => return self.spec_for(b, inst, args, body),
            InstKind::While { cond, body } => return self.spec_while(b, inst, args, cond, body),
        };
        let out = inst.results.first().copied();
        if let Some(r) = out {
            b.map(r, result);
        }
        Ok(())
    }

    fn spec_prim(
        &mut self,
        b: &mut FnBuild<'_>,
        p: &Prim,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        match p {
            Prim::Binary(op @ (BinaryOp::Eq | BinaryOp::Ne))
                if args
                    .iter()
                    .any(|&a| matches!(b.ty(a), Ty::Tuple(_) | Ty::Record(..))) =>
            {
                let (x, y) = (
                    args.first().copied().unwrap_or(Value(0)),
                    args.get(1).copied().unwrap_or(Value(0)),
                );
                self.aggregate_eq(b, x, y, *op == BinaryOp::Ne, span)
            }
            Prim::Binary(BinaryOp::And | BinaryOp::Or) | Prim::Unary(crate::ir::UnaryOp::Not) => {
                self.elementwise(b, p.clone(), args, span)
            }
            Prim::Binary(_) | Prim::Unary(_) => self.lifted(b, p, &args, span),
            Prim::MatMul => self.elementwise(b, Prim::MatMul, args, span),
            Prim::Index(items) => {
                if let Some(&list) = args.first()
                    && matches!(b.ty(list), Ty::List(_))
                {
                    if items.as_slice() != [crate::ir::IndexItem::At] {
                        return Err(Diagnostic::error(span, "a list is indexed with one int: `xs[i]`"));
                    }
                    return self.list_get(b, list, args.get(1..).unwrap_or_default(), span);
                }
                for &a in args.iter().skip(1) {
                    match b.ty(a) {
                        Ty::Tensor(t) if t.shape.is_scalar() && t.dtype == crate::ir::DType::I64 => {}
                        Ty::Never => {}
                        t => {
                            return Err(Diagnostic::error(
                                span,
                                format!("an index must be an int, found {}", t.describe(&self.out)),
                            ));
                        }
                    }
                }
                if let Some(Ty::Tuple(_)) = args.first().map(|&a| b.ty(a)) {
                    return self.tuple_index(b, items, &args, span);
                }
                if let Some(t) = args.first().map(|&a| b.ty(a))
                    && !matches!(t, Ty::Tensor(_) | Ty::Never)
                {
                    return Err(Diagnostic::error(
                        span,
                        format!(
                            "only tensors can be indexed with `[…]`, found {}",
                            t.describe(&self.out)
                        ),
                    )
                    .with_help("use `.0`, `.1`, … for tuple elements and `.name` for record fields"));
                }
                self.emit_prim(b, Prim::Index(items.clone()), args, span)
            }
            Prim::Stack { literal, .. } => self.spec_stack(b, args, *literal, span),
            Prim::Where
            | Prim::Clip
            | Prim::Cast(_)
            | Prim::Reduce { .. }
            | Prim::Shape
            | Prim::Len
            | Prim::Full(_)
            | Prim::Arange
            | Prim::Linspace(_)
            | Prim::Eye(_)
            | Prim::Print
            | Prim::Assert
            | Prim::AssertClose
            | Prim::Progress
            | Prim::Plot
            | Prim::StopGradient
            | Prim::BroadcastLike
            | Prim::SumLike
            | Prim::ReshapeLike
            | Prim::Transpose(_)
            | Prim::ExpandDims(_)
            | Prim::IndexGrad(_)
            | Prim::IndexAdd(_)
            | Prim::Reshape(_)
            | Prim::Concat(_)
            | Prim::Take(_)
            | Prim::TakeGrad(_)
            | Prim::Solve
            | Prim::Det
            | Prim::Cholesky
            | Prim::LoadCsv(_)
            | Prim::SaveCsv
            | Prim::LoadNpy(_)
            | Prim::SaveNpy
            | Prim::Load(_)
            | Prim::Save
            | Prim::TempPath
            | Prim::Batches
            | Prim::ExtremeMask { .. }
            | Prim::Random(_)
            | Prim::ScoreGrad { .. }
            | Prim::Conv2d { .. }
            | Prim::Conv2dGradInput { .. }
            | Prim::Conv2dGradWeight { .. }
            | Prim::MaxPool2d(_)
            | Prim::AvgPool2d(_)
            | Prim::MaxPool2dMask(_)
            | Prim::Pool2dSpread(_) => self.emit_prim(b, p.clone(), args, span),
        }
    }

    /// A tensor literal or `stack`: elements promoted to one dtype.
    pub(super) fn spec_stack(
        &mut self,
        b: &mut FnBuild<'_>,
        args: Vec<Value>,
        literal: bool,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        for &a in &args {
            if let t @ (Ty::Tuple(_) | Ty::Record(..) | Ty::Str | Ty::Fn(_)) = b.ty(a) {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "tensor elements must be numbers or tensors, found {}",
                        t.describe(&self.out)
                    ),
                ));
            }
        }
        let dtype = if args.is_empty() {
            self.opts.default_float
        } else {
            self.common_dtype(b, &args, span)?
        };
        let has_bool = args.iter().any(|&a| {
            b.ty(a)
                .as_tensor()
                .is_some_and(|t| t.dtype == crate::ir::DType::Bool)
        });
        if has_bool && dtype != crate::ir::DType::Bool {
            return Err(
                Diagnostic::error(span, "a tensor literal cannot mix bool and number elements")
                    .with_label("elements of different type")
                    .with_help("bools join only bools; convert with `float(…)` if you need numbers"),
            );
        }
        let args = args
            .into_iter()
            .map(|a| self.coerce(b, a, dtype, span))
            .collect::<Result<Vec<_>, _>>()?;
        self.emit_prim(b, Prim::Stack { dtype, literal }, args, span)
    }

    fn spec_field(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        name: Symbol,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        match b.ty(v) {
            Ty::Record(s, _) => {
                let def = self
                    .out
                    .struct_def(s)
                    .cloned()
                    .ok_or_else(|| Diagnostic::internal(span, "unknown struct"))?;
                match def.fields.iter().position(|f| *f == name) {
                    Some(i) => self.project(b, v, InstKind::RecordGet(i as u32), span),
                    None => {
                        let mut d =
                            Diagnostic::error(span, format!("struct `{}` has no field `{name}`", def.name))
                                .with_label(format!("no field `{name}`"))
                                .with_secondary(def.span, "struct declared here");
                        let names: Vec<&str> = def.fields.iter().map(|f| f.as_str()).collect();
                        d = match did_you_mean(name.as_str(), names.iter().copied()) {
                            Some(h) => d.with_help(h),
                            None => d.with_help(format!("its fields are: {}", names.join(", "))),
                        };
                        Err(d)
                    }
                }
            }
            Ty::Never => Ok(self.emit_undef(b, span)),
            t => Err(Diagnostic::error(
                span,
                format!("`.{name}` needs a record, found {}", t.describe(&self.out)),
            )),
        }
    }

    /// A direct call of an untyped function with already bound arguments.
    pub(super) fn emit_call(
        &mut self,
        b: &mut FnBuild<'_>,
        f: FuncId,
        infos: Vec<ArgInfo>,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        if infos.iter().any(|a| a.ty == Ty::Never) {
            return Ok(self.emit_undef(b, span));
        }
        let (id, ret) = self.specialize_call(f, infos, span).map_err(|d| {
            if d.span == Span::default() {
                Diagnostic { span, ..d }
            } else {
                d.called_from(span)
            }
        })?;
        let r = b.fresh(ret, None);
        b.push(Inst {
            kind: InstKind::Call(id),
            args,
            results: vec![r],
            span,
        });
        Ok(r)
    }

    /// Calls the function value `f` with positional `args` (for builtins that
    /// take a function, such as `map_floats`).
    pub(super) fn call_value(
        &mut self,
        b: &mut FnBuild<'_>,
        f: Value,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let mut all = vec![f];
        all.extend_from_slice(args);
        self.spec_call_value(b, &all, &vec![None; args.len()], span)
    }

    /// `f(args…)` where `f` is a value: a closure or a builtin.
    fn spec_call_value(
        &mut self,
        b: &mut FnBuild<'_>,
        args: &[Value],
        names: &[Option<Symbol>],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let Some((&callee, rest)) = args.split_first() else {
            return Err(Diagnostic::internal(span, "call without callee"));
        };
        let fty = match b.ty(callee) {
            Ty::Fn(f) => *f,
            Ty::Never => return Ok(self.emit_undef(b, span)),
            t => {
                return Err(Diagnostic::error(
                    span,
                    format!("this is not a function: it is {}", t.describe(&self.out)),
                ));
            }
        };
        let idents: Vec<Option<Ident>> = names.iter().map(|n| n.map(|name| Ident { name, span })).collect();
        match fty {
            FnTy::Builtin(bi) => {
                let params = bi.params();
                let slots: Vec<ParamSlot> = params
                    .iter()
                    .map(|p| ParamSlot {
                        name: Symbol::intern(p.name),
                        has_default: p.default != crate::ir::builtin::DefaultArg::Required,
                    })
                    .collect();
                if bi.variadic() {
                    return self.spec_builtin(b, bi, rest.to_vec(), span);
                }
                let bound = bind_args(bi.name(), &slots, &idents, span, span)?;
                let mut vals = Vec::new();
                for (p, bd) in params.iter().zip(bound) {
                    vals.push(match bd {
                        Bound::Arg(k) => rest.get(k).copied().unwrap_or(Value(0)),
                        Bound::Default => self.builtin_default(b, p.default, span),
                    });
                }
                self.spec_builtin(b, bi, vals, span)
            }
            FnTy::User { .. } | FnTy::Derivative { .. } => {
                if rest.iter().any(|&a| b.ty(a) == Ty::Never) {
                    return Ok(self.emit_undef(b, span));
                }
                let (id, call_args, _, ret) = self.resolve_callable(b, callee, &fty, rest, names, span)?;
                let r = b.fresh(ret, None);
                b.push(Inst {
                    kind: InstKind::Call(id),
                    args: call_args,
                    results: vec![r],
                    span,
                });
                Ok(r)
            }
        }
    }

    /// The specialized function that calling a function value of type `fty`
    /// with `user_args` runs, its full argument list (captures first), the
    /// number of captures, and its result type. Derivatives are built here.
    pub(super) fn resolve_callable(
        &mut self,
        b: &mut FnBuild<'_>,
        callee: Value,
        fty: &FnTy,
        user_args: &[Value],
        names: &[Option<Symbol>],
        span: Span,
    ) -> Result<(FuncId, Vec<Value>, usize, Ty), Diagnostic> {
        match fty {
            FnTy::Builtin(bi) => Err(Diagnostic::error(
                span,
                format!(
                    "`{}` takes any number of arguments and cannot be differentiated as a value",
                    bi.name()
                ),
            )),
            FnTy::User { func, captures } => {
                let src_fn = self
                    .src
                    .func(*func)
                    .ok_or_else(|| Diagnostic::internal(span, "missing function"))?;
                let declared: Vec<crate::ir::Param> =
                    src_fn.params.iter().skip(src_fn.n_captures).cloned().collect();
                let fname = src_fn.name.to_string();
                let slots: Vec<ParamSlot> = declared
                    .iter()
                    .map(|p| ParamSlot {
                        name: p.name,
                        has_default: p.default.is_some(),
                    })
                    .collect();
                let idents: Vec<Option<Ident>> =
                    names.iter().map(|n| n.map(|name| Ident { name, span })).collect();
                let bound = bind_args(&fname, &slots, &idents, span, span)?;
                let mut call_args = Vec::new();
                for (i, ty) in captures.iter().enumerate() {
                    let r = b.fresh(ty.clone(), None);
                    b.push(Inst {
                        kind: InstKind::CaptureGet(i as u32),
                        args: vec![callee],
                        results: vec![r],
                        span,
                    });
                    call_args.push(r);
                }
                for (p, bd) in declared.iter().zip(bound) {
                    call_args.push(match bd {
                        Bound::Arg(k) => user_args.get(k).copied().unwrap_or(Value(0)),
                        Bound::Default => match &p.default {
                            Some(DefaultValue::Const(c)) => {
                                let inst = Inst {
                                    kind: InstKind::Const(c.clone()),
                                    args: vec![],
                                    results: vec![],
                                    span,
                                };
                                self.const_of(b, &inst)
                            }
                            Some(DefaultValue::Thunk(t)) => {
                                self.emit_call(b, *t, Vec::new(), Vec::new(), span)?
                            }
                            None => return Err(Diagnostic::internal(span, "missing default")),
                        },
                    });
                }
                let infos = call_args
                    .iter()
                    .map(|&a| ArgInfo {
                        ty: b.ty(a),
                        known: b.known.get(&a).cloned(),
                    })
                    .collect();
                let (id, ret) = self
                    .specialize_call(*func, infos, span)
                    .map_err(|d| d.called_from(span))?;
                Ok((id, call_args, captures.len(), ret))
            }
            FnTy::Derivative { kind, of } => {
                // Arguments beyond the function's own: `dy` for vjp, the tangents for jvp.
                let (inner_user, extra): (&[Value], &[Value]) = match kind {
                    DerivKind::Vjp => match user_args.split_last() {
                        Some((dy, xs)) => (xs, std::slice::from_ref(dy)),
                        None => {
                            return Err(Diagnostic::error(
                                span,
                                "`vjp(f)` takes f's arguments and then the output adjoint `dy`",
                            ));
                        }
                    },
                    DerivKind::Jvp => {
                        if !user_args.len().is_multiple_of(2) {
                            return Err(Diagnostic::error(
                                span,
                                "`jvp(f)` takes f's arguments and then one tangent for each of them",
                            ));
                        }
                        user_args.split_at(user_args.len() / 2)
                    }
                    DerivKind::Grad { .. } | DerivKind::Hessian => (user_args, &[]),
                };
                let inner_names: Vec<Option<Symbol>> = if extra.is_empty() && names.len() == inner_user.len()
                {
                    names.to_vec()
                } else {
                    vec![None; inner_user.len()]
                };
                let (inner, mut call_args, n_lead, inner_ret) =
                    self.resolve_callable(b, callee, of, inner_user, &inner_names, span)?;
                self.check_derivative(kind, &inner_ret, call_args.get(n_lead..).unwrap_or(&[]), b, span)?;
                let d = crate::ad::api::derivative(
                    &mut self.out,
                    inner,
                    kind,
                    n_lead,
                    &mut self.vjp_cache,
                    span,
                )?;
                // Each extra argument takes the dtype of what it is a derivative of.
                for (k, &x) in extra.iter().enumerate() {
                    let like = match kind {
                        DerivKind::Vjp => Some(inner_ret.clone()),
                        _ => call_args.get(n_lead + k).map(|&a| b.ty(a)),
                    };
                    let x = match like.as_ref().and_then(Ty::as_tensor).map(|t| t.dtype) {
                        Some(dt) => self.coerce(b, x, dt, span)?,
                        None => x,
                    };
                    call_args.push(x);
                }
                let ret = self
                    .out
                    .func(d)
                    .and_then(|f| f.body.yields.first().and_then(|&y| f.ty(y).cloned()))
                    .unwrap_or(Ty::Never);
                Ok((d, call_args, n_lead, ret))
            }
        }
    }

    /// The errors of taking a derivative: a non-scalar `grad`, `wrt` out of
    /// range or naming an argument that cannot be differentiated.
    fn check_derivative(
        &self,
        kind: &DerivKind,
        ret: &Ty,
        user_args: &[Value],
        b: &FnBuild<'_>,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let DerivKind::Grad { wrt, .. } = kind else {
            return Ok(());
        };
        match ret {
            Ty::Tensor(t) if t.dtype.is_float() && t.shape.is_scalar() => {}
            other => {
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "`grad` needs a function with a scalar float result, but this one returns {}",
                        other.describe(&self.out)
                    ),
                )
                .with_help(
                    "reduce the result to a scalar (e.g. `sum(…)`), or use `vjp` for a non-scalar output",
                ));
            }
        }
        for &w in wrt {
            match user_args.get(w) {
                None => {
                    let n = user_args.len();
                    return Err(Diagnostic::error(
                        span,
                        format!(
                            "`wrt: {w}` is out of range: the function takes {n} argument{}",
                            if n == 1 { "" } else { "s" }
                        ),
                    )
                    .with_help(format!(
                        "arguments are numbered from 0 to {}",
                        n.saturating_sub(1)
                    )));
                }
                Some(&a) => {
                    let t = b.ty(a);
                    if !crate::ad::activity::differentiable(&t) {
                        return Err(Diagnostic::error(
                            span,
                            format!("cannot differentiate with respect to argument {w}: it is {}, which carries no derivative", t.describe(&self.out)),
                        )
                        .with_help("only floats (and records or tuples holding floats) have derivatives"));
                    }
                }
            }
        }
        Ok(())
    }

    fn const_of(&mut self, b: &mut FnBuild<'_>, inst: &Inst) -> Value {
        let ty = match &inst.kind {
            InstKind::Const(Const::Int(_)) => Ty::int(),
            InstKind::Const(Const::Bool(_)) => Ty::bool(),
            InstKind::Const(Const::Str(_)) => Ty::Str,
            InstKind::Const(Const::Float(_)) => {
                let mut t = crate::ir::TensorTy::scalar(self.opts.default_float);
                t.weak = true;
                Ty::Tensor(t)
            }
            InstKind::Const(Const::Undef) => Ty::Never,
            _ => Ty::unit(),
        };
        let c = match &inst.kind {
            InstKind::Const(c) => c.clone(),
            _ => Const::Unit,
        };
        self.emit_const(b, c, ty, inst.span)
    }

    pub(super) fn builtin_default(
        &mut self,
        b: &mut FnBuild<'_>,
        d: crate::ir::builtin::DefaultArg,
        span: Span,
    ) -> Value {
        use crate::ir::builtin::DefaultArg as D;
        let c = match d {
            D::Required | D::Absent => Const::Unit,
            D::Int(i) => Const::Int(i),
            D::Float(f) => Const::Float(f),
            D::Bool(x) => Const::Bool(x),
            D::Str(s) => Const::Str(s.to_string()),
        };
        self.const_of(
            b,
            &Inst {
                kind: InstKind::Const(c),
                args: vec![],
                results: vec![],
                span,
            },
        )
    }

    /// Specializes a block in a new output block; returns it and its yields.
    fn spec_sub_block(
        &mut self,
        b: &mut FnBuild<'_>,
        src: &Block,
        params: Vec<Value>,
    ) -> Result<(Block, Vec<Value>), Diagnostic> {
        b.blocks.push(Block {
            params,
            insts: Vec::new(),
            yields: Vec::new(),
        });
        let yields = self.spec_block_body(b, src);
        let mut blk = b.blocks.pop().unwrap_or_default();
        let yields = yields?;
        blk.yields = yields.clone();
        Ok((blk, yields))
    }

    /// Casts the yields of an already built block to the joined types.
    fn cast_yields(
        &mut self,
        b: &mut FnBuild<'_>,
        blk: &mut Block,
        tys: &[Ty],
        span: Span,
    ) -> Result<(), Diagnostic> {
        b.blocks.push(std::mem::take(blk));
        let mut yields = Vec::new();
        let old = b.blocks.last().map(|x| x.yields.clone()).unwrap_or_default();
        for (&y, ty) in old.iter().zip(tys) {
            yields.push(self.convert(b, y, ty, span)?);
        }
        *blk = b.blocks.pop().unwrap_or_default();
        blk.yields = yields;
        Ok(())
    }

    /// `v` converted to type `ty` (a join of its type): dtype casts, leaf by leaf.
    fn convert(&mut self, b: &mut FnBuild<'_>, v: Value, ty: &Ty, span: Span) -> Result<Value, Diagnostic> {
        let have = b.ty(v);
        if have == *ty || have == Ty::Never {
            return Ok(v);
        }
        match (&have, ty) {
            // Same dtype: only static shape knowledge differs, which needs no instruction.
            (Ty::Tensor(h), Ty::Tensor(t)) if h.dtype == t.dtype => Ok(v),
            (Ty::Tensor(_), Ty::Tensor(t)) => self.coerce(b, v, t.dtype, span),
            (Ty::Tuple(hs), Ty::Tuple(ts)) | (Ty::Record(_, hs), Ty::Record(_, ts)) => {
                let record = if let Ty::Record(s, _) = ty { Some(*s) } else { None };
                let mut parts = Vec::new();
                for (i, t) in ts.iter().enumerate().take(hs.len()) {
                    let kind = if record.is_some() {
                        InstKind::RecordGet(i as u32)
                    } else {
                        InstKind::TupleGet(i as u32)
                    };
                    let p = self.project(b, v, kind, span)?;
                    parts.push(self.convert(b, p, t, span)?);
                }
                Ok(match record {
                    Some(s) => self.aggregate(b, InstKind::Record(s), parts, span),
                    None => self.aggregate(b, InstKind::Tuple, parts, span),
                })
            }
            _ => Ok(v),
        }
    }

    fn join_all(&self, a: &[Ty], c: &[Ty], span: Span, what: &str) -> Result<Vec<Ty>, Diagnostic> {
        a.iter()
            .zip(c)
            .map(|(x, y)| {
                join(x, y, self.opts.default_float).map_err(|e| {
                    Diagnostic::error(
                        span,
                        format!(
                            "{what}: {} ({} and {})",
                            e.message,
                            x.describe(&self.out),
                            y.describe(&self.out)
                        ),
                    )
                })
            })
            .collect()
    }

    fn spec_if(
        &mut self,
        b: &mut FnBuild<'_>,
        inst: &Inst,
        args: Vec<Value>,
        then: &Block,
        else_: &Block,
    ) -> Result<(), Diagnostic> {
        let span = inst.span;
        let c = args.first().copied().unwrap_or(Value(0));
        match b.ty(c) {
            Ty::Tensor(t) if t.dtype == crate::ir::DType::Bool && t.shape.is_scalar() => {}
            Ty::Never => {}
            t => {
                let at = b
                    .def_span(c)
                    .filter(|s| s.file == span.file && s.lo >= span.lo && s.hi <= span.hi)
                    .unwrap_or(span);
                return Err(Diagnostic::error(
                    at,
                    format!("the condition must be a bool, found {}", t.describe(&self.out)),
                )
                .with_label("expected bool")
                .with_help("there is no truthiness: compare explicitly, e.g. `x != 0.0`"));
            }
        }
        let (mut tb, ty_) = self.spec_sub_block(b, then, Vec::new())?;
        let (mut eb, ey) = self.spec_sub_block(b, else_, Vec::new())?;
        let tt: Vec<Ty> = ty_.iter().map(|&v| b.ty(v)).collect();
        let et: Vec<Ty> = ey.iter().map(|&v| b.ty(v)).collect();
        let joined = self.join_all(&tt, &et, span, "the branches of this `if` disagree")?;
        self.cast_yields(b, &mut tb, &joined, span)?;
        self.cast_yields(b, &mut eb, &joined, span)?;
        let results: Vec<Value> = joined.iter().map(|t| b.fresh(t.clone(), None)).collect();
        for (&src, &r) in inst.results.iter().zip(&results) {
            b.map(src, r);
        }
        b.push(Inst {
            kind: InstKind::If { then: tb, else_: eb },
            args: vec![c],
            results,
            span,
        });
        Ok(())
    }

    /// Runs `build` with carried types until the types it yields stop widening.
    fn loop_fixpoint(
        &mut self,
        b: &mut FnBuild<'_>,
        init: &[Value],
        span: Span,
        mut build: impl FnMut(&mut Self, &mut FnBuild<'_>, &[Ty]) -> Result<(Vec<Block>, Vec<Ty>), Diagnostic>,
    ) -> Result<(Vec<Block>, Vec<Ty>), Diagnostic> {
        let mut tys: Vec<Ty> = init.iter().map(|&v| b.ty(v)).collect();
        for _ in 0..super::MAX_FIXPOINT_ROUNDS {
            let (blocks, yielded) = build(self, b, &tys)?;
            let next = self.join_all(
                &tys,
                &yielded,
                span,
                "a loop variable changes type between iterations",
            )?;
            if next == tys {
                return Ok((blocks, tys));
            }
            tys = next;
        }
        Err(Diagnostic::error(
            span,
            "the types of this loop's variables do not settle",
        ))
    }

    fn spec_for(
        &mut self,
        b: &mut FnBuild<'_>,
        inst: &Inst,
        args: Vec<Value>,
        body: &Block,
    ) -> Result<(), Diagnostic> {
        let span = inst.span;
        let (bounds, init) = args.split_at(2.min(args.len()));
        for &v in bounds {
            match b.ty(v) {
                Ty::Tensor(t) if t.dtype == crate::ir::DType::I64 && t.shape.is_scalar() => {}
                Ty::Never => {}
                t => {
                    return Err(Diagnostic::error(
                        span,
                        format!("a range needs int bounds, found {}", t.describe(&self.out)),
                    ));
                }
            }
        }
        let (blocks, tys) = self.loop_fixpoint(b, init, span, |s, b, tys| {
            let i = b.fresh(Ty::int(), None);
            let mut params = vec![i];
            if let Some(&p) = body.params.first() {
                b.map(p, i);
            }
            for (&src, t) in body.params.iter().skip(1).zip(tys) {
                let v = b.fresh(t.clone(), None);
                b.map(src, v);
                params.push(v);
            }
            let (blk, ys) = s.spec_sub_block(b, body, params)?;
            let yt = ys.iter().map(|&v| b.ty(v)).collect();
            Ok((vec![blk], yt))
        })?;
        let mut blk = blocks.into_iter().next().unwrap_or_default();
        self.cast_yields(b, &mut blk, &tys, span)?;
        let mut new_args = bounds.to_vec();
        for (&v, t) in init.iter().zip(&tys) {
            new_args.push(self.convert(b, v, t, span)?);
        }
        let results: Vec<Value> = tys.iter().map(|t| b.fresh(t.clone(), None)).collect();
        for (&src, &r) in inst.results.iter().zip(&results) {
            b.map(src, r);
        }
        b.push(Inst {
            kind: InstKind::For { body: blk },
            args: new_args,
            results,
            span,
        });
        Ok(())
    }

    fn spec_while(
        &mut self,
        b: &mut FnBuild<'_>,
        inst: &Inst,
        args: Vec<Value>,
        cond: &Block,
        body: &Block,
    ) -> Result<(), Diagnostic> {
        let span = inst.span;
        let (blocks, tys) = self.loop_fixpoint(b, &args, span, |s, b, tys| {
            let mut cparams = Vec::new();
            for (&src, t) in cond.params.iter().zip(tys) {
                let v = b.fresh(t.clone(), None);
                b.map(src, v);
                cparams.push(v);
            }
            let (cblk, cy) = s.spec_sub_block(b, cond, cparams)?;
            if let Some(&c) = cy.first() {
                match b.ty(c) {
                    Ty::Tensor(t) if t.dtype == crate::ir::DType::Bool && t.shape.is_scalar() => {}
                    Ty::Never => {}
                    t => {
                        let at = b
                            .def_span(c)
                            .filter(|s| s.file == span.file && s.lo >= span.lo && s.hi <= span.hi)
                            .unwrap_or(span);
                        return Err(Diagnostic::error(
                            at,
                            format!("the condition must be a bool, found {}", t.describe(&s.out)),
                        )
                        .with_label("expected bool")
                        .with_help("there is no truthiness: compare explicitly"));
                    }
                }
            }
            let mut bparams = Vec::new();
            for (&src, t) in body.params.iter().zip(tys) {
                let v = b.fresh(t.clone(), None);
                b.map(src, v);
                bparams.push(v);
            }
            let (bblk, ys) = s.spec_sub_block(b, body, bparams)?;
            let yt = ys.iter().map(|&v| b.ty(v)).collect();
            Ok((vec![cblk, bblk], yt))
        })?;
        let mut it = blocks.into_iter();
        let cblk = it.next().unwrap_or_default();
        let mut bblk = it.next().unwrap_or_default();
        self.cast_yields(b, &mut bblk, &tys, span)?;
        let mut new_args = Vec::new();
        for (&v, t) in args.iter().zip(&tys) {
            new_args.push(self.convert(b, v, t, span)?);
        }
        let results: Vec<Value> = tys.iter().map(|t| b.fresh(t.clone(), None)).collect();
        for (&src, &r) in inst.results.iter().zip(&results) {
            b.map(src, r);
        }
        b.push(Inst {
            kind: InstKind::While {
                cond: cblk,
                body: bblk,
            },
            args: new_args,
            results,
            span,
        });
        Ok(())
    }
}

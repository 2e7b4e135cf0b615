//! Specialization: from the untyped IR to typed IR, one copy of a function per
//! call signature (argument types, shapes, and constant ints such as axes).
//!
//! Every value gets a [`Ty`]; every shape and dtype error is reported here,
//! with the span of the operation, before anything runs. Calls of function
//! values are resolved statically (each lambda has its own type, like Julia's
//! closures), builtins become prims, arithmetic on records and tuples is
//! expanded field by field, and dtype promotions become explicit casts, so the
//! kernels always see operands of one dtype.
//!
//! Recursion: a call to a function whose specialization is in progress uses
//! an assumed result type, starting from `Never` and widened until the body's
//! result agrees (a fixpoint); loops do the same for their carried values.
//! Constant ints in a signature are dropped for recursive calls, so recursion
//! does not unfold at compile time.

mod aggregates;
mod builtins;
mod data;
mod insts;
mod join;
mod lift;
mod nn;
mod random;

use crate::diag::Diagnostic;
use crate::ir::shapes::Known;
use crate::ir::types::{DType, FnTy, Ty};
use crate::ir::{Block, Func, FuncId, Program, TypeAnn, Value, ValueInfo};
use crate::syntax::Span;
use std::collections::HashMap;

pub use builtins::progress_outside_for;
pub use join::join;

/// Settings that change types: the default float (`--f64`).
#[derive(Clone, Copy, Debug)]
pub struct SpecOptions {
    pub default_float: DType,
}

/// A constant known at specialization time, part of a signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyConst {
    Int(i64),
    Bool(bool),
    Ints(Vec<i64>),
}

impl KeyConst {
    fn from_known(k: &Known) -> Option<KeyConst> {
        match k {
            Known::Int(i) => Some(KeyConst::Int(*i)),
            Known::Bool(b) => Some(KeyConst::Bool(*b)),
            Known::Ints(v) => Some(KeyConst::Ints(v.clone())),
            Known::Float(_) => None,
        }
    }

    fn to_known(&self) -> Known {
        match self {
            KeyConst::Int(i) => Known::Int(*i),
            KeyConst::Bool(b) => Known::Bool(*b),
            KeyConst::Ints(v) => Known::Ints(v.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SpecKey {
    func: FuncId,
    args: Vec<Ty>,
    consts: Vec<Option<KeyConst>>,
}

/// The specialized program being built from an untyped one.
pub struct Specializer<'a> {
    src: &'a Program,
    out: Program,
    opts: SpecOptions,
    cache: HashMap<SpecKey, (FuncId, Ty)>,
    /// Specializations in progress, innermost last.
    in_progress: Vec<InProgress>,
    /// Cache keys in insertion order, to undo a fixpoint round's work.
    cache_log: Vec<SpecKey>,
    /// Specializations made per source function (a runaway guard).
    count: HashMap<FuncId, usize>,
    /// Derivative functions built so far.
    vjp_cache: crate::ad::reverse::VjpCache,
    /// The types of files that top-level `load(path)` calls read, by the
    /// call's span (see `data.rs`).
    file_types: HashMap<Span, Ty>,
}

struct InProgress {
    key: SpecKey,
    id: FuncId,
    /// The result type recursive calls see in this round.
    assumed: Ty,
    /// Whether a recursive call used `assumed`.
    used: bool,
}

/// An argument as the callee sees it.
#[derive(Clone, Debug)]
pub struct ArgInfo {
    pub ty: Ty,
    pub known: Option<Known>,
}

const MAX_SPECIALIZATIONS: usize = 64;
const MAX_FIXPOINT_ROUNDS: usize = 12;

impl<'a> Specializer<'a> {
    pub fn new(src: &'a Program, opts: SpecOptions) -> Specializer<'a> {
        let out = Program {
            structs: src.structs.clone(),
            funcs: Vec::new(),
            main: None,
            tests: Vec::new(),
            adjoints: Vec::new(),
        };
        Specializer {
            src,
            out,
            opts,
            cache: HashMap::new(),
            in_progress: Vec::new(),
            cache_log: Vec::new(),
            count: HashMap::new(),
            vjp_cache: HashMap::new(),
            file_types: HashMap::new(),
        }
    }

    /// Gives the `load(path)` or `load_npy(path)` call at `span` the type of
    /// the file it will read (its header was read before specialization).
    pub fn set_file_type(&mut self, span: Span, ty: Ty) {
        self.file_types.insert(span, ty);
    }

    /// Specializes an entry point of no arguments (main, a test).
    /// On an error, everything specialized for this entry is dropped, so the
    /// other entries' program stays well-formed.
    pub fn entry(&mut self, f: FuncId) -> Result<FuncId, Diagnostic> {
        self.entry_with(f, Vec::new())
    }

    /// Specializes an entry point that takes arguments (a later stage of an
    /// entry, see `ir::stage`), with the same recovery as [`Self::entry`].
    pub fn entry_with(&mut self, f: FuncId, args: Vec<ArgInfo>) -> Result<FuncId, Diagnostic> {
        let mark = self.out.funcs.len();
        let log = self.cache_log.len();
        let result = self.specialize_call(f, args, Span::default()).map(|(id, _)| id);
        if result.is_err() {
            self.out.funcs.truncate(mark);
            for k in self.cache_log.drain(log..) {
                self.cache.remove(&k);
            }
            let keep = |id: &FuncId| (id.0 as usize) < mark;
            self.cache.retain(|_, (id, _)| keep(id));
            self.vjp_cache.retain(|k, d| keep(&k.func) && keep(d));
            self.out.adjoints.retain(|(f, a)| keep(f) && keep(a));
            self.in_progress.clear();
        }
        result
    }

    pub fn finish(self) -> Program {
        self.out
    }

    pub fn program(&self) -> &Program {
        &self.out
    }

    /// The specialized function for `f` at these arguments, and its result type.
    fn specialize_call(
        &mut self,
        f: FuncId,
        args: Vec<ArgInfo>,
        span: Span,
    ) -> Result<(FuncId, Ty), Diagnostic> {
        let recursive = self.in_progress.iter().any(|p| p.key.func == f);
        let many = self.count.get(&f).copied().unwrap_or(0) > MAX_SPECIALIZATIONS / 2;
        let key = SpecKey {
            func: f,
            args: args
                .iter()
                .map(|a| if recursive { widen(&a.ty) } else { a.ty.clone() })
                .collect(),
            consts: args
                .iter()
                .map(|a| {
                    if recursive || many {
                        None
                    } else {
                        a.known.as_ref().and_then(KeyConst::from_known)
                    }
                })
                .collect(),
        };
        if let Some((id, ty)) = self.cache.get(&key) {
            return Ok((*id, ty.clone()));
        }
        if let Some(p) = self.in_progress.iter_mut().find(|p| p.key == key) {
            p.used = true;
            return Ok((p.id, p.assumed.clone()));
        }
        let src_fn = self
            .src
            .func(f)
            .ok_or_else(|| Diagnostic::internal(span, "call of a missing function"))?;
        let n = self.count.entry(f).or_insert(0);
        *n += 1;
        if *n > MAX_SPECIALIZATIONS {
            return Err(Diagnostic::error(
                span,
                format!(
                    "`{}` needs too many specializations (argument shapes keep changing)",
                    src_fn.name
                ),
            )
            .with_help("this usually means a recursion that changes the shape of its arguments"));
        }
        let id = FuncId(self.out.funcs.len() as u32);
        self.out.funcs.push(src_fn.clone());
        let mut assumed = Ty::Never;
        for _ in 0..MAX_FIXPOINT_ROUNDS {
            let log_len = self.cache_log.len();
            self.in_progress.push(InProgress {
                key: key.clone(),
                id,
                assumed: assumed.clone(),
                used: false,
            });
            let built = self.build_func(f, &key, span);
            let used = self.in_progress.pop().is_some_and(|p| p.used);
            let (func, ret) = built?;
            let next = join::join(&assumed, &ret, self.opts.default_float).map_err(|e| {
                Diagnostic::error(
                    src_fn.span,
                    format!(
                        "the result type of recursive `{}` is not stable: {}",
                        src_fn.name, e.message
                    ),
                )
            })?;
            if let Some(slot) = self.out.funcs.get_mut(id.0 as usize) {
                *slot = func;
            }
            if next == assumed || !used {
                if ret == Ty::Never {
                    return Err(Diagnostic::error(
                        src_fn.span,
                        format!(
                            "infinite recursion: every path through `{}` calls itself again",
                            src_fn.name
                        ),
                    )
                    .with_label("this function never returns")
                    .with_secondary(span, "called here")
                    .with_help("add a base case that returns without recursing"));
                }
                self.cache_log.push(key.clone());
                self.cache.insert(key.clone(), (id, ret.clone()));
                self.specialize_adjoint(f, &key, id, &ret, span)?;
                return Ok((id, ret));
            }
            // Work done under the wrong assumption is redone in the next round.
            for k in self.cache_log.drain(log_len..) {
                self.cache.remove(&k);
            }
            assumed = next;
        }
        Err(Diagnostic::error(
            src_fn.span,
            format!("cannot infer the result type of recursive `{}`", src_fn.name),
        ))
    }

    /// Specializes the custom `adjoint` of `f` (if it has one) for the
    /// specialization `id`, and checks that it returns one adjoint per argument.
    fn specialize_adjoint(
        &mut self,
        f: FuncId,
        key: &SpecKey,
        id: FuncId,
        ret: &Ty,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let Some(adj) = self.src.adjoint_of(f) else {
            return Ok(());
        };
        if self.out.adjoint_of(id).is_some() {
            return Ok(());
        }
        let mut args: Vec<ArgInfo> = key
            .args
            .iter()
            .map(|t| ArgInfo {
                ty: t.clone(),
                known: None,
            })
            .collect();
        args.push(ArgInfo {
            ty: ret.clone(),
            known: None,
        });
        args.push(ArgInfo {
            ty: ret.clone(),
            known: None,
        });
        let (aid, aret) = self.specialize_call(adj, args, span)?;
        let n = key.args.len();
        let fits = |have: &Ty, want: &Ty| match (have, want) {
            (Ty::Tensor(h), Ty::Tensor(w)) => {
                h.dtype.is_float() == w.dtype.is_float() && h.shape.rank() == w.shape.rank()
            }
            (h, w) => std::mem::discriminant(h) == std::mem::discriminant(w),
        };
        let ok = if n == 1 {
            key.args.first().is_some_and(|a| fits(&aret, a))
        } else {
            matches!(&aret, Ty::Tuple(parts) if parts.len() == n && parts.iter().zip(&key.args).all(|(h, w)| fits(h, w)))
        };
        if !ok {
            let adj_span = self.src.func(adj).map(|a| a.span).unwrap_or(span);
            let want = if n == 1 {
                "the adjoint of its argument".to_string()
            } else {
                format!("a tuple of {n} adjoints, one per argument")
            };
            return Err(Diagnostic::error(
                adj_span,
                format!(
                    "this adjoint must return {want}, but returns {}",
                    aret.describe(&self.out)
                ),
            ));
        }
        self.out.adjoints.push((id, aid));
        Ok(())
    }

    /// Builds the typed body of `f` for `key`.
    fn build_func(&mut self, f: FuncId, key: &SpecKey, call: Span) -> Result<(Func, Ty), Diagnostic> {
        let src_fn = self
            .src
            .func(f)
            .ok_or_else(|| Diagnostic::internal(Span::default(), "missing function"))?;
        let mut b = FnBuild::new(src_fn);
        for (i, ((&pv, ty), konst)) in src_fn
            .param_values
            .iter()
            .zip(&key.args)
            .zip(&key.consts)
            .enumerate()
        {
            if let Some(ann) = src_fn.params.get(i).and_then(|p| p.ann.as_ref())
                && !ann_matches(ann, ty, self.opts.default_float)
            {
                let p = src_fn.params.get(i);
                let param_span = p.map(|p| p.span).unwrap_or(src_fn.span);
                let message = format!(
                    "argument `{}` of `{}` should be {}, found {}",
                    p.map(|p| p.name.as_str()).unwrap_or("?"),
                    src_fn.name,
                    describe_ann(ann, &self.out),
                    ty.describe(&self.out)
                );
                let d = if call == Span::default() {
                    Diagnostic::error(param_span, message)
                } else {
                    Diagnostic::error(call, message)
                        .with_label(format!("expected {}", describe_ann(ann, &self.out)))
                        .with_secondary(param_span, "parameter declared here")
                };
                return Err(d);
            }
            let v = b.fresh(ty.clone(), src_fn.name_of(pv));
            b.map(pv, v);
            if let Some(k) = konst {
                b.known.insert(v, k.to_known());
            }
            b.out.param_values.push(v);
        }
        b.blocks.push(Block::default());
        let yields = self.spec_block_body(&mut b, &src_fn.body)?;
        let result = yields
            .first()
            .copied()
            .ok_or_else(|| Diagnostic::internal(src_fn.span, "function yields nothing"))?;
        let ret = b.ty(result);
        if let Some(ann) = &src_fn.ret_ann
            && !ann_matches(ann, &ret, self.opts.default_float)
        {
            return Err(Diagnostic::error(
                src_fn.span,
                format!(
                    "`{}` is annotated to return {} but returns {}",
                    src_fn.name,
                    describe_ann(ann, &self.out),
                    ret.describe(&self.out)
                ),
            ));
        }
        let mut body = b.blocks.pop().unwrap_or_default();
        body.yields = vec![result];
        let mut func = b.out;
        func.body = body;
        func.compact();
        Ok((func, ret))
    }

    /// Translates the instructions of `src` into the innermost open block and
    /// returns the mapped yields.
    fn spec_block_body(&mut self, b: &mut FnBuild<'_>, src: &Block) -> Result<Vec<Value>, Diagnostic> {
        for inst in &src.insts {
            self.spec_inst(b, inst)?;
        }
        src.yields.iter().map(|&y| b.get(y, Span::default())).collect()
    }
}

/// A function being specialized: the untyped source, the typed output, the
/// value mapping and the constants known so far.
pub(crate) struct FnBuild<'s> {
    src: &'s Func,
    out: Func,
    map: HashMap<Value, Value>,
    known: HashMap<Value, Known>,
    /// For tuples and records built here: what is known of each part, so a
    /// projection keeps it even when other parts are unknown.
    part_known: HashMap<Value, Vec<Option<Known>>>,
    blocks: Vec<Block>,
    /// Where each value was computed, for errors about a value's use.
    spans: HashMap<Value, Span>,
}

impl<'s> FnBuild<'s> {
    fn new(src: &'s Func) -> FnBuild<'s> {
        let out = Func {
            name: src.name,
            params: src.params.clone(),
            n_captures: src.n_captures,
            param_values: Vec::new(),
            ret_ann: src.ret_ann.clone(),
            body: Block::default(),
            span: src.span,
            values: Vec::new(),
        };
        FnBuild {
            src,
            out,
            map: HashMap::new(),
            known: HashMap::new(),
            part_known: HashMap::new(),
            blocks: Vec::new(),
            spans: HashMap::new(),
        }
    }

    fn fresh(&mut self, ty: Ty, name: Option<crate::syntax::Symbol>) -> Value {
        self.out.values.push(ValueInfo { ty: Some(ty), name });
        Value((self.out.values.len() - 1) as u32)
    }

    fn map(&mut self, src: Value, out: Value) {
        self.map.insert(src, out);
        if let Some(name) = self.src.name_of(src)
            && let Some(info) = self.out.values.get_mut(out.0 as usize)
            && info.name.is_none()
        {
            info.name = Some(name);
        }
    }

    fn get(&self, src: Value, span: Span) -> Result<Value, Diagnostic> {
        self.map
            .get(&src)
            .copied()
            .ok_or_else(|| Diagnostic::internal(span, format!("value %{} used before definition", src.0)))
    }

    fn ty(&self, v: Value) -> Ty {
        self.out.ty(v).cloned().unwrap_or(Ty::Never)
    }

    /// The span of the instruction that computed `v`, if it was one.
    fn def_span(&self, v: Value) -> Option<Span> {
        self.spans.get(&v).copied()
    }

    fn push(&mut self, inst: crate::ir::Inst) {
        for &r in &inst.results {
            self.spans.insert(r, inst.span);
        }
        if let Some(blk) = self.blocks.last_mut() {
            blk.insts.push(inst);
        }
    }
}

/// Forgets dimensions (keeps ranks) so that recursion with changing shapes
/// reaches a fixed signature.
fn widen(t: &Ty) -> Ty {
    match t {
        Ty::Tensor(tt) => {
            let mut tt = tt.clone();
            tt.shape = crate::ir::Shape(tt.shape.0.iter().map(|_| None).collect());
            Ty::Tensor(tt)
        }
        Ty::Tuple(v) => Ty::Tuple(v.iter().map(widen).collect()),
        Ty::Record(s, v) => Ty::Record(*s, v.iter().map(widen).collect()),
        Ty::Str | Ty::Never => t.clone(),
        Ty::List(e) => Ty::List(Box::new(widen(e))),
        Ty::Fn(f) => match &**f {
            FnTy::User { func, captures } => Ty::Fn(Box::new(FnTy::User {
                func: *func,
                captures: captures.iter().map(widen).collect(),
            })),
            FnTy::Builtin(_) | FnTy::Derivative { .. } => t.clone(),
        },
    }
}

fn ann_matches(ann: &TypeAnn, ty: &Ty, default_float: DType) -> bool {
    let _ = default_float;
    match (ann, ty) {
        (_, Ty::Never) => true,
        (TypeAnn::Int, Ty::Tensor(t)) => t.dtype == DType::I64 && t.shape.is_scalar(),
        (TypeAnn::Bool, Ty::Tensor(t)) => t.dtype == DType::Bool && t.shape.is_scalar(),
        (TypeAnn::Float, Ty::Tensor(t)) => t.dtype.is_float() && t.shape.is_scalar(),
        (TypeAnn::F32, Ty::Tensor(t)) => t.dtype == DType::F32,
        (TypeAnn::F64, Ty::Tensor(t)) => t.dtype == DType::F64,
        (TypeAnn::Tensor, Ty::Tensor(_)) => true,
        (TypeAnn::Str, Ty::Str) => true,
        (TypeAnn::Struct(s), Ty::Record(r, _)) => s == r,
        (TypeAnn::Tuple(a), Ty::Tuple(t)) => {
            a.len() == t.len() && a.iter().zip(t).all(|(a, t)| ann_matches(a, t, default_float))
        }
        _ => false,
    }
}

fn describe_ann(ann: &TypeAnn, p: &Program) -> String {
    match ann {
        TypeAnn::Int => "int".into(),
        TypeAnn::Bool => "bool".into(),
        TypeAnn::Float => "float".into(),
        TypeAnn::F32 => "f32".into(),
        TypeAnn::F64 => "f64".into(),
        TypeAnn::Tensor => "Tensor".into(),
        TypeAnn::Str => "str".into(),
        TypeAnn::Struct(s) => p.struct_def(*s).map(|d| d.name.to_string()).unwrap_or_default(),
        TypeAnn::Tuple(v) => format!(
            "({})",
            v.iter()
                .map(|a| describe_ann(a, p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

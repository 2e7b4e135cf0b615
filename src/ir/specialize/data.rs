//! Specializing the data builtins: files, `temp_path`, `batches`, and the
//! list that `batches` returns (`len` and `[i]` on it, which is what a
//! `for (xb, yb) in batches(…)` loop lowers to).
//!
//! What `load(path)` and `load_npy(path)` return depends on the file, so
//! its type must be known before the code that uses it is specialized. It
//! comes from one of two places:
//! - a `like:` template: the template's type, with its sizes left unknown
//!   (checked against the file when the load runs);
//! - the file itself, for a load at the top level of the main body or a
//!   test: the driver (`backend::staged`) runs the code before such
//!   a load, reads the file's header, and hands its type to the
//!   specializer of the code after it through [`Specializer::file_types`].

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::shapes::storable;
use crate::ir::types::{DType, Shape, Ty};
use crate::ir::{Builtin, Inst, InstKind, Prim, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    pub(super) fn data_builtin(
        &mut self,
        b: &mut FnBuild<'_>,
        bi: Builtin,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Value(0));
        match bi {
            Builtin::LoadCsv => {
                let df = self.opts.default_float;
                self.emit_prim(b, Prim::LoadCsv(df), vec![arg(0), arg(1)], span)
            }
            Builtin::SaveCsv => self.emit_prim(b, Prim::SaveCsv, vec![arg(0), arg(1)], span),
            Builtin::SaveNpy => self.emit_prim(b, Prim::SaveNpy, vec![arg(0), arg(1)], span),
            Builtin::Save => self.emit_prim(b, Prim::Save, vec![arg(0), arg(1)], span),
            Builtin::TempPath => self.emit_prim(b, Prim::TempPath, vec![arg(0)], span),
            Builtin::Batches => self.emit_prim(b, Prim::Batches, args, span),
            Builtin::Load | Builtin::LoadNpy => {
                let npy = bi == Builtin::LoadNpy;
                if !matches!(b.ty(arg(0)), Ty::Str | Ty::Never) {
                    return Err(Diagnostic::error(
                        span,
                        format!(
                            "a path must be a string, found {}",
                            b.ty(arg(0)).describe(&self.out)
                        ),
                    ));
                }
                let ty = self.loaded_type(b, npy, arg(1), span)?;
                let prim = if npy { Prim::LoadNpy(ty) } else { Prim::Load(ty) };
                self.emit_prim(b, prim, vec![arg(0)], span)
            }
            _ => Err(Diagnostic::internal(
                span,
                format!("`{}` is not a data builtin", bi.name()),
            )),
        }
    }

    /// The type of what a load returns: from the `like:` template, or from
    /// the file (known only at the top level, after the code before it ran).
    fn loaded_type(&self, b: &FnBuild<'_>, npy: bool, like: Value, span: Span) -> Result<Ty, Diagnostic> {
        let name = if npy { "load_npy" } else { "load" };
        let like_ty = b.ty(like);
        if !like_ty.is_unit() {
            let ty = forget_sizes(&like_ty);
            let ok = if npy {
                matches!(ty, Ty::Tensor(_))
            } else {
                storable(&ty).is_ok()
            };
            if !ok {
                let want = if npy {
                    "a tensor"
                } else {
                    "a value made of tensors, records and tuples"
                };
                return Err(Diagnostic::error(
                    span,
                    format!(
                        "`like:` of `{name}` must be {want}, found {}",
                        like_ty.describe(&self.out)
                    ),
                ));
            }
            return Ok(ty);
        }
        if let Some(ty) = self.file_types.get(&span) {
            return Ok(ty.clone());
        }
        Err(Diagnostic::error(
            span,
            format!("the type of what `{name}` reads must be known before it runs"),
        )
        .with_label("the file is only read when this runs")
        .with_help(format!(
            "call `{name}` at the top level of the program or of a test, where the code before it runs \
             first and the file's header gives the type, or pass a value of the expected type: \
             `{name}(path, like: v)`"
        )))
    }

    /// `len(xs)` of a list: the number of elements.
    pub(super) fn list_len(&mut self, b: &mut FnBuild<'_>, list: Value, span: Span) -> Value {
        let r = b.fresh(Ty::int(), None);
        b.push(Inst {
            kind: InstKind::ListLen,
            args: vec![list],
            results: vec![r],
            span,
        });
        r
    }

    /// `xs[i]` of a list (`i` may be negative, counting from the end).
    pub(super) fn list_get(
        &mut self,
        b: &mut FnBuild<'_>,
        list: Value,
        index: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let Ty::List(elem) = b.ty(list) else {
            return Err(Diagnostic::internal(span, "list_get of a non-list"));
        };
        let [i] = index else {
            return Err(Diagnostic::error(span, "a list is indexed with one int: `xs[i]`"));
        };
        if !b
            .ty(*i)
            .as_tensor()
            .is_some_and(|t| t.dtype == DType::I64 && t.shape.is_scalar())
        {
            return Err(Diagnostic::error(
                span,
                format!(
                    "a list index must be an int, found {}",
                    b.ty(*i).describe(&self.out)
                ),
            ));
        }
        let r = b.fresh(*elem, None);
        b.push(Inst {
            kind: InstKind::ListGet,
            args: vec![list, *i],
            results: vec![r],
            span,
        });
        Ok(r)
    }
}

/// `t` with every tensor size unknown (ranks and dtypes kept), and no weak
/// floats: a `like:` template fixes the structure, not the sizes.
fn forget_sizes(t: &Ty) -> Ty {
    match t {
        Ty::Tensor(tt) => {
            let mut tt = tt.clone();
            tt.shape = Shape(vec![None; tt.shape.rank()]);
            tt.weak = false;
            Ty::Tensor(tt)
        }
        Ty::Tuple(v) => Ty::Tuple(v.iter().map(forget_sizes).collect()),
        Ty::Record(s, v) => Ty::Record(*s, v.iter().map(forget_sizes).collect()),
        Ty::Str | Ty::Fn(_) | Ty::List(_) | Ty::Never => t.clone(),
    }
}

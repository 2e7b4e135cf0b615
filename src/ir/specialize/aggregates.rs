//! Whole-structure operations on tuples and records, resolved statically:
//! `len` of a tuple, indexing and slicing a tuple with constant ints
//! (`shape(x)[-1]`, `shape(x)[1:]`), and the float-leaf builtins that let
//! library code treat any model the same way: `map_floats(f, v)` applies `f`
//! to every float tensor inside `v`, `sum_floats(v)` adds up every float
//! element inside `v`. Int, bool and other leaves are what derivatives
//! ignore, and these builtins ignore them too.

use super::{FnBuild, Specializer};
use crate::diag::Diagnostic;
use crate::ir::shapes::Known;
use crate::ir::types::{DType, Ty};
use crate::ir::{BinaryOp, Const, IndexItem, InstKind, Prim, ReduceOp, Value};
use crate::syntax::Span;

impl Specializer<'_> {
    /// `len(t)` of a tuple: its number of elements, a constant.
    pub(super) fn tuple_len(&mut self, b: &mut FnBuild<'_>, n: usize, span: Span) -> Value {
        self.emit_const(b, Const::Int(n as i64), Ty::int(), span)
    }

    /// `t[i]` or `t[lo:hi]` on a tuple: the bounds must be constant ints;
    /// negative ones count from the end, and slice bounds clamp as in Python.
    pub(super) fn tuple_index(
        &mut self,
        b: &mut FnBuild<'_>,
        items: &[IndexItem],
        args: &[Value],
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let Some((&t, bounds)) = args.split_first() else {
            return Err(Diagnostic::internal(span, "index without operand"));
        };
        let n = match b.ty(t) {
            Ty::Tuple(parts) => parts.len(),
            _ => return Err(Diagnostic::internal(span, "tuple index of a non-tuple")),
        };
        let mut consts = Vec::new();
        for &v in bounds {
            match b.known.get(&v) {
                Some(Known::Int(i)) => consts.push(*i),
                _ => {
                    return Err(Diagnostic::error(
                        span,
                        "a tuple index must be a constant int (its elements may have different types)",
                    )
                    .with_help("index with a literal such as `t[0]` or `t[-1]`, or use `.0`, `.1`, …"));
                }
            }
        }
        let len = n as i64;
        match items {
            [IndexItem::At] => {
                let i = consts.first().copied().unwrap_or(0);
                let k = if i < 0 { i + len } else { i };
                if k < 0 || k >= len {
                    return Err(Diagnostic::error(
                        span,
                        format!("tuple index {i} is out of range for a tuple of {n} elements"),
                    ));
                }
                self.project(b, t, InstKind::TupleGet(k as u32), span)
            }
            [IndexItem::Slice { lo, hi }] => {
                let mut it = consts.into_iter();
                let clamp = |x: i64| (if x < 0 { x + len } else { x }).clamp(0, len);
                let from = if *lo { clamp(it.next().unwrap_or(0)) } else { 0 };
                let to = if *hi { clamp(it.next().unwrap_or(len)) } else { len };
                let mut parts = Vec::new();
                for k in from..to.max(from) {
                    parts.push(self.project(b, t, InstKind::TupleGet(k as u32), span)?);
                }
                Ok(self.aggregate(b, InstKind::Tuple, parts, span))
            }
            _ => Err(Diagnostic::error(
                span,
                format!("a tuple takes one index, found {}", items.len()),
            )),
        }
    }

    /// `map_floats(f, v)`: `v` with `f` applied to each float tensor inside it
    /// (through nested records and tuples); other leaves are kept as they are.
    pub(super) fn map_floats(
        &mut self,
        b: &mut FnBuild<'_>,
        f: Value,
        v: Value,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        match b.ty(v) {
            Ty::Tensor(t) if t.dtype.is_float() => self.call_value(b, f, &[v], span),
            Ty::Tuple(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::TupleGet(i as u32), span)?;
                    out.push(self.map_floats(b, f, p, span)?);
                }
                Ok(self.aggregate(b, InstKind::Tuple, out, span))
            }
            Ty::Record(s, parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::RecordGet(i as u32), span)?;
                    out.push(self.map_floats(b, f, p, span)?);
                }
                Ok(self.aggregate(b, InstKind::Record(s), out, span))
            }
            Ty::Never => Ok(self.emit_undef(b, span)),
            _ => Ok(v),
        }
    }

    /// `sum_floats(v)`: the sum of every element of every float tensor inside
    /// `v`, in the widest float type among them (0.0 when there is none).
    pub(super) fn sum_floats(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        if b.ty(v) == Ty::Never {
            return Ok(self.emit_undef(b, span));
        }
        let mut sums = Vec::new();
        self.leaf_sums(b, v, &mut sums, span)?;
        if sums.is_empty() {
            let df = self.opts.default_float;
            return Ok(self.emit_const(b, Const::Float(0.0), Ty::scalar(df), span));
        }
        let dtype: DType = self.common_dtype(b, &sums, span)?;
        let mut it = sums.into_iter();
        let first = it.next().unwrap_or(Value(0));
        let mut acc = self.coerce(b, first, dtype, span)?;
        for s in it {
            acc = self.elementwise(b, Prim::Binary(BinaryOp::Add), vec![acc, s], span)?;
        }
        Ok(acc)
    }

    fn leaf_sums(
        &mut self,
        b: &mut FnBuild<'_>,
        v: Value,
        out: &mut Vec<Value>,
        span: Span,
    ) -> Result<(), Diagnostic> {
        match b.ty(v) {
            Ty::Tensor(t) if t.dtype.is_float() => {
                let s = self.emit_prim(
                    b,
                    Prim::Reduce {
                        op: ReduceOp::Sum,
                        axis: None,
                        keepdims: false,
                    },
                    vec![v],
                    span,
                )?;
                out.push(s);
            }
            Ty::Tuple(parts) => {
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::TupleGet(i as u32), span)?;
                    self.leaf_sums(b, p, out, span)?;
                }
            }
            Ty::Record(_, parts) => {
                for i in 0..parts.len() {
                    let p = self.project(b, v, InstKind::RecordGet(i as u32), span)?;
                    self.leaf_sums(b, p, out, span)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

//! Fused groups that read rows of larger tensors and add into rows of
//! accumulators.
//!
//! A loop body over small vectors reads most of its operands as rows
//! (`w[l]`, `hidden[l]`), and its adjoint adds most of its results into
//! rows of accumulators (`index_add`). Run one by one, each of these is an
//! instruction with an allocation of its own. In an indexed group they are
//! operands and outputs of the group's native loop: a row is read where it
//! lies, and a sum is written into its accumulator's row in place. Only a
//! group with a native loop over at most [`NATIVE_MAX`] elements runs this
//! way; when a run's operands do not fit (an index out of range, a shape
//! known only at run time that differs), the caller runs the members one by
//! one, which reports any error.

use super::{Arg, Few, FusedKernel, NATIVE_MAX, NativeLoop, OutBuf};
use crate::runtime::DType;
use crate::runtime::broadcast::same_shape;
use crate::runtime::tensor::{Real, Shape, Tensor};
use smallvec::SmallVec;

/// Where one of the kernel's operands comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Group input `k`, of the group's shape or rank 0.
    Input(usize),
    /// The row `tensor[i, j, …]` of group input `tensor`, at the positions
    /// `at` (indices into [`Indexed::positions`]; negative positions count
    /// from the end).
    Row { tensor: usize, at: Vec<usize> },
    /// The row of accumulator `j` that its `index_add` writes.
    Acc(usize),
}

/// An `index_add` into a row of an accumulator: group input `acc`, whose
/// row at positions `at` (as for [`Source::Row`]) the kernel replaces by that row plus an addend; its value is
/// the whole accumulator. `like` is the `index_add`'s tensor of the
/// accumulator's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct RowInto {
    pub acc: usize,
    pub like: usize,
    pub at: Vec<usize>,
}

/// How an indexed group's operands and outputs map to its inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Indexed {
    /// The group's shape (known when the program was specialized).
    pub shape: Shape,
    /// The int scalar group inputs that rows are at, each read once a run.
    pub positions: Vec<usize>,
    /// One per kernel operand.
    pub sources: Vec<Source>,
    /// The accumulators, each with its row.
    pub accs: Vec<RowInto>,
    /// One per kernel output: the accumulator it writes, or `None` for a
    /// fresh tensor.
    pub sinks: Vec<Option<usize>>,
}

impl FusedKernel {
    /// Runs an indexed group. `inputs` holds the group's inputs, `None` at
    /// each accumulator; `accs` holds the accumulators (in the order of
    /// [`Indexed::accs`]), written in place when no one else holds them.
    /// `spare[j]` is output `j`'s value from the loop's last iteration,
    /// whose buffer a fresh output may take. On success, the outputs; else
    /// (the operands do not fit, nothing was written) the accumulators back.
    pub fn run_indexed(
        &self,
        ix: &Indexed,
        inputs: &[Option<&Tensor>],
        accs: Vec<Tensor>,
        spare: &mut [Option<Tensor>],
    ) -> Result<Vec<Tensor>, Vec<Tensor>> {
        let Some(native) = self.native.as_ref() else {
            return Err(accs);
        };
        let fits = ix.sources.len() == native.scalars.len()
            && ix.sinks.len() == self.outputs.len()
            && ix.accs.len() == accs.len();
        match self.dtype {
            DType::F32 if fits => self.run_indexed_typed::<f32>(native, ix, inputs, accs, spare),
            DType::F64 if fits => self.run_indexed_typed::<f64>(native, ix, inputs, accs, spare),
            _ => Err(accs),
        }
    }

    fn run_indexed_typed<T: Real>(
        &self,
        native: &NativeLoop,
        ix: &Indexed,
        inputs: &[Option<&Tensor>],
        mut accs: Vec<Tensor>,
        spare: &mut [Option<Tensor>],
    ) -> Result<Vec<Tensor>, Vec<Tensor>> {
        let n = numel(&ix.shape);
        if n == 0 || n > NATIVE_MAX {
            return Err(accs);
        }
        let mut pos: SmallVec<[i64; 4]> = SmallVec::new();
        for &k in &ix.positions {
            match inputs.get(k).copied().flatten().and_then(Tensor::as_scalar_i64) {
                Some(i) => pos.push(i),
                None => return Err(accs),
            }
        }
        // Where each accumulator's row starts, checked before anything is written.
        let mut starts: SmallVec<[usize; 16]> = SmallVec::new();
        for (into, acc) in ix.accs.iter().zip(&accs) {
            let like = inputs.get(into.like).copied().flatten();
            let start = like
                .filter(|l| same_shape(l.shape(), acc.shape()) && T::view(acc.data()).is_some())
                .and_then(|_| row_start(acc.shape(), &into.at, &pos, &ix.shape));
            match start {
                Some(s) => starts.push(s),
                None => return Err(accs),
            }
        }
        // Each accumulator's buffer, unshared, and its row's address.
        let mut rows: SmallVec<[*mut T; 16]> = SmallVec::new();
        for (acc, &start) in accs.iter_mut().zip(&starts) {
            if !acc.is_unique() {
                let copy = T::view(acc.data()).map(<[T]>::to_vec).unwrap_or_default();
                *acc = Tensor::with_shape_of(acc, T::wrap(copy));
            }
            match T::buffer_mut(acc.data_mut()) {
                // In bounds: `row_start` checked the row against the shape.
                Some(buffer) => rows.push(buffer.as_mut_ptr().wrapping_add(start)),
                None => return Err(accs),
            }
        }
        let mut args: Few<Arg<T>> = SmallVec::new();
        for (source, &scalar) in ix.sources.iter().zip(&native.scalars) {
            let arg = match *source {
                Source::Input(k) => inputs
                    .get(k)
                    .copied()
                    .flatten()
                    .and_then(|t| Some((t, T::view(t.data())?)))
                    .and_then(|(t, v)| match (scalar, t.shape().is_empty()) {
                        (true, true) => Some(Arg::Scalar(*v.first()?)),
                        (false, false) if same_shape(t.shape(), &ix.shape) => Some(Arg::Elements(v.as_ptr())),
                        _ => None,
                    }),
                Source::Row { tensor, ref at } => inputs
                    .get(tensor)
                    .copied()
                    .flatten()
                    .filter(|_| !scalar)
                    .and_then(|t| Some((row_start(t.shape(), at, &pos, &ix.shape)?, T::view(t.data())?)))
                    .map(|(start, v)| Arg::Elements(v.as_ptr().wrapping_add(start))),
                Source::Acc(j) => rows
                    .get(j)
                    .filter(|_| !scalar)
                    .map(|&p| Arg::Elements(p.cast_const())),
            };
            match arg {
                Some(a) => args.push(a),
                None => return Err(accs),
            }
        }
        let mut fresh: SmallVec<[OutBuf<T>; 8]> = SmallVec::new();
        let mut out_ptrs: Few<*mut u8> = SmallVec::new();
        for (j, (sink, &(_, is_bool))) in ix.sinks.iter().zip(&self.outputs).enumerate() {
            match sink {
                Some(a) => match rows.get(*a) {
                    Some(&p) => out_ptrs.push(p.cast()),
                    None => return Err(accs),
                },
                None => {
                    let mut buf = OutBuf::new(spare.get_mut(j).and_then(Option::take), is_bool, n);
                    out_ptrs.push(buf.ptr());
                    fresh.push(buf);
                }
            }
        }
        // SAFETY: every element operand points at `n` elements of a live
        // input or accumulator row (`row_start` checked the row against the
        // tensor's shape), the scalars are where the code reads scalars, and
        // each accumulator's row lies in its now unshared buffer. The only
        // output that shares an input's elements is an accumulator's row,
        // which its `index_add` reads as the operand at the same positions.
        // Fresh outputs have room for `n` elements.
        unsafe { super::call_native(native, n, &args, &out_ptrs) };
        let mut fresh = fresh.into_iter();
        // Outputs and accumulators are both in member order.
        let mut accs = accs.into_iter().enumerate();
        let mut results = Vec::with_capacity(ix.sinks.len());
        for (sink, &(_, is_bool)) in ix.sinks.iter().zip(&self.outputs) {
            let t = match sink {
                Some(a) => accs.find(|(j, _)| j == a).map(|(_, t)| t),
                // SAFETY: the code wrote elements `0..n` of every output.
                None => fresh
                    .next()
                    .map(|buf| Tensor::with_shape(ix.shape.clone(), unsafe { buf.finish(n, is_bool) })),
            };
            results.extend(t);
        }
        Ok(results)
    }
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The first element of the row of a tensor of `shape` at the positions
/// `pos[k]` for each `k` in `at`, when they are in range and the row has
/// shape `row`.
#[inline]
fn row_start(shape: &[usize], at: &[usize], pos: &[i64], row: &[usize]) -> Option<usize> {
    let (outer, inner) = shape.split_at_checked(at.len())?;
    if inner.len() != row.len() || inner.iter().zip(row).any(|(a, b)| a != b) {
        return None;
    }
    let mut index = 0usize;
    for (&len, &k) in outer.iter().zip(at) {
        let i = *pos.get(k)?;
        let n = i64::try_from(len).ok()?;
        let p = if i < 0 { i + n } else { i };
        if p < 0 || p >= n {
            return None;
        }
        index = index * len + usize::try_from(p).ok()?;
    }
    Some(index * numel(row))
}

//! Fused elementwise groups: a run of elementwise ops over tensors of one
//! shape, evaluated block by block (a few hundred elements at a time, held in
//! registers that stay in the cache) instead of one whole-tensor pass per op.
//! Only the group's outputs are written to memory; the values between its
//! ops never are. Large groups split their blocks over the cores.
//!
//! Each op uses the scalar function of its whole-tensor kernel (and the
//! vectorized `exp`, `log`, `sin`, `cos`, `tanh` of [`super::vmath`]), so a
//! group's results equal those of its ops run one by one, bit for bit. Bools
//! are held as 1 and 0 of the group's float type.

use super::DType;
use super::broadcast::{ends_with_shape, same_shape};
use super::elementwise::{binary_block, unary_block, where_block};
use super::error::{KResult, KernelError};
use super::index::Dims;
use super::parallel::{PARALLEL_MIN, threads};
use super::tensor::{Data, Real, Shape, Tensor};
use crate::ir::op::{BinaryOp, UnaryOp};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::sync::Arc;

mod indexed;
pub use indexed::{Indexed, RowInto, Source};

/// Per-operand numbers and pointers of one run, inline for most groups (an
/// LSTM step's adjoint group has 25 operands).
type Few<T> = SmallVec<[T; 32]>;

/// Elements per block: a register of f64 is 2 KiB, so a dozen live ones
/// fit in the first-level cache.
const BLOCK: usize = 256;

/// One op of a group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FusedOp {
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `where(c, a, b)`
    Where,
}

impl FusedOp {
    /// Whether the op's result is a bool (a comparison, `and`, `or`, `not`).
    pub fn gives_bool(self) -> bool {
        match self {
            FusedOp::Unary(op) => op == UnaryOp::Not,
            FusedOp::Binary(op) => op.gives_bool(),
            FusedOp::Where => false,
        }
    }

    fn arity(self) -> usize {
        match self {
            FusedOp::Unary(_) => 1,
            FusedOp::Binary(_) => 2,
            FusedOp::Where => 3,
        }
    }
}

/// One op and its operands, in SSA numbering: `0..inputs` are the group's
/// inputs, `inputs + k` is the result of step `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedStep {
    pub op: FusedOp,
    pub args: Vec<usize>,
}

/// A step with its operands and result in registers.
#[derive(Clone, Debug)]
struct RegStep {
    op: FusedOp,
    args: [usize; 3],
    /// For each operand that is one of the group's inputs, which: a
    /// full-size input is read in place rather than from its register.
    inputs: [Option<usize>; 3],
    dst: usize,
}

/// A group compiled to a native loop over its elements (the JIT makes
/// these, `backend::jit::fused`): `code(n, inputs, strides, outputs)` reads
/// element `i` of input `k` at `inputs[k] + i * strides[k]` (bytes), and
/// writes element `i` of each output. A scalar input has stride 0 and
/// points at [`SCALAR_COPIES`] copies of its value (the loop reads them
/// once, before it starts); every other input has a stride of one element.
/// It reads all of a chunk's inputs before it writes the chunk's outputs, so
/// an output may share an input's buffer.
#[derive(Clone)]
pub struct NativeLoop {
    pub code: unsafe extern "C" fn(i64, *const *const u8, *const i64, *const *mut u8),
    /// Keeps the code's memory alive.
    pub owner: Arc<dyn std::any::Any + Send + Sync>,
    /// Whether the loop calls element functions (`exp`, …) lane by lane:
    /// on many elements the block kernels' vectorized slices beat it.
    pub calls: bool,
    /// Which inputs the code reads as scalars: each run must pass exactly
    /// these as scalars.
    pub scalars: Vec<bool>,
}

/// Copies of a scalar input's value a native loop reads.
pub const SCALAR_COPIES: usize = 4;

impl std::fmt::Debug for NativeLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeLoop")
    }
}

/// Groups over at most this many elements run their native loop even when
/// it calls element functions: below one block, the interpreted steps'
/// dispatch costs more than the arithmetic (a 50-step group over 14
/// elements took about 12,000 instructions). Larger groups run it when it
/// makes no calls (vector arithmetic in registers beats the block kernels'
/// passes through memory), else run block by block.
pub const NATIVE_MAX: usize = BLOCK;

/// A group compiled to register form.
#[derive(Clone, Debug)]
pub struct FusedKernel {
    dtype: DType,
    /// Whether each input is a bool tensor (else of `dtype`).
    input_bools: Vec<bool>,
    steps: Vec<RegStep>,
    /// The register and bool-ness of each output.
    outputs: Vec<(usize, bool)>,
    registers: usize,
    native: Option<NativeLoop>,
}

/// How one input is read at the group's shape.
#[derive(Clone, Copy)]
enum Operand<'a, T> {
    Full(&'a [T]),
    Scalar(T),
    /// The trailing axes of the group's shape (a bias row), repeated.
    Repeat(&'a [T]),
    /// The input whose buffer output `j` took: each block reads it before
    /// the block's results are written over it.
    Output(usize),
}

/// An input as the group holds it while it runs.
enum Held<T> {
    /// Its buffer became an output's.
    Output(usize),
    /// Its own values (an unshared buffer, or bools as 1 and 0).
    Values(Shape, Vec<T>),
    Shared(Shape, Arc<Vec<T>>),
}

impl<T: Copy> Operand<'_, T> {
    fn load(&self, start: usize, out: &mut [T]) {
        match *self {
            Operand::Full(v) => {
                if let Some(v) = v.get(start..start + out.len()) {
                    out.copy_from_slice(v);
                }
            }
            Operand::Scalar(x) => out.fill(x),
            Operand::Output(_) => {}
            Operand::Repeat(v) => {
                let n = v.len();
                let mut k = start % n;
                for o in out.iter_mut() {
                    *o = v.get(k).copied().unwrap_or(*o);
                    k += 1;
                    if k == n {
                        k = 0;
                    }
                }
            }
        }
    }
}

/// One operand of a native loop's run.
#[derive(Clone, Copy)]
enum Arg<T> {
    /// Elements `0..n` from here on.
    Elements(*const T),
    Scalar(T),
}

/// Runs `native` over `n` elements of `args`, writing `n` elements of each
/// output at `outs`.
///
/// # Safety
/// `native` must be compiled for `T`, with one input per arg (a scalar
/// exactly where [`NativeLoop::scalars`] says) and one output per pointer.
/// Each [`Arg::Elements`] must point at `n` readable elements and each
/// output at room for `n` elements. An output may share an input's
/// elements only at the same positions (the code reads a chunk's inputs
/// before it writes the chunk's outputs).
unsafe fn call_native<T: Real>(native: &NativeLoop, n: usize, args: &[Arg<T>], outs: &[*mut u8]) {
    // The scalars' copies first: their addresses stay put once taken.
    let mut copies: SmallVec<[[T; SCALAR_COPIES]; 4]> = SmallVec::new();
    for a in args {
        if let Arg::Scalar(x) = *a {
            copies.push([x; SCALAR_COPIES]);
        }
    }
    let size = std::mem::size_of::<T>() as i64;
    let mut copy = copies.iter();
    let mut ins: Few<*const u8> = SmallVec::with_capacity(args.len());
    let mut strides: Few<i64> = SmallVec::with_capacity(args.len());
    for a in args {
        let (p, stride) = match *a {
            Arg::Scalar(_) => (copy.next().map_or(std::ptr::null(), |c| c.as_ptr().cast()), 0),
            Arg::Elements(p) => (p.cast(), size),
        };
        ins.push(p);
        strides.push(stride);
    }
    // SAFETY: as the caller guarantees; `copies` outlives the call.
    unsafe { (native.code)(n as i64, ins.as_ptr(), strides.as_ptr(), outs.as_ptr()) };
}

/// The buffer a native loop writes one output into: the output's spare
/// buffer (its value from the loop's last iteration, `Some`), when that
/// holds `n` floats that no one else holds, or a fresh one.
struct OutBuf<T>(Option<Data>, Vec<T>);

impl<T: Real> OutBuf<T> {
    fn new(spare: Option<Tensor>, is_bool: bool, n: usize) -> OutBuf<T> {
        let reused = spare
            .filter(|t| !is_bool && t.numel() == n)
            .map(|t| t.into_parts().1)
            .and_then(|mut d| T::buffer_mut(&mut d).is_some().then_some(d));
        match reused {
            Some(d) => OutBuf(Some(d), Vec::new()),
            None => OutBuf(None, Vec::with_capacity(n)),
        }
    }

    /// Where the loop writes: room for `n` elements.
    fn ptr(&mut self) -> *mut u8 {
        match self.0.as_mut().and_then(T::buffer_mut) {
            Some(v) => v.as_mut_ptr().cast(),
            None => self.1.as_mut_ptr().cast(),
        }
    }

    /// The written elements as a tensor's data (bools from 1 and 0).
    ///
    /// # Safety
    /// Elements `0..n` at [`OutBuf::ptr`] must have been written.
    unsafe fn finish(self, n: usize, is_bool: bool) -> Data {
        match self {
            OutBuf(Some(d), _) => d,
            OutBuf(None, mut v) => {
                // SAFETY: the capacity is `n` and the caller wrote `0..n`.
                unsafe { v.set_len(n) };
                if is_bool {
                    Data::Bool(Arc::new(v.iter().map(|&x| x != T::ZERO).collect()))
                } else {
                    T::wrap(v)
                }
            }
        }
    }
}

impl FusedKernel {
    /// Compiles `steps` over `inputs` (true: a bool input) for float type
    /// `dtype`, with `outputs` the SSA numbers of the values it writes out.
    /// Registers are reused once their value is dead.
    pub fn new(dtype: DType, input_bools: Vec<bool>, steps: &[FusedStep], outputs: &[usize]) -> FusedKernel {
        let inputs = input_bools.len();
        let values = inputs + steps.len();
        let end = steps.len();
        // The last step reading each value; outputs live to the end.
        let mut last_use = vec![None::<usize>; values];
        for (k, s) in steps.iter().enumerate() {
            for &a in &s.args {
                if let Some(l) = last_use.get_mut(a) {
                    *l = Some(k);
                }
            }
        }
        for &o in outputs {
            if let Some(l) = last_use.get_mut(o) {
                *l = Some(end);
            }
        }
        let mut reg = vec![usize::MAX; values];
        let mut free: Vec<usize> = Vec::new();
        let mut registers = 0;
        let mut fresh = |free: &mut Vec<usize>| {
            free.pop().unwrap_or_else(|| {
                registers += 1;
                registers - 1
            })
        };
        for r in reg.iter_mut().take(inputs) {
            *r = fresh(&mut free);
        }
        let mut reg_steps = Vec::with_capacity(steps.len());
        for (k, s) in steps.iter().enumerate() {
            let mut args = [0; 3];
            let mut step_inputs = [None; 3];
            for ((slot, input), &a) in args.iter_mut().zip(step_inputs.iter_mut()).zip(&s.args) {
                *slot = reg.get(a).copied().unwrap_or(0);
                *input = (a < inputs).then_some(a);
            }
            // Operands dead after this step free their registers; the step
            // writes a scratch buffer first, so its result may take one.
            for &a in &s.args {
                if let Some(&r) = reg.get(a)
                    && last_use.get(a) == Some(&Some(k))
                    && !free.contains(&r)
                {
                    free.push(r);
                }
            }
            let dst = fresh(&mut free);
            if let Some(r) = reg.get_mut(inputs + k) {
                *r = dst;
            }
            reg_steps.push(RegStep {
                op: s.op,
                args,
                inputs: step_inputs,
                dst,
            });
        }
        let outputs = outputs
            .iter()
            .map(|&o| {
                let is_bool = match o.checked_sub(inputs) {
                    None => input_bools.get(o).copied().unwrap_or(false),
                    Some(k) => steps.get(k).is_some_and(|s| s.op.gives_bool()),
                };
                (reg.get(o).copied().unwrap_or(0), is_bool)
            })
            .collect();
        debug_assert!(steps.iter().all(|s| s.args.len() == s.op.arity()));
        FusedKernel {
            dtype,
            input_bools,
            steps: reg_steps,
            outputs,
            registers,
            native: None,
        }
    }

    /// The kernel, running `native` for groups of a few elements.
    pub fn with_native(mut self, native: Option<NativeLoop>) -> FusedKernel {
        self.native = native;
        self
    }

    /// The group's shape, when every input is of the group's dtype (or a
    /// bool where the group reads one) and has the group's shape, rank 0, or
    /// the trailing axes of the group's shape; `None` otherwise (the caller
    /// runs the ops one by one).
    pub fn accepts(&self, inputs: &[&Tensor]) -> Option<Dims> {
        if inputs.len() != self.input_bools.len() {
            return None;
        }
        let shape = inputs.iter().map(|t| t.shape()).max_by_key(|s| s.len())?;
        let fits = inputs.iter().zip(&self.input_bools).all(|(t, &is_bool)| {
            let dtype = if is_bool { DType::Bool } else { self.dtype };
            let s = t.shape();
            t.dtype() == dtype
                && (same_shape(s, shape) || s.is_empty() || (ends_with_shape(shape, s) && t.numel() > 0))
        });
        fits.then(|| Dims::from_slice(shape))
    }

    /// Runs a group of at most [`NATIVE_MAX`] elements through its native
    /// loop, reading the inputs where they are. Output `j` is written over
    /// `spare[j]` (its value from the loop's last iteration) when that is a
    /// float tensor of the group's size that no one else holds, else into a
    /// fresh buffer. For the small tensors of a loop body this skips most of
    /// [`FusedKernel::run`]'s bookkeeping. `None` (nothing ran) when the
    /// group has no native loop, reads a bool or a repeated row, or the
    /// inputs do not fit it; the caller then takes the general path.
    pub fn run_small(&self, inputs: &[&Tensor], spare: Vec<Option<Tensor>>) -> Option<Vec<Tensor>> {
        let native = self.native.as_ref()?;
        if inputs.len() != self.input_bools.len() || self.input_bools.contains(&true) {
            return None;
        }
        match self.dtype {
            DType::F32 => self.run_small_typed::<f32>(native, inputs, spare),
            DType::F64 => self.run_small_typed::<f64>(native, inputs, spare),
            DType::Bool | DType::I64 => None,
        }
    }

    fn run_small_typed<T: Real>(
        &self,
        native: &NativeLoop,
        inputs: &[&Tensor],
        mut spare: Vec<Option<Tensor>>,
    ) -> Option<Vec<Tensor>> {
        let like = *inputs.iter().max_by_key(|t| t.shape().len())?;
        let n = like.numel();
        if n == 0 || n > NATIVE_MAX || inputs.len() != native.scalars.len() {
            return None;
        }
        let mut args: Few<Arg<T>> = SmallVec::new();
        for (t, &scalar) in inputs.iter().zip(&native.scalars) {
            let v = T::view(t.data())?;
            if t.shape().is_empty() != scalar {
                return None;
            } else if scalar {
                args.push(Arg::Scalar(*v.first()?));
            } else if !same_shape(t.shape(), like.shape()) || v.len() != n {
                return None;
            } else {
                args.push(Arg::Elements(v.as_ptr()));
            }
        }
        let mut outs: Few<OutBuf<T>> = self
            .outputs
            .iter()
            .enumerate()
            .map(|(j, &(_, is_bool))| OutBuf::new(spare.get_mut(j).and_then(Option::take), is_bool, n))
            .collect();
        let out_ptrs: Few<*mut u8> = outs.iter_mut().map(OutBuf::ptr).collect();
        // SAFETY: every element pointer is to `n` elements of a live input;
        // every output has room for `n` elements ([`OutBuf`]), and no input
        // shares a spare output buffer, which only `outs` holds; the
        // scalars are where the code reads them as scalars (checked above).
        unsafe { call_native(native, n, &args, &out_ptrs) };
        Some(
            outs.into_iter()
                .zip(&self.outputs)
                // SAFETY: the code wrote elements `0..n` of every output.
                .map(|(buf, &(_, is_bool))| Tensor::with_shape_of(like, unsafe { buf.finish(n, is_bool) }))
                .collect(),
        )
    }

    /// Runs the group over `inputs` (which [`FusedKernel::accepts`] must
    /// accept). An input that no one else holds, of the group's shape and
    /// dtype, gives its buffer to an output.
    pub fn run(&self, inputs: Vec<Tensor>) -> KResult<Vec<Tensor>> {
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let Some(shape) = self.accepts(&refs) else {
            return Err(KernelError::Internal(
                "a fused group's operands changed shape".into(),
            ));
        };
        drop(refs);
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(inputs, &shape, |d| match d {
                Data::F32(v) => Some(v),
                _ => None,
            }),
            DType::F64 => self.run_typed::<f64>(inputs, &shape, |d| match d {
                Data::F64(v) => Some(v),
                _ => None,
            }),
            DType::Bool | DType::I64 => Err(KernelError::Internal("a fused group of ints".into())),
        }
    }

    fn run_typed<T: Real>(
        &self,
        inputs: Vec<Tensor>,
        shape: &[usize],
        floats: impl Fn(Data) -> Option<Arc<Vec<T>>>,
    ) -> KResult<Vec<Tensor>> {
        let n: usize = shape.iter().product();
        // Each float output of the group's shape takes the buffer of an
        // unshared input of that shape, when there is one.
        let mut free_outputs: Few<usize> = (0..self.outputs.len())
            .filter(|&j| self.outputs.get(j).is_some_and(|o| !o.1))
            .rev()
            .collect();
        let mut outs: Vec<Option<Vec<T>>> = self.outputs.iter().map(|_| None).collect();
        let mut held: Vec<Held<T>> = Vec::with_capacity(inputs.len());
        // The outputs share the shape of an input of the group's shape.
        let mut out_shape: Option<Shape> = None;
        for (t, &is_bool) in inputs.into_iter().zip(&self.input_bools) {
            let (s, data) = t.into_parts();
            if out_shape.is_none() && same_shape(&s, shape) {
                out_shape = Some(s.clone());
            }
            if is_bool {
                let Data::Bool(b) = data else {
                    return Err(KernelError::Internal("a fused group's bool operand".into()));
                };
                held.push(Held::Values(
                    s,
                    b.iter().map(|&x| if x { T::ONE } else { T::ZERO }).collect(),
                ));
                continue;
            }
            let Some(v) = floats(data) else {
                return Err(KernelError::Internal("a fused group's operand dtype".into()));
            };
            match Arc::try_unwrap(v) {
                Ok(v) if same_shape(&s, shape) && !free_outputs.is_empty() => {
                    let j = free_outputs.pop().unwrap_or(0);
                    if let Some(slot) = outs.get_mut(j) {
                        *slot = Some(v);
                    }
                    held.push(Held::Output(j));
                }
                Ok(v) => held.push(Held::Values(s, v)),
                Err(shared) => held.push(Held::Shared(s, shared)),
            }
        }
        let operands: Vec<Operand<'_, T>> = held
            .iter()
            .map(|h| {
                let (s, v): (&[usize], &[T]) = match h {
                    Held::Output(j) => return Operand::Output(*j),
                    Held::Values(s, v) => (s, v),
                    Held::Shared(s, v) => (s, v),
                };
                if same_shape(s, shape) {
                    Operand::Full(v)
                } else if s.is_empty() {
                    Operand::Scalar(v.first().copied().unwrap_or(T::ZERO))
                } else {
                    Operand::Repeat(v)
                }
            })
            .collect();
        let mut outs: Vec<Vec<T>> = outs
            .into_iter()
            .map(|o| o.unwrap_or_else(|| vec![T::ZERO; n]))
            .collect();
        if !self.run_native(&operands, &mut outs, n) {
            self.run_pieces(&operands, &mut outs, n);
        }
        drop(operands);
        let out_shape = out_shape.unwrap_or_else(|| Shape::from(shape));
        outs.into_iter()
            .zip(&self.outputs)
            .map(|(v, &(_, is_bool))| {
                let data = if is_bool {
                    Data::Bool(Arc::new(v.iter().map(|&x| x != T::ZERO).collect()))
                } else {
                    T::wrap(v)
                };
                Tensor::new(out_shape.clone(), data)
            })
            .collect()
    }

    /// Runs the native loop, when there is one that suits `n` (see
    /// [`NATIVE_MAX`]) and every operand is full-size, a scalar, or a row
    /// repeated (then the loop runs once per row); false otherwise (nothing
    /// was written). Large runs split over the cores.
    fn run_native<T: Real>(&self, operands: &[Operand<'_, T>], outs: &mut [Vec<T>], n: usize) -> bool {
        let Some(native) = self.native.as_ref().filter(|l| n <= NATIVE_MAX || !l.calls) else {
            return false;
        };
        let scalars: Few<[T; SCALAR_COPIES]> = operands
            .iter()
            .map(|op| match op {
                Operand::Scalar(x) => [*x; SCALAR_COPIES],
                _ => [T::ZERO; SCALAR_COPIES],
            })
            .collect();
        // Each input's address and how far it moves per element of the
        // group (1: full-size, 0: a scalar's copies, `None`: a row, which
        // every row of the group reads from its start).
        let mut inputs: Few<(usize, Option<usize>)> = SmallVec::new();
        let mut row: Option<usize> = None;
        if operands.len() != native.scalars.len()
            || operands
                .iter()
                .zip(&native.scalars)
                .any(|(op, &scalar)| matches!(op, Operand::Scalar(_)) != scalar)
        {
            return false;
        }
        for (op, x) in operands.iter().zip(&scalars) {
            let (ptr, step) = match op {
                Operand::Full(v) if v.len() >= n => (v.as_ptr(), Some(1)),
                Operand::Scalar(_) => (x.as_ptr(), Some(0)),
                Operand::Output(j) => match outs.get(*j) {
                    Some(v) if v.len() >= n => (v.as_ptr(), Some(1)),
                    _ => return false,
                },
                // A row shorter than a few vectors would cost a call per element or two.
                Operand::Repeat(v)
                    if v.len() >= 16 && n.is_multiple_of(v.len()) && row.is_none_or(|r| r == v.len()) =>
                {
                    row = Some(v.len());
                    (v.as_ptr(), None)
                }
                _ => return false,
            };
            inputs.push((ptr as usize, step));
        }
        if outs.iter().any(|o| o.len() < n) {
            return false;
        }
        let size = std::mem::size_of::<T>();
        let strides: Few<i64> = inputs
            .iter()
            .map(|&(_, step)| (step.unwrap_or(1) * size) as i64)
            .collect();
        let outputs: Few<usize> = outs.iter_mut().map(|o| o.as_mut_ptr() as usize).collect();
        let call = |start: usize, len: usize| {
            let ins: Few<*const u8> = inputs
                .iter()
                .map(|&(p, step)| {
                    (p as *const T)
                        .wrapping_add(start * step.unwrap_or(0))
                        .cast::<u8>()
                })
                .collect();
            let outs: Few<*mut u8> = outputs
                .iter()
                .map(|&p| (p as *mut T).wrapping_add(start).cast::<u8>())
                .collect();
            // SAFETY: the code was compiled for this group's inputs, steps
            // and outputs in `T` (`backend::jit::fused`); from `start`, every
            // full-size input and every output holds `len` more elements (all
            // hold `n`, checked above, and calls end by `n`), a row input
            // holds `len` elements (calls on rows are one row long), and a
            // scalar input points at `SCALAR_COPIES` copies read at stride 0.
            // Calls write disjoint ranges of the outputs, and the code reads
            // a chunk's inputs before writing its outputs, so an output that
            // took an input's buffer is safe.
            unsafe { (native.code)(len as i64, ins.as_ptr(), strides.as_ptr(), outs.as_ptr()) };
        };
        // A piece of the group: whole rows when an input is a row.
        let piece = |start: usize, len: usize| match row {
            Some(r) => (start..start + len).step_by(r).for_each(|s| call(s, r)),
            None => call(start, len),
        };
        let unit = row.unwrap_or(BLOCK);
        if n >= PARALLEL_MIN && threads() > 1 {
            let per = n.div_ceil(threads()).div_ceil(unit) * unit;
            (0..n.div_ceil(per))
                .into_par_iter()
                .for_each(|k| piece(k * per, per.min(n - k * per)));
        } else {
            piece(0, n);
        }
        true
    }

    /// Runs the group block by block, in pieces over the cores when large.
    fn run_pieces<T: Real>(&self, operands: &[Operand<'_, T>], outs: &mut [Vec<T>], n: usize) {
        let per = if n >= PARALLEL_MIN && threads() > 1 {
            n.div_ceil(threads()).div_ceil(BLOCK) * BLOCK
        } else {
            n.max(1)
        };
        // Each piece gets its own slice of every output.
        let mut pieces: Vec<Vec<&mut [T]>> = (0..n.div_ceil(per)).map(|_| Vec::new()).collect();
        for out in outs.iter_mut() {
            for (piece, chunk) in pieces.iter_mut().zip(out.chunks_mut(per)) {
                piece.push(chunk);
            }
        }
        let run = |(i, mut piece): (usize, Vec<&mut [T]>)| self.run_piece(operands, i * per, &mut piece);
        if pieces.len() > 1 {
            pieces.into_par_iter().enumerate().for_each(run);
        } else {
            pieces.into_iter().enumerate().for_each(run);
        }
    }

    /// Runs every block of one piece, which starts at element `start`.
    fn run_piece<T: Real>(&self, operands: &[Operand<'_, T>], start: usize, outs: &mut [&mut [T]]) {
        let len = outs.first().map_or(0, |o| o.len());
        let width = BLOCK.min(len.max(1));
        let mut regs: Vec<Vec<T>> = (0..self.registers).map(|_| vec![T::ZERO; width]).collect();
        let mut scratch = vec![T::ZERO; width];
        let mut at = 0;
        while at < len {
            let m = width.min(len - at);
            // Full-size inputs are read in place; the others fill their registers.
            for (op, reg) in operands.iter().zip(regs.iter_mut()) {
                if !matches!(op, Operand::Full(_) | Operand::Output(_)) {
                    op.load(start + at, reg.get_mut(..m).unwrap_or_default());
                }
            }
            for s in &self.steps {
                let out = scratch.get_mut(..m).unwrap_or_default();
                let arg = |i: usize| -> &[T] {
                    let in_place = match s.inputs.get(i).copied().flatten().and_then(|k| operands.get(k)) {
                        Some(Operand::Full(v)) => v.get(start + at..start + at + m),
                        Some(Operand::Output(j)) => outs.get(*j).and_then(|o| o.get(at..at + m)),
                        _ => None,
                    };
                    in_place
                        .or_else(|| s.args.get(i).and_then(|&r| regs.get(r)).and_then(|v| v.get(..m)))
                        .unwrap_or_default()
                };
                match s.op {
                    FusedOp::Unary(op) => unary_block(op, arg(0), out),
                    FusedOp::Binary(op) => binary_block(op, arg(0), arg(1), out),
                    FusedOp::Where => where_block(arg(0), arg(1), arg(2), out),
                }
                if let Some(dst) = regs.get_mut(s.dst) {
                    std::mem::swap(dst, &mut scratch);
                }
            }
            for (out, &(r, _)) in outs.iter_mut().zip(&self.outputs) {
                if let (Some(to), Some(from)) =
                    (out.get_mut(at..at + m), regs.get(r).and_then(|v| v.get(..m)))
                {
                    to.copy_from_slice(from);
                }
            }
            at += m;
        }
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;

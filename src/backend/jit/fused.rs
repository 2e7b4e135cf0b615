//! Fused elementwise groups compiled to native loops.
//!
//! The interpreter runs a fused group step by step over blocks of elements
//! (`runtime::fused`); on a few elements (the LSTM's vectors of 14) the
//! dispatch of each step costs far more than its arithmetic. A group over
//! float inputs whose steps are IEEE arithmetic (`+ - * /`, negation, `abs`,
//! `sqrt`), comparisons, `and`/`or`/`not`, `where`, and the functions
//! `exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid` and `tan` becomes one loop
//! over its elements with every value in a register. The arithmetic rounds
//! exactly as the interpreter's kernels do (Cranelift never fuses a multiply
//! and an add); each function is a call, per element, of the runtime's
//! element function for it (`runtime::unary_element_fn`: the vectorized
//! kernels' code for one element), so results are the same bit for bit.
//! Groups with other steps, or with bool inputs or outputs, stay
//! interpreted.

use super::module::new_module;
use crate::ir::op::{BinaryOp, UnaryOp};
use crate::runtime::fused::{FusedOp, FusedStep, NativeLoop, SCALAR_COPIES};
use crate::runtime::{DType, unary_element_fn};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Signature, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use std::sync::Arc;

/// A module whose memory holds compiled loops, freed when the last loop
/// using it goes.
struct Owned(Option<JITModule>);

// SAFETY: the module is only kept alive and freed (never used to compile
// after construction), and its code is immutable once finalized.
unsafe impl Send for Owned {}
// SAFETY: as above; shared references give no access to the module.
unsafe impl Sync for Owned {}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            // SAFETY: the only pointers into this memory are the loops that
            // hold this `Owned` through their `Arc`; the last one is gone.
            unsafe { m.free_memory() };
        }
    }
}

/// A value of the loop body: a float, or a bool held as 0 or 1 in an `i8`.
#[derive(Clone, Copy)]
enum Reg {
    Float(Value),
    Bool(Value),
}

/// An input of the loop body.
#[derive(Clone, Copy)]
enum Input {
    /// The address of element 0; element `i` is `i` elements further on.
    Full(Value),
    /// A rank-0 input, loaded once before the loops: as a vector of its
    /// copies, and as one float.
    Scalar { vector: Value, one: Value },
}

/// The native loop of a group, or `None` when it has a step, input or output
/// this compiler does not take (see the module documentation). Inputs marked
/// in `input_scalars` are read once, before the loop (the run must pass them
/// as scalars, `NativeLoop::scalars`); every other input and every output
/// moves one element per element.
pub fn compile_group(
    dtype: DType,
    input_bools: &[bool],
    input_scalars: &[bool],
    steps: &[FusedStep],
    outputs: &[usize],
) -> Option<NativeLoop> {
    let float = match dtype {
        DType::F32 => types::F32,
        DType::F64 => types::F64,
        _ => return None,
    };
    if input_bools.iter().any(|&b| b)
        || input_scalars.len() != input_bools.len()
        || !steps.iter().all(|s| supported(s.op, dtype))
    {
        return None;
    }
    let mut module = new_module().ok()?;
    let ptr = types::I64;
    let mut sig = module.make_signature();
    sig.params.extend([AbiParam::new(ptr); 4]);
    let id = module
        .declare_function("fused_group", Linkage::Local, &sig)
        .ok()?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let flags = MemFlagsData::trusted();

    let entry = b.create_block();
    let head = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    // The strides are implied: 0 for the scalars, one element for the rest.
    let &[n, ins, _strides, outs] = b.block_params(entry) else {
        return None;
    };
    // A vector loop over `LANES`-element chunks (a scalar input's pointer
    // holds `LANES` copies), then a scalar loop over the rest.
    let lanes = vector_lanes(float);
    if lanes as usize > SCALAR_COPIES {
        return None;
    }
    let vector = float.by(lanes)?;
    let mut inputs = Vec::new();
    for (k, &scalar) in input_scalars.iter().enumerate() {
        let off = i32::try_from(8 * k).ok()?;
        let base = b.ins().load(ptr, flags, ins, off);
        inputs.push(if scalar {
            Input::Scalar {
                vector: b.ins().load(vector, element_flags(), base, 0),
                one: b.ins().load(float, element_flags(), base, 0),
            }
        } else {
            Input::Full(base)
        });
    }
    let mut out_bases = Vec::new();
    for j in 0..outputs.len() {
        let off = i32::try_from(8 * j).ok()?;
        out_bases.push(b.ins().load(ptr, flags, outs, off));
    }
    let vhead = b.create_block();
    let vbody = b.create_block();
    let zero = b.ins().iconst(ptr, 0);
    let vi = b.append_block_param(vhead, ptr);
    b.ins().jump(vhead, &[zero.into()]);

    b.switch_to_block(vhead);
    let end = b.ins().iadd_imm_s(vi, i64::from(lanes));
    let fits = b.ins().icmp(IntCC::SignedLessThanOrEqual, end, n);
    let i = b.append_block_param(head, ptr);
    b.ins().brif(fits, vbody, &[], head, &[vi.into()]);

    b.switch_to_block(vbody);
    body_at(&mut b, vector, vi, &inputs, &out_bases, steps, outputs, dtype)?;
    b.ins().jump(vhead, &[end.into()]);

    b.switch_to_block(head);
    let more = b.ins().icmp(IntCC::SignedLessThan, i, n);
    b.ins().brif(more, body, &[], exit, &[]);

    b.switch_to_block(body);
    body_at(&mut b, float, i, &inputs, &out_bases, steps, outputs, dtype)?;
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(head, &[next.into()]);

    b.switch_to_block(exit);
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
    module.define_function(id, &mut ctx).ok()?;
    module.finalize_definitions().ok()?;
    let code = module.get_finalized_function(id);
    // SAFETY: `id` was defined above with four pointer-sized integer
    // parameters and no results, the C ABI of `NativeLoop::code`.
    let code = unsafe {
        std::mem::transmute::<
            *const u8,
            unsafe extern "C" fn(i64, *const *const u8, *const i64, *const *mut u8),
        >(code)
    };
    Some(NativeLoop {
        code,
        owner: Arc::new(Owned(Some(module))),
        calls: steps.iter().any(|s| calls_element(s.op)),
        scalars: input_scalars.to_vec(),
    })
}

/// Whether the step is a call of an element function.
fn calls_element(op: FusedOp) -> bool {
    matches!(op, FusedOp::Unary(u) if !matches!(u, UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sqrt | UnaryOp::Not | UnaryOp::Relu))
}

/// Lanes of the vector loop: one 128-bit register.
fn vector_lanes(float: types::Type) -> u32 {
    16 / float.bytes()
}

/// The loop body at element `i`, in `ty` (the float type, or its vector of
/// [`vector_lanes`]): loads the inputs, runs the steps, stores the outputs.
#[allow(clippy::too_many_arguments)]
fn body_at(
    b: &mut FunctionBuilder,
    ty: types::Type,
    i: Value,
    inputs: &[Input],
    out_bases: &[Value],
    steps: &[FusedStep],
    outputs: &[usize],
    dtype: DType,
) -> Option<()> {
    let flags = element_flags();
    let mut regs: Vec<Reg> = Vec::with_capacity(inputs.len() + steps.len());
    // The byte offset of element `i`, shared by every full input and output.
    let at = b.ins().imul_imm_s(i, i64::from(ty.lane_type().bytes()));
    for input in inputs {
        regs.push(Reg::Float(match *input {
            Input::Full(base) => {
                let addr = b.ins().iadd(base, at);
                b.ins().load(ty, flags, addr, 0)
            }
            Input::Scalar { vector, one } => {
                if ty.is_vector() {
                    vector
                } else {
                    one
                }
            }
        }));
    }
    for s in steps {
        let args: Vec<Reg> = s
            .args
            .iter()
            .map(|&a| regs.get(a).copied())
            .collect::<Option<_>>()?;
        regs.push(step(b, s.op, &args, dtype)?);
    }
    for (&o, &base) in outputs.iter().zip(out_bases) {
        let Some(Reg::Float(v)) = regs.get(o).copied() else {
            return None;
        };
        let addr = b.ins().iadd(base, at);
        b.ins().store(flags, v, addr, 0);
    }
    Some(())
}

/// Element loads and stores cannot trap (the run checks every length), and
/// need not be aligned: a vector may start anywhere in a buffer, and the
/// copies of a scalar sit in an array of floats.
fn element_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

fn supported(op: FusedOp, dtype: DType) -> bool {
    use BinaryOp::*;
    match op {
        FusedOp::Unary(u) => !calls_element(op) || element_fn(u, dtype).is_some(),
        FusedOp::Binary(b) => matches!(b, Add | Sub | Mul | Div | Lt | Le | Gt | Ge | Eq | Ne | And | Or),
        FusedOp::Where => true,
    }
}

/// The address of the runtime's element function of `op` in `dtype`.
fn element_fn(op: UnaryOp, dtype: DType) -> Option<usize> {
    match dtype {
        DType::F32 => unary_element_fn::<f32>(op),
        DType::F64 => unary_element_fn::<f64>(op),
        DType::Bool | DType::I64 => None,
    }
}

/// A call of the element function at `addr`, `extern "C" fn(T) -> T`; on a
/// vector, one call per lane.
fn call_element(b: &mut FunctionBuilder, addr: usize, x: Value) -> Option<Value> {
    let ty = b.func.dfg.value_type(x);
    let float = ty.lane_type();
    // The loop's own convention: the platform's C convention.
    let mut sig = Signature::new(b.func.signature.call_conv);
    sig.params.push(AbiParam::new(float));
    sig.returns.push(AbiParam::new(float));
    let sig = b.import_signature(sig);
    let callee = b.ins().iconst(types::I64, i64::try_from(addr).ok()?);
    let call = |b: &mut FunctionBuilder, v: Value| {
        let c = b.ins().call_indirect(sig, callee, &[v]);
        b.inst_results(c).first().copied()
    };
    if !ty.is_vector() {
        return call(b, x);
    }
    let mut out = x;
    for lane in 0..u8::try_from(ty.lane_count()).ok()? {
        let v = b.ins().extractlane(x, lane);
        let r = call(b, v)?;
        out = b.ins().insertlane(out, r, lane);
    }
    Some(out)
}

/// One step, as the interpreter's block kernels compute it
/// (`runtime::elementwise::{unary_block, binary_block, where_block}`).
fn step(b: &mut FunctionBuilder, op: FusedOp, args: &[Reg], dtype: DType) -> Option<Reg> {
    use Reg::{Bool, Float};
    // Bools are `i8` 0 or 1 in the scalar loop, lane masks in the vector one.
    let vector = args.iter().any(|r| {
        let (Float(v) | Bool(v)) = *r;
        b.func.dfg.value_type(v).is_vector()
    });
    let cmp = |b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value| Bool(b.ins().fcmp(cc, x, y));
    Some(match (op, args) {
        (FusedOp::Unary(UnaryOp::Neg), [Float(x)]) => Float(b.ins().fneg(*x)),
        (FusedOp::Unary(UnaryOp::Abs), [Float(x)]) => Float(b.ins().fabs(*x)),
        (FusedOp::Unary(UnaryOp::Sqrt), [Float(x)]) => Float(b.ins().sqrt(*x)),
        (FusedOp::Unary(UnaryOp::Relu), [Float(x)]) => {
            // `x` when it is NaN or above zero, else +0 (as `-0.0 <= 0`).
            let ty = b.func.dfg.value_type(*x);
            let zero = match dtype {
                DType::F64 => b.ins().f64const(0.0),
                _ => b.ins().f32const(0.0),
            };
            let zero = if vector { b.ins().splat(ty, zero) } else { zero };
            let c = b.ins().fcmp(FloatCC::LessThanOrEqual, *x, zero);
            let c = if vector {
                b.ins().bitcast(ty, MemFlagsData::new(), c)
            } else {
                c
            };
            Float(if vector {
                b.ins().bitselect(c, zero, *x)
            } else {
                b.ins().select(c, zero, *x)
            })
        }
        (FusedOp::Unary(UnaryOp::Not), [Bool(x)]) if vector => Bool(b.ins().bnot(*x)),
        (FusedOp::Unary(UnaryOp::Not), [Bool(x)]) => Bool(b.ins().icmp_imm_s(IntCC::Equal, *x, 0)),
        (FusedOp::Unary(u), [Float(x)]) => Float(call_element(b, element_fn(u, dtype)?, *x)?),
        (FusedOp::Binary(op), [Float(x), Float(y)]) => {
            let (x, y) = (*x, *y);
            match op {
                BinaryOp::Add => Float(b.ins().fadd(x, y)),
                BinaryOp::Sub => Float(b.ins().fsub(x, y)),
                BinaryOp::Mul => Float(b.ins().fmul(x, y)),
                BinaryOp::Div => Float(b.ins().fdiv(x, y)),
                BinaryOp::Lt => cmp(b, FloatCC::LessThan, x, y),
                BinaryOp::Le => cmp(b, FloatCC::LessThanOrEqual, x, y),
                BinaryOp::Gt => cmp(b, FloatCC::GreaterThan, x, y),
                BinaryOp::Ge => cmp(b, FloatCC::GreaterThanOrEqual, x, y),
                BinaryOp::Eq => cmp(b, FloatCC::Equal, x, y),
                BinaryOp::Ne => cmp(b, FloatCC::NotEqual, x, y),
                _ => return None,
            }
        }
        (FusedOp::Binary(op), [Bool(x), Bool(y)]) => {
            let (x, y) = (*x, *y);
            match op {
                BinaryOp::And => Bool(b.ins().band(x, y)),
                BinaryOp::Or => Bool(b.ins().bor(x, y)),
                BinaryOp::Eq => Bool(b.ins().icmp(IntCC::Equal, x, y)),
                BinaryOp::Ne => Bool(b.ins().icmp(IntCC::NotEqual, x, y)),
                _ => return None,
            }
        }
        (FusedOp::Where, [Bool(c), Float(x), Float(y)]) if vector => {
            // A mask of all-ones lanes selects bit by bit.
            let ty = b.func.dfg.value_type(*x);
            let mask = b.ins().bitcast(ty, MemFlagsData::new(), *c);
            Float(b.ins().bitselect(mask, *x, *y))
        }
        (FusedOp::Where, [Bool(c), Bool(x), Bool(y)]) if vector => Bool(b.ins().bitselect(*c, *x, *y)),
        (FusedOp::Where, [Bool(c), Float(x), Float(y)]) => Float(b.ins().select(*c, *x, *y)),
        (FusedOp::Where, [Bool(c), Bool(x), Bool(y)]) => Bool(b.ins().select(*c, *x, *y)),
        _ => return None,
    })
}

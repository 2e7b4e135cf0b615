//! Executing prims: each is a call into the runtime's kernels, with the
//! operands taken out of interpreter values. `assert` and `assert_close` walk
//! records and tuples here.

use super::value::Val;
use crate::diag::Diagnostic;
use crate::ir::op::BinaryOp;
use crate::ir::{IndexItem, Prim, Program};
use crate::runtime::{self, KernelError, Tensor};
use crate::syntax::Span;
use smallvec::SmallVec;

/// Why a prim failed; the interpreter adds the span.
#[derive(Debug)]
pub struct Failure {
    message: String,
    help: Option<String>,
    notes: Vec<String>,
    internal: bool,
}

impl Failure {
    pub(super) fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            help: None,
            notes: Vec::new(),
            internal: false,
        }
    }

    pub(super) fn internal(message: impl Into<String>) -> Failure {
        Failure {
            internal: true,
            ..Failure::new(message)
        }
    }

    #[cfg(test)]
    pub fn message_text(&self) -> &str {
        &self.message
    }

    pub fn into_diagnostic(self, span: Span) -> Diagnostic {
        let mut d = if self.internal {
            Diagnostic::internal(span, self.message)
        } else {
            Diagnostic::error(span, self.message)
        };
        if let Some(h) = self.help {
            d = d.with_help(h);
        }
        for n in self.notes {
            d = d.with_note(n);
        }
        d
    }
}

impl From<KernelError> for Failure {
    fn from(e: KernelError) -> Failure {
        Failure {
            message: e.message(),
            help: e.help(),
            notes: Vec::new(),
            internal: e.is_internal(),
        }
    }
}

type R = Result<Val, Failure>;

fn tensor(args: &[Val], i: usize) -> Result<&Tensor, Failure> {
    args.get(i)
        .and_then(Val::as_tensor)
        .ok_or_else(|| Failure::internal(format!("operand {i} is not a tensor")))
}

fn int(args: &[Val], i: usize) -> Result<i64, Failure> {
    tensor(args, i)?
        .as_scalar_i64()
        .ok_or_else(|| Failure::internal(format!("operand {i} is not an int")))
}

fn float(args: &[Val], i: usize) -> Result<f64, Failure> {
    tensor(args, i)?
        .as_scalar_f64()
        .ok_or_else(|| Failure::internal(format!("operand {i} is not a number")))
}

fn t(x: Tensor) -> R {
    Ok(Val::Tensor(x))
}

/// Takes operand `i` out of `args` (whose buffer may then be reused in place).
fn owned(args: &mut [Val], i: usize) -> Result<Tensor, Failure> {
    match args.get_mut(i).map(std::mem::take) {
        Some(Val::Tensor(x)) => Ok(x),
        _ => Err(Failure::internal(format!("operand {i} is not a tensor"))),
    }
}

/// Operand `i` of borrowed operands, a tensor.
fn borrowed<'a>(args: &[&'a Val], i: usize) -> Result<&'a Tensor, Failure> {
    args.get(i)
        .and_then(|v| v.as_tensor())
        .ok_or_else(|| Failure::internal(format!("operand {i} is not a tensor")))
}

/// Borrowed operands `from..`, ints (an index's positions).
fn borrowed_ints(args: &[&Val], from: usize) -> Result<SmallVec<[i64; 4]>, Failure> {
    (from..args.len())
        .map(|i| {
            borrowed(args, i)?
                .as_scalar_i64()
                .ok_or_else(|| Failure::internal(format!("operand {i} is not an int")))
        })
        .collect()
}

/// `a op b` for two int scalars and `+`, `-` or `*` (which wrap, as the
/// int kernel does): the tape positions and loop counters of derivative
/// code, computed without the kernels' shape machinery. `None` for other
/// operands and ops.
pub fn int_scalar_arith(op: BinaryOp, a: Option<&Val>, b: Option<&Val>) -> Option<Val> {
    let int = |v: Option<&Val>| match v?.as_tensor()? {
        t if t.shape().is_empty() => match t.data() {
            runtime::Data::I64(x) => x.first().copied(),
            _ => None,
        },
        _ => None,
    };
    let (x, y) = (int(a)?, int(b)?);
    let v = match op {
        BinaryOp::Add => x.wrapping_add(y),
        BinaryOp::Sub => x.wrapping_sub(y),
        BinaryOp::Mul => x.wrapping_mul(y),
        _ => return None,
    };
    Some(Val::Tensor(Tensor::scalar_i64(v)))
}

/// The prims that only read their operands, run on operands borrowed from
/// the frame (a clone of a tensor costs two atomic reference counts, and
/// its drop two more); `None` for the other prims. Same results and errors
/// as [`exec`].
pub fn exec_read_only(p: &Prim, args: &[&Val]) -> Option<R> {
    match p {
        Prim::Index(items) => Some((|| {
            let positions = borrowed_ints(args, 1)?;
            Ok(Val::Tensor(runtime::index(
                borrowed(args, 0)?,
                items,
                &positions,
            )?))
        })()),
        Prim::Len => Some(borrowed(args, 0).and_then(len)),
        Prim::Shape => Some(borrowed(args, 0).map(shape)),
        Prim::Reduce { op, axis, keepdims } => Some((|| {
            t(runtime::reduce(*op, borrowed(args, 0)?, *axis, *keepdims)?)
        })()),
        Prim::SumLike => Some((|| {
            t(runtime::sum_like(borrowed(args, 0)?, borrowed(args, 1)?.shape())?)
        })()),
        Prim::BroadcastLike => Some((|| {
            t(runtime::broadcast_like(
                borrowed(args, 0)?,
                borrowed(args, 1)?.shape(),
            )?)
        })()),
        _ => None,
    }
}

/// `len(x)`: the length of the first axis.
fn len(x: &Tensor) -> R {
    match x.shape().first() {
        Some(&n) => t(Tensor::scalar_i64(n as i64)),
        None => Err(Failure::new("`len` of a scalar").with_help("`len` counts the first axis of a tensor")),
    }
}

/// `shape(x)`: a tuple of ints.
fn shape(x: &Tensor) -> Val {
    Val::Tuple(
        x.shape()
            .iter()
            .map(|&d| Val::Tensor(Tensor::scalar_i64(d as i64)))
            .collect(),
    )
}

/// `index_add` with its accumulator `acc` by value (added into in place when
/// no one else holds it) and its other operands (`g`, the tensor whose shape
/// it has, the positions) borrowed.
pub fn index_add_borrowed(items: &[IndexItem], acc: Val, rest: &[&Val]) -> R {
    let Val::Tensor(acc) = acc else {
        return Err(Failure::internal("the accumulator is not a tensor"));
    };
    let positions = borrowed_ints(rest, 2)?;
    Ok(Val::Tensor(runtime::index_add(
        acc,
        borrowed(rest, 0)?,
        borrowed(rest, 1)?,
        items,
        &positions,
    )?))
}

/// Runs prim `p` on operands the caller no longer needs: kernels that can
/// write their result into an operand's buffer get it by value.
pub fn exec(p: &Prim, args: &mut [Val], program: &Program) -> R {
    match p {
        Prim::Unary(op) => t(runtime::unary_owned(*op, owned(args, 0)?)?),
        Prim::Binary(op) => {
            let a = owned(args, 0)?;
            t(runtime::binary_owned(*op, a, owned(args, 1)?)?)
        }
        Prim::Where => {
            let a = owned(args, 1)?;
            t(runtime::where_owned(tensor(args, 0)?, a, tensor(args, 2)?)?)
        }
        Prim::Clip => t(runtime::clip(
            tensor(args, 0)?,
            tensor(args, 1)?,
            tensor(args, 2)?,
        )?),
        Prim::Cast(d) => t(runtime::cast(tensor(args, 0)?, *d)),
        Prim::MatMul => t(runtime::matmul(tensor(args, 0)?, tensor(args, 1)?)?),
        Prim::Reduce { op, axis, keepdims } => t(runtime::reduce(*op, tensor(args, 0)?, *axis, *keepdims)?),
        Prim::Index(items) => {
            let operands: SmallVec<[i64; 4]> =
                (1..args.len()).map(|i| int(args, i)).collect::<Result<_, _>>()?;
            t(runtime::index_owned(owned(args, 0)?, items, &operands)?)
        }
        Prim::Shape => Ok(shape(tensor(args, 0)?)),
        Prim::Len => len(tensor(args, 0)?),
        Prim::Full(d) => {
            let shape = shape_of(args.first().unwrap_or(&Val::Undef))?;
            t(runtime::full(&shape, float(args, 1)?, *d)?)
        }
        Prim::Arange => t(runtime::arange(int(args, 0)?)?),
        Prim::Linspace(d) => t(runtime::linspace(
            float(args, 0)?,
            float(args, 1)?,
            int(args, 2)?,
            *d,
        )?),
        Prim::Eye(d) => t(runtime::eye(int(args, 0)?, *d)?),
        Prim::Stack { dtype, literal } => {
            let xs: Vec<Tensor> = (0..args.len())
                .map(|i| tensor(args, i).cloned())
                .collect::<Result<_, _>>()?;
            t(runtime::stack(&xs, *dtype, *literal)?)
        }
        Prim::StopGradient => Ok(args.first().cloned().unwrap_or(Val::Undef)),
        Prim::Random(_) => Err(Failure::internal("random draws are executed by the interpreter")),
        Prim::ScoreGrad { categorical } => {
            let (p, z) = (tensor(args, 0)?, tensor(args, 1)?);
            t(if *categorical {
                runtime::score_categorical(p, z)?
            } else {
                runtime::score_bernoulli(p, z)?
            })
        }
        Prim::BroadcastLike => t(runtime::broadcast_like(
            tensor(args, 0)?,
            tensor(args, 1)?.shape(),
        )?),
        Prim::SumLike => t(runtime::sum_like(tensor(args, 0)?, tensor(args, 1)?.shape())?),
        Prim::ReshapeLike => t(runtime::reshape_like(tensor(args, 0)?, tensor(args, 1)?.shape())?),
        Prim::Transpose(perm) => t(runtime::transpose(tensor(args, 0)?, perm)?),
        Prim::ExpandDims(axis) => t(runtime::expand_dims(tensor(args, 0)?, *axis)?),
        Prim::Reshape(to) => t(runtime::reshape(tensor(args, 0)?, to)?),
        Prim::Concat(axis) => {
            let xs: Vec<Tensor> = (0..args.len())
                .map(|i| owned(args, i))
                .collect::<Result<_, _>>()?;
            t(runtime::concat_owned(xs, *axis)?)
        }
        Prim::Take(axis) => t(runtime::take(tensor(args, 0)?, tensor(args, 1)?, *axis)?),
        Prim::TakeGrad(axis) => t(runtime::take_grad(
            tensor(args, 0)?,
            tensor(args, 1)?.shape(),
            tensor(args, 2)?,
            *axis,
        )?),
        Prim::Solve => t(runtime::solve(tensor(args, 0)?, tensor(args, 1)?)?),
        Prim::Det => t(runtime::det(tensor(args, 0)?)?),
        Prim::Cholesky => t(runtime::cholesky(tensor(args, 0)?)?),
        Prim::IndexAdd(items) => {
            let operands: SmallVec<[i64; 4]> =
                (3..args.len()).map(|i| int(args, i)).collect::<Result<_, _>>()?;
            let acc = owned(args, 0)?;
            t(runtime::index_add(
                acc,
                tensor(args, 1)?,
                tensor(args, 2)?,
                items,
                &operands,
            )?)
        }
        Prim::IndexGrad(items) => {
            let operands: SmallVec<[i64; 4]> =
                (2..args.len()).map(|i| int(args, i)).collect::<Result<_, _>>()?;
            t(runtime::index_grad(
                tensor(args, 0)?,
                tensor(args, 1)?.shape(),
                items,
                &operands,
            )?)
        }
        Prim::Conv2d { stride, padding } => t(runtime::conv2d(
            tensor(args, 0)?,
            tensor(args, 1)?,
            *stride,
            *padding,
        )?),
        Prim::Conv2dGradInput { stride, padding } => t(runtime::conv2d_grad_input(
            tensor(args, 0)?,
            tensor(args, 1)?,
            tensor(args, 2)?.shape(),
            *stride,
            *padding,
        )?),
        Prim::Conv2dGradWeight { stride, padding } => t(runtime::conv2d_grad_weight(
            tensor(args, 0)?,
            tensor(args, 1)?,
            tensor(args, 2)?.shape(),
            *stride,
            *padding,
        )?),
        Prim::MaxPool2d(k) => t(runtime::max_pool2d(tensor(args, 0)?, *k)?),
        Prim::AvgPool2d(k) => t(runtime::avg_pool2d(tensor(args, 0)?, *k)?),
        Prim::MaxPool2dMask(k) => t(runtime::max_pool2d_mask(tensor(args, 0)?, *k)?),
        Prim::Pool2dSpread(k) => t(runtime::pool2d_spread(
            tensor(args, 0)?,
            tensor(args, 1)?.shape(),
            *k,
        )?),
        Prim::ExtremeMask { min, axis } => t(runtime::extreme_mask(tensor(args, 0)?, *min, *axis)?),
        Prim::Print
        | Prim::LoadCsv(_)
        | Prim::SaveCsv
        | Prim::LoadNpy(_)
        | Prim::SaveNpy
        | Prim::Load(_)
        | Prim::Save
        | Prim::TempPath
        | Prim::Batches
        | Prim::Progress
        | Prim::Plot => Err(Failure::internal(format!(
            "{} is executed by the interpreter",
            p.info().name
        ))),
        Prim::Assert => {
            let ok = tensor(args, 0)?
                .as_scalar_bool()
                .ok_or_else(|| Failure::internal("assert of a non-bool"))?;
            if ok {
                return Ok(Val::unit());
            }
            let msg = match args.get(1) {
                Some(Val::Str(s)) => s.to_string(),
                Some(v) => v.display(program),
                None => String::new(),
            };
            Err(Failure::new(format!("assertion failed: {msg}")))
        }
        Prim::AssertClose => {
            let tol = float(args, 2)?;
            let (a, b) = (
                args.first().unwrap_or(&Val::Undef),
                args.get(1).unwrap_or(&Val::Undef),
            );
            match close(a, b, tol, "")? {
                None => Ok(Val::unit()),
                Some(problem) => {
                    let mut f = Failure::new(format!("assert_close failed: {problem}"));
                    f.notes.push(format!("left:  {}", truncate(&a.display(program))));
                    f.notes.push(format!("right: {}", truncate(&b.display(program))));
                    f.notes.push(format!("tolerance: |a - b| <= {tol} * (1 + |b|)"));
                    Err(f)
                }
            }
        }
    }
}

impl Failure {
    pub(super) fn with_help(mut self, h: impl Into<String>) -> Failure {
        self.help = Some(h.into());
        self
    }
}

/// A shape operand: an int vector or a tuple of ints, no negative sizes.
pub(super) fn shape_of(v: &Val) -> Result<Vec<usize>, Failure> {
    let dims: Vec<i64> = match v {
        Val::Tensor(x) => x.to_i64_vec(),
        Val::Tuple(xs) => xs
            .iter()
            .map(|x| {
                x.as_tensor()
                    .and_then(Tensor::as_scalar_i64)
                    .ok_or_else(|| Failure::internal("shape element"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(Failure::internal("shape operand")),
    };
    dims.iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| Failure::new(format!("a shape cannot have a negative size ({d})")))
        })
        .collect()
}

/// The first place where `a` and `b` differ beyond the tolerance, if any.
fn close(a: &Val, b: &Val, tol: f64, path: &str) -> Result<Option<String>, Failure> {
    let at = |p: &str| {
        if p.is_empty() {
            String::new()
        } else {
            format!(" at {p}")
        }
    };
    match (a, b) {
        (Val::Tensor(x), Val::Tensor(y)) => {
            if x.shape() != y.shape() {
                return Ok(Some(format!(
                    "shapes differ{}: {:?} vs {:?}",
                    at(path),
                    x.shape(),
                    y.shape()
                )));
            }
            let x = if x.dtype() == y.dtype() {
                x.clone()
            } else {
                runtime::cast(x, crate::ir::DType::F64)
            };
            let y = if x.dtype() == y.dtype() {
                y.clone()
            } else {
                runtime::cast(y, crate::ir::DType::F64)
            };
            Ok(runtime::max_close_violation(&x, &y, tol)?.map(|(i, u, v)| {
                let where_ = if x.rank() == 0 {
                    String::new()
                } else {
                    format!(" (element {i})")
                };
                format!(
                    "{} is not close to {}{}{where_}",
                    runtime::format_f64(u),
                    runtime::format_f64(v),
                    at(path)
                )
            }))
        }
        (Val::Tuple(xs), Val::Tuple(ys)) | (Val::Record(_, xs), Val::Record(_, ys)) => {
            if xs.len() != ys.len() {
                return Ok(Some(format!("structures differ{}", at(path))));
            }
            for (i, (x, y)) in xs.iter().zip(ys.iter()).enumerate() {
                if let Some(p) = close(x, y, tol, &format!("{path}.{i}"))? {
                    return Ok(Some(p));
                }
            }
            Ok(None)
        }
        _ => Ok(Some(format!("values of different kinds{}", at(path)))),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The scalar shortcut gives the int kernel's results, overflow wrapping
    /// included, and leaves every other case to the kernels.
    #[test]
    fn int_scalar_arithmetic_is_the_kernels() {
        let int = |x: i64| Val::Tensor(Tensor::scalar_i64(x));
        let pairs = [
            (7, -3),
            (i64::MAX, 1),
            (i64::MIN, 1),
            (i64::MIN, -1),
            (0, 0),
            (-5, 4),
        ];
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul] {
            for (x, y) in pairs {
                let kernel = runtime::binary(op, &Tensor::scalar_i64(x), &Tensor::scalar_i64(y)).unwrap();
                let short = int_scalar_arith(op, Some(&int(x)), Some(&int(y))).unwrap();
                assert_eq!(
                    short.as_tensor().unwrap().as_scalar_i64(),
                    kernel.as_scalar_i64(),
                    "{op:?} {x} {y}"
                );
            }
        }
        assert!(int_scalar_arith(BinaryOp::Div, Some(&int(6)), Some(&int(0))).is_none());
        let float = Val::Tensor(Tensor::scalar_float(1.0, runtime::DType::F64));
        assert!(int_scalar_arith(BinaryOp::Add, Some(&int(1)), Some(&float)).is_none());
        let row = Val::Tensor(runtime::arange(3).unwrap());
        assert!(int_scalar_arith(BinaryOp::Add, Some(&int(1)), Some(&row)).is_none());
        assert!(int_scalar_arith(BinaryOp::Add, Some(&int(1)), None).is_none());
    }
}

//! Kernel errors as plain data.
//!
//! Every kernel returns [`KResult`]; a failure is one [`KernelError`] value that
//! holds the facts (shapes, indices, sizes) and no wording. [`KernelError::message`]
//! and [`KernelError::help`] hold all the wording, so the interpreter can turn an
//! error into a diagnostic with the span of the operation that failed.
//! Variants marked "internal" mean the compiler let through something its type
//! rules should have rejected; the interpreter reports them as internal errors.

use super::DType;
use std::fmt;

/// Why a kernel could not produce a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// Two shapes that NumPy broadcasting cannot reconcile.
    Broadcast { a: Vec<usize>, b: Vec<usize> },
    /// `a @ b` whose inner dimensions differ (or an operand of rank 0).
    MatMul { a: Vec<usize>, b: Vec<usize> },
    /// `a @ b` whose batch (leading) axes do not broadcast.
    MatMulBatch { a: Vec<usize>, b: Vec<usize> },
    /// Integer `/` or `%` with a zero divisor.
    IntDivisionByZero,
    /// Integer `**` with a negative exponent.
    NegativeIntExponent { exponent: i64 },
    /// `t[i]` with `i` outside `-len..len` (the index as written).
    IndexOutOfRange { axis: usize, index: i64, len: usize },
    /// More index items than the tensor has axes.
    TooManyIndices { given: usize, rank: usize },
    /// A reduction axis outside `0..rank`.
    AxisOutOfRange { axis: usize, rank: usize },
    /// `max`, `min`, `argmax` or `argmin` over an axis with no elements.
    EmptyReduction { op: &'static str },
    /// A size (count of elements, `arange(n)`, `eye(n)`, …) that is negative.
    NegativeSize { what: &'static str, value: i64 },
    /// A shape whose number of elements does not fit in memory or in `usize`.
    SizeOverflow { shape: Vec<usize> },
    /// Tensor data whose length does not match its shape.
    DataLength { shape: Vec<usize>, len: usize },
    /// `stack` or a tensor literal whose rows have different shapes
    /// (`row` and `first_row` count from 1).
    Ragged {
        literal: bool,
        row: usize,
        shape: Vec<usize>,
        first_row: usize,
        first_shape: Vec<usize>,
    },
    /// `assert_close` on tensors of different shapes.
    CloseShapes { a: Vec<usize>, b: Vec<usize> },
    /// `reshape` to a shape with a different number of elements (`-1`: inferred).
    Reshape { from: Vec<usize>, to: Vec<i64> },
    /// `solve`, `inv` or `det`-based derivatives of a (numerically) singular matrix.
    Singular { op: &'static str },
    /// `cholesky` of a matrix that is not symmetric positive definite.
    NotPositiveDefinite,
    /// `batches` with a batch size below 1.
    BatchSize { size: i64 },
    /// `batches` of tensors with different numbers of rows.
    BatchRows { x: usize, y: usize },
    /// Sampling from probabilities that are negative, NaN, above 1 (Bernoulli)
    /// or whose rows do not sum to 1 (categorical); `detail` says which.
    BadProbabilities { detail: String },
    /// `conv2d` of an input and kernel whose shapes do not fit together (rank
    /// not 4, channel counts that differ, a kernel larger than the padded
    /// input) or a zero stride.
    Conv {
        x: Vec<usize>,
        w: Vec<usize>,
        stride: usize,
        padding: usize,
    },
    /// Pooling of a tensor that is not of rank 4 or smaller than its window,
    /// or with a zero window.
    Pool {
        op: &'static str,
        x: Vec<usize>,
        k: usize,
    },
    /// Internal: an operation received a dtype it does not accept.
    DType { op: &'static str, dtype: DType },
    /// Internal: two operands that should share a dtype do not.
    DTypeMismatch { op: &'static str, a: DType, b: DType },
    /// Internal: anything else the compiler should have ruled out.
    Internal(String),
}

/// The result of a kernel.
pub type KResult<T> = Result<T, KernelError>;

/// Formats a shape as `[2, 3]`.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

impl KernelError {
    /// Whether this error means a compiler bug rather than a user mistake.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            KernelError::DType { .. } | KernelError::DTypeMismatch { .. } | KernelError::Internal(_)
        )
    }

    /// The one-line description of the error.
    pub fn message(&self) -> String {
        match self {
            KernelError::Broadcast { a, b } => {
                format!("cannot broadcast shapes {} and {}", shape_str(a), shape_str(b))
            }
            KernelError::MatMul { a, b } => {
                if a.is_empty() || b.is_empty() {
                    format!(
                        "matrix product: operands must have at least one axis ({} @ {})",
                        shape_str(a),
                        shape_str(b)
                    )
                } else {
                    let ka = a.last().copied().unwrap_or(0);
                    let kb = if b.len() == 1 {
                        b.first().copied().unwrap_or(0)
                    } else {
                        b.get(b.len().wrapping_sub(2)).copied().unwrap_or(0)
                    };
                    format!(
                        "matrix product: inner dimensions differ ({} @ {}: {} vs {})",
                        shape_str(a),
                        shape_str(b),
                        ka,
                        kb
                    )
                }
            }
            KernelError::MatMulBatch { a, b } => format!(
                "matrix product: batch axes do not broadcast ({} @ {})",
                shape_str(a),
                shape_str(b)
            ),
            KernelError::IntDivisionByZero => "integer division by zero".to_string(),
            KernelError::NegativeIntExponent { exponent } => {
                format!("integer raised to a negative power ({exponent})")
            }
            KernelError::IndexOutOfRange { axis, index, len } => {
                format!("index {index} is out of range for axis {axis} of length {len}")
            }
            KernelError::TooManyIndices { given, rank } => {
                format!("too many indices: {given} for a tensor of rank {rank}")
            }
            KernelError::AxisOutOfRange { axis, rank } => {
                format!("axis {axis} is out of range for a tensor of rank {rank}")
            }
            KernelError::EmptyReduction { op } => format!("{op} of an empty axis"),
            KernelError::NegativeSize { what, value } => {
                format!("{what} must not be negative (got {value})")
            }
            KernelError::SizeOverflow { shape } => {
                format!("a tensor of shape {} is too large", shape_str(shape))
            }
            KernelError::DataLength { shape, len } => format!(
                "{len} elements do not fill a tensor of shape {}",
                shape_str(shape)
            ),
            KernelError::Ragged {
                literal,
                row,
                shape,
                first_row,
                first_shape,
            } => {
                let (what, item) = if *literal {
                    ("ragged tensor literal", "row")
                } else {
                    ("stack of different shapes", "element")
                };
                format!(
                    "{what}: {item} {row} has shape {}, {item} {first_row} has {}",
                    shape_str(shape),
                    shape_str(first_shape)
                )
            }
            KernelError::CloseShapes { a, b } => format!(
                "assert_close: shapes differ ({} vs {})",
                shape_str(a),
                shape_str(b)
            ),
            KernelError::DType { op, dtype } => {
                format!("internal error: {op} does not accept {} tensors", dtype.name())
            }
            KernelError::DTypeMismatch { op, a, b } => format!(
                "internal error: {op} received operands of different dtypes ({} and {})",
                a.name(),
                b.name()
            ),
            KernelError::Internal(s) => format!("internal error: {s}"),
            KernelError::Reshape { from, to } => {
                let to: Vec<String> = to.iter().map(|d| d.to_string()).collect();
                format!(
                    "cannot reshape a tensor of shape {} to [{}]",
                    shape_str(from),
                    to.join(", ")
                )
            }
            KernelError::Singular { op } => format!("{op}: matrix is singular"),
            KernelError::Conv {
                x,
                w,
                stride,
                padding,
            } => conv_message(x, w, *stride, *padding),
            KernelError::Pool { op, x, k } => {
                if x.len() != 4 {
                    format!("{op}: the input must have rank 4, found shape {}", shape_str(x))
                } else if *k == 0 {
                    format!("{op}: the window must be at least 1")
                } else {
                    format!(
                        "{op}: the window {k}x{k} is larger than the input {}",
                        shape_str(x)
                    )
                }
            }
            KernelError::NotPositiveDefinite => "cholesky: matrix is not positive definite".to_string(),
            KernelError::BatchSize { size } => format!("the batch size must be at least 1 (got {size})"),
            KernelError::BatchRows { x, y } => {
                format!("batches needs x and y with the same number of rows, found {x} and {y}")
            }
            KernelError::BadProbabilities { detail } => format!("invalid probabilities: {detail}"),
        }
    }

    /// A hint on how to fix the error, where there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            KernelError::Broadcast { .. } => {
                Some("axes are matched from the right; each pair must be equal or one of them 1".to_string())
            }
            KernelError::MatMul { .. } => {
                Some("the last axis of the left operand must match the row axis of the right".to_string())
            }
            KernelError::MatMulBatch { .. } => {
                Some("the axes before the last two are broadcast like elementwise shapes".to_string())
            }
            KernelError::IntDivisionByZero => {
                Some("convert to float first if you want inf or NaN: `float(a) / b`".to_string())
            }
            KernelError::NegativeIntExponent { .. } => {
                Some("use a float base for negative powers: `float(x) ** n`".to_string())
            }
            KernelError::IndexOutOfRange { len, .. } => {
                Some(format!("valid indices are -{len} to {}", len.saturating_sub(1)))
            }
            KernelError::TooManyIndices { .. } => None,
            KernelError::AxisOutOfRange { .. } => None,
            KernelError::EmptyReduction { .. } => Some("the result would have no value".to_string()),
            KernelError::NegativeSize { .. } => None,
            KernelError::SizeOverflow { .. } => None,
            KernelError::DataLength { .. } => None,
            KernelError::Ragged { literal, .. } => {
                if *literal {
                    Some("every row of a tensor literal must have the same shape".to_string())
                } else {
                    Some("every element of `stack` must have the same shape".to_string())
                }
            }
            KernelError::CloseShapes { .. } => None,
            KernelError::BatchSize { .. } => None,
            KernelError::BatchRows { .. } => Some("row i of x must go with row i of y".to_string()),
            KernelError::Reshape { .. } => {
                Some("the new shape must have as many elements as the old one".to_string())
            }
            KernelError::Singular { .. } => {
                Some("the matrix has no inverse; check for dependent rows or columns".to_string())
            }
            KernelError::NotPositiveDefinite => {
                Some("cholesky needs a symmetric positive definite matrix".to_string())
            }
            KernelError::BadProbabilities { .. } => Some(
                "probabilities must lie in [0, 1] and, for `sample_categorical`, sum to 1 along the last \
                 axis (within 1e-5); `softmax` or `exp(t) / sum(exp(t))` makes such a vector"
                    .to_string(),
            ),
            KernelError::Conv { .. } => {
                Some("conv2d takes x [batch, c_in, h, w] and w [c_out, c_in, kh, kw]".to_string())
            }
            KernelError::Pool { .. } => Some("pooling takes x [batch, channels, height, width]".to_string()),
            KernelError::DType { .. } | KernelError::DTypeMismatch { .. } | KernelError::Internal(_) => {
                Some("this is a bug in diffl; please report it".to_string())
            }
        }
    }
}

/// What is wrong with the shapes of a `conv2d`.
fn conv_message(x: &[usize], w: &[usize], stride: usize, padding: usize) -> String {
    let (xs, ws) = (shape_str(x), shape_str(w));
    match (x, w) {
        _ if stride == 0 => "conv2d: the stride must be at least 1".to_string(),
        (&[_, c, ..], &[_, wc, ..]) if x.len() == 4 && w.len() == 4 && c != wc => {
            format!(
                "conv2d: the input has {c} channels but the kernel expects {wc} ({xs} with a kernel {ws})"
            )
        }
        _ if x.len() == 4 && w.len() == 4 => {
            format!("conv2d: the kernel {ws} does not fit in the input {xs} with padding {padding}")
        }
        _ if x.len() != 4 => format!("conv2d: the input must have rank 4, found shape {xs}"),
        _ => format!("conv2d: the kernel must have rank 4, found shape {ws}"),
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for KernelError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let e = KernelError::Broadcast {
            a: vec![2],
            b: vec![3],
        };
        assert_eq!(e.message(), "cannot broadcast shapes [2] and [3]");
        let e = KernelError::MatMul {
            a: vec![1, 2],
            b: vec![1, 2],
        };
        assert_eq!(
            e.message(),
            "matrix product: inner dimensions differ ([1, 2] @ [1, 2]: 2 vs 1)"
        );
        let e = KernelError::IndexOutOfRange {
            axis: 0,
            index: 5,
            len: 2,
        };
        assert_eq!(e.message(), "index 5 is out of range for axis 0 of length 2");
        assert!(
            KernelError::IntDivisionByZero
                .message()
                .contains("division by zero")
        );
        let e = KernelError::Ragged {
            literal: true,
            row: 2,
            shape: vec![1],
            first_row: 1,
            first_shape: vec![2],
        };
        assert_eq!(
            e.message(),
            "ragged tensor literal: row 2 has shape [1], row 1 has [2]"
        );
        assert!(KernelError::Internal("x".into()).is_internal());
        assert!(e.help().is_some());
    }
}

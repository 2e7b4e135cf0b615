//! The tensor value: a shape and a reference-counted buffer of one dtype.
//!
//! A [`Tensor`] is row-major and contiguous; its shape's element count always
//! equals its buffer's length ([`Tensor::new`] checks it, and every kernel keeps
//! it). Buffers are shared through `Arc`, so cloning a tensor is cheap. This
//! module also holds the conversions the interpreter needs (to and from `f64` and
//! `i64` lists, rank-0 accessors) and [`Real`], the float trait the kernels are
//! generic over.

use super::DType;
use super::error::{KResult, KernelError};
use std::sync::Arc;

/// The elements of a tensor, by dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Bool(Arc<Vec<bool>>),
    I64(Arc<Vec<i64>>),
    F32(Arc<Vec<f32>>),
    F64(Arc<Vec<f64>>),
}

impl Data {
    pub fn dtype(&self) -> DType {
        match self {
            Data::Bool(_) => DType::Bool,
            Data::I64(_) => DType::I64,
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::Bool(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies `$body` (an expression of type `Vec<T>` in terms of the slice `$v`)
/// to whichever variant `$data` holds and wraps the result in the same variant.
macro_rules! map_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::runtime::Data::Bool($v) => $crate::runtime::Data::Bool(std::sync::Arc::new($body)),
            $crate::runtime::Data::I64($v) => $crate::runtime::Data::I64(std::sync::Arc::new($body)),
            $crate::runtime::Data::F32($v) => $crate::runtime::Data::F32(std::sync::Arc::new($body)),
            $crate::runtime::Data::F64($v) => $crate::runtime::Data::F64(std::sync::Arc::new($body)),
        }
    };
}
pub(crate) use map_data;

/// A row-major, contiguous n-dimensional array.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Shape,
    data: Data,
}

/// A tensor's shape, shared: the interpreter clones a tensor for every
/// operand it reads, and elementwise results take their operand's shape, so
/// sharing the axes saves an allocation each time.
pub type Shape = Arc<[usize]>;

/// The shape of every rank-0 tensor, allocated once.
fn scalar_shape() -> Shape {
    static EMPTY: std::sync::LazyLock<Shape> = std::sync::LazyLock::new(|| Arc::from(Vec::new()));
    EMPTY.clone()
}

/// The ints that [`Tensor::scalar_i64`] shares rather than allocates.
pub const SMALL_INTS: std::ops::Range<i64> = -16..1024;

fn fresh_scalar_i64(v: i64) -> Tensor {
    Tensor {
        shape: scalar_shape(),
        data: Data::I64(Arc::new(vec![v])),
    }
}

/// The number of elements of `shape`, or an error if it overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> KResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| KernelError::SizeOverflow {
            shape: shape.to_vec(),
        })
}

/// A vector of `n` copies of `value`, or an error instead of an abort when the
/// allocation is impossible.
pub(crate) fn filled<T: Copy>(n: usize, value: T, shape: &[usize]) -> KResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| KernelError::SizeOverflow {
        shape: shape.to_vec(),
    })?;
    v.resize(n, value);
    Ok(v)
}

impl Tensor {
    /// A tensor of `shape` (a `Vec`, a slice, or a [`Shape`] to share)
    /// holding `data`; errors if the lengths disagree.
    pub fn new(shape: impl Into<Shape>, data: Data) -> KResult<Tensor> {
        let shape: Shape = shape.into();
        let n = checked_numel(&shape)?;
        if n != data.len() {
            return Err(KernelError::DataLength {
                shape: shape.to_vec(),
                len: data.len(),
            });
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of `like`'s shape holding `data`, which the caller guarantees
    /// has `like.numel()` elements (elementwise maps of one tensor).
    pub(crate) fn with_shape_of(like: &Tensor, data: Data) -> Tensor {
        debug_assert_eq!(like.numel(), data.len());
        Tensor {
            shape: like.shape.clone(),
            data,
        }
    }

    /// A tensor of `shape` holding `data`, which the caller guarantees has
    /// as many elements as `shape` says (a kernel's output of a checked shape).
    pub(crate) fn with_shape(shape: Shape, data: Data) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The buffer, for kernels that write in place; they keep its length.
    pub(crate) fn data_mut(&mut self) -> &mut Data {
        &mut self.data
    }

    /// Whether no other tensor shares this buffer, so writing it in place is
    /// invisible.
    pub fn is_unique(&self) -> bool {
        match &self.data {
            Data::Bool(v) => Arc::strong_count(v) == 1,
            Data::I64(v) => Arc::strong_count(v) == 1,
            Data::F32(v) => Arc::strong_count(v) == 1,
            Data::F64(v) => Arc::strong_count(v) == 1,
        }
    }

    /// The address of the first element: tests use it to see that a buffer
    /// was reused.
    pub fn buffer_addr(&self) -> usize {
        match &self.data {
            Data::Bool(v) => v.as_ptr() as usize,
            Data::I64(v) => v.as_ptr() as usize,
            Data::F32(v) => v.as_ptr() as usize,
            Data::F64(v) => v.as_ptr() as usize,
        }
    }

    /// The shape, to share with another tensor.
    pub fn shared_shape(&self) -> Shape {
        self.shape.clone()
    }

    /// Consumes the tensor, returning its shape and buffer.
    pub fn into_parts(self) -> (Shape, Data) {
        (self.shape, self.data)
    }

    /// A rank-0 int. Those in [`SMALL_INTS`] are shared, allocated once:
    /// loop counters and tape positions are made on every iteration.
    pub fn scalar_i64(v: i64) -> Tensor {
        static TABLE: std::sync::LazyLock<Vec<Tensor>> =
            std::sync::LazyLock::new(|| SMALL_INTS.map(fresh_scalar_i64).collect());
        v.checked_sub(SMALL_INTS.start)
            .and_then(|k| usize::try_from(k).ok())
            .and_then(|k| TABLE.get(k))
            .cloned()
            .unwrap_or_else(|| fresh_scalar_i64(v))
    }

    pub fn scalar_bool(v: bool) -> Tensor {
        Tensor {
            shape: scalar_shape(),
            data: Data::Bool(Arc::new(vec![v])),
        }
    }

    /// A rank-0 tensor of `dtype` holding `v` (rounded once for f32).
    pub fn scalar_float(v: f64, dtype: DType) -> Tensor {
        Tensor {
            shape: scalar_shape(),
            data: data_from_f64s(dtype, vec![v]),
        }
    }

    /// A tensor of `dtype` from `f64` values, each converted once (bool: `!= 0`,
    /// int: truncation toward zero, saturating, NaN to 0).
    pub fn from_f64s(dtype: DType, shape: Vec<usize>, values: Vec<f64>) -> KResult<Tensor> {
        Tensor::new(shape, data_from_f64s(dtype, values))
    }

    pub fn from_i64s(shape: Vec<usize>, values: Vec<i64>) -> KResult<Tensor> {
        Tensor::new(shape, Data::I64(Arc::new(values)))
    }

    pub fn from_f32s(shape: Vec<usize>, values: Vec<f32>) -> KResult<Tensor> {
        Tensor::new(shape, Data::F32(Arc::new(values)))
    }

    pub fn from_bools(shape: Vec<usize>, values: Vec<bool>) -> KResult<Tensor> {
        Tensor::new(shape, Data::Bool(Arc::new(values)))
    }

    /// Every element as `f64` (bool: 0 or 1).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.data {
            Data::Bool(v) => v.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect(),
            Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Data::F64(v) => v.to_vec(),
        }
    }

    /// Every element as `i64` (floats truncate toward zero, saturating, NaN to 0).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        match &self.data {
            Data::Bool(v) => v.iter().map(|&b| i64::from(b)).collect(),
            Data::I64(v) => v.to_vec(),
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::F64(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// The value of a rank-0 int or bool tensor.
    pub fn as_scalar_i64(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        match &self.data {
            Data::I64(v) => v.first().copied(),
            Data::Bool(v) => v.first().map(|&b| i64::from(b)),
            Data::F32(_) | Data::F64(_) => None,
        }
    }

    /// The value of a rank-0 bool tensor.
    pub fn as_scalar_bool(&self) -> Option<bool> {
        if !self.shape.is_empty() {
            return None;
        }
        match &self.data {
            Data::Bool(v) => v.first().copied(),
            Data::I64(_) | Data::F32(_) | Data::F64(_) => None,
        }
    }

    /// The value of a rank-0 tensor of any dtype, as `f64`.
    pub fn as_scalar_f64(&self) -> Option<f64> {
        if !self.shape.is_empty() {
            return None;
        }
        self.to_f64_vec().first().copied()
    }
}

/// Converts `f64` values to a buffer of `dtype`.
pub(crate) fn data_from_f64s(dtype: DType, values: Vec<f64>) -> Data {
    match dtype {
        DType::Bool => Data::Bool(Arc::new(values.iter().map(|&x| x != 0.0).collect())),
        DType::I64 => Data::I64(Arc::new(values.iter().map(|&x| x as i64).collect())),
        DType::F32 => Data::F32(Arc::new(values.iter().map(|&x| x as f32).collect())),
        DType::F64 => Data::F64(Arc::new(values)),
    }
}

/// The float element types (`f32`, `f64`) the float kernels are generic over.
pub(crate) trait Real:
    Copy
    + PartialOrd
    + PartialEq
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Rem<Output = Self>
    + std::ops::Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const NAN: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn is_nan(self) -> bool;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn tanh(self) -> Self;
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn round(self) -> Self;
    fn powf(self, e: Self) -> Self;
    /// Wraps a buffer of this type as [`Data`].
    fn wrap(v: Vec<Self>) -> Data;
    /// The elements of `d`, when it holds this type.
    fn view(d: &Data) -> Option<&[Self]>;
    /// The buffer of `d`, when it holds this type and no one else holds it.
    fn buffer_mut(d: &mut Data) -> Option<&mut Vec<Self>>;
}

macro_rules! impl_real {
    ($t:ty, $variant:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAN: Self = <$t>::NAN;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            fn round(self) -> Self {
                <$t>::round(self)
            }
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            fn wrap(v: Vec<Self>) -> Data {
                Data::$variant(Arc::new(v))
            }
            fn view(d: &Data) -> Option<&[Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn buffer_mut(d: &mut Data) -> Option<&mut Vec<Self>> {
                match d {
                    Data::$variant(v) => Arc::get_mut(v),
                    _ => None,
                }
            }
        }
    };
}
impl_real!(f32, F32);
impl_real!(f64, F64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_length() {
        assert!(Tensor::from_i64s(vec![2, 2], vec![1, 2, 3]).is_err());
        let t = Tensor::from_i64s(vec![2, 2], vec![1, 2, 3, 4]).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.rank(), 2);
        assert_eq!(t.numel(), 4);
        assert_eq!(t.dtype(), DType::I64);
        assert!(Tensor::from_i64s(vec![usize::MAX, 3], vec![]).is_err());
    }

    #[test]
    fn scalars_and_conversions() {
        assert_eq!(Tensor::scalar_i64(3).as_scalar_i64(), Some(3));
        assert_eq!(Tensor::scalar_bool(true).as_scalar_i64(), Some(1));
        assert_eq!(Tensor::scalar_bool(true).as_scalar_bool(), Some(true));
        assert_eq!(Tensor::scalar_i64(1).as_scalar_bool(), None);
        let f = Tensor::scalar_float(0.1, DType::F32);
        assert_eq!(f.dtype(), DType::F32);
        assert_eq!(f.as_scalar_f64(), Some(f64::from(0.1f32)));
        assert_eq!(f.as_scalar_i64(), None);
        let t = Tensor::from_f64s(DType::I64, vec![3], vec![1.7, -1.7, f64::NAN]).unwrap();
        assert_eq!(t.to_i64_vec(), vec![1, -1, 0]);
        assert_eq!(t.as_scalar_i64(), None);
        let b = Tensor::from_f64s(DType::Bool, vec![2], vec![0.0, 2.0]).unwrap();
        assert_eq!(b.to_f64_vec(), vec![0.0, 1.0]);
        assert!(checked_numel(&[usize::MAX, 2]).is_err());
        assert_eq!(checked_numel(&[]).unwrap(), 1);
    }
}

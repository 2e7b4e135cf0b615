//! How tensors print (`print`, the REPL, failed `assert_close`).
//!
//! Takes any tensor and guarantees one line of text: scalars as Rust prints
//! them, floats always with a decimal point or an exponent (`3.0`, `0.1`,
//! `1e-7`, `inf`, `NaN`, the shortest text that reads back to the same f32 or
//! f64), ints as `3`, bools as `true`; tensors nested in brackets
//! (`[[1, 2], [3, 4]]`). A tensor of more than 1000 elements prints the first
//! and last three entries of each axis longer than six, with `...` between, as
//! NumPy does.

use super::tensor::{Data, Tensor};
use std::fmt;

/// Tensors with more elements than this are abbreviated.
const SUMMARY_THRESHOLD: usize = 1000;
/// Entries shown at each end of an abbreviated axis.
const EDGE_ITEMS: usize = 3;

/// One element of a buffer as text.
fn element(data: &Data, i: usize) -> String {
    match data {
        Data::Bool(v) => v.get(i).map(|b| b.to_string()),
        Data::I64(v) => v.get(i).map(|x| x.to_string()),
        Data::F32(v) => v.get(i).map(|x| format!("{x:?}")),
        Data::F64(v) => v.get(i).map(|x| format!("{x:?}")),
    }
    .unwrap_or_else(|| "?".to_string())
}

/// Formats one scalar float the way tensors print their elements.
pub fn format_f64(x: f64) -> String {
    format!("{x:?}")
}

struct Printer<'a> {
    data: &'a Data,
    shape: &'a [usize],
    strides: Vec<usize>,
    summarize: bool,
}

impl Printer<'_> {
    fn write(&self, f: &mut fmt::Formatter<'_>, axis: usize, offset: usize) -> fmt::Result {
        let (Some(&dim), Some(&stride)) = (self.shape.get(axis), self.strides.get(axis)) else {
            return f.write_str(&element(self.data, offset));
        };
        let last = axis + 1 == self.shape.len();
        f.write_str("[")?;
        let abbreviate = self.summarize && dim > 2 * EDGE_ITEMS;
        let mut first = true;
        let mut item = |f: &mut fmt::Formatter<'_>, i: usize| -> fmt::Result {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            let at = offset + i * stride;
            if last {
                f.write_str(&element(self.data, at))
            } else {
                self.write(f, axis + 1, at)
            }
        };
        if abbreviate {
            for i in 0..EDGE_ITEMS {
                item(f, i)?;
            }
            f.write_str(", ...")?;
            for i in dim - EDGE_ITEMS..dim {
                item(f, i)?;
            }
        } else {
            for i in 0..dim {
                item(f, i)?;
            }
        }
        f.write_str("]")
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape();
        let mut strides = vec![1usize; shape.len()];
        let mut acc = 1usize;
        for (s, &d) in strides.iter_mut().zip(shape).rev() {
            *s = acc;
            acc = acc.saturating_mul(d);
        }
        let printer = Printer {
            data: self.data(),
            shape,
            strides,
            summarize: self.numel() > SUMMARY_THRESHOLD,
        };
        printer.write(f, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{DType, arange};

    #[test]
    fn scalars() {
        assert_eq!(Tensor::scalar_float(3.0, DType::F64).to_string(), "3.0");
        assert_eq!(Tensor::scalar_float(3.0, DType::F32).to_string(), "3.0");
        assert_eq!(Tensor::scalar_float(0.1, DType::F32).to_string(), "0.1");
        assert_eq!(Tensor::scalar_float(0.1, DType::F64).to_string(), "0.1");
        assert_eq!(Tensor::scalar_float(1e-7, DType::F64).to_string(), "1e-7");
        assert_eq!(Tensor::scalar_float(-2.5, DType::F32).to_string(), "-2.5");
        assert_eq!(Tensor::scalar_float(f64::INFINITY, DType::F64).to_string(), "inf");
        assert_eq!(
            Tensor::scalar_float(f64::NEG_INFINITY, DType::F32).to_string(),
            "-inf"
        );
        assert_eq!(Tensor::scalar_float(f64::NAN, DType::F64).to_string(), "NaN");
        assert_eq!(Tensor::scalar_i64(3).to_string(), "3");
        assert_eq!(Tensor::scalar_i64(-3).to_string(), "-3");
        assert_eq!(Tensor::scalar_bool(true).to_string(), "true");
        assert_eq!(format_f64(2.0), "2.0");
    }

    #[test]
    fn nested() {
        let t = Tensor::from_f64s(DType::F32, vec![2], vec![1.0, 2.0]).unwrap();
        assert_eq!(t.to_string(), "[1.0, 2.0]");
        let t = Tensor::from_i64s(vec![2, 2], vec![1, 2, 3, 4]).unwrap();
        assert_eq!(t.to_string(), "[[1, 2], [3, 4]]");
        let t = Tensor::from_bools(vec![1, 2, 1], vec![true, false]).unwrap();
        assert_eq!(t.to_string(), "[[[true], [false]]]");
        assert_eq!(Tensor::from_i64s(vec![0], vec![]).unwrap().to_string(), "[]");
        assert_eq!(
            Tensor::from_i64s(vec![2, 0], vec![]).unwrap().to_string(),
            "[[], []]"
        );
    }

    #[test]
    fn abbreviated() {
        let t = arange(1001).unwrap();
        assert_eq!(t.to_string(), "[0, 1, 2, ..., 998, 999, 1000]");
        let t = arange(1000).unwrap();
        assert!(!t.to_string().contains("..."));
        let t = Tensor::from_i64s(vec![2, 600], (0..1200).collect()).unwrap();
        assert_eq!(
            t.to_string(),
            "[[0, 1, 2, ..., 597, 598, 599], [600, 601, 602, ..., 1197, 1198, 1199]]"
        );
        let t = Tensor::from_i64s(vec![100, 100], (0..10000).collect()).unwrap();
        let s = t.to_string();
        assert!(s.starts_with("[[0, 1, 2, ..., 97, 98, 99], [100, 101, 102, ..., 197, 198, 199], [200"));
        assert!(s.contains("], ..., [9700, "));
        assert!(s.ends_with("9997, 9998, 9999]]"));
    }
}

//! CSV tables: numbers separated by commas, one row per line.
//!
//! [`parse`] reads a table into a rank-2 float tensor `[rows, columns]`:
//! fields are trimmed, blank lines skipped, `\r\n` line ends accepted, and a
//! first line of column names skipped with `header`. Every row must have as
//! many fields as the first. [`format`] writes a tensor of rank 0, 1 (one
//! value per line, a column) or 2; floats in the shortest form that reads
//! back to the same value, bools as `1` and `0`.

use super::{FResult, FileError, read_bytes, write_atomic};
use crate::ir::types::DType;
use crate::runtime::{Data, Tensor};
use std::path::Path;

/// Reads a CSV file (`shown`: the path as the program wrote it).
pub fn load(file: &Path, shown: &str, header: bool, dtype: DType) -> FResult<Tensor> {
    let bytes = read_bytes(file, shown)?;
    let text = String::from_utf8(bytes).map_err(|_| FileError::Format {
        path: shown.to_string(),
        what: "a CSV table",
        problem: "it is not UTF-8 text".into(),
    })?;
    parse(&text, shown, header, dtype)
}

/// Writes `t` as a CSV file.
pub fn save(file: &Path, shown: &str, t: &Tensor) -> FResult<()> {
    let text = format(t).map_err(|problem| FileError::Unsupported {
        path: shown.to_string(),
        problem,
    })?;
    write_atomic(file, shown, |w| w.write_all(text.as_bytes()))
}

/// Parses CSV text into a `[rows, columns]` tensor of `dtype` (f32 or f64).
pub fn parse(text: &str, shown: &str, header: bool, dtype: DType) -> FResult<Tensor> {
    let mut values: Vec<f64> = Vec::new();
    let mut values32: Vec<f32> = Vec::new();
    let mut rows = 0usize;
    let mut first: Option<(usize, usize)> = None;
    let lines = text.split('\n').enumerate().skip(usize::from(header));
    for (i, line) in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let mut count = 0;
        for (j, field) in line.split(',').enumerate() {
            let field = field.trim();
            let bad = || FileError::CsvNumber {
                path: shown.to_string(),
                line: line_no,
                column: j + 1,
                text: field.to_string(),
            };
            // Parsed directly in the target width: one correct rounding.
            if dtype == DType::F32 {
                values32.push(field.parse::<f32>().map_err(|_| bad())?);
            } else {
                values.push(field.parse::<f64>().map_err(|_| bad())?);
            }
            count += 1;
        }
        match first {
            None => first = Some((line_no, count)),
            Some((first_line, expected)) if expected != count => {
                return Err(FileError::CsvRagged {
                    path: shown.to_string(),
                    line: line_no,
                    found: count,
                    first_line,
                    expected,
                });
            }
            Some(_) => {}
        }
        rows += 1;
    }
    let cols = first.map(|(_, n)| n).unwrap_or(0);
    let shape = vec![rows, cols];
    let t = if dtype == DType::F32 {
        Tensor::from_f32s(shape, values32)
    } else {
        Tensor::from_f64s(DType::F64, shape, values)
    };
    t.map_err(|e| FileError::Format {
        path: shown.to_string(),
        what: "a CSV table",
        problem: e.message(),
    })
}

/// The CSV text of a tensor of rank 0, 1 or 2.
pub fn format(t: &Tensor) -> Result<String, String> {
    let cols = match t.shape() {
        [] => 1,
        [_] => 1,
        [_, c] => *c,
        s => {
            return Err(format!(
                "a CSV file holds a table (rank 0, 1 or 2), not a tensor of rank {}",
                s.len()
            ));
        }
    };
    let fields: Vec<String> = match t.data() {
        Data::Bool(v) => v.iter().map(|&b| if b { "1" } else { "0" }.to_string()).collect(),
        Data::I64(v) => v.iter().map(|x| x.to_string()).collect(),
        Data::F32(v) => v
            .iter()
            .map(|&x| float_text(f64::from(x), x.to_string(), format!("{x:e}")))
            .collect(),
        Data::F64(v) => v
            .iter()
            .map(|&x| float_text(x, x.to_string(), format!("{x:e}")))
            .collect(),
    };
    let mut out = String::new();
    if cols == 0 {
        // Rows without columns have no text; an empty file reads back as [0, 0].
        return Ok(out);
    }
    for row in fields.chunks(cols) {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Rust's shortest round-trip digits: plain for ordinary magnitudes, with an
/// exponent for very large or small ones (`1e-7`, not `0.0000001`).
fn float_text(x: f64, plain: String, exp: String) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() || (1e-5..1e16).contains(&a) {
        plain
    } else {
        exp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_table_with_header_blank_lines_and_crlf() {
        let t = parse("a,b\r\n1, 2.5\r\n\r\n-3,4e1\n", "t.csv", true, DType::F64).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.to_f64_vec(), vec![1.0, 2.5, -3.0, 40.0]);
    }

    #[test]
    fn a_bad_number_names_line_column_and_text() {
        let e = parse("1.0,2.0\n3.0,abc\n", "bad.csv", false, DType::F32).unwrap_err();
        assert_eq!(
            e,
            FileError::CsvNumber {
                path: "bad.csv".into(),
                line: 2,
                column: 2,
                text: "abc".into()
            }
        );
        assert!(e.message().contains("line 2"));
    }

    #[test]
    fn header_lines_count_in_line_numbers() {
        let e = parse("x,y\n1,2\n3,\n", "h.csv", true, DType::F32).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::CsvNumber {
                    line: 3,
                    column: 2,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn ragged_rows_are_an_error() {
        let e = parse("1,2,3\n4,5\n", "r.csv", false, DType::F32).unwrap_err();
        assert!(matches!(
            e,
            FileError::CsvRagged {
                line: 2,
                found: 2,
                expected: 3,
                ..
            }
        ));
    }

    #[test]
    fn f32_fields_are_rounded_once() {
        // 0.1 parsed as f32 directly, not through f64.
        let t = parse("0.1\n", "x.csv", false, DType::F32).unwrap();
        assert_eq!(t.data(), &Data::F32(std::sync::Arc::new(vec![0.1f32])));
    }

    #[test]
    fn format_round_trips_floats_exactly() {
        let xs = vec![0.1f32, -3.0, 1e-7, 3.4e38, 1.0 / 3.0, 0.0, -0.0];
        let t = Tensor::from_f32s(vec![7], xs.clone()).unwrap();
        let text = format(&t).unwrap();
        assert_eq!(text.lines().next(), Some("0.1"));
        assert!(text.contains("1e-7"));
        let back = parse(&text, "x.csv", false, DType::F32).unwrap();
        assert_eq!(back.shape(), &[7, 1]);
        let Data::F32(v) = back.data() else { panic!() };
        for (a, b) in v.iter().zip(&xs) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn format_writes_rows_ints_and_bools() {
        let t = Tensor::from_i64s(vec![2, 2], vec![1, -2, 3, 4]).unwrap();
        assert_eq!(format(&t).unwrap(), "1,-2\n3,4\n");
        let b = Tensor::from_bools(vec![2], vec![true, false]).unwrap();
        assert_eq!(format(&b).unwrap(), "1\n0\n");
        let r3 = Tensor::from_i64s(vec![1, 1, 1], vec![1]).unwrap();
        assert!(format(&r3).is_err());
    }
}

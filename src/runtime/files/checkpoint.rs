//! Checkpoints: one value made of tensors, records and tuples in one file.
//!
//! ```text
//! diffl checkpoint 1\n                                   the format and its version
//! (Model { w: f32[2, 2], b: f32[2], steps: int }, f32[1])\n   the value's type (see `schema`)
//! <data>                                                 every tensor, in type order
//! ```
//!
//! The data is each tensor's elements in row-major order, depth first and
//! left to right through the type (`w`, `b`, `steps`, then the `f32[1]`),
//! with no padding: f32 and f64 as IEEE little-endian, int as 8-byte
//! little-endian two's complement, bool as one byte 0 or 1. The two text
//! lines let `head -n 2 file` show what a checkpoint holds, and let the
//! compiler learn the type of `load(path)` without reading the data.

use super::schema::Schema;
use super::{FResult, FileError, read_bytes, reason, write_atomic};
use crate::ir::types::DType;
use crate::runtime::{Data, Tensor};
use std::io::{BufRead, Read};
use std::path::Path;

const MAGIC: &str = "diffl checkpoint 1";
/// Longest type line read (a guard against reading a huge non-checkpoint file as text).
const MAX_TYPE_LINE: u64 = 1 << 24;

fn format_error(shown: &str, problem: impl Into<String>) -> FileError {
    FileError::Format {
        path: shown.to_string(),
        what: "a diffl checkpoint",
        problem: problem.into(),
    }
}

/// Writes a checkpoint of a value of type `schema` whose tensors are `leaves`.
pub fn save(file: &Path, shown: &str, schema: &Schema, leaves: &[&Tensor]) -> FResult<()> {
    let kinds = schema.leaves();
    let fits = kinds.len() == leaves.len()
        && kinds.iter().zip(leaves).all(|((d, dims), t)| {
            *d == t.dtype()
                && dims.len() == t.rank()
                && dims.iter().zip(t.shape()).all(|(a, b)| *a == Some(*b))
        });
    if !fits {
        return Err(FileError::Unsupported {
            path: shown.to_string(),
            problem: format!("internal error: the tensors do not fit the type {schema}"),
        });
    }
    write_atomic(file, shown, |w| {
        writeln!(w, "{MAGIC}")?;
        writeln!(w, "{schema}")?;
        for t in leaves {
            w.write_all(&le_bytes(t))?;
        }
        Ok(())
    })
}

/// The little-endian bytes of a tensor's elements.
pub(crate) fn le_bytes(t: &Tensor) -> Vec<u8> {
    match t.data() {
        Data::Bool(v) => v.iter().map(|&b| u8::from(b)).collect(),
        Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// The type of the value in a checkpoint, reading only its first two lines.
pub fn read_schema(file: &Path, shown: &str) -> FResult<Schema> {
    let f = std::fs::File::open(file).map_err(|e| FileError::Read {
        path: shown.to_string(),
        reason: reason(&e),
    })?;
    let mut r = std::io::BufReader::new(f);
    let (schema, _) = header(&mut r, shown)?;
    Ok(schema)
}

/// The two header lines: the type and the header's length in bytes.
fn header(r: &mut impl BufRead, shown: &str) -> FResult<(Schema, usize)> {
    let read_err = |e: std::io::Error| FileError::Read {
        path: shown.to_string(),
        reason: reason(&e),
    };
    let mut first = Vec::new();
    r.by_ref()
        .take(MAGIC.len() as u64 + 1)
        .read_until(b'\n', &mut first)
        .map_err(read_err)?;
    if first != format!("{MAGIC}\n").as_bytes() {
        return Err(format_error(
            shown,
            "it does not start with `diffl checkpoint 1` (write checkpoints with `save`)",
        ));
    }
    let mut line = Vec::new();
    r.by_ref()
        .take(MAX_TYPE_LINE)
        .read_until(b'\n', &mut line)
        .map_err(read_err)?;
    if line.pop() != Some(b'\n') {
        return Err(format_error(shown, "its type line is cut off"));
    }
    let text = std::str::from_utf8(&line).map_err(|_| format_error(shown, "its type line is not text"))?;
    let schema = Schema::parse(text).map_err(|e| format_error(shown, e))?;
    if schema
        .leaves()
        .iter()
        .any(|(_, dims)| dims.iter().any(Option::is_none))
    {
        return Err(format_error(shown, "its type has a size `?`"));
    }
    Ok((schema, first.len() + line.len() + 1))
}

/// Reads a whole checkpoint: its type and its tensors in type order.
pub fn load(file: &Path, shown: &str) -> FResult<(Schema, Vec<Tensor>)> {
    let bytes = read_bytes(file, shown)?;
    let (schema, start) = header(&mut &bytes[..], shown)?;
    let mut data = bytes.get(start..).unwrap_or_default();
    let mut leaves = Vec::new();
    for (dtype, dims) in schema.leaves() {
        let shape: Vec<usize> = dims.iter().map(|d| d.unwrap_or(0)).collect();
        let (t, rest) =
            tensor_from_le(dtype, shape, data).ok_or_else(|| format_error(shown, "its data is cut off"))?;
        leaves.push(t);
        data = rest;
    }
    if !data.is_empty() {
        return Err(format_error(
            shown,
            format!("it has {} bytes after the data its type describes", data.len()),
        ));
    }
    Ok((schema, leaves))
}

/// A tensor read from the front of `data` (little-endian elements), and the
/// bytes after it; `None` when `data` is too short or the size overflows.
pub(crate) fn tensor_from_le(dtype: DType, shape: Vec<usize>, data: &[u8]) -> Option<(Tensor, &[u8])> {
    let n = crate::runtime::checked_numel(&shape).ok()?;
    let width = match dtype {
        DType::Bool => 1,
        DType::F32 => 4,
        DType::I64 | DType::F64 => 8,
    };
    let len = n.checked_mul(width)?;
    if data.len() < len {
        return None;
    }
    let (mine, rest) = data.split_at(len);
    let t = match dtype {
        DType::Bool => Tensor::from_bools(shape, mine.iter().map(|&b| b != 0).collect()),
        DType::I64 => Tensor::from_i64s(
            shape,
            mine.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
        DType::F32 => Tensor::from_f32s(
            shape,
            mine.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
        DType::F64 => Tensor::from_f64s(
            DType::F64,
            shape,
            mine.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ),
    };
    Some((t.ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("diffl_ckpt_{}_{name}", std::process::id()))
    }

    #[test]
    fn round_trips_every_dtype_bit_for_bit() {
        let schema = Schema::Tuple(vec![
            Schema::Record(
                "M".into(),
                vec![
                    ("w".into(), Schema::tensor(DType::F32, &[2])),
                    ("n".into(), Schema::tensor(DType::I64, &[])),
                ],
            ),
            Schema::tensor(DType::F64, &[1]),
            Schema::tensor(DType::Bool, &[3]),
        ]);
        let w = Tensor::from_f32s(vec![2], vec![0.1, f32::NAN]).unwrap();
        let n = Tensor::scalar_i64(i64::MIN);
        let x = Tensor::from_f64s(DType::F64, vec![1], vec![-0.0]).unwrap();
        let b = Tensor::from_bools(vec![3], vec![true, false, true]).unwrap();
        let file = tmp("all.ckpt");
        save(&file, "all.ckpt", &schema, &[&w, &n, &x, &b]).unwrap();
        assert_eq!(read_schema(&file, "all.ckpt").unwrap(), schema);
        let (s, leaves) = load(&file, "all.ckpt").unwrap();
        assert_eq!(s, schema);
        for (a, b) in leaves.iter().zip([&w, &n, &x, &b]) {
            assert_eq!(le_bytes(a), le_bytes(b));
            assert_eq!(a.shape(), b.shape());
        }
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn truncated_and_foreign_files_are_format_errors() {
        let file = tmp("cut.ckpt");
        std::fs::write(&file, "diffl checkpoint 1\nf32[4]\n\0\0\0\0").unwrap();
        let e = load(&file, "cut.ckpt").unwrap_err();
        assert!(e.message().contains("cut off"), "{}", e.message());
        std::fs::write(&file, "1.0,2.0\n").unwrap();
        let e = read_schema(&file, "cut.ckpt").unwrap_err();
        assert!(e.message().contains("not a diffl checkpoint"), "{}", e.message());
        std::fs::remove_file(&file).unwrap();
        let e = read_schema(&file, "cut.ckpt").unwrap_err();
        assert!(matches!(e, FileError::Read { .. }));
    }
}

//! NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! ```text
//! \x93NUMPY <major> <minor> <header length: u16 LE (v1) or u32 LE (v2, v3)>
//! {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   padded with spaces, ends in \n
//! <data>
//! ```
//!
//! [`save`] writes version 1.0 with the header padded so the data starts at a
//! multiple of 64 bytes (as NumPy does), little-endian, C order: `'<f4'`,
//! `'<f8'`, `'<i8'` or `'|b1'`. [`load`] reads what NumPy writes: any byte
//! order, Fortran order, and the integer widths `i1`…`i8` and `u1`…`u8`
//! (read as int; a `u8` value too large for int is an error).

use super::checkpoint::{le_bytes, tensor_from_le};
use super::{FResult, FileError, read_bytes, reason, write_atomic};
use crate::ir::types::DType;
use crate::runtime::Tensor;
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

fn format_error(shown: &str, problem: impl Into<String>) -> FileError {
    FileError::Format {
        path: shown.to_string(),
        what: "a NumPy array file",
        problem: problem.into(),
    }
}

/// Writes `t` as a version 1.0 `.npy` file.
pub fn save(file: &Path, shown: &str, t: &Tensor) -> FResult<()> {
    let header = header_text(t.dtype(), t.shape());
    let bytes = header.as_bytes();
    let len = u16::try_from(bytes.len()).map_err(|_| FileError::Unsupported {
        path: shown.to_string(),
        problem: "the shape is too long for a .npy header".into(),
    })?;
    write_atomic(file, shown, |w| {
        w.write_all(MAGIC)?;
        w.write_all(&[1, 0])?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(bytes)?;
        w.write_all(&le_bytes(t))
    })
}

/// The header dictionary, padded with spaces and ended by `\n` so that the
/// 10-byte preamble plus the header is a multiple of 64 bytes.
fn header_text(dtype: DType, shape: &[usize]) -> String {
    let descr = match dtype {
        DType::Bool => "|b1",
        DType::I64 => "<i8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    };
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat((64 - total % 64) % 64));
    h.push('\n');
    h
}

/// What a `.npy` header says.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The dtype diffl reads the data as.
    pub dtype: DType,
    pub shape: Vec<usize>,
    kind: u8,
    width: usize,
    big_endian: bool,
    fortran: bool,
}

/// The dtype and shape of a `.npy` file, reading only its header.
pub fn read_header(file: &Path, shown: &str) -> FResult<Header> {
    let f = std::fs::File::open(file).map_err(|e| FileError::Read {
        path: shown.to_string(),
        reason: reason(&e),
    })?;
    let mut head = Vec::new();
    // The preamble and a header of up to 1 MiB are plenty for any real array.
    f.take(1 << 20)
        .read_to_end(&mut head)
        .map_err(|e| FileError::Read {
            path: shown.to_string(),
            reason: reason(&e),
        })?;
    parse_header(&head, shown).map(|(h, _)| h)
}

/// Reads a `.npy` file into a tensor.
pub fn load(file: &Path, shown: &str) -> FResult<Tensor> {
    let bytes = read_bytes(file, shown)?;
    let (h, start) = parse_header(&bytes, shown)?;
    let data = bytes.get(start..).unwrap_or_default();
    decode(&h, data)
        .ok_or_else(|| format_error(shown, "its data is shorter than its shape says"))?
        .map_err(|problem| format_error(shown, problem))
}

/// The header and the offset of the data.
fn parse_header(bytes: &[u8], shown: &str) -> FResult<(Header, usize)> {
    if bytes.get(..6) != Some(MAGIC) {
        return Err(format_error(shown, "it does not start with `\\x93NUMPY`"));
    }
    let major = bytes.get(6).copied().unwrap_or(0);
    let (len, start) = match major {
        1 => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| format_error(shown, "its header is cut off"))?;
            (
                usize::from(u16::from_le_bytes(b.try_into().unwrap_or_default())),
                10,
            )
        }
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| format_error(shown, "its header is cut off"))?;
            let n = u32::from_le_bytes(b.try_into().unwrap_or_default());
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => {
            return Err(format_error(
                shown,
                format!("format version {v} is not one diffl reads"),
            ));
        }
    };
    let end = len.saturating_add(start);
    let text = bytes
        .get(start..end)
        .ok_or_else(|| format_error(shown, "its header is cut off"))?;
    let text = std::str::from_utf8(text).map_err(|_| format_error(shown, "its header is not text"))?;
    let dict = parse_dict(text).map_err(|p| format_error(shown, p))?;
    let descr = dict
        .iter()
        .find(|(k, _)| k == "descr")
        .map(|(_, v)| v)
        .ok_or_else(|| format_error(shown, "its header has no 'descr'"))?;
    let Lit::Str(descr) = descr else {
        return Err(format_error(
            shown,
            "structured arrays (records of fields) are not supported",
        ));
    };
    let fortran = match dict.iter().find(|(k, _)| k == "fortran_order").map(|(_, v)| v) {
        Some(Lit::Bool(b)) => *b,
        None => false,
        Some(_) => return Err(format_error(shown, "'fortran_order' must be True or False")),
    };
    let shape = match dict.iter().find(|(k, _)| k == "shape").map(|(_, v)| v) {
        Some(Lit::Tuple(dims)) => dims.clone(),
        _ => return Err(format_error(shown, "its header has no 'shape' tuple")),
    };
    let (dtype, kind, width, big_endian) = parse_descr(descr).ok_or_else(|| {
        format_error(
            shown,
            format!(
                "its elements are `{descr}`; diffl reads floats (f4, f8), ints (i1…i8, u1…u8) and bools (b1)"
            ),
        )
    })?;
    let h = Header {
        dtype,
        shape,
        kind,
        width,
        big_endian,
        fortran,
    };
    Ok((h, end))
}

/// `'<f4'` → (dtype, kind letter, byte width, big-endian).
fn parse_descr(d: &str) -> Option<(DType, u8, usize, bool)> {
    let b = d.as_bytes();
    let (order, rest) = match b.first()? {
        c @ (b'<' | b'>' | b'|' | b'=') => (*c, b.get(1..)?),
        _ => (b'=', b),
    };
    let kind = *rest.first()?;
    let width: usize = std::str::from_utf8(rest.get(1..)?).ok()?.parse().ok()?;
    let big = order == b'>' || (order == b'=' && cfg!(target_endian = "big"));
    let dtype = match (kind, width) {
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'i' | b'u', 1 | 2 | 4 | 8) => DType::I64,
        (b'b' | b'?', 1) => DType::Bool,
        _ => return None,
    };
    Some((dtype, kind, width, big))
}

/// The tensor of a header's data: `None` if the data is too short, an
/// error for values diffl cannot hold.
fn decode(h: &Header, data: &[u8]) -> Option<Result<Tensor, String>> {
    let n = crate::runtime::checked_numel(&h.shape).ok()?;
    let len = n.checked_mul(h.width)?;
    let mine = data.get(..len)?;
    // Widen every element to diffl's dtype, as little-endian bytes.
    let mut le: Vec<u8> = Vec::with_capacity(n.saturating_mul(8));
    for chunk in mine.chunks_exact(h.width) {
        let mut e = chunk.to_vec();
        if h.big_endian {
            e.reverse();
        }
        match (h.kind, h.width) {
            (b'f', _) | (b'b' | b'?', _) | (b'i', 8) => le.extend_from_slice(&e),
            (b'i', _) => {
                let negative = e.last().is_some_and(|&b| b & 0x80 != 0);
                e.resize(8, if negative { 0xff } else { 0 });
                le.extend_from_slice(&e);
            }
            _ => {
                e.resize(8, 0);
                if e.last().is_some_and(|&b| b & 0x80 != 0) {
                    return Some(Err("it holds a u8 value too large for an int".into()));
                }
                le.extend_from_slice(&e);
            }
        }
    }
    let shape = if h.fortran {
        h.shape.iter().rev().copied().collect()
    } else {
        h.shape.clone()
    };
    let (t, _) = tensor_from_le(h.dtype, shape, &le)?;
    if h.fortran && t.rank() > 1 {
        let perm: Vec<usize> = (0..t.rank()).rev().collect();
        return Some(crate::runtime::transpose(&t, &perm).map_err(|e| e.message()));
    }
    Some(Ok(t))
}

/// A Python literal in a `.npy` header.
#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
    /// Anything else (a list: the descr of a structured array).
    Other,
}

/// Parses the header's dictionary: `{'key': value, …}` with string, bool,
/// tuple-of-int and list values.
fn parse_dict(text: &str) -> Result<Vec<(String, Lit)>, String> {
    let mut p = DictParser {
        s: text.as_bytes(),
        pos: 0,
    };
    p.expect(b'{')?;
    let mut out = Vec::new();
    while !p.eat(b'}') {
        let key = p.string()?;
        p.expect(b':')?;
        let v = p.value()?;
        out.push((key, v));
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    Ok(out)
}

struct DictParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl DictParser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("its header has no `{}` where expected", c as char))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self
            .peek()
            .filter(|c| *c == b'\'' || *c == b'"')
            .ok_or("its header has a key that is not a string")?;
        self.pos += 1;
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|c| *c != q) {
            self.pos += 1;
        }
        let s = self
            .s
            .get(start..self.pos)
            .ok_or("its header has an unclosed string")?;
        self.pos += 1;
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn value(&mut self) -> Result<Lit, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Lit::Str(self.string()?)),
            Some(b'(') => {
                self.pos += 1;
                let mut dims = Vec::new();
                while !self.eat(b')') {
                    let start = self.pos;
                    while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                        self.pos += 1;
                    }
                    // NumPy on some platforms writes `3L`.
                    let digits = self.s.get(start..self.pos).unwrap_or_default();
                    let d = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .ok_or("its shape has a size that is not a number")?;
                    dims.push(d);
                    let _ = self.eat(b'L');
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        break;
                    }
                }
                Ok(Lit::Tuple(dims))
            }
            Some(b'[') => {
                // Skip a (possibly nested) list.
                let mut depth = 0usize;
                while let Some(c) = self.s.get(self.pos) {
                    self.pos += 1;
                    match c {
                        b'[' | b'(' => depth += 1,
                        b']' | b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(Lit::Other);
                            }
                        }
                        _ => {}
                    }
                }
                Err("its header has an unclosed list".into())
            }
            _ => {
                for (word, v) in [("True", true), ("False", false)] {
                    if self
                        .s
                        .get(self.pos..)
                        .is_some_and(|r| r.starts_with(word.as_bytes()))
                    {
                        self.pos += word.len();
                        return Ok(Lit::Bool(v));
                    }
                }
                Err("its header has a value diffl does not understand".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("diffl_npy_{}_{name}", std::process::id()))
    }

    #[test]
    fn the_header_is_what_numpy_writes() {
        // numpy 1.26: np.save(f, np.zeros((2, 3), np.float32)); f.getvalue()[:128]
        let h = header_text(DType::F32, &[2, 3]);
        assert_eq!((10 + h.len()) % 64, 0);
        assert!(h.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(h.ends_with(" \n"));
        assert!(header_text(DType::I64, &[5]).contains("'shape': (5,)"));
        assert!(
            header_text(DType::Bool, &[]).contains("'descr': '|b1', 'fortran_order': False, 'shape': ()")
        );
    }

    #[test]
    fn round_trips_each_dtype() {
        let file = tmp("rt.npy");
        for t in [
            Tensor::from_f32s(vec![2, 2], vec![1.5, -2.0, 0.25, 8.0]).unwrap(),
            Tensor::from_f64s(DType::F64, vec![3], vec![0.1, 1e300, -0.0]).unwrap(),
            Tensor::from_i64s(vec![], vec![-7]).unwrap(),
            Tensor::from_bools(vec![1, 2], vec![true, false]).unwrap(),
        ] {
            save(&file, "rt.npy", &t).unwrap();
            let h = read_header(&file, "rt.npy").unwrap();
            assert_eq!((h.dtype, h.shape.as_slice()), (t.dtype(), t.shape()));
            let back = load(&file, "rt.npy").unwrap();
            assert_eq!(back.shape(), t.shape());
            assert_eq!(le_bytes(&back), le_bytes(&t));
        }
        std::fs::remove_file(&file).unwrap();
    }

    fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[version, 0]);
        if version == 1 {
            b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_fortran_order_big_endian_narrow_ints_and_v2() {
        let file = tmp("f.npy");
        // A 2x3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column as >i2.
        let data: Vec<u8> = [1i16, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let bytes = npy(
            2,
            "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }\n",
            &data,
        );
        std::fs::write(&file, bytes).unwrap();
        let t = load(&file, "f.npy").unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_i64_vec(), vec![1, 2, 3, 4, 5, 6]);
        // Negative narrow ints are sign-extended.
        let bytes = npy(
            1,
            "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }\n",
            &[0xff, 0x02],
        );
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(load(&file, "f.npy").unwrap().to_i64_vec(), vec![-1, 2]);
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let file = tmp("bad.npy");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "\\x93NUMPY"),
            (
                npy(
                    1,
                    "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n",
                    &[0; 16],
                ),
                "<c16",
            ),
            (
                npy(
                    1,
                    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n",
                    &[0; 4],
                ),
                "structured",
            ),
            (
                npy(
                    1,
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n",
                    &[0; 16],
                ),
                "shorter",
            ),
            (
                npy(
                    1,
                    "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }\n",
                    &[0xff; 8],
                ),
                "too large",
            ),
        ];
        for (bytes, words) in cases {
            std::fs::write(&file, bytes).unwrap();
            let e = load(&file, "bad.npy").unwrap_err();
            assert!(e.message().contains(words), "{} lacks {words}", e.message());
        }
        std::fs::remove_file(&file).unwrap();
    }
}

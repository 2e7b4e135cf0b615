//! The type of a stored value, in diffl's own notation: the second line of
//! a checkpoint, and the wording of "holds X, but Y was expected" errors.
//!
//! ```text
//! f32[2, 3]    int    bool[?]    (f32[2], int)    (f64,)    ()
//! Model { w: f32[2, 2], b: f32[2], steps: int }    nn.Dense { w: f32[4, 8], b: f32[8] }
//! ```
//!
//! A rank-0 tensor is written as its dtype alone (`int`, `f32`). A `?`
//! dimension is unknown: it appears only in expected types (a `like:`
//! template's sizes are not binding) and matches any size.

use crate::ir::types::DType;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schema {
    Tensor(DType, Vec<Option<usize>>),
    Tuple(Vec<Schema>),
    /// A record: the struct's (qualified) name and its fields in order.
    Record(String, Vec<(String, Schema)>),
}

impl Schema {
    /// A tensor with every dimension known.
    pub fn tensor(dtype: DType, shape: &[usize]) -> Schema {
        Schema::Tensor(dtype, shape.iter().map(|&d| Some(d)).collect())
    }

    /// Whether a stored value of type `found` is acceptable where `self` is
    /// expected: the same structure, names, dtypes and ranks, and the same
    /// sizes wherever `self` knows them.
    pub fn accepts(&self, found: &Schema) -> bool {
        match (self, found) {
            (Schema::Tensor(d, dims), Schema::Tensor(e, fdims)) => {
                d == e
                    && dims.len() == fdims.len()
                    && dims.iter().zip(fdims).all(|(a, b)| a.is_none() || a == b)
            }
            (Schema::Tuple(xs), Schema::Tuple(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| x.accepts(y))
            }
            (Schema::Record(n, xs), Schema::Record(m, ys)) => {
                n == m
                    && xs.len() == ys.len()
                    && xs.iter().zip(ys).all(|((f, x), (g, y))| f == g && x.accepts(y))
            }
            _ => false,
        }
    }

    /// The tensors of a value of this type, depth first, left to right: the
    /// order of the data in a checkpoint.
    pub fn leaves(&self) -> Vec<(DType, &[Option<usize>])> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<(DType, &'a [Option<usize>])>) {
        match self {
            Schema::Tensor(d, dims) => out.push((*d, dims)),
            Schema::Tuple(xs) => xs.iter().for_each(|x| x.collect_leaves(out)),
            Schema::Record(_, fs) => fs.iter().for_each(|(_, x)| x.collect_leaves(out)),
        }
    }

    /// Parses the notation above (the whole text must be one type).
    pub fn parse(text: &str) -> Result<Schema, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        let t = p.schema(0)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(format!("unexpected text at byte {} of the type", p.pos));
        }
        Ok(t)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schema::Tensor(d, dims) => {
                write!(f, "{}", d.name())?;
                if !dims.is_empty() {
                    let parts: Vec<String> = dims
                        .iter()
                        .map(|d| d.map_or("?".to_string(), |n| n.to_string()))
                        .collect();
                    write!(f, "[{}]", parts.join(", "))?;
                }
                Ok(())
            }
            Schema::Tuple(xs) => {
                let parts: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
                if parts.len() == 1 {
                    write!(f, "({},)", parts.join(""))
                } else {
                    write!(f, "({})", parts.join(", "))
                }
            }
            Schema::Record(name, fields) => {
                let parts: Vec<String> = fields.iter().map(|(n, x)| format!("{n}: {x}")).collect();
                if parts.is_empty() {
                    write!(f, "{name} {{}}")
                } else {
                    write!(f, "{name} {{ {} }}", parts.join(", "))
                }
            }
        }
    }
}

/// Nesting deeper than this is refused (a corrupt file must not overflow the stack).
const MAX_DEPTH: usize = 200;

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.pos) == Some(&c) {
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
            Err(format!(
                "expected `{}` at byte {} of the type",
                c as char, self.pos
            ))
        }
    }

    /// An identifier, possibly qualified (`nn.Dense`).
    fn name(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
        {
            self.pos += 1;
        }
        match self.s.get(start..self.pos) {
            Some(b) if !b.is_empty() => Ok(String::from_utf8_lossy(b).into_owned()),
            _ => Err(format!("expected a type at byte {start} of the type")),
        }
    }

    fn number(&mut self) -> Result<usize, String> {
        self.skip_ws();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = self.s.get(start..self.pos).unwrap_or_default();
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| format!("expected a size at byte {start} of the type"))
    }

    fn schema(&mut self, depth: usize) -> Result<Schema, String> {
        if depth > MAX_DEPTH {
            return Err("the type is nested too deeply".into());
        }
        if self.eat(b'(') {
            let mut items = Vec::new();
            while !self.eat(b')') {
                items.push(self.schema(depth + 1)?);
                if !self.eat(b',') {
                    self.expect(b')')?;
                    break;
                }
            }
            return Ok(Schema::Tuple(items));
        }
        let name = self.name()?;
        if let Some(d) = DType::from_name(&name).filter(|_| name != "i64") {
            let mut dims = Vec::new();
            if self.eat(b'[') {
                while !self.eat(b']') {
                    if self.eat(b'?') {
                        dims.push(None);
                    } else {
                        dims.push(Some(self.number()?));
                    }
                    if !self.eat(b',') {
                        self.expect(b']')?;
                        break;
                    }
                }
            }
            return Ok(Schema::Tensor(d, dims));
        }
        self.expect(b'{')?;
        let mut fields = Vec::new();
        while !self.eat(b'}') {
            let f = self.name()?;
            self.expect(b':')?;
            fields.push((f, self.schema(depth + 1)?));
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        Ok(Schema::Record(name, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_back() {
        let model = Schema::Record(
            "nn.Dense".into(),
            vec![
                ("w".into(), Schema::tensor(DType::F32, &[2, 3])),
                ("steps".into(), Schema::tensor(DType::I64, &[])),
            ],
        );
        let t = Schema::Tuple(vec![
            model,
            Schema::Tuple(vec![Schema::Tensor(DType::Bool, vec![None])]),
            Schema::Tuple(Vec::new()),
            Schema::tensor(DType::F64, &[]),
        ]);
        let text = t.to_string();
        assert_eq!(
            text,
            "(nn.Dense { w: f32[2, 3], steps: int }, (bool[?],), (), f64)"
        );
        assert_eq!(Schema::parse(&text).unwrap(), t);
    }

    #[test]
    fn unknown_sizes_accept_any_size() {
        let want = Schema::Tensor(DType::F32, vec![None, Some(3)]);
        assert!(want.accepts(&Schema::tensor(DType::F32, &[7, 3])));
        assert!(!want.accepts(&Schema::tensor(DType::F32, &[7, 4])));
        assert!(!want.accepts(&Schema::tensor(DType::F64, &[7, 3])));
        assert!(!want.accepts(&Schema::tensor(DType::F32, &[7])));
    }

    #[test]
    fn rejects_garbage_and_deep_nesting() {
        assert!(Schema::parse("f32[2").is_err());
        assert!(Schema::parse("Model { w }").is_err());
        assert!(Schema::parse("int int").is_err());
        assert!(Schema::parse(&"(".repeat(10_000)).is_err());
    }
}

//! Tokens of the IR text. Newlines are not tokens, but each token keeps its
//! line: an operand list must start on the line of its instruction, which is
//! what separates `prim print` (no operands) from the next line's `%5 = …`.

use super::IrParseError;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// `%12`
    Value(u32),
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Arrow,
    Punct(char),
    Eof,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    pub line: usize,
    pub column: usize,
}

pub(super) fn lex(text: &str) -> Result<Vec<Token>, IrParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = at(i);
        let column = i - line_start + 1;
        let err = |message: String| IrParseError {
            line,
            column,
            message,
        };
        let start = i;
        let tok = match c {
            '\n' => {
                i += 1;
                line += 1;
                line_start = i;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '%' if at(i + 1).is_ascii_digit() => {
                i += 1;
                while at(i).is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars.get(start + 1..i).unwrap_or_default().iter().collect();
                Tok::Value(
                    digits
                        .parse()
                        .map_err(|_| err(format!("bad value number %{digits}")))?,
                )
            }
            '-' if at(i + 1) == '>' => {
                i += 2;
                Tok::Arrow
            }
            '-' if at(i + 1) == 'i' && at(i + 2) == 'n' && at(i + 3) == 'f' => {
                i += 4;
                Tok::Float(f64::NEG_INFINITY)
            }
            c if c.is_ascii_digit() || (c == '-' && at(i + 1).is_ascii_digit()) => {
                i += 1;
                let mut float = false;
                while at(i).is_ascii_digit() {
                    i += 1;
                }
                if at(i) == '.' && at(i + 1).is_ascii_digit() {
                    float = true;
                    i += 1;
                    while at(i).is_ascii_digit() {
                        i += 1;
                    }
                }
                if matches!(at(i), 'e' | 'E') {
                    float = true;
                    i += 1;
                    if matches!(at(i), '+' | '-') {
                        i += 1;
                    }
                    while at(i).is_ascii_digit() {
                        i += 1;
                    }
                }
                let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
                if float {
                    Tok::Float(s.parse().map_err(|_| err(format!("bad number {s}")))?)
                } else {
                    Tok::Int(s.parse().map_err(|_| err(format!("bad integer {s}")))?)
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while at(i).is_ascii_alphanumeric() || at(i) == '_' || at(i) == '.' {
                    i += 1;
                }
                Tok::Ident(chars.get(start..i).unwrap_or_default().iter().collect())
            }
            '"' => {
                let (s, next) = string(&chars, i + 1).map_err(err)?;
                i = next;
                Tok::Str(s)
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ',' | ':' | '=' | '|' | '~' | '?' | '.' | '@' | '$' => {
                i += 1;
                Tok::Punct(c)
            }
            _ => return Err(err(format!("unexpected character {c:?}"))),
        };
        toks.push(Token { tok, line, column });
    }
    toks.push(Token {
        tok: Tok::Eof,
        line,
        column: chars.len() - line_start + 1,
    });
    Ok(toks)
}

/// A string body after its opening quote, with Rust's escapes (what `{:?}`
/// writes); returns the text and the index after the closing quote.
fn string(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut s = String::new();
    loop {
        let c = *chars.get(i).ok_or("unterminated string")?;
        i += 1;
        match c {
            '"' => return Ok((s, i)),
            '\\' => {
                let e = *chars.get(i).ok_or("unterminated string")?;
                i += 1;
                match e {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    '0' => s.push('\0'),
                    '\\' | '"' | '\'' => s.push(e),
                    'u' => {
                        if chars.get(i) != Some(&'{') {
                            return Err("bad \\u escape".into());
                        }
                        let close = (i..chars.len())
                            .find(|&j| chars.get(j) == Some(&'}'))
                            .ok_or("bad \\u escape")?;
                        let hex: String = chars.get(i + 1..close).unwrap_or_default().iter().collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or("bad \\u escape")?;
                        s.push(ch);
                        i = close + 1;
                    }
                    _ => return Err(format!("unknown escape \\{e}")),
                }
            }
            c => s.push(c),
        }
    }
}

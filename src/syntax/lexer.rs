//! The lexer: source text to `(start, Token, end)` triples with byte offsets.
//!
//! Takes any `&str` (the whole of one file) and its [`FileId`]. Guarantees:
//! never panics; whitespace, `// …` and `/* … */` comments are skipped; every
//! lexical error (a character that starts no token, an unterminated string or
//! block comment, an int literal that does not fit in `i64`, an unknown escape)
//! becomes a [`Diagnostic`] with its span and lexing goes on after it, so the
//! parser still sees the rest of the file. String tokens hold the unescaped
//! text. After a `.` token, a float such as `0.1` (no exponent) is split into
//! `0`, `.`, `1` so that `t.0.1` is a chain of tuple indices.

use super::span::{FileId, Span};
use super::symbol::Symbol;
use crate::diag::Diagnostic;
use logos::Logos;
use std::fmt;

/// Why a stretch of input could not be lexed.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LexError {
    /// A character that starts no token.
    #[default]
    Unexpected,
    UnterminatedString,
    UnterminatedComment,
    IntOverflow,
}

/// Extra state carried through lexing: spans of bad escapes inside strings
/// (the string itself is still produced).
#[derive(Clone, Debug, Default)]
pub struct LexExtras {
    pub bad_escapes: Vec<(usize, usize)>,
}

#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(error = LexError)]
#[logos(extras = LexExtras)]
#[logos(skip r"[ \t\r\n\x0C]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token {
    // Keywords.
    #[token("fn")]
    Fn,
    #[token("struct")]
    Struct,
    #[token("let")]
    Let,
    #[token("mut")]
    Mut,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("import")]
    Import,
    #[token("as")]
    As,
    #[token("test")]
    Test,
    #[token("adjoint")]
    Adjoint,
    #[token("true")]
    True,
    #[token("false")]
    False,

    // Literals and names. `_` lexes as an identifier; the grammar turns it into a wildcard pattern.
    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| Symbol::intern(lex.slice()))]
    Ident(Symbol),
    #[regex("[0-9]+", lex_int)]
    Int(i64),
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?", lex_float)]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+", lex_float)]
    Float(f64),
    #[token("\"", lex_string)]
    Str(String),

    // Operators.
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("**")]
    StarStar,
    #[token("@")]
    At,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
    #[token("=")]
    Eq,
    #[token("+=")]
    PlusEq,
    #[token("-=")]
    MinusEq,
    #[token("*=")]
    StarEq,
    #[token("/=")]
    SlashEq,
    #[token("->")]
    Arrow,
    #[token("|")]
    Pipe,

    // Punctuation.
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,

    /// `/* … */`, skipped by the callback (which reports an unterminated comment).
    #[token("/*", block_comment)]
    BlockComment,
}

fn lex_int(lex: &mut logos::Lexer<Token>) -> Result<i64, LexError> {
    lex.slice().parse::<i64>().map_err(|_| LexError::IntOverflow)
}

fn lex_float(lex: &mut logos::Lexer<Token>) -> Option<f64> {
    lex.slice().parse::<f64>().ok()
}

/// Reads the rest of a string literal after the opening quote.
fn lex_string(lex: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    let rest = lex.remainder();
    let base = lex.span().end;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return Ok(out);
            }
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((j, other)) => {
                    lex.extras
                        .bad_escapes
                        .push((base + i, base + j + other.len_utf8()));
                    out.push(other);
                }
                None => break,
            },
            _ => out.push(c),
        }
    }
    lex.bump(rest.len());
    Err(LexError::UnterminatedString)
}

/// Skips a block comment (nesting is not supported, as in C).
fn block_comment(lex: &mut logos::Lexer<Token>) -> Result<logos::Skip, LexError> {
    let rest = lex.remainder();
    match rest.find("*/") {
        Some(i) => {
            lex.bump(i + 2);
            Ok(logos::Skip)
        }
        None => {
            lex.bump(rest.len());
            Err(LexError::UnterminatedComment)
        }
    }
}

impl Token {
    /// A coarse class for syntax highlighting: "keyword", "number", "string",
    /// "identifier", "operator" or "punctuation".
    pub fn kind_name(&self) -> &'static str {
        use Token::*;
        match self {
            Fn | Struct | Let | Mut | If | Else | For | In | While | Break | Continue | Return | Import
            | As | Test | Adjoint | True | False => "keyword",
            Ident(_) => "identifier",
            Int(_) | Float(_) => "number",
            Str(_) => "string",
            Plus | Minus | Star | Slash | Percent | StarStar | At | Lt | Le | Gt | Ge | EqEq | Ne
            | AndAnd | OrOr | Bang | Eq | PlusEq | MinusEq | StarEq | SlashEq | Arrow | Pipe => "operator",
            Dot | DotDot | Comma | Semi | Colon | LParen | RParen | LBracket | RBracket | LBrace | RBrace => {
                "punctuation"
            }
            BlockComment => "comment",
        }
    }

    /// The fixed text of a keyword, operator or punctuation token.
    pub fn text(&self) -> Option<&'static str> {
        use Token::*;
        Some(match self {
            Fn => "fn",
            Struct => "struct",
            Let => "let",
            Mut => "mut",
            If => "if",
            Else => "else",
            For => "for",
            In => "in",
            While => "while",
            Break => "break",
            Continue => "continue",
            Return => "return",
            Import => "import",
            As => "as",
            Test => "test",
            Adjoint => "adjoint",
            True => "true",
            False => "false",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            StarStar => "**",
            At => "@",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            EqEq => "==",
            Ne => "!=",
            AndAnd => "&&",
            OrOr => "||",
            Bang => "!",
            Eq => "=",
            PlusEq => "+=",
            MinusEq => "-=",
            StarEq => "*=",
            SlashEq => "/=",
            Arrow => "->",
            Pipe => "|",
            Dot => ".",
            DotDot => "..",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Ident(_) | Int(_) | Float(_) | Str(_) | BlockComment => return None,
        })
    }

    /// How the token reads in an "expected …" message: "`}`", "`let`",
    /// "identifier", "number", "string".
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(_) => "identifier".to_string(),
            Token::Int(_) | Token::Float(_) => "number".to_string(),
            Token::Str(_) => "string".to_string(),
            Token::BlockComment => "comment".to_string(),
            other => format!("`{}`", other.text().unwrap_or("?")),
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Lexes a whole file. Tokens carry byte offsets `(start, token, end)`.
pub fn lex(src: &str, file: FileId) -> (Vec<(usize, Token, usize)>, Vec<Diagnostic>) {
    let mut tokens: Vec<(usize, Token, usize)> = Vec::new();
    let mut diags = Vec::new();
    let mut lexer = Token::lexer(src);
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(file, range.start, range.end);
        match result {
            Ok(tok) => {
                let after_dot = matches!(tokens.last(), Some((_, Token::Dot, _)));
                if after_dot && matches!(tok, Token::Float(_)) {
                    split_tuple_index(lexer.slice(), range.start, &mut tokens, &mut diags, file);
                } else {
                    tokens.push((range.start, tok, range.end));
                }
            }
            Err(err) => diags.push(lex_error(err, span, lexer.slice())),
        }
        for (lo, hi) in lexer.extras.bad_escapes.drain(..) {
            let text = src.get(lo..hi).unwrap_or("");
            diags.push(
                Diagnostic::error(
                    Span::new(file, lo, hi),
                    format!("unknown escape `{text}` in string"),
                )
                .with_label("unknown escape")
                .with_help("the escapes are `\\n`, `\\t`, `\\\"` and `\\\\`"),
            );
        }
    }
    (tokens, diags)
}

/// `t.0.1`: logos sees `0.1` as a float; after a `.` it is two tuple indices.
fn split_tuple_index(
    text: &str,
    start: usize,
    tokens: &mut Vec<(usize, Token, usize)>,
    diags: &mut Vec<Diagnostic>,
    file: FileId,
) {
    let end = start + text.len();
    let Some(dot) = text.find('.') else {
        tokens.push((start, Token::Float(text.parse().unwrap_or(0.0)), end));
        return;
    };
    let (a, b) = (text.get(..dot).unwrap_or(""), text.get(dot + 1..).unwrap_or(""));
    if b.bytes().all(|c| c.is_ascii_digit()) {
        for (lo, part) in [(start, a), (start + dot + 1, b)] {
            if lo != start {
                tokens.push((start + dot, Token::Dot, start + dot + 1));
            }
            match part.parse::<i64>() {
                Ok(v) => tokens.push((lo, Token::Int(v), lo + part.len())),
                Err(_) => diags.push(lex_error(
                    LexError::IntOverflow,
                    Span::new(file, lo, lo + part.len()),
                    part,
                )),
            }
        }
    } else {
        tokens.push((start, Token::Float(text.parse().unwrap_or(0.0)), end));
    }
}

fn lex_error(err: LexError, span: Span, text: &str) -> Diagnostic {
    match err {
        LexError::Unexpected => {
            let shown: String = text.chars().take(1).collect();
            let shown = shown.escape_debug().to_string();
            Diagnostic::error(span, format!("unexpected character `{shown}`"))
                .with_label("this character starts no token")
        }
        LexError::UnterminatedString => {
            let line_len = text.find('\n').unwrap_or(text.len());
            let span = Span {
                hi: span.lo + line_len as u32,
                ..span
            };
            Diagnostic::error(span, "unterminated string literal")
                .with_label("this string is never closed")
                .with_help("add a closing `\"`")
        }
        LexError::UnterminatedComment => Diagnostic::error(
            Span {
                hi: span.lo + 2,
                ..span
            },
            "unterminated block comment",
        )
        .with_label("this comment is never closed")
        .with_help("add a closing `*/`"),
        LexError::IntOverflow => Diagnostic::error(span, "integer literal is too large")
            .with_label("does not fit in a 64-bit int")
            .with_help("the largest int is 9223372036854775807; write a float (`1e20`) for larger values"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Token> {
        let (t, d) = lex(src, FileId(0));
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("3 3.0 1e-3 2.5e2 0..10"),
            vec![
                Token::Int(3),
                Token::Float(3.0),
                Token::Float(1e-3),
                Token::Float(250.0),
                Token::Int(0),
                Token::DotDot,
                Token::Int(10)
            ]
        );
    }

    #[test]
    fn tuple_index_chain() {
        let t = toks("t.0.1");
        assert_eq!(
            t,
            vec![
                Token::Ident(Symbol::intern("t")),
                Token::Dot,
                Token::Int(0),
                Token::Dot,
                Token::Int(1)
            ]
        );
        let (spans, _) = lex("t.0.1", FileId(0));
        let s: Vec<_> = spans.iter().map(|(a, _, b)| (*a, *b)).collect();
        assert_eq!(s, vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]);
    }

    #[test]
    fn keywords_ops_comments() {
        let t = toks("fn x_1 /* c \n */ ** -> .. // end\n += _ adjoint");
        assert_eq!(
            t,
            vec![
                Token::Fn,
                Token::Ident(Symbol::intern("x_1")),
                Token::StarStar,
                Token::Arrow,
                Token::DotDot,
                Token::PlusEq,
                Token::Ident(Symbol::intern("_")),
                Token::Adjoint
            ]
        );
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(toks(r#""a\n\t\"\\b""#), vec![Token::Str("a\n\t\"\\b".into())]);
    }

    #[test]
    fn errors_continue() {
        let (t, d) = lex("let x = 3 $ 4; \"abc", FileId(0));
        assert_eq!(d.len(), 2);
        assert!(d[0].message.contains("unexpected character `$`"));
        assert_eq!((d[0].span.lo, d[0].span.hi), (10, 11));
        assert!(d[1].message.contains("unterminated string"));
        assert_eq!(d[1].help.as_deref(), Some("add a closing `\"`"));
        assert!(t.iter().any(|(_, t, _)| *t == Token::Int(4)));
        let (_, d) = lex("/* open", FileId(0));
        assert!(d[0].message.contains("unterminated block comment"));
        let (t, d) = lex("99999999999999999999 1", FileId(0));
        assert!(d[0].message.contains("too large"));
        assert_eq!(t.len(), 1);
        let (_, d) = lex("\"a\\qb\" é", FileId(0));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn kinds() {
        assert_eq!(Token::Fn.kind_name(), "keyword");
        assert_eq!(Token::RBrace.describe(), "`}`");
        assert_eq!(Token::Plus.kind_name(), "operator");
    }
}

//! The rustyline helper: multi-line validation, completion and highlighting.

use super::commands::COMMANDS;
use crate::syntax::FileId;
use crate::syntax::lexer::{Token, lex};
use crate::syntax::parser::{is_incomplete, parse_module};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

const KEYWORDS: &[&str] = &[
    "fn", "struct", "let", "mut", "if", "else", "for", "in", "while", "break", "continue", "return",
    "import", "as", "test", "adjoint", "true", "false",
];

pub struct ReplHelper {
    /// Names defined in the session, refreshed by the loop after each input.
    pub names: Rc<RefCell<Vec<String>>>,
    pub color: bool,
}

/// The names a stdlib module defines (functions and structs).
fn module_members(module: &str) -> Vec<String> {
    let Some(src) = crate::front::load::stdlib_source(module) else {
        return Vec::new();
    };
    let (m, _) = parse_module(src, FileId(0));
    m.items
        .iter()
        .filter_map(|i| match i {
            crate::syntax::ast::Item::Fn(f) => Some(f.name.name.to_string()),
            crate::syntax::ast::Item::Struct(s) => Some(s.name.name.to_string()),
            _ => None,
        })
        .collect()
}

/// Completions for the word that ends at `pos`: (start of the word, candidates).
pub fn complete(line: &str, pos: usize, names: &[String]) -> (usize, Vec<String>) {
    let before = line.get(..pos).unwrap_or("");
    if before.starts_with(':') && !before.contains(char::is_whitespace) {
        let c = COMMANDS
            .iter()
            .map(|(c, _)| c.to_string())
            .filter(|c| c.starts_with(before))
            .collect();
        return (0, c);
    }
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let word = before.get(start..).unwrap_or("");
    if let Some(dot) = word.rfind('.') {
        let module = word.get(..dot).unwrap_or("");
        let prefix = word.get(dot + 1..).unwrap_or("");
        let mut c: Vec<String> = module_members(module)
            .into_iter()
            .filter(|m| m.starts_with(prefix))
            .collect();
        c.sort();
        c.dedup();
        return (start + dot + 1, c);
    }
    if word.is_empty() {
        return (pos, Vec::new());
    }
    let mut c: Vec<String> = KEYWORDS
        .iter()
        .map(|k| k.to_string())
        .chain(crate::ir::Builtin::ALL.iter().map(|b| b.name().to_string()))
        .chain(crate::front::load::stdlib_modules().map(str::to_string))
        .chain(names.iter().cloned())
        .filter(|n| n.starts_with(word) && !n.starts_with("__"))
        .collect();
    c.sort();
    c.dedup();
    (start, c)
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let names = self.names.borrow();
        let (start, c) = complete(line, pos, &names);
        Ok((
            start,
            c.into_iter()
                .map(|s| Pair {
                    display: s.clone(),
                    replacement: s,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

/// The ANSI colour for a token class, if it gets one.
fn color_of(kind: &str) -> Option<&'static str> {
    match kind {
        "keyword" => Some("\x1b[35m"),
        "number" => Some("\x1b[36m"),
        "string" => Some("\x1b[32m"),
        "comment" => Some("\x1b[90m"),
        _ => None,
    }
}

/// Colours `line` by the lexer's token kinds; line comments (skipped by the
/// lexer) are coloured as comments too.
pub fn highlight(line: &str) -> String {
    if line.starts_with(':') {
        return format!("\x1b[1m{line}\x1b[0m");
    }
    let (tokens, _) = lex(line, FileId(0));
    let mut out = String::with_capacity(line.len() * 2);
    let mut at = 0;
    let gap = |out: &mut String, text: &str| match text.find("//") {
        Some(i) => {
            out.push_str(text.get(..i).unwrap_or(""));
            out.push_str("\x1b[90m");
            out.push_str(text.get(i..).unwrap_or(""));
            out.push_str("\x1b[0m");
        }
        None => out.push_str(text),
    };
    for (lo, tok, hi) in &tokens {
        let (lo, hi) = (*lo, *hi);
        if lo < at || hi > line.len() {
            continue;
        }
        gap(&mut out, line.get(at..lo).unwrap_or(""));
        let text = line.get(lo..hi).unwrap_or("");
        match color_of(kind(tok)) {
            Some(c) => {
                out.push_str(c);
                out.push_str(text);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(text),
        }
        at = hi;
    }
    gap(&mut out, line.get(at..).unwrap_or(""));
    out
}

fn kind(t: &Token) -> &'static str {
    t.kind_name()
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            Cow::Owned(highlight(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        self.color && !matches!(kind, CmdKind::MoveCursor)
    }
}

/// True when the input cannot be complete yet: a bracket, string or comment
/// is open, or it ends with an operator, a comma or a keyword (`fn f(x) =`)
/// where the parser wanted more.
pub fn needs_more(input: &str) -> bool {
    if is_incomplete(input) {
        return true;
    }
    let (tokens, _) = lex(input, FileId(0));
    let dangling = tokens
        .last()
        .is_some_and(|(_, t, _)| matches!(t.kind_name(), "operator" | "keyword") || *t == Token::Comma);
    dangling && {
        let (_, diags) = parse_module(input, FileId(0));
        diags
            .iter()
            .any(|d| d.message.starts_with("unexpected end of input"))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if !input.trim_start().starts_with(':') && needs_more(input) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_keywords_builtins_and_members() {
        assert_eq!(complete(":gr", 3, &[]), (0, vec![":grad".to_string()]));
        let (s, c) = complete("le", 2, &[]);
        assert_eq!(s, 0);
        assert!(c.contains(&"let".to_string()));
        let (_, c) = complete("x = si", 6, &[]);
        assert!(c.contains(&"sin".to_string()), "{c:?}");
        let (_, c) = complete("my", 2, &["my_fn".to_string()]);
        assert_eq!(c, vec!["my_fn".to_string()]);
        let (s, _) = complete("nn.", 3, &[]);
        assert_eq!(s, 3);
    }

    #[test]
    fn multi_line_input() {
        assert!(needs_more("fn f(x, y) ="));
        assert!(needs_more("fn f(x) {"));
        assert!(needs_more("[1.0,"));
        assert!(!needs_more("fn f(x, y) = x * y;"));
        assert!(!needs_more("let a = 41"));
        assert!(!needs_more("1 + 2"));
    }

    #[test]
    fn highlights_keywords_and_numbers() {
        let h = highlight("let x = 1.5; // note");
        assert!(h.contains("\x1b[35mlet\x1b[0m"));
        assert!(h.contains("\x1b[36m1.5\x1b[0m"));
        assert!(h.contains("\x1b[90m// note"));
    }
}

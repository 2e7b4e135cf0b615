//! Diagnostics: the one shape every stage's errors take before rendering.
//!
//! Stages keep their errors as plain data and convert them with a single
//! `to_diagnostic` method each; [`render`] turns diagnostics into text with
//! ariadne (plain text when colour is off).

mod render;

pub use render::{render, render_all};

use crate::syntax::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The one-line message, e.g. "unknown name `foo`".
    pub message: String,
    /// Where the error is.
    pub span: Span,
    /// Text shown at the primary span (defaults to the message when empty).
    pub label: String,
    /// Related places, e.g. the unclosed bracket or the earlier definition.
    pub secondary: Vec<(Span, String)>,
    /// A hint, e.g. "did you mean `dense_init`?".
    pub help: Option<String>,
    /// Extra context, e.g. the values of a failed `assert_close`.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Marks the call site `call` of the function this error came out of when
    /// the error lies in another file (a standard-library module or an
    /// imported file), so the report also names the caller's line. Each file
    /// on the way out is marked once, at its outermost call.
    pub fn called_from(mut self, call: Span) -> Diagnostic {
        let marked = call.file == self.span.file || self.secondary.iter().any(|(s, _)| s.file == call.file);
        if call != Span::default() && !marked {
            self.secondary.push((call, "in this call".into()));
        }
        self
    }

    /// An internal compiler error: a bug in diffl, still reported with a span.
    pub fn internal(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(span, format!("internal error: {}", message.into()))
            .with_note("this is a bug in diffl; please report it with the program that caused it")
    }
}

/// Closest candidate by edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // A name that starts another (`b` for `bias`) is the likeliest meaning.
    if let Some(c) = candidates
        .iter()
        .find(|c| c.len() > name.len() && c.starts_with(name) && !name.is_empty())
    {
        return Some(format!("did you mean `{c}`?"));
    }
    for c in candidates {
        let d = edit_distance(name, c);
        let limit = (name.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            did_you_mean("dense_int", ["dense_init", "dense"]),
            Some("did you mean `dense_init`?".into())
        );
        assert_eq!(did_you_mean("zzz", ["dense_init"]), None);
    }
}

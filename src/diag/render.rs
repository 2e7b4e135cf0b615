//! Rendering diagnostics with ariadne: file, line and column, the source line
//! with the span marked, the message, secondary labels and a hint.

use super::{Diagnostic, Severity};
use crate::syntax::{FileId, SourceMap};
use ariadne::{Color, Config, Label, Report, ReportKind};
use std::collections::HashMap;

/// Renders one diagnostic to a string. `color` should be false when `NO_COLOR`
/// is set or the output is not a terminal.
pub fn render(diag: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let name_of = |id: FileId| {
        sources
            .get(id)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| "<unknown>".into())
    };
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let (line, col) = sources.line_col(diag.span.file, diag.span.lo);
    let primary_name = name_of(diag.span.file);
    let range = |s: crate::syntax::Span| {
        let len = sources.get(s.file).map(|f| f.text.len()).unwrap_or(0);
        let lo = (s.lo as usize).min(len);
        let hi = (s.hi as usize).min(len).max(lo);
        lo..hi
    };
    let mut report = Report::build(kind, (primary_name.clone(), range(diag.span)))
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(ariadne::IndexType::Byte),
        )
        .with_message(&diag.message);
    let label_text = if diag.label.is_empty() {
        diag.message.clone()
    } else {
        diag.label.clone()
    };
    let mut primary = Label::new((primary_name.clone(), range(diag.span))).with_message(label_text);
    if color {
        primary = primary.with_color(Color::Red);
    }
    report = report.with_label(primary);
    for (span, text) in &diag.secondary {
        let mut l = Label::new((name_of(span.file), range(*span))).with_message(text);
        if color {
            l = l.with_color(Color::Blue);
        }
        report = report.with_label(l);
    }
    if let Some(help) = &diag.help {
        report = report.with_help(help);
    }
    for note in &diag.notes {
        report = report.with_note(note);
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    for (_, f) in sources.files() {
        seen.entry(f.name.clone()).or_insert_with(|| f.text.clone());
    }
    let mut out = Vec::new();
    let cache = ariadne::sources(seen);
    if report.finish().write(cache, &mut out).is_err() {
        return format!("error: {} ({}:{}:{})\n", diag.message, primary_name, line, col);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders several diagnostics, in order.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    diags.iter().map(|d| render(d, sources, color)).collect()
}

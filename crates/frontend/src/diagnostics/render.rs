//! rustc-style rendering of a [`Diagnostic`]:
//!
//! ```text
//! error: unknown instruction: FORM
//!  --> Dockerfile:3:1
//!   |
//! 3 | FORM alpine
//!   | ^^^^ not a Dockerfile instruction
//!   |
//!   = help: did you mean FROM?
//! ```

use super::diagnostic::{Diagnostic, Severity};

/// Whether to colour the output (ANSI escapes). Callers pick [`Style::Color`] only when the
/// output goes to a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Plain text: files, pipes, tests.
    Plain,
    /// ANSI colours for a terminal.
    Color,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Style::Plain => text.to_string(),
            Style::Color => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
}

const BOLD_RED: &str = "1;31";
const BOLD_YELLOW: &str = "1;33";
const BOLD_BLUE: &str = "1;34";
const BOLD: &str = "1";

/// Renders `diag` as plain text; `file_name` is shown in the location line and `source` is the
/// text the span indexes into. Ends with a newline.
pub fn render(diag: &Diagnostic, file_name: &str, source: &str) -> String {
    render_with(diag, file_name, source, Style::Plain)
}

/// [`render`] with a choice of [`Style`].
pub fn render_with(diag: &Diagnostic, file_name: &str, source: &str, style: Style) -> String {
    let (word, color) = match diag.severity {
        Severity::Error => ("error", BOLD_RED),
        Severity::Warning => ("warning", BOLD_YELLOW),
    };
    let mut out = format!(
        "{}{}\n",
        style.paint(color, word),
        style.paint(BOLD, &format!(": {}", diag.message))
    );
    let snippet = diag.span.and_then(|span| Snippet::new(source, span));
    let gutter = snippet
        .as_ref()
        .map_or(1, |s| s.line_number.to_string().len());
    let pad = " ".repeat(gutter);
    let bar = style.paint(BOLD_BLUE, "|");
    if let Some(span) = diag.span {
        out += &format!(
            "{pad}{} {file_name}:{}:{}\n",
            style.paint(BOLD_BLUE, "-->"),
            span.line,
            span.column
        );
    }
    if let Some(s) = &snippet {
        let carets = style.paint(color, &"^".repeat(s.width));
        let label = diag
            .label
            .as_ref()
            .map(|l| format!(" {}", style.paint(color, l)))
            .unwrap_or_default();
        out += &format!("{pad} {bar}\n");
        out += &format!(
            "{} {bar} {}\n",
            style.paint(BOLD_BLUE, &s.line_number.to_string()),
            s.text
        );
        out += &format!("{pad} {bar} {}{carets}{label}\n", s.indent);
    } else if let Some(label) = &diag.label {
        out += &format!("{pad} {} {label}\n", style.paint(BOLD_BLUE, "="));
    }
    if let Some(hint) = &diag.hint {
        if snippet.is_some() {
            out += &format!("{pad} {bar}\n");
        }
        out += &format!(
            "{pad} {} {}: {hint}\n",
            style.paint(BOLD_BLUE, "="),
            style.paint(BOLD, "help")
        );
    }
    out
}

/// How much of a line is shown before a span's start, at most (in bytes).
const CONTEXT: usize = 60;
/// How much of a line is shown from a span's start, at most (in bytes).
const EXCERPT: usize = 120;

/// The largest char boundary of `s` at or before `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or after `i`.
fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The source line a span starts on (an excerpt of it when it is long), and where its
/// carets go.
struct Snippet {
    line_number: usize,
    /// The line, without its newline.
    text: String,
    /// Spaces (and tabs, where the line has tabs) up to the span's first character.
    indent: String,
    /// How many carets: the span's characters on this line, at least one.
    width: usize,
}

impl Snippet {
    fn new(source: &str, span: crate::ast::Span) -> Option<Snippet> {
        if span.start > source.len() || !source.is_char_boundary(span.start) {
            return None;
        }
        let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[span.start..]
            .find('\n')
            .map_or(source.len(), |i| span.start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        // A span may start on the `\n` of a CRLF line, past the shown text.
        let end = span
            .end
            .clamp(span.start, (line_start + text.len()).max(span.start));
        // A very long line is shown as an excerpt around the span, never whole.
        let shown_start =
            floor_boundary(source, span.start.saturating_sub(CONTEXT).max(line_start));
        let shown_end = ceil_boundary(source, (span.start + EXCERPT).min(line_start + text.len()));
        let shown_end = shown_end.max(shown_start);
        let cut_left = shown_start > line_start;
        let cut_right = shown_end < line_start + text.len();
        let mut shown = String::new();
        if cut_left {
            shown.push('…');
        }
        shown.push_str(&source[shown_start..shown_end]);
        if cut_right {
            shown.push('…');
        }
        let indent: String = (cut_left.then_some(' ').into_iter())
            .chain(
                source[shown_start..span.start]
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        let end = end.min(shown_end).max(span.start);
        let width = source
            .get(span.start..end)
            .map_or(1, |s| s.chars().count().max(1));
        Some(Snippet {
            line_number: span.line,
            text: shown,
            indent,
            width,
        })
    }
}

//! How a failed build or plan reads: a Dockerfile error with its file, line, column and source
//! line (coloured when asked), anything else as `error: …` with its causes.

use skiff_engine::BuildError;
use skiff_frontend::diagnostics::{render_with, Style};
use skiff_frontend::Diagnostic;
use std::io::IsTerminal;
use std::path::Path;

/// Where a Dockerfile's diagnostics point: its path as messages name it and its text.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The Dockerfile's path (`-f` as given, `CONTEXT/Dockerfile`, or `Dockerfile` for stdin).
    pub path: &'a Path,
    /// The Dockerfile's text, as read.
    pub text: &'a str,
}

impl Source<'_> {
    /// A frontend diagnostic (error or warning) with its place in this Dockerfile.
    pub fn render(&self, diagnostic: &Diagnostic, color: bool) -> String {
        let style = if color { Style::Color } else { Style::Plain };
        // Spans index into the text without its byte-order mark, as the parser keeps it.
        let text = self.text.strip_prefix('\u{feff}').unwrap_or(self.text);
        render_with(diagnostic, &self.path.to_string_lossy(), text, style)
    }
}

/// The error as the person reads it; `source` is the Dockerfile when it was read.
pub fn render_error(err: &anyhow::Error, source: Option<Source>, color: bool) -> String {
    let placed = err
        .downcast_ref::<BuildError>()
        .and_then(BuildError::diagnostic);
    match (placed, source) {
        (Some(d), Some(source)) => source.render(&d, color),
        _ => format!("error: {err:#}"),
    }
}

/// Whether stderr takes colours: a terminal, and `NO_COLOR` unset.
pub fn stderr_has_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

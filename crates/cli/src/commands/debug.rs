//! `skiff debug …`: views into the frontend, for conformance tests and for curious users.

use super::Context;
use anyhow::Context as _;
use clap::Subcommand;
use skiff_frontend::{render, Diagnostic};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `skiff debug` subcommands.
#[derive(Subcommand)]
pub enum DebugCommand {
    /// Print a Dockerfile's syntax tree in BuildKit's AST dump format.
    Dump {
        /// The Dockerfile to read.
        file: PathBuf,
    },
}

/// Runs a `skiff debug` subcommand.
pub fn run(_ctx: &Context, cmd: DebugCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DebugCommand::Dump { file } => dump(&file),
    }
}

/// Parses `file` and prints BuildKit's dump of it (exactly the corpus' `result` format);
/// warnings and a parse error are rendered on stderr with the source line and a caret,
/// and a parse error makes the command fail.
fn dump(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    // Spans index into the text without its byte-order mark.
    let source = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let name = file.display().to_string();
    match skiff_frontend::parse(&text) {
        Ok(dockerfile) => {
            for warning in &dockerfile.warnings {
                let diagnostic = Diagnostic::warning(warning.message.clone(), Some(warning.span));
                eprint!("{}", render(&diagnostic, &name, source));
            }
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(skiff_frontend::dump::dump(&dockerfile).as_bytes())?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostic) => {
            eprint!("{}", render(&diagnostic, &name, source));
            Ok(ExitCode::FAILURE)
        }
    }
}

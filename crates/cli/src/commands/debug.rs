//! `skiff debug …`: views into the frontend, for conformance tests and for curious users.

use super::Context;
use clap::Subcommand;
use std::path::PathBuf;
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
        DebugCommand::Dump { file } => {
            let _ = file;
            anyhow::bail!("not implemented yet")
        }
    }
}

//! The `skiff` command line: `docker build`'s interface over skiff's frontend, engine and image store.

use clap::{Parser, Subcommand};

/// A daemonless, Dockerfile-compatible container image builder.
#[derive(Parser)]
#[command(name = "skiff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tools for looking inside skiff's frontend.
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Subcommand)]
enum DebugCommand {
    /// Print a Dockerfile's syntax tree in BuildKit's AST dump format.
    Dump {
        /// The Dockerfile to read.
        file: std::path::PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Debug(DebugCommand::Dump { file }) => {
            let _ = file;
            anyhow::bail!("not implemented yet")
        }
    }
}

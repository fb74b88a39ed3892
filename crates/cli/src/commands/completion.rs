//! `skiff completion SHELL` and `skiff man`: shell completions (clap_complete) and the man
//! page (clap_mangen), generated from the same command definition the parser uses, so they
//! never drift from the flags.

use anyhow::Result;
use clap::{Args, Command};
use std::process::ExitCode;

/// `skiff completion bash|zsh|fish|elvish|powershell`.
#[derive(Args)]
pub struct CompletionArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `args.shell` to stdout (e.g. `skiff completion bash >
/// /etc/bash_completion.d/skiff`).
pub fn completion(mut command: Command, args: &CompletionArgs) -> Result<ExitCode> {
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    write_out(&script)
}

/// Writes the man page (roff) to stdout (e.g. `skiff man > /usr/local/share/man/man1/skiff.1`).
pub fn man(command: Command) -> Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    write_out(&page)
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is not an error.
fn write_out(bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

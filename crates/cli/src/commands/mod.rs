//! One module per group of subcommands.

pub mod build;
pub mod debug;
pub mod image;

use std::path::PathBuf;

/// Settings every subcommand shares.
pub struct Context {
    /// `--root` / `SKIFF_ROOT`, if given.
    pub root: Option<PathBuf>,
}

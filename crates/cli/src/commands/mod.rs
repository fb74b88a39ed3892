//! One module per group of subcommands.

pub mod archive;
pub mod build;
pub mod completion;
pub mod debug;
pub mod history;
pub mod image;
pub mod images;
pub mod info;
pub mod inspect;
pub mod lookup;
pub mod template;
pub mod units;

use std::path::PathBuf;

/// Settings every subcommand shares.
pub struct Context {
    /// `--root` / `SKIFF_ROOT`, if given.
    pub root: Option<PathBuf>,
    /// What the rootless entry mapped, when skiff runs as an ordinary user (`None` as root).
    pub rootless: Option<skiff_host::rootless::Entered>,
}

/// The store directory: `--root`/`SKIFF_ROOT`, else the default.
pub fn store_root(ctx: &Context) -> PathBuf {
    ctx.root
        .clone()
        .unwrap_or_else(skiff_image::Store::default_root)
}

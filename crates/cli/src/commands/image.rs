//! Image commands over the store: pull, push, images, inspect, rmi, prune.

use super::Context;
use clap::Args;
use std::process::ExitCode;

/// `skiff pull NAME`.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The image reference (`busybox`, `127.0.0.1:5000/app:1`, `name@sha256:…`).
    pub name: String,
    /// Platform to pick from a multi-platform index.
    #[arg(long)]
    pub platform: Option<String>,
    /// Registries reached over plain HTTP.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
}

/// `skiff push NAME [DEST]`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The image in the store.
    pub name: String,
    /// Push under another reference (default: NAME).
    pub destination: Option<String>,
    /// Registries reached over plain HTTP.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
}

/// `skiff images`.
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Print only digests.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `skiff inspect NAME`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The image in the store.
    pub name: String,
}

/// `skiff rmi NAME…`.
#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Image names to remove.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `skiff prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Also drop the build cache index.
    #[arg(long)]
    pub all: bool,
}

/// Runs `skiff pull`.
pub fn pull(_ctx: &Context, _args: PullArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `skiff push`.
pub fn push(_ctx: &Context, _args: PushArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `skiff images`.
pub fn images(_ctx: &Context, _args: ImagesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `skiff inspect`.
pub fn inspect(_ctx: &Context, _args: InspectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `skiff rmi`.
pub fn rmi(_ctx: &Context, _args: RmiArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `skiff prune`.
pub fn prune(_ctx: &Context, _args: PruneArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

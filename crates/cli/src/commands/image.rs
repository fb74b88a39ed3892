//! Image commands over the store and registries: pull, push, prune.

use super::lookup::open_store;
use super::Context;
use anyhow::Result;
use clap::Args;
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions, Platform};
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

/// `skiff prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Also drop the build cache index.
    #[arg(long)]
    pub all: bool,
}

fn client(insecure_registries: Vec<String>) -> Client {
    Client::new(ClientOptions {
        insecure_registries,
        ..ClientOptions::default()
    })
}

/// Runs `skiff pull`.
pub fn pull(ctx: &Context, args: PullArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.name)?;
    let platform = args
        .platform
        .as_deref()
        .map(str::parse::<Platform>)
        .transpose()?;
    let store = open_store(ctx)?;
    let pulled =
        client(args.insecure_registries).pull_blocking(&store, &reference, platform.as_ref())?;
    println!("Pulled {}", pulled.name);
    println!("Digest: {}", pulled.manifest.digest());
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff push`.
pub fn push(ctx: &Context, args: PushArgs) -> Result<ExitCode> {
    let source = Reference::parse(&args.name)?;
    let destination = match &args.destination {
        Some(dest) => Reference::parse(dest)?,
        None => source.clone(),
    };
    let store = open_store(ctx)?;
    let report = client(args.insecure_registries).push_blocking(&store, &source, &destination)?;
    println!(
        "Pushed {}: {} blob(s) uploaded, {} mounted, {} already present",
        report.reference, report.uploaded, report.mounted, report.skipped
    );
    println!("Digest: {}", report.digest);
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff prune`.
pub fn prune(ctx: &Context, args: PruneArgs) -> Result<ExitCode> {
    if args.all {
        anyhow::bail!(
            "`skiff prune --all` (dropping the whole build cache index) is not supported yet; \
             `skiff prune` already drops cache entries whose image is gone"
        );
    }
    let store = open_store(ctx)?;
    let report = store.prune()?;
    println!(
        "Removed blobs: {} ({}), snapshots: {} ({}), cache entries: {}, abandoned temp files: {}, stale stat caches: {}",
        report.blobs_removed,
        human_size(report.blob_bytes_freed),
        report.snapshots_removed,
        human_size(report.snapshot_bytes_freed),
        report.cache_entries_removed,
        report.temp_entries_removed,
        report.stat_caches_removed
    );
    Ok(ExitCode::SUCCESS)
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

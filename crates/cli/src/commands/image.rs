//! Image commands over the store: pull, push, images, inspect, rmi, prune.

use super::Context;
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use oci_spec::image::Descriptor;
use skiff_image::model::{ImageConfig, Manifest};
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions, Platform};
use skiff_image::Store;
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

pub(super) fn open_store(ctx: &Context) -> Result<Store> {
    let root = ctx.root.clone().unwrap_or_else(Store::default_root);
    Store::open(&root).with_context(|| format!("opening the store at {}", root.display()))
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

/// Runs `skiff images`.
pub fn images(ctx: &Context, args: ImagesArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let mut images = store.images()?;
    images.sort_by(|a, b| a.0.cmp(&b.0));
    if args.quiet {
        for (_, descriptor) in &images {
            println!("{}", descriptor.digest());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 4]> = images
        .iter()
        .map(|(name, descriptor)| {
            let (size, created) = match read_image(&store, descriptor) {
                Ok((manifest, config)) => (
                    human_size(manifest.size()),
                    config.created.unwrap_or_else(|| "-".to_string()),
                ),
                Err(_) => ("?".to_string(), "?".to_string()),
            };
            [name.clone(), short_digest(descriptor), size, created]
        })
        .collect();
    let header = ["NAME", "DIGEST", "SIZE", "CREATED"].map(String::from);
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        println!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff inspect`: the name, the manifest and the config exactly as stored, as one JSON object.
pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let (name, descriptor) = find_image(&store, &args.name)?;
    let manifest_bytes = store.read_blob(descriptor.digest())?;
    let manifest = store
        .read_manifest(&descriptor)
        .with_context(|| format!("parsing the manifest of {name}"))?;
    let config_bytes = store.read_blob(manifest.config.digest())?;
    // Names and digests are validated references and hex: they need no JSON escaping.
    println!(
        "{{\n  \"Name\": \"{name}\",\n  \"Digest\": \"{}\",\n  \"Manifest\": {},\n  \"Config\": {}\n}}",
        descriptor.digest(),
        String::from_utf8_lossy(&manifest_bytes).trim(),
        String::from_utf8_lossy(&config_bytes).trim()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff rmi`: removes each name; the blobs stay until `skiff prune`.
pub fn rmi(ctx: &Context, args: RmiArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let mut code = ExitCode::SUCCESS;
    for arg in &args.names {
        match find_image(&store, arg) {
            Ok((name, _)) => {
                store.untag(&name)?;
                println!("Untagged: {name}");
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                code = ExitCode::FAILURE;
            }
        }
    }
    Ok(code)
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

/// The store's name for what the user typed: the normalised reference if the store has it,
/// else the text as typed (names given to built images need not be registry references).
pub(super) fn find_image(store: &Store, name: &str) -> Result<(String, Descriptor)> {
    let normalised = Reference::parse(name).map(|r| r.to_string()).ok();
    for candidate in normalised.iter().map(String::as_str).chain([name]) {
        if let Some(descriptor) = store.resolve(candidate)? {
            return Ok((candidate.to_string(), descriptor));
        }
    }
    Err(anyhow!(
        "no image named {} in the store (see `skiff images`)",
        normalised.as_deref().unwrap_or(name)
    ))
}

/// The image a name points at: its manifest (one platform) and its config.
fn read_image(store: &Store, descriptor: &Descriptor) -> Result<(Manifest, ImageConfig)> {
    let manifest = store.read_manifest(descriptor)?;
    let config = store.read_config(manifest.config.digest())?;
    Ok((manifest, config))
}

fn short_digest(descriptor: &Descriptor) -> String {
    let digest = descriptor.digest().to_string();
    digest.chars().take("sha256:".len() + 12).collect()
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

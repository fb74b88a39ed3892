//! Docker's image commands over archives and names: `tag`, `save`, `load`.

use super::lookup::{find_image, open_store};
use super::Context;
use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use skiff_image::export::{write_docker_archive_of, write_oci_archive_of, Destination, SavedImage};
use skiff_image::load::load_archive;
use skiff_image::reference::Reference;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// `skiff tag SOURCE TARGET`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image: a name, an ID or an ID prefix.
    pub source: String,
    /// The new name (`app:1`, `registry.example/app:1`).
    pub target: String,
}

/// The archive formats `skiff save` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    /// What `docker save` writes and `docker load` reads (manifest.json, repositories).
    Docker,
    /// An OCI image layout in a tar (index.json, oci-layout, blobs/).
    Oci,
}

/// `skiff save [-o FILE] [--format docker|oci] IMAGE…`.
#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The archive format.
    #[arg(long, value_enum, default_value_t = SaveFormat::Docker)]
    pub format: SaveFormat,
    /// The images to save (each with the name it is given here; one given by ID or ID
    /// prefix is saved without a name).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `skiff load [-i FILE] [-q]`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Accepted for Docker compatibility: skiff shows no progress to suppress.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `skiff tag`: TARGET names the image SOURCE names (replacing what TARGET named).
pub fn tag(ctx: &Context, args: TagArgs) -> Result<ExitCode> {
    let target = Reference::parse(&args.target)
        .with_context(|| format!("invalid target name {:?}", args.target))?;
    let store = open_store(ctx)?;
    let (_, descriptor) = find_image(&store, &args.source)?;
    store.tag(&target.to_string(), &descriptor)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff save`: the images, each under the names given for it, in one archive.
pub fn save(ctx: &Context, args: SaveArgs) -> Result<ExitCode> {
    let dest = match &args.output {
        Some(path) => Destination::File(path.clone()),
        None if std::io::stdout().is_terminal() => {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        None => Destination::Stdout,
    };
    let store = open_store(ctx)?;
    let mut images: Vec<SavedImage> = Vec::new();
    for arg in &args.images {
        let (name, descriptor) = find_image(&store, arg)?;
        // Only names that are references with a tag can be recorded: not the `sha256:…`
        // IDs unnamed loaded images get (which would parse as repository `sha256`).
        let named = Reference::parse(&name)
            .ok()
            .filter(|r| r.tag().is_some() && r.digest().is_none())
            .filter(|_| !name.starts_with("sha256:"))
            .map(|_| name);
        match images
            .iter_mut()
            .find(|i| i.manifest.digest() == descriptor.digest())
        {
            Some(image) => image
                .names
                .extend(named.filter(|n| !image.names.contains(n))),
            None => images.push(SavedImage {
                manifest: descriptor,
                names: named.into_iter().collect(),
            }),
        }
    }
    match args.format {
        SaveFormat::Docker => write_docker_archive_of(&store, &images, &dest),
        SaveFormat::Oci => write_oci_archive_of(&store, &images, &dest),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `skiff load`: prints `Loaded image: NAME` per name (`Loaded image ID: …` for an
/// image without one), as `docker load` does.
pub fn load(ctx: &Context, args: LoadArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let loaded = match &args.input {
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            load_archive(&store, std::io::BufReader::new(file))
                .with_context(|| format!("loading {}", path.display()))?
        }
        None if std::io::stdin().is_terminal() => {
            bail!("requested load from stdin, but stdin is a terminal: use -i FILE or redirect")
        }
        None => load_archive(&store, std::io::stdin().lock())
            .context("loading the archive from standard input")?,
    };
    for image in loaded {
        if image.names.is_empty() {
            println!("Loaded image ID: {}", image.id);
        }
        for name in &image.names {
            let shown = Reference::parse(name).map_or_else(|_| name.clone(), |r| r.familiar());
            println!("Loaded image: {shown}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

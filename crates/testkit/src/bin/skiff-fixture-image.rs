//! Looks at and runs images exported by `skiff build`, for `scripts/demo`.
//!
//! - `skiff-fixture-image summary ARCHIVE`: what the article is about, as `KEY VALUE` lines:
//!   `compressed` (bytes of the layer blobs, as a registry stores them), `content` (bytes of
//!   the files in the final tree), `files` (entries that are not directories), `layers`,
//!   `user` (the config's `USER`, `root` when unset) and, when there are at most 5,
//!   `file PATH` for each.
//! - `skiff-fixture-image bundle BUNDLE ROOTFS ARCHIVE [-e KEY=VALUE]… [-- ARG…]`: writes
//!   `BUNDLE/config.json` for runc, running the archive's image (its `USER` resolved in
//!   ROOTFS, its `Cmd`, `Env`, `WorkingDir`) on ROOTFS (a `-o type=local` export of it), on the
//!   host's network; `-e` adds environment, `--` replaces the command.

use anyhow::{bail, Context, Result};
use skiff_testkit::container::{write_bundle, Process};
use skiff_testkit::project::BuiltImage;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: skiff-fixture-image summary ARCHIVE\n       \
                     skiff-fixture-image bundle BUNDLE ROOTFS ARCHIVE [-e KEY=VALUE]... [-- ARG...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("summary") if args.len() == 2 => summary(Path::new(&args[1])),
        Some("bundle") if args.len() >= 4 => bundle(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn open(archive: &Path) -> Result<BuiltImage> {
    BuiltImage::open(archive)
        .with_context(|| format!("reading the OCI archive {}", archive.display()))
}

fn summary(archive: &Path) -> Result<()> {
    let image = open(archive)?;
    let compressed: u64 = image.manifest["layers"]
        .as_array()
        .map(|layers| layers.iter().filter_map(|l| l["size"].as_u64()).sum())
        .unwrap_or(0);
    let files = image.fs.non_dirs();
    let content: usize = files.iter().map(|f| image.fs.entry(f).data.len()).sum();
    let user = image.runtime_config()["User"]
        .as_str()
        .filter(|u| !u.is_empty())
        .unwrap_or("root");
    println!("compressed {compressed}");
    println!("content {content}");
    println!("files {}", files.len());
    println!("layers {}", image.layers.len());
    println!("user {user}");
    if files.len() <= 5 {
        for file in &files {
            println!("file {file}");
        }
    }
    Ok(())
}

fn bundle(args: &[String]) -> Result<()> {
    let (bundle, rootfs, archive) = (
        Path::new(&args[0]),
        Path::new(&args[1]),
        Path::new(&args[2]),
    );
    let image = open(archive)?;
    let mut process = Process::from_image(rootfs, image.runtime_config())?;
    let mut rest = args[3..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-e" => {
                let kv = rest.next().context("-e needs KEY=VALUE")?;
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("-e {kv}: expected KEY=VALUE");
                };
                process = process.env(k, v);
            }
            "--" => {
                let argv: Vec<&str> = rest.by_ref().map(String::as_str).collect();
                process = process.args(&argv);
            }
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        }
    }
    write_bundle(bundle, rootfs, &process)
}

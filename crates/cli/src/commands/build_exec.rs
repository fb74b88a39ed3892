//! `skiff build` for real: turns the flags into engine options, runs the build, names the
//! result, writes the outputs and prints the summary. Errors about the Dockerfile are
//! rendered with the file, line, column and the source line.

use super::build::BuildArgs;
use super::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use skiff_engine::progress::{Mode, Progress};
use skiff_engine::rootfs::LayerOptions;
use skiff_engine::stage::DockerfileError;
use skiff_engine::{BuildOptions, NamedContext, Platform, Secret};
use skiff_image::export::{self, Output};
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::Store;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Runs a build (not `--dry-run`).
pub fn execute(ctx: &Context, args: BuildArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (dockerfile_path, dockerfile) = read_dockerfile(&args)?;
    let mode = Mode::parse(&args.progress).map_err(|e| anyhow!(e))?;
    let outputs = outputs(&args)?;
    let options = BuildOptions {
        context: args
            .context
            .canonicalize()
            .with_context(|| format!("build context {} not found", args.context.display()))?,
        dockerfile_path: dockerfile_path.clone(),
        dockerfile: dockerfile.clone(),
        target: args.target.clone(),
        build_args: build_args(&args.build_args),
        platform: args.platform.as_deref().map(Platform::parse).transpose()?,
        no_cache: args.no_cache,
        no_cache_filter: args.no_cache_filter.clone(),
        labels: args
            .labels
            .iter()
            .map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .unwrap_or((l.clone(), String::new()))
            })
            .collect(),
        secrets: args
            .secrets
            .iter()
            .map(|s| parse_secret(s))
            .collect::<Result<_>>()?,
        named_contexts: args
            .build_contexts
            .iter()
            .map(|c| parse_named_context(c))
            .collect::<Result<_>>()?,
        insecure_registries: args.insecure_registries.clone(),
        runtime: args.runtime.clone(),
        layer: LayerOptions {
            zstd: match args.compression.as_str() {
                "gzip" => false,
                "zstd" => true,
                other => bail!("unknown compression \"{other}\": use gzip or zstd"),
            },
            source_date_epoch: source_date_epoch()?,
        },
    };
    let store = Store::open(super::store_root(ctx))?;
    let progress = Progress::new(mode);
    let outcome = match skiff_engine::build(&store, options, progress) {
        Ok(o) => o,
        Err(err) => {
            if let Some(DockerfileError(d)) = err.downcast_ref::<DockerfileError>() {
                let label = dockerfile_path.to_string_lossy();
                eprint!("{}", skiff_frontend::render(d, &label, &dockerfile));
                return Ok(ExitCode::FAILURE);
            }
            return Err(err);
        }
    };
    let digest = outcome.manifest.digest().to_string();
    for output in &outputs {
        export::write(&store, &outcome.manifest, output)?;
        match output {
            Output::Image { names, push } => {
                for name in names {
                    eprintln!("naming to {name}");
                    if *push {
                        let r = Reference::parse(name)?;
                        let client = Client::new(ClientOptions {
                            insecure_registries: args.insecure_registries.clone(),
                            ..ClientOptions::default()
                        });
                        let report = client.push_blocking(&store, &r, &r)?;
                        eprintln!(
                            "pushed {} ({} blobs uploaded, {} already there)",
                            report.reference, report.uploaded, report.skipped
                        );
                    }
                }
            }
            Output::Oci { dest, .. } | Output::Docker { dest, .. } | Output::Tar { dest } => {
                eprintln!("exported to {dest:?}")
            }
            Output::Local { dest } => eprintln!("exported rootfs to {}", dest.display()),
        }
    }
    let size: u64 = outcome.state.layers.iter().map(|l| l.size()).sum();
    eprintln!(
        "built {digest} ({} layers, {}) in {:.1}s",
        outcome.state.layers.len(),
        human_size(size),
        started.elapsed().as_secs_f64()
    );
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

fn read_dockerfile(args: &BuildArgs) -> Result<(PathBuf, String)> {
    match &args.file {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Ok((PathBuf::from("Dockerfile"), s))
        }
        Some(p) => Ok((p.clone(), read_text(p)?)),
        None => {
            let p = args.context.join("Dockerfile");
            Ok((p.clone(), read_text(&p)?))
        }
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the Dockerfile {}", path.display()))
}

/// `--build-arg K=V`, or `K` alone to take the value from the environment (skipped if unset).
fn build_args(raw: &[String]) -> Vec<(String, String)> {
    raw.iter()
        .filter_map(|a| match a.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(a).ok().map(|v| (a.clone(), v)),
        })
        .collect()
}

/// `--secret id=ID[,src=FILE|,env=VAR]` (`source`, `type=file|env` accepted as in buildx).
fn parse_secret(spec: &str) -> Result<Secret> {
    let mut id = None;
    let mut src = None;
    let mut env = None;
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "id" => id = Some(v.to_string()),
            "src" | "source" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            "type" if v == "file" || v == "env" => {}
            other => bail!("--secret {spec}: unknown key \"{other}\" (use id, src or env)"),
        }
    }
    let id = id.ok_or_else(|| anyhow!("--secret {spec}: id=… is required"))?;
    let value = match (src, env) {
        (Some(path), _) => {
            std::fs::read(&path).with_context(|| format!("--secret {id}: reading {path}"))?
        }
        (None, Some(var)) => std::env::var(&var)
            .with_context(|| format!("--secret {id}: ${var} is not set"))?
            .into_bytes(),
        (None, None) => match std::env::var(&id) {
            Ok(v) => v.into_bytes(),
            Err(_) => bail!("--secret {id}: give src=FILE or env=VAR"),
        },
    };
    Ok(Secret { id, value })
}

/// `--build-context NAME=PATH|docker-image://REF|oci-layout://PATH[:TAG]`.
fn parse_named_context(spec: &str) -> Result<(String, NamedContext)> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--build-context {spec}: expected NAME=VALUE"))?;
    let ctx = if let Some(r) = value.strip_prefix("docker-image://") {
        NamedContext::Image(r.to_string())
    } else if let Some(p) = value.strip_prefix("oci-layout://") {
        match p.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') => {
                NamedContext::OciLayout(PathBuf::from(path), Some(tag.to_string()))
            }
            _ => NamedContext::OciLayout(PathBuf::from(p), None),
        }
    } else {
        let dir = PathBuf::from(value);
        if !dir.is_dir() {
            bail!("--build-context {name}: {value} is not a directory (use docker-image:// or oci-layout:// for images)");
        }
        NamedContext::Dir(dir.canonicalize()?)
    };
    Ok((name.to_string(), ctx))
}

fn outputs(args: &BuildArgs) -> Result<Vec<Output>> {
    let tags: Vec<String> = args
        .tags
        .iter()
        .map(|t| Ok(Reference::parse(t)?.to_string()))
        .collect::<Result<_>>()?;
    let mut outs = Vec::new();
    for o in &args.outputs {
        outs.push(Output::parse(o)?.with_tags(&tags)?);
    }
    if outs.is_empty() || (args.push && !outs.iter().any(|o| matches!(o, Output::Image { .. }))) {
        outs.push(
            Output::Image {
                names: tags.clone(),
                push: args.push,
            }
            .with_tags(&tags)?,
        );
    }
    if args.push {
        for o in &mut outs {
            if let Output::Image { push, .. } = o {
                *push = true;
            }
        }
    }
    Ok(outs)
}

fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            Ok(Some(v.parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")
            })?))
        }
        _ => Ok(None),
    }
}

/// `4.1 MB`.
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

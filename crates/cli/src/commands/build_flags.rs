//! `skiff build`'s flags turned into engine options, each checked with a message that says
//! what is wrong and how to fix it: the context and Dockerfile, `--build-arg`, `--label`,
//! `--secret`, `--build-context`, `--output`/`-t`/`--push` and `SOURCE_DATE_EPOCH`.

use super::build::BuildArgs;
use anyhow::{anyhow, bail, Context as _, Result};
use skiff_engine::{NamedContext, Secret};
use skiff_image::export::{Destination, Output};
use skiff_image::reference::Reference;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The context directory, made absolute; a clear error when it is missing or not a directory.
pub fn context_dir(args: &BuildArgs) -> Result<PathBuf> {
    let dir = &args.context;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => dir
            .canonicalize()
            .with_context(|| format!("resolving the build context {}", dir.display())),
        Ok(_) => bail!(
            "the build context {} is not a directory: give the directory holding the files \
             the Dockerfile copies (usually `.`)",
            dir.display()
        ),
        Err(e) => bail!(
            "the build context {} cannot be read ({e}): give an existing directory \
             (`skiff build [OPTIONS] PATH`)",
            dir.display()
        ),
    }
}

/// The Dockerfile's path (as messages name it) and text: `-f FILE`, `-f -` (stdin), or
/// `CONTEXT/Dockerfile` (`CONTEXT/dockerfile` when only that exists, as Docker does).
pub fn read_dockerfile(args: &BuildArgs) -> Result<(PathBuf, String)> {
    match &args.file {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the Dockerfile from standard input (-f -)")?;
            Ok((PathBuf::from("Dockerfile"), s))
        }
        Some(p) => Ok((p.clone(), read_text(p)?)),
        None => {
            let upper = args.context.join("Dockerfile");
            let lower = args.context.join("dockerfile");
            let path = if !upper.exists() && lower.exists() {
                lower
            } else {
                upper
            };
            Ok((path.clone(), read_text(&path)?))
        }
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the Dockerfile {} (name another one with -f FILE, or -f - for stdin)",
            path.display()
        )
    })
}

/// `--build-arg K=V`, or `K` alone to take the value from the environment (skipped if unset).
pub fn build_args(raw: &[String]) -> Vec<(String, String)> {
    raw.iter()
        .filter_map(|a| match a.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(a).ok().map(|v| (a.clone(), v)),
        })
        .collect()
}

/// `--label K=V` (`K` alone is an empty value, as in Docker); an empty key is refused.
pub fn labels(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.trim().is_empty() {
                bail!("invalid --label {l:?}: expected KEY=VALUE, e.g. --label org.opencontainers.image.title=app");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// `--secret id=ID[,src=FILE|,env=VAR]` (`source`, `type=file|env` accepted as in buildx).
pub fn parse_secret(spec: &str) -> Result<Secret> {
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
pub fn parse_named_context(spec: &str) -> Result<(String, NamedContext)> {
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

/// The outputs to write: every `--output`, with `-t` names applied; the store (`type=image`)
/// when none is given; `--push` pushes the image outputs (adding one if needed).
pub fn outputs(args: &BuildArgs) -> Result<Vec<Output>> {
    let tags: Vec<String> = args
        .tags
        .iter()
        .map(|t| {
            Reference::parse(t).map(|r| r.to_string()).with_context(|| {
                format!("invalid tag -t {t:?}: expected NAME[:TAG], e.g. -t app:1.0")
            })
        })
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
            if let Output::Image { names, push } = o {
                if names.is_empty() {
                    bail!("--push needs a name: add -t REGISTRY/NAME:TAG");
                }
                *push = true;
            }
        }
    }
    let to_stdout = outs.iter().filter(|o| writes_to_stdout(o)).count();
    if to_stdout > 1 {
        bail!("only one --output can write to standard output (dest=-)");
    }
    Ok(outs)
}

/// Whether the output streams to standard output (then nothing else may be printed there).
pub fn writes_to_stdout(output: &Output) -> bool {
    matches!(
        output,
        Output::Oci {
            dest: Destination::Stdout,
            ..
        } | Output::Docker {
            dest: Destination::Stdout,
            ..
        } | Output::Tar {
            dest: Destination::Stdout
        }
    )
}

/// `SOURCE_DATE_EPOCH`, when set: timestamps in the image for reproducible builds.
pub fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            Ok(Some(v.parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")
            })?))
        }
        _ => Ok(None),
    }
}

//! What a build reads besides its flags, each checked with a message that says what is wrong
//! and how to fix it: the context directory, the Dockerfile, `--secret` values,
//! `--build-context` entries and `SOURCE_DATE_EPOCH`.

use anyhow::{anyhow, bail, Context as _, Result};
use skiff_engine::{NamedContext, Secret};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The context directory, made absolute; a clear error when it is missing or not a directory.
pub fn context_dir(dir: &Path) -> Result<PathBuf> {
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
pub fn read_dockerfile(file: Option<&Path>, context: &Path) -> Result<(PathBuf, String)> {
    match file {
        Some(p) if p.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the Dockerfile from standard input (-f -)")?;
            let name = PathBuf::from("Dockerfile");
            let text = as_text(&name, bytes)?;
            Ok((name, text))
        }
        Some(p) => Ok((p.to_path_buf(), read_text(p)?)),
        None => {
            let upper = context.join("Dockerfile");
            let lower = context.join("dockerfile");
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
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the Dockerfile {} (name another one with -f FILE, or -f - for stdin)",
            path.display()
        )
    })?;
    as_text(path, bytes)
}

/// The Dockerfile's bytes as text. A Dockerfile is UTF-8: UTF-16 (what some Windows editors
/// save) is named as such, other bytes by their place, each with how to fix it.
fn as_text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    let utf16 = bytes.starts_with(&[0xff, 0xfe])
        || bytes.starts_with(&[0xfe, 0xff])
        || (bytes.len() >= 2 && (bytes[0] == 0) != (bytes[1] == 0));
    match String::from_utf8(bytes) {
        Ok(text) if !utf16 || !text.contains('\0') => Ok(text),
        _ if utf16 => bail!(
            "the Dockerfile {} is UTF-16 text, not UTF-8: Dockerfiles are read as UTF-8; save it \
             as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 Dockerfile > Dockerfile.utf8`)",
            path.display()
        ),
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            let byte = e.as_bytes()[valid.len()];
            bail!(
                "the Dockerfile {}:{line}:{column} is not UTF-8 text (byte 0x{byte:02x}): save it \
                 as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`)",
                path.display()
            )
        }
    }
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

/// `oci-layout://PATH[:TAG][@sha256:DIGEST]`'s value: the digest, when given, selects the
/// image (BuildKit's rule), else the tag.
fn oci_layout_context(value: &str) -> NamedContext {
    if let Some((rest, digest)) = value.rsplit_once('@') {
        if digest.starts_with("sha256:") {
            let path = match rest.rsplit_once(':') {
                Some((path, tag)) if !tag.contains('/') => path,
                _ => rest,
            };
            return NamedContext::OciLayout(PathBuf::from(path), Some(digest.to_string()));
        }
    }
    match value.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => {
            NamedContext::OciLayout(PathBuf::from(path), Some(tag.to_string()))
        }
        _ => NamedContext::OciLayout(PathBuf::from(value), None),
    }
}

/// `--build-context NAME=PATH|docker-image://REF|oci-layout://PATH[:TAG][@DIGEST]`.
pub fn parse_named_context(spec: &str) -> Result<(String, NamedContext)> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--build-context {spec}: expected NAME=VALUE"))?;
    let ctx = if let Some(r) = value.strip_prefix("docker-image://") {
        NamedContext::Image(r.to_string())
    } else if let Some(p) = value.strip_prefix("oci-layout://") {
        oci_layout_context(p)
    } else {
        let dir = PathBuf::from(value);
        if !dir.is_dir() {
            bail!("--build-context {name}: {value} is not a directory (use docker-image:// or oci-layout:// for images)");
        }
        NamedContext::Dir(dir.canonicalize()?)
    };
    Ok((name.to_string(), ctx))
}

/// `SOURCE_DATE_EPOCH`, when set: timestamps in the image for reproducible builds. The build
/// arg (`--build-arg SOURCE_DATE_EPOCH=N`, BuildKit's way) wins over the environment variable
/// (which buildx turns into that build arg); an empty value is unset, as BuildKit reads it.
pub fn source_date_epoch(build_args: &[(String, String)]) -> Result<Option<i64>> {
    const NAME: &str = "SOURCE_DATE_EPOCH";
    let (from, value) = match build_args.iter().rev().find(|(k, _)| k == NAME) {
        Some((_, v)) => ("--build-arg ", v.clone()),
        None => ("", std::env::var(NAME).unwrap_or_default()),
    };
    if value.is_empty() {
        return Ok(None);
    }
    let secs = value.parse::<i64>().ok().filter(|s| *s >= 0);
    secs.map(Some).ok_or_else(|| {
        anyhow!("{from}{NAME}={value} is not a number of seconds since 1970 (e.g. $(git log -1 --format=%ct))")
    })
}

#[cfg(test)]
mod tests {
    use super::parse_named_context;
    use skiff_engine::NamedContext;
    use std::path::PathBuf;

    #[test]
    fn an_oci_layout_is_named_by_tag_or_digest() {
        let layout = |spec: &str| match parse_named_context(spec).unwrap().1 {
            NamedContext::OciLayout(path, sel) => (path, sel),
            other => panic!("{other:?}"),
        };
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            layout("b=oci-layout:///l/x:v1"),
            (PathBuf::from("/l/x"), Some("v1".into()))
        );
        assert_eq!(
            layout(&format!("b=oci-layout:///l/x@{digest}")),
            (PathBuf::from("/l/x"), Some(digest.clone()))
        );
        assert_eq!(
            layout(&format!("b=oci-layout:///l/x:v1@{digest}")),
            (PathBuf::from("/l/x"), Some(digest))
        );
        assert_eq!(layout("b=oci-layout:///l/x"), (PathBuf::from("/l/x"), None));
    }
}

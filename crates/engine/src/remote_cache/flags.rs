//! `--cache-to` and `--cache-from` as buildx spells them, parsed once into typed values:
//! `type=registry,ref=REG/REPO:TAG[,mode=min|max][,compression=gzip|zstd][,ignore-error=true]`
//! and `type=local,dest=DIR` (export) / `type=local,src=DIR` (import). An unknown type or key,
//! a missing required key or a malformed value is an error naming it.

use anyhow::{anyhow, bail, Context as _, Result};
use skiff_image::layer::Compression;
use skiff_image::reference::Reference;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a cache lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheLocation {
    /// A tag in a registry (`type=registry,ref=…`).
    Registry(Reference),
    /// An OCI image layout directory (`type=local,dest=…` / `src=…`).
    Local(PathBuf),
    /// Inside the built image's config (`--cache-to type=inline`; imported with
    /// `--cache-from type=registry,ref=<the image>`).
    Inline,
}

/// What `--cache-to` exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// The steps of the final image (buildx's default).
    #[default]
    Min,
    /// Every step of every stage the build ran, builder stages included.
    Max,
}

/// One `--cache-to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheTo {
    /// Where the cache goes.
    pub location: CacheLocation,
    /// Which steps go.
    pub mode: CacheMode,
    /// `compression=`: the layers' compression the cache is for (it must be the build's:
    /// compression is part of every layer step's key).
    pub compression: Option<Compression>,
    /// `ignore-error=true`: a failed export is a warning, not a failed build.
    pub ignore_error: bool,
    /// `cache-mounts=true`: the contents of the build's `RUN --mount=type=cache` directories
    /// go too (never into an image layer, never into a key).
    pub cache_mounts: bool,
    /// `cache-mounts-exclude=ID` (repeatable): cache mounts not exported.
    pub cache_mounts_exclude: Vec<String>,
    /// `cache-mounts-max-size=BYTES[k|m|g]`: a cache mount whose compressed contents are
    /// larger is not exported (default [`DEFAULT_CACHE_MOUNT_MAX`]).
    pub cache_mounts_max_size: u64,
}

/// The default largest compressed cache-mount contents exported: 1 GiB.
pub const DEFAULT_CACHE_MOUNT_MAX: u64 = 1 << 30;

/// `123`, `64k`, `512m`, `2g` (powers of 1024).
fn size_value(key: &str, value: &str) -> Result<u64> {
    let lower = value.to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix(['k', 'm', 'g']) {
        Some(d) => (d, &lower[d.len()..]),
        None => (lower.as_str(), ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| anyhow!("{key}={value:?}: expected a size such as 500m or 2g"))?;
    let scale = match unit {
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => 1,
    };
    n.checked_mul(scale)
        .ok_or_else(|| anyhow!("{key}={value:?}: too large"))
}

/// One `--cache-from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheFrom {
    /// Where the cache is read from.
    pub location: CacheLocation,
}

/// `key=value` pairs of one flag value, in order.
fn pairs(text: &str) -> Result<Vec<(&str, &str)>> {
    text.split(',')
        .map(|part| {
            part.split_once('=')
                .ok_or_else(|| anyhow!("{part:?} is not KEY=VALUE"))
        })
        .collect()
}

fn bool_value(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => bail!("{key}={value:?}: expected true or false"),
    }
}

/// The `type=` of a flag value.
fn cache_type<'a>(pairs: &[(&'a str, &'a str)]) -> Result<&'a str> {
    match pairs.iter().find(|(k, _)| *k == "type") {
        Some((_, t)) => Ok(t),
        None => bail!("type= is missing (type=registry or type=local)"),
    }
}

fn registry_ref(value: &str) -> Result<CacheLocation> {
    let reference = Reference::parse(value).with_context(|| format!("ref={value:?}"))?;
    Ok(CacheLocation::Registry(reference))
}

fn location(kind: &str, key: Option<&(&str, &str)>, path_key: &str) -> Result<CacheLocation> {
    match (kind, key) {
        ("registry", Some((_, r))) => registry_ref(r),
        ("registry", None) => bail!("type=registry needs ref=REGISTRY/REPOSITORY:TAG"),
        ("local", Some((_, dir))) => Ok(CacheLocation::Local(PathBuf::from(dir))),
        ("local", None) => bail!("type=local needs {path_key}=DIR"),
        _ => bail!(
            "unknown cache type {kind:?} (type=registry, type=local or, to export, type=inline)"
        ),
    }
}

impl FromStr for CacheTo {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<CacheTo> {
        let pairs = pairs(text)?;
        let kind = cache_type(&pairs)?;
        let path_key = if kind == "local" { "dest" } else { "ref" };
        let location = match kind {
            "inline" => CacheLocation::Inline,
            _ => location(kind, pairs.iter().find(|(k, _)| *k == path_key), "dest")?,
        };
        let mut to = CacheTo {
            location,
            mode: CacheMode::Min,
            compression: None,
            ignore_error: false,
            cache_mounts: false,
            cache_mounts_exclude: Vec::new(),
            cache_mounts_max_size: DEFAULT_CACHE_MOUNT_MAX,
        };
        for &(key, value) in &pairs {
            match key {
                "type" => {}
                k if k == path_key => {}
                "mode" => {
                    to.mode = match value {
                        "min" => CacheMode::Min,
                        "max" => CacheMode::Max,
                        _ => bail!("mode={value:?}: expected min or max"),
                    }
                }
                "compression" => {
                    to.compression = Some(match value {
                        "gzip" => Compression::Gzip,
                        "zstd" => Compression::Zstd,
                        _ => bail!("compression={value:?}: expected gzip or zstd"),
                    })
                }
                "ignore-error" => to.ignore_error = bool_value(key, value)?,
                "cache-mounts" => to.cache_mounts = bool_value(key, value)?,
                "cache-mounts-exclude" => to.cache_mounts_exclude.push(value.to_string()),
                "cache-mounts-max-size" => to.cache_mounts_max_size = size_value(key, value)?,
                _ => bail!("unknown key {key:?} for --cache-to type={kind}"),
            }
        }
        if to.location == CacheLocation::Inline && (to.mode == CacheMode::Max || to.cache_mounts) {
            bail!("type=inline exports mode=min only, without cache-mounts (the image holds its own steps)");
        }
        Ok(to)
    }
}

impl FromStr for CacheFrom {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<CacheFrom> {
        let pairs = pairs(text)?;
        let kind = cache_type(&pairs)?;
        let path_key = if kind == "local" { "src" } else { "ref" };
        let location = location(kind, pairs.iter().find(|(k, _)| *k == path_key), "src")?;
        if let Some((key, _)) = (pairs.iter()).find(|(k, _)| *k != "type" && *k != path_key) {
            bail!("unknown key {key:?} for --cache-from type={kind}");
        }
        Ok(CacheFrom { location })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_export_with_every_key() {
        let to: CacheTo =
            "type=registry,ref=localhost:5000/app:cache,mode=max,compression=zstd,ignore-error=true,cache-mounts=true"
                .parse()
                .unwrap();
        let CacheLocation::Registry(r) = &to.location else {
            panic!("{to:?}")
        };
        assert_eq!(r.to_string(), "localhost:5000/app:cache");
        assert_eq!(to.mode, CacheMode::Max);
        assert_eq!(to.compression, Some(Compression::Zstd));
        assert!(to.ignore_error && to.cache_mounts);
        assert_eq!(to.cache_mounts_max_size, DEFAULT_CACHE_MOUNT_MAX);
        let to: CacheTo = "type=local,dest=/c,cache-mounts=true,cache-mounts-exclude=a,\
                           cache-mounts-exclude=b,cache-mounts-max-size=512m"
            .parse()
            .unwrap();
        assert_eq!(to.cache_mounts_exclude, ["a", "b"]);
        assert_eq!(to.cache_mounts_max_size, 512 << 20);
        assert!(format!(
            "{:#}",
            "type=local,dest=/c,cache-mounts-max-size=lots"
                .parse::<CacheTo>()
                .unwrap_err()
        )
        .contains("expected a size"));
    }

    #[test]
    fn defaults_and_local_directories() {
        let to: CacheTo = "type=local,dest=/tmp/c".parse().unwrap();
        assert_eq!(to.location, CacheLocation::Local("/tmp/c".into()));
        assert_eq!(
            (to.mode, to.compression, to.ignore_error),
            (CacheMode::Min, None, false)
        );
        let from: CacheFrom = "type=local,src=/tmp/c".parse().unwrap();
        assert_eq!(from.location, CacheLocation::Local("/tmp/c".into()));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |s: &str| format!("{:#}", s.parse::<CacheTo>().unwrap_err());
        assert!(err("type=s3,ref=x").contains("unknown cache type \"s3\""));
        assert!(err("type=registry").contains("needs ref="));
        assert!(err("type=registry,ref=r/x,mode=all").contains("mode=\"all\""));
        assert!(err("type=registry,ref=r/x,colour=red").contains("unknown key \"colour\""));
        assert!(err("type=local,src=/x").contains("needs dest="));
        assert!(err("ref=r/x").contains("type= is missing"));
        assert!(err("type=inline,mode=max").contains("mode=min only"));
        assert_eq!(
            "type=inline".parse::<CacheTo>().unwrap().location,
            CacheLocation::Inline
        );
        let from = |s: &str| format!("{:#}", s.parse::<CacheFrom>().unwrap_err());
        assert!(from("type=registry,ref=r/x,mode=max").contains("unknown key \"mode\""));
        assert!(from("type=local,dest=/x").contains("needs src="));
    }
}

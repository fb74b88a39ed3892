//! The image configuration as skiff reads and writes it: the OCI config JSON with Docker's
//! extensions (`Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`) that BuildKit also writes.
//!
//! The fields and their order are BuildKit's: the top-level keys sorted (BuildKit's exporter
//! re-encodes the config through a map), the `config` object in the order of Docker's
//! `ImageConfig` struct, `OnBuild` always present (`null` when empty). Like BuildKit, skiff
//! keeps only the fields it knows when it builds on a base image: a base config's extra fields
//! (`container_config`, `docker_version`, `Hostname`, …) are not carried into the result.
//!
//! [`ImageConfig::to_bytes`] is the one place config bytes are made: serde's output with
//! Go's HTML escaping ([`go_json`]), so that a config skiff writes is byte for byte the one
//! BuildKit writes for the same Dockerfile.

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole config blob (`application/vnd.oci.image.config.v1+json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`).
    pub architecture: String,
    /// `MAINTAINER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The runtime configuration.
    #[serde(default)]
    pub config: RunConfig,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per instruction that changed the image.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
    /// Operating system (`linux`).
    pub os: String,
    /// The layers' uncompressed digests.
    pub rootfs: RootFs,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The `config` object: how a container of the image starts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `USER`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `EXPOSE` (`"8080/tcp": {}`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// `ENV` as `KEY=VALUE`, in order.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `HEALTHCHECK` (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Set (to true) by `CMD`, as BuildKit does on every platform; inherited from the base.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    /// `ONBUILD` triggers (Docker extension); written as `null` when there are none, as
    /// BuildKit does.
    #[serde(default, rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    /// `SHELL` (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// Docker's healthcheck settings (durations in nanoseconds).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    /// `--interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// `--timeout`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// `--start-period`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// `--start-interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// `--retries`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

/// Go writes a nil map or slice as `null` (`"Volumes": null` in configs Docker
/// writes, `docker commit` among them): read it as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `rootfs`: the layers' diff IDs, lowest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:…` of each uncompressed layer.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry, as BuildKit writes them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    /// When the step ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `RUN /bin/sh -c go build . # buildkit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// `MAINTAINER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `buildkit.dockerfile.v0` for entries skiff writes (as BuildKit does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The default `PATH` BuildKit puts into images built from scratch.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl RunConfig {
    /// Sets (or replaces, keeping its position) an `Env` entry.
    pub fn env_set(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        match self
            .env
            .iter_mut()
            .find(|kv| kv.split_once('=').map(|(k, _)| k) == Some(name))
        {
            Some(slot) => *slot = entry,
            None => self.env.push(entry),
        }
    }
}

impl ImageConfig {
    /// The config blob's bytes, exactly as BuildKit would write them (see [`go_json`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(self).context("cannot serialise the image config")?;
        Ok(go_json(json))
    }

    /// Parses a config blob (skiff's, BuildKit's or any registry image's).
    pub fn from_bytes(bytes: &[u8]) -> Result<ImageConfig> {
        serde_json::from_slice(bytes)
            .context("the image config is not valid JSON of an image config")
    }
}

/// JSON as Go's `encoding/json` writes it, which BuildKit's config bytes follow: `&`, `<`, `>`
/// and U+2028/U+2029 escaped as `\u0026`, `\u003c`, `\u003e`, `\u2028`, `\u2029`. Those
/// characters can only occur inside JSON strings, so a byte-wise replacement is exact.
pub fn go_json(json: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(json)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("\\u0026"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes_html_characters() {
        let json = serde_json::to_vec(&serde_json::json!({"k": "a & <b>\u{2028}"})).unwrap();
        assert_eq!(
            String::from_utf8(go_json(json)).unwrap(),
            r#"{"k":"a \u0026 \u003cb\u003e\u2028"}"#
        );
    }

    #[test]
    fn a_config_reads_back_to_the_same_bytes() {
        let mut config = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        config.config.env_set("PATH", DEFAULT_PATH);
        config.config.labels.insert("a".into(), "<&>".into());
        let bytes = config.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""a":"\u003c\u0026\u003e""#), "{text}");
        assert!(text.contains(r#""OnBuild":null"#), "{text}");
        let back = ImageConfig::from_bytes(&bytes).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

//! `skiff inspect IMAGE…`: `docker image inspect`'s JSON (an array, one object per image, in
//! the shape of Docker 20.10's `ImageInspect`), or a Go template applied to each (`--format`);
//! `--raw` prints skiff's own form instead: the name, the manifest and the config as stored.

use super::lookup::{familiar, image_size, is_id_name, lookup, open_store, Found};
use super::template::Template;
use super::Context;
use anyhow::{Context as _, Result};
use clap::Args;
use oci_spec::image::Descriptor;
use serde::{Deserialize, Serialize};
use skiff_image::model::{go_json, Healthcheck};
use skiff_image::Store;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// `skiff inspect [--format TEMPLATE] [--raw] IMAGE…`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The images (names, IDs or ID prefixes).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// A Go template applied to each image (`{{.Id}}`, `{{json .Config.Env}}`).
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print the manifest and config as stored (`Name`, `Digest`, `Manifest`, `Config`),
    /// one object per image, instead of Docker's view.
    #[arg(long, conflicts_with = "format")]
    pub raw: bool,
}

/// Docker's `container.Config`, as `docker image inspect` shows `Config` and
/// `ContainerConfig`: its fields in Docker's order, nil slices and maps as `null`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "is_empty_map")]
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    args_escaped: bool,
    image: String,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    network_disabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    mac_address: String,
    on_build: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    stop_signal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: Option<Vec<String>>,
}

fn is_empty_map(map: &Option<BTreeMap<String, serde_json::Value>>) -> bool {
    map.as_ref().is_none_or(BTreeMap::is_empty)
}

/// The config blob's fields Docker's inspect reads (Docker's `image.V1Image`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredConfig {
    architecture: String,
    variant: Option<String>,
    os: String,
    #[serde(rename = "os.version")]
    os_version: Option<String>,
    author: Option<String>,
    comment: Option<String>,
    created: Option<String>,
    container: Option<String>,
    docker_version: Option<String>,
    config: Option<ContainerConfig>,
    container_config: Option<ContainerConfig>,
    rootfs: Option<StoredRootFs>,
    history: Option<Vec<StoredHistory>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredHistory {
    comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredRootFs {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Option<Vec<String>>,
}

/// One element of `docker image inspect`'s array (Docker 20.10's `types.ImageInspect`,
/// without `GraphDriver`, which describes dockerd's own storage).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    container: String,
    container_config: ContainerConfig,
    docker_version: String,
    author: String,
    config: ContainerConfig,
    architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    os_version: String,
    size: u64,
    virtual_size: u64,
    #[serde(rename = "RootFS")]
    root_fs: RootFs,
    metadata: Metadata,
}

/// `RootFS`: the layers' diff IDs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    layers: Vec<String>,
}

/// `Metadata`: skiff keeps no tag times, so `LastTagTime` is Go's zero time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    last_tag_time: String,
}

/// Go's zero `time.Time` as JSON.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Runs `skiff inspect`.
pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let template = args
        .format
        .as_deref()
        .map(|f| Template::parse(f).map(|t| t.null_text(go_null)))
        .transpose()?;
    let mut raws = Vec::new();
    let mut views = Vec::new();
    let mut code = ExitCode::SUCCESS;
    for text in &args.names {
        let found = match lookup(&store, text) {
            Ok(found) => found,
            Err(err) => {
                eprintln!("error: {err:#}");
                code = ExitCode::FAILURE;
                continue;
            }
        };
        match args.raw {
            true => raws.push(raw_view(&store, &found)?),
            false => views.push(docker_view(&store, &found)?),
        }
    }
    if args.raw {
        println!("{}", raws.join(",\n"));
        return Ok(code);
    }
    match template {
        Some(template) => {
            for view in &views {
                println!("{}", template.render(&serde_json::to_value(view)?)?);
            }
        }
        None => println!("{}", pretty(&views)?),
    }
    Ok(code)
}

/// What Go prints for a nil (or `omitempty`-left-out) value of the named field: `[]` for
/// slices, `map[]` for maps, the zero value of the others.
fn go_null(field: &str) -> Option<&'static str> {
    Some(match field {
        "Env" | "Cmd" | "Entrypoint" | "OnBuild" | "Shell" | "Layers" | "RepoTags"
        | "RepoDigests" => "[]",
        "Volumes" | "Labels" | "ExposedPorts" => "map[]",
        "ArgsEscaped" | "NetworkDisabled" => "false",
        "MacAddress" | "StopSignal" | "Variant" | "OsVersion" => "",
        "Healthcheck" | "StopTimeout" | "ContainerConfig" | "Config" => "<nil>",
        _ => return None,
    })
}

/// JSON indented as `docker inspect` indents it (4 spaces), with Go's HTML escaping.
fn pretty(value: &impl Serialize) -> Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    Ok(String::from_utf8(go_json(out))?)
}

/// skiff's own form: the name, the manifest digest, and the manifest and config as stored.
fn raw_view(store: &Store, found: &Found) -> Result<String> {
    let (name, descriptor) = match found {
        Found::Name(name, descriptor) => (name.clone(), descriptor.clone()),
        Found::Id(image) => (image.id.clone(), image.manifest.clone()),
    };
    let manifest_bytes = store.read_blob(descriptor.digest())?;
    let manifest = store
        .read_manifest(&descriptor)
        .with_context(|| format!("parsing the manifest of {name}"))?;
    let config_bytes = store.read_blob(manifest.config.digest())?;
    // Names and digests are validated references and hex: they need no JSON escaping.
    Ok(format!(
        "{{\n  \"Name\": \"{name}\",\n  \"Digest\": \"{}\",\n  \"Manifest\": {},\n  \"Config\": {}\n}}",
        descriptor.digest(),
        String::from_utf8_lossy(&manifest_bytes).trim(),
        String::from_utf8_lossy(&config_bytes).trim()
    ))
}

/// Docker's view of one image, with every name the store gives its ID.
pub fn docker_view(store: &Store, found: &Found) -> Result<ImageInspect> {
    let descriptor: &Descriptor = match found {
        Found::Name(_, descriptor) => descriptor,
        Found::Id(image) => &image.manifest,
    };
    let manifest = store.read_manifest(descriptor)?;
    let id = manifest.config.digest().to_string();
    let config_bytes = store.read_blob(manifest.config.digest())?;
    let config: StoredConfig = serde_json::from_slice(&config_bytes)
        .with_context(|| format!("reading the config of {id}"))?;
    let names: Vec<String> = match found {
        Found::Id(image) => image.names.clone(),
        Found::Name(..) => super::lookup::stored_images(store)?
            .into_iter()
            .find(|i| i.id == id)
            .map(|i| i.names)
            .unwrap_or_default(),
    };
    let names = names.iter().filter(|n| !is_id_name(n)).map(|n| familiar(n));
    let (repo_digests, repo_tags): (Vec<String>, Vec<String>) =
        names.partition(|n| n.contains('@'));
    let size = image_size(store, descriptor)?;
    let rootfs = config.rootfs.unwrap_or_default();
    Ok(ImageInspect {
        id,
        repo_tags,
        repo_digests,
        parent: String::new(),
        comment: comment(config.comment, config.history.as_deref()),
        created: go_time(config.created.as_deref()),
        container: config.container.unwrap_or_default(),
        container_config: config.container_config.unwrap_or_default(),
        docker_version: config.docker_version.unwrap_or_default(),
        author: config.author.unwrap_or_default(),
        config: config.config.unwrap_or_default(),
        architecture: config.architecture,
        variant: config.variant.unwrap_or_default(),
        os: config.os,
        os_version: config.os_version.unwrap_or_default(),
        size,
        virtual_size: size,
        root_fs: RootFs {
            kind: if rootfs.kind.is_empty() {
                "layers".into()
            } else {
                rootfs.kind
            },
            layers: rootfs.diff_ids.unwrap_or_default(),
        },
        metadata: Metadata {
            last_tag_time: GO_ZERO_TIME.into(),
        },
    })
}

/// Docker's `Comment`: the config's, else the last history entry's (which is how images
/// BuildKit made show `buildkit.dockerfile.v0`).
fn comment(own: Option<String>, history: Option<&[StoredHistory]>) -> String {
    match own.filter(|c| !c.is_empty()) {
        Some(own) => own,
        None => history
            .and_then(<[StoredHistory]>::last)
            .and_then(|h| h.comment.clone())
            .unwrap_or_default(),
    }
}

/// An RFC 3339 time as Go's `time.RFC3339Nano` writes it back: the fraction without
/// trailing zeros; Go's zero time when there is none.
fn go_time(created: Option<&str>) -> String {
    let Some(text) = created else {
        return GO_ZERO_TIME.into();
    };
    let Some(dot) = text.find('.') else {
        return text.to_string();
    };
    let zone = text[dot..]
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or(text.len(), |i| dot + i);
    let fraction = text[dot + 1..zone].trim_end_matches('0');
    match fraction.is_empty() {
        true => format!("{}{}", &text[..dot], &text[zone..]),
        false => format!("{}.{fraction}{}", &text[..dot], &text[zone..]),
    }
}

#[cfg(test)]
mod tests {
    use super::go_time;

    #[test]
    fn times_are_written_back_as_go_writes_them() {
        assert_eq!(
            go_time(Some("2026-12-04T20:31:34.120Z")),
            "2026-12-04T20:31:34.12Z"
        );
        assert_eq!(
            go_time(Some("2026-12-04T20:31:34.000Z")),
            "2026-12-04T20:31:34Z"
        );
        assert_eq!(
            go_time(Some("2026-12-04T20:31:34Z")),
            "2026-12-04T20:31:34Z"
        );
        assert_eq!(
            go_time(Some("2026-12-04T20:31:34.5+01:00")),
            "2026-12-04T20:31:34.5+01:00"
        );
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
    }
}

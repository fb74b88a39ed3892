//! The image model: manifests, indexes and image configs as typed values, and the one
//! place where they are turned into bytes and read back.
//!
//! Everything in the workspace that reads or writes one of these documents goes through
//! this module — the engine committing a step's state, the registry client classifying
//! what it pulled, the exporters, `skiff images`/`inspect`, garbage collection — so there
//! is one answer to "what does skiff write" and one to "what does skiff accept":
//!
//! - [`Manifest`]: one image (config + layers). Written by [`Manifest::to_bytes`] with the
//!   fields in the order the OCI spec lists them; Docker schema 2 manifests read the same.
//! - [`Index`]: a list of manifests (`index.json` of the store and of OCI archives, and
//!   multi-platform images in registries; Docker manifest lists read the same).
//! - [`Document`]: what a manifest blob of unknown kind is, told by its `mediaType` or,
//!   when that optional field is absent, by its shape.
//! - [`ImageConfig`]: the config blob, byte-identical to BuildKit's for the same build.
//!
//! Documents that came from elsewhere (a registry, an OCI layout) are stored as the bytes
//! they came as, never re-serialised: their digest is their name. The store reads and writes
//! them as blobs ([`crate::Store::read_document`] and its neighbours).

pub mod config;
pub mod timestamp;

pub use config::{go_json, Healthcheck, History, ImageConfig, RootFs, RunConfig, DEFAULT_PATH};

use anyhow::{bail, Context as _, Result};
use oci_spec::image::{Descriptor, MediaType};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker schema 1 (signed) manifest: refused, as modern Docker does.
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Whether a media type is an index (OCI) or manifest list (Docker) rather than a
/// single-platform manifest: readers must pick a platform first.
pub fn is_index(media_type: &MediaType) -> bool {
    matches!(
        media_type.to_string().as_str(),
        OCI_INDEX | DOCKER_MANIFEST_LIST
    )
}

/// An image manifest: the config blob and the layer blobs, lowest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (optional in OCI, always written by skiff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, lowest first.
    pub layers: Vec<Descriptor>,
    /// Free-form annotations (kept when read; skiff writes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// An OCI manifest of `config` and `layers`, as skiff writes them.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MediaType::ImageManifest),
            config,
            layers,
            annotations: None,
        }
    }

    /// The manifest's bytes (compact JSON, fields in the OCI spec's order).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).context("cannot serialise the image manifest")
    }

    /// Parses a manifest (OCI or Docker schema 2).
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest> {
        serde_json::from_slice(bytes).context("not a valid image manifest")
    }

    /// The config and every layer: the blobs an image consists of besides the manifest.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    /// What the image weighs in a registry: config plus compressed layers.
    pub fn size(&self) -> u64 {
        self.blobs().map(Descriptor::size).sum()
    }
}

/// An image index: manifests, usually one per platform, possibly named by annotations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type (optional in OCI, always written by skiff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The entries.
    pub manifests: Vec<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Default for Index {
    fn default() -> Index {
        Index::new(Vec::new())
    }
}

impl Index {
    /// An OCI index of `manifests`.
    pub fn new(manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(MediaType::ImageIndex),
            manifests,
            annotations: None,
        }
    }

    /// The index's bytes, compact, with every object's keys sorted: entries carry
    /// annotations, which `oci_spec` keeps in a hash map, and an index written twice
    /// must be the same bytes (archives of reproducible builds are compared by digest).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.sorted()?).context("cannot serialise the image index")
    }

    /// The index's bytes, indented and sorted (the store's `index.json`, which people read).
    pub fn to_pretty_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self.sorted()?).context("cannot serialise the image index")
    }

    /// The index as a JSON value, whose maps keep their keys sorted.
    fn sorted(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).context("cannot serialise the image index")
    }

    /// Parses an index (OCI or Docker manifest list).
    pub fn from_bytes(bytes: &[u8]) -> Result<Index> {
        serde_json::from_slice(bytes).context("not a valid image index")
    }
}

/// A manifest blob whose kind is known only once it is read.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    /// One image (boxed: a manifest is much bigger than an index's few fields).
    Manifest(Box<Manifest>),
    /// A list of images.
    Index(Index),
}

/// Just enough of a document to tell its kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    manifests: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
}

impl Document {
    /// Parses a manifest or an index, told apart by `mediaType` or, when it is absent
    /// (it is optional in OCI), by shape. Docker schema 1 and unknown types are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Document> {
        let shape: Shape = serde_json::from_slice(bytes).context("the manifest is not JSON")?;
        // Schema 1 declares no mediaType in its body (only its Content-Type says it).
        let schema1 = shape.schema_version == Some(serde_json::Value::from(1));
        let index = match shape.media_type.as_deref() {
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
            None if schema1 => bail!(
                "the image uses the deprecated Docker schema 1 manifest format (schemaVersion \
                 1), which skiff (like Docker 20.10+) does not pull; push it again with a \
                 current tool"
            ),
            Some(DOCKER_SCHEMA1) => bail!(
                "the image uses the deprecated Docker schema 1 manifest format, which skiff (like \
                 Docker 20.10+) does not pull; push it again with a current tool"
            ),
            Some(other) => bail!("unsupported manifest media type {other:?}"),
            None if shape.manifests.is_some() => true,
            None if shape.layers.is_some() => false,
            None => bail!("this is neither an image manifest nor an index"),
        };
        Ok(if index {
            Document::Index(Index::from_bytes(bytes)?)
        } else {
            Document::Manifest(Box::new(Manifest::from_bytes(bytes)?))
        })
    }

    /// The media type the document declares, or the OCI one of its kind when it declares none.
    pub fn media_type(&self) -> MediaType {
        let (declared, default) = match self {
            Document::Manifest(m) => (&m.media_type, MediaType::ImageManifest),
            Document::Index(i) => (&i.media_type, MediaType::ImageIndex),
        };
        declared.clone().unwrap_or(default)
    }

    /// The descriptors the document points at: an index's manifests, a manifest's config
    /// and layers.
    pub fn children(&self) -> Vec<&Descriptor> {
        match self {
            Document::Manifest(m) => m.blobs().collect(),
            Document::Index(i) => i.manifests.iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::Digest;
    use std::str::FromStr;

    fn digest(c: char) -> Digest {
        Digest::from_str(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn manifests_are_written_in_the_oci_field_order() {
        let m = Manifest::new(
            Descriptor::new(MediaType::ImageConfig, 3, digest('a')),
            vec![Descriptor::new(MediaType::ImageLayerGzip, 5, digest('b'))],
        );
        let text = String::from_utf8(m.to_bytes().unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":3}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":5}}]}}"#,
                digest('a'),
                digest('b')
            )
        );
        assert_eq!(
            Document::from_bytes(text.as_bytes()).unwrap(),
            Document::Manifest(Box::new(m))
        );
    }

    #[test]
    fn indexes_are_written_with_sorted_keys() {
        let mut entry = Descriptor::new(MediaType::ImageManifest, 7, digest('c'));
        entry.set_annotations(Some(
            [("z", "1"), ("a", "2"), ("m", "3")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into_iter()
                .collect(),
        ));
        let text = String::from_utf8(Index::new(vec![entry]).to_bytes().unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"manifests":[{{"annotations":{{"a":"2","m":"3","z":"1"}},"digest":"{}","mediaType":"{OCI_MANIFEST}","size":7}}],"mediaType":"{OCI_INDEX}","schemaVersion":2}}"#,
                digest('c')
            )
        );
    }

    #[test]
    fn documents_are_told_apart_by_media_type_or_shape() {
        let list =
            format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[]}}"#);
        let doc = Document::from_bytes(list.as_bytes()).unwrap();
        assert!(matches!(doc, Document::Index(_)));
        assert!(is_index(&doc.media_type()));
        let bare = r#"{"schemaVersion":2,"manifests":[]}"#;
        let doc = Document::from_bytes(bare.as_bytes()).unwrap();
        assert_eq!(doc.media_type(), MediaType::ImageIndex);
        let schema1 = format!(r#"{{"schemaVersion":1,"mediaType":"{DOCKER_SCHEMA1}"}}"#);
        let err = Document::from_bytes(schema1.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("schema 1"), "{err}");
        assert!(Document::from_bytes(br#"{"schemaVersion":2}"#).is_err());
    }
}

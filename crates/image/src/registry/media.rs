//! Manifest media types of both families skiff reads and writes: OCI and Docker schema 2.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 (signed) manifest: refused, as modern Docker does.
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest type a pull accepts (the `Accept` header).
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// What a manifest blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// One image: config + layers.
    Image,
    /// A list of per-platform images.
    Index,
}

/// Classifies a manifest from its `mediaType` field, or, when the field is absent (it is
/// optional in OCI), from its shape.
pub fn manifest_kind(json: &serde_json::Value) -> anyhow::Result<(ManifestKind, String)> {
    let declared = json.get("mediaType").and_then(|m| m.as_str());
    let kind = match declared {
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => ManifestKind::Image,
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => ManifestKind::Index,
        Some(DOCKER_SCHEMA1) => anyhow::bail!(
            "the image uses the deprecated Docker schema 1 manifest format, which skiff (like \
             Docker 20.10+) does not pull; push it again with a current tool"
        ),
        Some(other) => anyhow::bail!("unsupported manifest media type {other:?}"),
        None if json.get("manifests").is_some() => ManifestKind::Index,
        None if json.get("layers").is_some() => ManifestKind::Image,
        None => anyhow::bail!(
            "the registry returned something that is neither an image manifest nor an index"
        ),
    };
    let media_type = declared.map(str::to_string).unwrap_or_else(|| {
        match kind {
            ManifestKind::Image => OCI_MANIFEST,
            ManifestKind::Index => OCI_INDEX,
        }
        .to_string()
    });
    Ok((kind, media_type))
}

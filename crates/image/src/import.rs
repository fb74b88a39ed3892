//! Images from an OCI image layout directory, without any registry: what backs
//! BuildKit's `--build-context NAME=oci-layout:///path[:tag]`.

use crate::export::{is_index_media_type, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::model::{Document, Index, Manifest};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::{Arch, Descriptor, Digest, DigestAlgorithm, Os};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Copies one image from the OCI layout at `dir` into `store` and returns its
/// (single-platform) manifest descriptor.
///
/// `tag` selects the image as BuildKit does: by `io.containerd.image.name`, then
/// by `org.opencontainers.image.ref.name`; a `sha256:…` value selects by digest
/// (an `index.json` entry or any manifest or index blob in the layout).
/// Without a tag the layout must hold one image (or one per platform). An
/// index is resolved to the host's platform. Every blob is verified against its digest and size while
/// copied; a mismatch is an error and stores nothing for that blob.
pub fn oci_layout(store: &Store, dir: &Path, tag: Option<&str>) -> Result<Descriptor> {
    let layout = Layout { dir };
    layout.check()?;
    let index = layout.read_index_json()?;
    let mut desc = select(&layout, &index, tag)?;
    while is_index_media_type(desc.media_type()) {
        let bytes = layout.read_small_blob(&desc)?;
        let nested = Index::from_bytes(&bytes).with_context(|| {
            format!(
                "index {} in {} is not valid JSON",
                desc.digest(),
                dir.display()
            )
        })?;
        desc = pick_host_platform(&nested.manifests).ok_or_else(|| {
            anyhow!(
                "image {} in {} has no manifest for this host's platform ({}/{}); it has: {}",
                desc.digest(),
                dir.display(),
                Os::default(),
                Arch::default(),
                platforms_of(&nested.manifests)
            )
        })?;
    }
    let manifest_bytes = layout.read_small_blob(&desc)?;
    let manifest = Manifest::from_bytes(&manifest_bytes).with_context(|| {
        format!(
            "manifest {} in {} is not valid",
            desc.digest(),
            dir.display()
        )
    })?;
    for blob in manifest.blobs() {
        layout.copy_blob(store, blob)?;
    }
    store.put_blob(&manifest_bytes)?;
    Ok(desc)
}

/// The manifest entry of `index.json` that `tag` names.
fn select(layout: &Layout, index: &Index, tag: Option<&str>) -> Result<Descriptor> {
    let dir = layout.dir;
    let entries = &index.manifests;
    let annotation = |d: &Descriptor, key: &str| -> Option<String> {
        d.annotations().as_ref().and_then(|a| a.get(key).cloned())
    };
    let found = match tag {
        Some(t) if t.starts_with("sha256:") => {
            match entries.iter().find(|d| d.digest().as_ref() == t) {
                Some(entry) => Some(entry),
                // BuildKit also accepts the digest of any manifest or index in the layout.
                None => return layout.describe(t),
            }
        }
        Some(t) => entries
            .iter()
            .find(|d| annotation(d, ANNOTATION_IMAGE_NAME).as_deref() == Some(t))
            .or_else(|| {
                entries
                    .iter()
                    .find(|d| annotation(d, ANNOTATION_REF_NAME).as_deref() == Some(t))
            }),
        None if entries.len() == 1 => entries.first(),
        None if !entries.is_empty() && entries.iter().all(|d| d.platform().is_some()) => {
            return pick_host_platform(entries).ok_or_else(|| {
                anyhow!(
                    "{} has no image for this host's platform ({}/{}); it has: {}",
                    dir.display(),
                    Os::default(),
                    Arch::default(),
                    platforms_of(entries)
                )
            });
        }
        None => None,
    };
    if let Some(desc) = found {
        return Ok(desc.clone());
    }
    let names: Vec<String> = entries
        .iter()
        .filter_map(|d| {
            annotation(d, ANNOTATION_REF_NAME).or_else(|| annotation(d, ANNOTATION_IMAGE_NAME))
        })
        .collect();
    let listed = if names.is_empty() {
        "it names none".to_string()
    } else {
        format!("it has: {}", names.join(", "))
    };
    match tag {
        Some(t) => bail!(
            "no image {t:?} in the OCI layout {} ({listed})",
            dir.display()
        ),
        None if entries.is_empty() => bail!("the OCI layout {} holds no image", dir.display()),
        None => bail!(
            "the OCI layout {} holds {} images: name one as oci-layout://{}:TAG ({listed})",
            dir.display(),
            entries.len(),
            dir.display()
        ),
    }
}

/// The entry for this host's OS and architecture, if any.
pub(crate) fn pick_host_platform(entries: &[Descriptor]) -> Option<Descriptor> {
    let (os, arch) = (Os::default(), Arch::default());
    entries
        .iter()
        .find(|d| {
            d.platform()
                .as_ref()
                .is_some_and(|p| *p.os() == os && *p.architecture() == arch)
        })
        .cloned()
}

fn platforms_of(entries: &[Descriptor]) -> String {
    let list: Vec<String> = entries
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| match p.variant() {
            Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
            None => format!("{}/{}", p.os(), p.architecture()),
        })
        .collect();
    if list.is_empty() {
        "no platform information".into()
    } else {
        list.join(", ")
    }
}

/// An OCI image layout directory being read.
struct Layout<'a> {
    dir: &'a Path,
}

impl Layout<'_> {
    fn check(&self) -> Result<()> {
        let marker = self.dir.join("oci-layout");
        let text = std::fs::read_to_string(&marker).with_context(|| {
            format!(
                "{} is not an OCI image layout: cannot read {}",
                self.dir.display(),
                marker.display()
            )
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", marker.display()))?;
        match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(v) if v.starts_with("1.") => Ok(()),
            other => bail!(
                "{} has imageLayoutVersion {other:?}: only OCI image layout 1.x is supported",
                marker.display()
            ),
        }
    }

    fn read_index_json(&self) -> Result<Index> {
        let path = self.dir.join("index.json");
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot open {} of the OCI layout", path.display()))?;
        Index::from_bytes(&bytes)
            .with_context(|| format!("{} is not a valid OCI index", path.display()))
    }

    /// A descriptor for a manifest or index blob named only by digest (its
    /// media type from the blob itself); the blob is verified when read.
    fn describe(&self, digest: &str) -> Result<Descriptor> {
        let digest: Digest = digest.parse().with_context(|| {
            format!("{digest:?} is not a valid digest (sha256:<64 hex digits>)")
        })?;
        let path = self.dir.join("blobs/sha256").join(digest.digest());
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "no image {digest} in the OCI layout {} (no blob {})",
                self.dir.display(),
                path.display()
            )
        })?;
        let document = Document::from_bytes(&bytes).with_context(|| {
            format!(
                "blob {digest} in {} is not a manifest or index",
                self.dir.display()
            )
        })?;
        Ok(Descriptor::new(
            document.media_type(),
            bytes.len() as u64,
            digest,
        ))
    }

    fn blob_path(&self, desc: &Descriptor) -> Result<PathBuf> {
        let digest = desc.digest();
        if *digest.algorithm() != DigestAlgorithm::Sha256 {
            bail!("blob {digest} in {} uses an unsupported digest algorithm: only sha256 is supported", self.dir.display());
        }
        Ok(self.dir.join("blobs").join("sha256").join(digest.digest()))
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<std::fs::File> {
        let path = self.blob_path(desc)?;
        std::fs::File::open(&path).with_context(|| {
            format!(
                "blob {} is missing from the OCI layout (expected at {})",
                desc.digest(),
                path.display()
            )
        })
    }

    /// Reads a manifest or index blob, verifying its size and digest.
    fn read_small_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        const MAX_JSON: u64 = 4 << 20;
        if desc.size() > MAX_JSON {
            bail!(
                "{} claims a size of {} bytes: too large for a manifest",
                desc.digest(),
                desc.size()
            );
        }
        let mut bytes = Vec::new();
        self.open_blob(desc)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut bytes)?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if bytes.len() as u64 != desc.size() || actual != desc.digest().as_ref() {
            bail!(
                "blob {} in {} is corrupt: expected {} bytes, found {} bytes with digest {actual}",
                desc.digest(),
                self.dir.display(),
                desc.size(),
                bytes.len()
            );
        }
        Ok(bytes)
    }

    /// Streams a blob into the store, which verifies its digest and size.
    fn copy_blob(&self, store: &Store, desc: &Descriptor) -> Result<()> {
        if store.has_blob(desc.digest()) {
            return Ok(());
        }
        let mut file = self.open_blob(desc)?;
        let mut writer = store.blob_writer()?;
        std::io::copy(&mut file, &mut writer)
            .with_context(|| format!("copying blob {} into the store", desc.digest()))?;
        writer
            .commit(Some((desc.digest(), Some(desc.size()))))
            .with_context(|| {
                format!(
                    "blob {} in {} does not match its descriptor",
                    desc.digest(),
                    self.dir.display()
                )
            })?;
        Ok(())
    }
}

//! `pull`: manifest (choosing the platform from an index), then config and layers in
//! parallel into the store, then the manifest blob and the name.

use super::client::Client;
use super::platform::Platform;
use super::session::Session;
use super::sources::BlobSources;
use crate::model::{Document, ImageConfig, Index, Manifest, DOCKER_CONFIG, OCI_CONFIG};
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;

/// What a pull put into the store.
#[derive(Clone, Debug)]
pub struct PulledImage {
    /// The name the image is tagged under in the store (the normalised reference).
    pub name: String,
    /// The image manifest's descriptor (the platform's manifest when the reference named an index).
    pub manifest: Descriptor,
    /// The image manifest.
    pub manifest_value: Manifest,
    /// The image config.
    pub config: ImageConfig,
}

pub(super) async fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    platform: Option<&Platform>,
) -> Result<PulledImage> {
    let session = Session::open(client, reference).await?;
    let (bytes, digest) = session.manifest(None).await?;
    let document = classify(&bytes, reference)?;
    let media_type = document.media_type();
    let (bytes, digest, manifest, media_type, chosen_platform) = match document {
        Document::Manifest(m) => (bytes, digest, *m, media_type, None),
        Document::Index(index) => {
            let want = platform.cloned().unwrap_or_else(Platform::host);
            let entry = want.select(&index.manifests).ok_or_else(|| {
                anyhow!(
                    "{reference} has no image for platform {want} (it has: {}); pick one with --platform",
                    available_platforms(&index)
                )
            })?;
            let (bytes, digest) = session.manifest(Some(entry.digest().as_ref())).await?;
            let document = classify(&bytes, reference)?;
            let media_type = document.media_type();
            let Document::Manifest(m) = document else {
                bail!(
                    "the index of {reference} points at another index for {want}; nested indexes are not supported"
                );
            };
            (bytes, digest, *m, media_type, entry.platform().clone())
        }
    };

    require_image_config(&manifest, reference)?;

    // Until the image is tagged its blobs are unreachable: keep `prune` away meanwhile.
    let _lease = store.lock_shared()?;
    let blobs: Vec<&Descriptor> = manifest.blobs().collect();
    futures_util::stream::iter(blobs.iter().map(|blob| session.fetch_blob(store, blob)))
        .buffer_unordered(client.options.max_concurrent_transfers.max(1))
        .try_collect::<Vec<bool>>()
        .await?;

    let (stored, size) = store.put_blob(&bytes)?;
    if stored.to_string() != digest {
        bail!(
            "the manifest of {reference} hashes to {stored}, not to {digest} as the registry said"
        );
    }
    let mut descriptor = Descriptor::new(media_type, size, stored);
    descriptor.set_platform(chosen_platform);
    let name = reference.to_string();
    store.tag(&name, &descriptor)?;

    let mut digests: Vec<String> = blobs.iter().map(|b| b.digest().to_string()).collect();
    digests.push(digest);
    BlobSources::new(store).record(&session.repository, digests.iter().map(String::as_str))?;

    let config: ImageConfig = store
        .read_config(manifest.config.digest())
        .with_context(|| format!("parsing the image config of {reference}"))?;
    Ok(PulledImage {
        name,
        manifest: descriptor,
        manifest_value: manifest,
        config,
    })
}

/// Refuses a manifest whose config is not an image config: an OCI artifact (a Helm chart, a
/// signature, a cache) is no image to build on, as Docker says ("unsupported media type").
fn require_image_config(manifest: &Manifest, reference: &Reference) -> Result<()> {
    let config_type = manifest.config.media_type().to_string();
    if config_type == OCI_CONFIG || config_type == DOCKER_CONFIG {
        return Ok(());
    }
    bail!(
        "{reference} is not a container image: its manifest's config has media type \
         {config_type:?} (an OCI artifact, such as a Helm chart or a signature), not {OCI_CONFIG} \
         or {DOCKER_CONFIG}; skiff pulls only images"
    )
}

fn classify(bytes: &[u8], reference: &Reference) -> Result<Document> {
    Document::from_bytes(bytes).with_context(|| format!("reading the manifest of {reference}"))
}

fn available_platforms(index: &Index) -> String {
    let names: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect();
    if names.is_empty() {
        "no platforms listed".to_string()
    } else {
        names.join(", ")
    }
}

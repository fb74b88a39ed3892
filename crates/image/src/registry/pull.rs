//! `pull`: manifest (choosing the platform from an index), then config and layers in
//! parallel into the store, then the manifest blob and the name.

use super::media::{self, ManifestKind};
use super::session::Session;
use super::sources::BlobSources;
use super::{Client, Platform, PulledImage};
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, bail, ensure, Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

pub(super) async fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    platform: Option<&Platform>,
) -> Result<PulledImage> {
    let session = Session::open(client, reference).await?;
    let (bytes, digest) = session.manifest(None).await?;
    let (kind, media_type) = classify(&bytes, reference)?;
    let (bytes, digest, media_type, chosen_platform) = match kind {
        ManifestKind::Image => (bytes, digest, media_type, None),
        ManifestKind::Index => {
            let index: ImageIndex = serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing the image index of {reference}"))?;
            let want = platform.cloned().unwrap_or_else(Platform::host);
            let entry = want.select(index.manifests()).ok_or_else(|| {
                anyhow!(
                    "{reference} has no image for platform {want} (it has: {}); pick one with --platform",
                    available_platforms(&index)
                )
            })?;
            let (bytes, digest) = session.manifest(Some(entry.digest().as_ref())).await?;
            let (kind, media_type) = classify(&bytes, reference)?;
            ensure!(
                kind == ManifestKind::Image,
                "the index of {reference} points at another index for {want}; nested indexes are not supported"
            );
            (bytes, digest, media_type, entry.platform().clone())
        }
    };
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing the image manifest {digest} of {reference}"))?;

    // Until the image is tagged its blobs are unreachable: keep `prune` away meanwhile.
    let _lease = store.lock_shared()?;
    let blobs: Vec<&Descriptor> = std::iter::once(manifest.config())
        .chain(manifest.layers())
        .collect();
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
    let mut descriptor = Descriptor::new(MediaType::from(media_type.as_str()), size, stored);
    descriptor.set_platform(chosen_platform);
    let name = reference.to_string();
    store.tag(&name, &descriptor)?;

    let mut digests: Vec<String> = blobs.iter().map(|b| b.digest().to_string()).collect();
    digests.push(digest);
    BlobSources::new(store.root())
        .record(&session.repository, digests.iter().map(String::as_str))?;

    let config_bytes = store.read_blob(manifest.config().digest())?;
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .with_context(|| format!("parsing the image config of {reference}"))?;
    Ok(PulledImage {
        name,
        manifest: descriptor,
        manifest_value: manifest,
        config,
    })
}

fn classify(bytes: &[u8], reference: &Reference) -> Result<(ManifestKind, String)> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .with_context(|| format!("the manifest of {reference} is not JSON"))?;
    media::manifest_kind(&json).with_context(|| format!("reading the manifest of {reference}"))
}

fn available_platforms(index: &ImageIndex) -> String {
    let names: Vec<String> = index
        .manifests()
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

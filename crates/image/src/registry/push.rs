//! `push`: each blob is skipped if the repository has it, mounted if another repository of
//! the same registry is known to hold it, uploaded otherwise; then the manifest goes up.

use super::client::Client;
use super::session::{RegistryOperation, Session};
use super::sources::BlobSources;
use crate::model::Document;
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, Digest};

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushReport {
    /// Where the image went (normalised reference).
    pub reference: String,
    /// The pushed manifest's digest: `reference@digest` pulls exactly this image.
    pub digest: Digest,
    /// Blobs sent to the registry.
    pub uploaded: usize,
    /// Blobs the repository already had.
    pub skipped: usize,
    /// Blobs mounted from another repository of the same registry.
    pub mounted: usize,
}

/// How a blob reached the destination.
enum Transfer {
    Skipped,
    Mounted,
    Uploaded,
}

pub(super) async fn push(
    client: &Client,
    store: &Store,
    source: &Reference,
    destination: &Reference,
) -> Result<PushReport> {
    let descriptor = store
        .resolve(&source.to_string())?
        .ok_or_else(|| anyhow!("no image named {source} in the store (see `skiff images`)"))?;
    let bytes = store.read_blob(descriptor.digest())?;
    let document = Document::from_bytes(&bytes)
        .with_context(|| format!("reading the manifest of {source} in the store"))?;
    let media_type = document.media_type().to_string();
    let session = Session::open(client, destination).await?;
    session.authenticate(RegistryOperation::Push).await?;
    let sources = BlobSources::new(store);
    // An index goes up after each of its images (pushed by digest), so that the registry
    // never holds an index whose manifests it lacks.
    let children: Vec<Descriptor> = match &document {
        Document::Index(index) => index.manifests.clone(),
        Document::Manifest(_) => vec![descriptor.clone()],
    };
    let mut transfers = Vec::new();
    let mut digests = Vec::new();
    for child in &children {
        let child_bytes = store.read_blob(child.digest())?;
        let Document::Manifest(manifest) = Document::from_bytes(&child_bytes)
            .with_context(|| format!("reading manifest {} of {source}", child.digest()))?
        else {
            bail!(
                "{source} holds an index inside an index; pushing nested indexes is not supported"
            );
        };
        let blobs: Vec<&Descriptor> = manifest.blobs().collect();
        transfers.extend(
            futures_util::stream::iter(
                blobs
                    .iter()
                    .map(|blob| push_blob(&session, store, &sources, destination, blob)),
            )
            .buffer_unordered(client.options.max_concurrent_transfers.max(1))
            .try_collect::<Vec<Transfer>>()
            .await?,
        );
        digests.extend(blobs.iter().map(|b| b.digest().to_string()));
        if matches!(document, Document::Index(_)) {
            let child_type = manifest
                .media_type
                .as_ref()
                .map_or_else(|| child.media_type().to_string(), ToString::to_string);
            session
                .put_manifest_at(&child_bytes, &child_type, Some(child.digest().as_ref()))
                .await?;
            digests.push(child.digest().to_string());
        }
    }

    session.put_manifest(&bytes, &media_type).await?;
    digests.push(descriptor.digest().to_string());
    sources.record(&destination.name(), digests.iter().map(String::as_str))?;

    let count = |want: fn(&Transfer) -> bool| transfers.iter().filter(|t| want(t)).count();
    Ok(PushReport {
        reference: destination.to_string(),
        digest: descriptor.digest().clone(),
        uploaded: count(|t| matches!(t, Transfer::Uploaded)),
        skipped: count(|t| matches!(t, Transfer::Skipped)),
        mounted: count(|t| matches!(t, Transfer::Mounted)),
    })
}

async fn push_blob(
    session: &Session<'_>,
    store: &Store,
    sources: &BlobSources,
    destination: &Reference,
    blob: &Descriptor,
) -> Result<Transfer> {
    let digest = blob.digest();
    if session.has_blob(digest).await? {
        return Ok(Transfer::Skipped);
    }
    let same_registry = format!("{}/", destination.domain());
    for repository in sources.repositories(digest.as_ref())? {
        let Some(path) = repository.strip_prefix(&same_registry) else {
            continue;
        };
        if path != destination.path() && session.mount_blob(digest, path).await {
            return Ok(Transfer::Mounted);
        }
    }
    if !store.has_blob(digest) {
        bail!(
            "blob {digest} of the image is not in the store (it was never pulled or was pruned); \
             pull or build the image again before pushing"
        );
    }
    session.upload_blob(store, digest, blob.size()).await?;
    Ok(Transfer::Uploaded)
}

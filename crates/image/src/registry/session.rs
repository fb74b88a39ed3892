//! One conversation with one repository of one registry: the oci-client handle (HTTP or
//! HTTPS as Docker would choose), the credentials, and the blob and manifest operations with
//! retries and verification.

use super::client::Client;
use super::{auth, media};
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::secrets::RegistryAuth;
pub(super) use oci_client::RegistryOperation;
use oci_spec::image::{Descriptor, Digest};
use std::io::Write;

/// Bytes read from the store per upload chunk.
const UPLOAD_CHUNK: usize = 1 << 20;

pub(super) struct Session<'a> {
    client: &'a Client,
    oci: oci_client::Client,
    /// The repository, as oci-client addresses it.
    pub oci_ref: oci_client::Reference,
    /// `domain/path`, for messages and the blob sources map.
    pub repository: String,
    /// The user's credentials for the registry (anonymous when none are configured).
    credentials: RegistryAuth,
}

impl<'a> Session<'a> {
    /// Opens a session on `reference`'s repository with the user's credentials for its registry.
    pub async fn open(client: &'a Client, reference: &Reference) -> Result<Session<'a>> {
        let protocol = if client.is_plain_http(reference) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let oci = oci_client::Client::new(ClientConfig {
            protocol,
            use_monolithic_push: true,
            platform_resolver: None,
            connect_timeout: Some(client.options.connect_timeout),
            read_timeout: Some(client.options.read_timeout),
            user_agent: concat!("skiff/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        });
        let oci_ref = to_oci_reference(reference);
        let credentials = auth::credentials_for(reference.domain(), &|m| client.notice(m))?;
        oci.store_auth_if_needed(oci_ref.resolve_registry(), &credentials)
            .await;
        let session = Session {
            client,
            oci,
            oci_ref,
            repository: reference.name(),
            credentials,
        };
        session.authenticate(RegistryOperation::Pull).await?;
        Ok(session)
    }

    /// Gets the token the registry wants for `operation` now, so that a failing token service
    /// is reported as such: oci-client otherwise asks for it lazily and, when that fails,
    /// sends the request without one, which the registry answers with a 401 that reads like
    /// wrong credentials. Transport failures are retried; the token is cached for the requests.
    pub async fn authenticate(&self, operation: RegistryOperation) -> Result<()> {
        let what = format!("authenticating to {}", self.repository);
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || async {
                self.oci
                    .auth(&self.oci_ref, &self.credentials, operation)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            })
            .await
            .map_err(|e| explain_token_failure(e, &self.repository))
    }

    /// Fetches a manifest (by the session's reference, or by `digest`): its bytes and digest,
    /// verified against the digest asked for or the one the registry announced.
    pub async fn manifest(&self, digest: Option<&str>) -> Result<(bytes::Bytes, String)> {
        let target = match digest {
            Some(d) => self.oci_ref.clone_with_digest(d.to_string()),
            None => self.oci_ref.clone(),
        };
        let what = format!("fetching the manifest of {}", describe(&target));
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || async {
                self.oci
                    .pull_manifest_raw(&target, &RegistryAuth::Anonymous, media::ACCEPTED_MANIFESTS)
                    .await
                    .map_err(anyhow::Error::from)
            })
            .await
            .map_err(|e| explain_auth(e, &self.repository))
            .map_err(|e| explain_not_found(e, &target))
            .with_context(|| what.clone())
    }

    /// Downloads a blob into the store (unless it is there), verifying digest and size while
    /// streaming. Returns whether it was downloaded.
    pub async fn fetch_blob(&self, store: &Store, blob: &Descriptor) -> Result<bool> {
        let digest = blob.digest();
        if store.has_blob(digest) {
            return Ok(false);
        }
        let what = format!(
            "pulling blob {digest} ({} bytes) from {}",
            blob.size(),
            self.repository
        );
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || {
                self.fetch_blob_once(store, digest, blob.size())
            })
            .await
            .map_err(|e| explain_corruption(e, digest, &self.repository))
            .map_err(explain_unreachable_blob_host)
            .with_context(|| what.clone())?;
        Ok(true)
    }

    async fn fetch_blob_once(&self, store: &Store, digest: &Digest, size: u64) -> Result<()> {
        let mut stream = self
            .oci
            .pull_blob_stream(&self.oci_ref, digest.as_ref())
            .await?;
        // Dropping the writer without commit discards the partial blob.
        let mut writer = store.blob_writer()?;
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            received += chunk.len() as u64;
            if received > size {
                bail!(
                    "the registry sent more than the {size} bytes the manifest declares for \
                     blob {digest} of {}: refusing the blob (the registry's data is corrupt)",
                    self.repository
                );
            }
            writer.write_all(&chunk)?;
            if let Some(progress) = &self.client.options.on_blob_progress {
                (progress.0)(digest.as_ref(), received, size);
            }
        }
        writer.commit(Some((digest, Some(size))))?;
        Ok(())
    }

    /// Whether the repository already has the blob.
    pub async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let what = format!("checking for blob {digest} in {}", self.repository);
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || async {
                Ok(self.oci.blob_exists(&self.oci_ref, digest.as_ref()).await?)
            })
            .await
            .map_err(|e| explain_auth(e, &self.repository))
            .with_context(|| what.clone())
    }

    /// Asks the registry to link a blob from another of its repositories (`from_path`) into
    /// this one. Returns false when the registry declined (then the blob must be uploaded).
    pub async fn mount_blob(&self, digest: &Digest, from_path: &str) -> bool {
        let source = oci_client::Reference::with_tag(
            self.oci_ref.registry().to_string(),
            from_path.to_string(),
            "latest".to_string(),
        );
        self.oci
            .mount_blob(&self.oci_ref, &source, digest.as_ref())
            .await
            .is_ok()
    }

    /// Uploads a blob from the store, streaming it from disk.
    pub async fn upload_blob(&self, store: &Store, digest: &Digest, size: u64) -> Result<()> {
        let path = store.blob_path(digest);
        let what = format!(
            "uploading blob {digest} ({size} bytes) to {}",
            self.repository
        );
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || async {
                let file = tokio::fs::File::open(&path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))?;
                self.oci
                    .push_blob_stream(
                        &self.oci_ref,
                        file_chunks(file),
                        digest.as_ref(),
                        Some(size),
                    )
                    .await?;
                Ok(())
            })
            .await
            .map_err(|e| explain_auth(e, &self.repository))
            .with_context(|| what.clone())
    }

    /// Puts a manifest under the session's tag (or digest).
    pub async fn put_manifest(&self, bytes: &[u8], media_type: &str) -> Result<()> {
        self.put_manifest_at(bytes, media_type, None).await
    }

    /// Uploads a manifest under its digest (`Some`: an index's child, which has no tag of
    /// its own) or under the session's reference (`None`).
    pub async fn put_manifest_at(
        &self,
        bytes: &[u8],
        media_type: &str,
        digest: Option<&str>,
    ) -> Result<()> {
        let target = match digest {
            Some(d) => self.oci_ref.clone_with_digest(d.to_string()),
            None => self.oci_ref.clone(),
        };
        let what = format!("putting the manifest to {}", describe(&target));
        let content_type: reqwest::header::HeaderValue = media_type.parse().map_err(|_| {
            anyhow!("manifest media type {media_type:?} is not a valid header value")
        })?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.client
            .options
            .retry
            .run(&what, &|m| self.client.notice(m), || async {
                self.oci
                    .push_manifest_raw(&target, body.clone(), content_type.clone())
                    .await?;
                Ok(())
            })
            .await
            .map_err(|e| explain_auth(e, &self.repository))
            .with_context(|| what.clone())
    }
}

/// The file as a stream of chunks, read as the upload consumes them.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = oci_client::errors::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = bytes::BytesMut::with_capacity(UPLOAD_CHUNK);
        while buf.len() < UPLOAD_CHUNK {
            if file
                .read_buf(&mut buf)
                .await
                .map_err(OciDistributionError::IoError)?
                == 0
            {
                break;
            }
        }
        Ok(if buf.is_empty() {
            None
        } else {
            Some((buf.freeze(), file))
        })
    })
}

fn to_oci_reference(reference: &Reference) -> oci_client::Reference {
    let (domain, path) = (reference.domain().to_string(), reference.path().to_string());
    match (reference.tag(), reference.digest()) {
        (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
            domain,
            path,
            tag.to_string(),
            digest.to_string(),
        ),
        (None, Some(digest)) => {
            oci_client::Reference::with_digest(domain, path, digest.to_string())
        }
        (tag, None) => oci_client::Reference::with_tag(
            domain,
            path,
            tag.unwrap_or(crate::reference::DEFAULT_TAG).to_string(),
        ),
    }
}

fn describe(reference: &oci_client::Reference) -> String {
    let mut s = format!("{}/{}", reference.registry(), reference.repository());
    if let Some(tag) = reference.tag() {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = reference.digest() {
        s.push('@');
        s.push_str(digest);
    }
    s
}

/// Turns a digest verification failure into a message naming the blob and the registry.
fn explain_corruption(err: anyhow::Error, digest: &Digest, repository: &str) -> anyhow::Error {
    let mismatch = err.chain().find_map(|cause| {
        cause
            .downcast_ref::<DigestError>()
            .or_else(|| match cause.downcast_ref::<OciDistributionError>() {
                Some(OciDistributionError::DigestError(e)) => Some(e),
                _ => None,
            })
            .or_else(|| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .and_then(|e| e.get_ref())
                    .and_then(|e| e.downcast_ref::<DigestError>())
            })
            .map(|e| e.to_string())
    });
    match mismatch {
        Some(detail) => anyhow!(
            "the data {repository} served does not match its digest {digest} ({detail}): the \
             registry's copy is corrupt or was tampered with, so nothing was stored; fix or \
             re-push the image in the registry"
        ),
        None => err,
    }
}

/// A blob download that could not connect: the URL in the error is the registry's even when
/// the registry redirected the download to another host (a CDN, object storage) and that host
/// is the one that cannot be reached, so the message says both.
fn explain_unreachable_blob_host(err: anyhow::Error) -> anyhow::Error {
    let connect = err.chain().any(|cause| {
        let reqwest_error = cause.downcast_ref::<reqwest::Error>().or_else(|| {
            match cause.downcast_ref::<OciDistributionError>() {
                Some(OciDistributionError::RequestError(e)) => Some(e),
                _ => None,
            }
        });
        reqwest_error.is_some_and(reqwest::Error::is_connect)
    });
    if connect {
        err.context(
            "could not connect to download the blob: to the registry or, if it redirects blob \
             downloads (to a CDN or object storage), to the host it redirects to",
        )
    } else {
        err
    }
}

/// A token service that failed, refused the credentials or answered no token, said as such;
/// other failures (the registry unreachable, a redirect loop) keep their own message.
fn explain_token_failure(err: anyhow::Error, repository: &str) -> anyhow::Error {
    let domain = repository.split('/').next().unwrap_or(repository);
    let token_service = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<OciDistributionError>(),
            Some(
                OciDistributionError::AuthenticationFailure(_)
                    | OciDistributionError::RegistryTokenDecodeError(_)
            )
        )
    });
    if token_service {
        err.context(format!(
            "getting an access token for {repository} from the registry's token service failed \
             (if the credentials are wrong, run `docker login {domain}`; else the token service \
             is failing)"
        ))
    } else {
        err.context(format!("authenticating to {repository}"))
    }
}

/// A registry's "manifest unknown" / "name unknown" said as what it means for the reference:
/// the tag (or digest) is not in that repository, or the repository does not exist.
fn explain_not_found(err: anyhow::Error, target: &oci_client::Reference) -> anyhow::Error {
    use oci_client::errors::OciErrorCode;
    let codes: Vec<&OciErrorCode> = (err.chain())
        .filter_map(|c| match c.downcast_ref::<OciDistributionError>() {
            Some(OciDistributionError::RegistryError { envelope, .. }) => Some(envelope),
            _ => None,
        })
        .flat_map(|envelope| envelope.errors.iter().map(|e| &e.code))
        .collect();
    let repository = format!("{}/{}", target.registry(), target.repository());
    let what = match (target.digest(), target.tag()) {
        (Some(digest), _) => format!("digest {digest}"),
        (None, Some(tag)) => format!("tag {tag}"),
        (None, None) => "tag latest".to_string(),
    };
    if codes.contains(&&OciErrorCode::NameUnknown) {
        err.context(format!(
            "repository {repository} not found: check the image name (and that you are logged \
             in if it is private)"
        ))
    } else if codes.contains(&&OciErrorCode::ManifestUnknown) {
        err.context(format!(
            "{what} not found in {repository}: check the tag, or list the tags the registry has"
        ))
    } else {
        err
    }
}

/// Adds the fix to authorization failures.
fn explain_auth(err: anyhow::Error, repository: &str) -> anyhow::Error {
    let refused = |e: &reqwest::Error| e.status().is_some_and(|s| s.as_u16() == 401);
    let unauthorized =
        err.chain()
            .any(|cause| match cause.downcast_ref::<OciDistributionError>() {
                Some(OciDistributionError::UnauthorizedError { .. })
                | Some(OciDistributionError::AuthenticationFailure(_)) => true,
                Some(OciDistributionError::RequestError(e)) => refused(e),
                _ => cause.downcast_ref::<reqwest::Error>().is_some_and(refused),
            });
    if unauthorized {
        let domain = repository.split('/').next().unwrap_or(repository);
        err.context(format!(
            "{repository} refused the credentials (or needs some): run `docker login {domain}` \
             (skiff reads ~/.docker/config.json)"
        ))
    } else {
        err
    }
}

//! The members of an archive being loaded, read once from a stream (a pipe from
//! `docker save` cannot be read twice). Small members (manifests, configs, `index.json`)
//! stay in memory; large ones (layers) are streamed straight into the store's atomic blob
//! writer, so memory does not grow with layer size and nothing is ever written by the
//! member's own path: a name with `..` or a leading `/` is refused all the same, as are
//! links leading out of the archive.

use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::{Descriptor, Digest};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Read;

/// Members up to this size are kept in memory; larger ones go to the store at once.
const IN_MEMORY_MAX: u64 = 1 << 20;

/// The largest manifest, index or config accepted.
const MAX_DOCUMENT: u64 = 16 << 20;

/// How many links a path may go through before it is called a loop.
const MAX_LINKS: usize = 16;

/// What one regular member holds.
enum Content {
    Bytes(Vec<u8>),
    /// Already in the store under its (computed) digest.
    Stored(Digest, u64),
}

/// The regular files and links of an archive, by their cleaned path.
pub(crate) struct Members<'s> {
    store: &'s Store,
    files: BTreeMap<String, Content>,
    /// Symbolic and hard links: path → the (cleaned, archive-relative) path they name.
    links: BTreeMap<String, String>,
}

impl<'s> Members<'s> {
    /// Reads the whole tar from `reader`; a truncated or corrupt stream is an error.
    pub(crate) fn read(store: &'s Store, reader: impl Read) -> Result<Members<'s>> {
        let mut members = Members {
            store,
            files: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .context("reading the archive: it is not a tar")?;
        for entry in entries {
            let entry =
                entry.context("reading the archive: it is truncated or corrupt, or not a tar")?;
            members.add(entry)?;
        }
        Ok(members)
    }

    fn add(&mut self, mut entry: tar::Entry<'_, impl Read>) -> Result<()> {
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = clean_path(&raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .ok_or_else(|| anyhow!("archive member {raw:?} is a link without a target"))?;
            let target = if kind.is_symlink() {
                link_target(&path, &target)
            } else {
                clean_path(&target)
            }
            .with_context(|| format!("archive member {raw:?} links outside the archive"))?;
            self.links.insert(path, target);
            return Ok(());
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Ok(());
        }
        let size = entry.size();
        let content = if size <= IN_MEMORY_MAX {
            let mut bytes = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {raw} from the archive (truncated?)"))?;
            Content::Bytes(bytes)
        } else {
            let mut writer = self.store.blob_writer()?;
            std::io::copy(&mut entry, &mut writer)
                .with_context(|| format!("reading {raw} from the archive (truncated?)"))?;
            let (digest, size) = writer.commit(None)?;
            Content::Stored(digest, size)
        };
        self.files.insert(path, content);
        Ok(())
    }

    /// Whether the archive has a member (a file, or a link to one) at `path`.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.content(path).is_ok()
    }

    fn content(&self, path: &str) -> Result<&Content> {
        let mut path = clean_path(path)?;
        for _ in 0..=MAX_LINKS {
            if let Some(content) = self.files.get(&path) {
                return Ok(content);
            }
            match self.links.get(&path) {
                Some(target) => path = target.clone(),
                None => bail!("the archive has no {path} (is it truncated?)"),
            }
        }
        bail!("{path} in the archive is a loop of links")
    }

    /// The bytes of a small member (a manifest, an index, a config).
    pub(crate) fn bytes(&self, path: &str) -> Result<Vec<u8>> {
        match self.content(path)? {
            Content::Bytes(bytes) => Ok(bytes.clone()),
            Content::Stored(_, size) if *size > MAX_DOCUMENT => {
                bail!("{path} in the archive is {size} bytes: too large for a manifest or config")
            }
            Content::Stored(digest, _) => self.store.read_blob(digest),
        }
    }

    /// The member at `path` as a blob of the store: its digest and size.
    pub(crate) fn store_blob(&self, path: &str) -> Result<(Digest, u64)> {
        match self.content(path)? {
            Content::Bytes(bytes) => self.store.put_blob(bytes),
            Content::Stored(digest, size) => Ok((digest.clone(), *size)),
        }
    }

    /// The blob `desc` names at its OCI layout path, in the store: an error, storing
    /// nothing new, when its digest or size is not the descriptor's.
    pub(crate) fn store_verified(&self, desc: &Descriptor) -> Result<()> {
        let (digest, size) = self.store_blob(&layout_path(desc.digest()))?;
        check(desc, &digest, size)
    }

    /// The bytes of a manifest or index blob, checked against `desc`.
    pub(crate) fn document(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let bytes = self.bytes(&layout_path(desc.digest()))?;
        let digest = sha256_of(&bytes);
        check(desc, &digest, bytes.len() as u64)?;
        Ok(bytes)
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_of(bytes: &[u8]) -> Digest {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
        .parse()
        .expect("a sha256 hex string is a valid digest")
}

fn check(desc: &Descriptor, digest: &Digest, size: u64) -> Result<()> {
    if digest.to_string() != desc.digest().to_string() || size != desc.size() {
        bail!(
            "blob {} in the archive is corrupt: expected {} bytes, found {size} bytes with digest {digest}",
            desc.digest(),
            desc.size()
        );
    }
    Ok(())
}

/// `blobs/<algorithm>/<hex>`: where an OCI layout keeps a blob.
fn layout_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
}

/// A member name as a relative path without `.` or empty components; absolute names
/// and names with `..` are refused.
pub(crate) fn clean_path(name: &str) -> Result<String> {
    if name.starts_with('/') {
        bail!("archive member {name:?} has an absolute path: refusing to load it");
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => bail!("archive member {name:?} has a `..` component: refusing to load it"),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// The archive path a symbolic link at `path` points at (relative to its directory,
/// as `docker save` writes `../<id>/layer.tar` for a layer saved twice).
fn link_target(path: &str, target: &str) -> Result<String> {
    if target.starts_with('/') {
        bail!("its target {target:?} is absolute");
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("its target {target:?} leaves the archive");
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

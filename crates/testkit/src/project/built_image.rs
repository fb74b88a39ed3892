//! A built image read back with code independent of skiff: the OCI archive's manifest,
//! config and blobs, each layer's entries, and the file tree after applying them all.
//! On its own so that [`super::Project`]'s build runs and the reading of their result
//! are separate files.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The kind of a file-tree entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target.
    Symlink(String),
    /// A hard link to another path of the image (`/`-rooted).
    Hardlink(String),
    /// A named pipe.
    Fifo,
    /// Devices.
    Other,
}

/// One entry of an image's file tree.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Type (and link target).
    pub kind: Kind,
    /// Permission bits (including setuid/setgid/sticky), without the type bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time (seconds).
    pub mtime: u64,
    /// File content (empty for non-files).
    pub data: Vec<u8>,
    /// Extended attributes (PAX `SCHILY.xattr.*`).
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// A file tree keyed by absolute path (`/etc/passwd`); `/` itself is not stored.
#[derive(Clone, Debug, Default)]
pub struct FileTree {
    /// Every entry.
    pub entries: BTreeMap<String, Entry>,
}

impl FileTree {
    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(&normalize(path))
    }

    /// The entry at `path`; panics with a listing of the parent directory when missing.
    pub fn entry(&self, path: &str) -> &Entry {
        let path = normalize(path);
        self.entries.get(&path).unwrap_or_else(|| {
            let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            panic!(
                "{path} is not in the image; {parent}/ holds: {:?}",
                self.children(if parent.is_empty() { "/" } else { parent })
            )
        })
    }

    /// Whether `path` exists.
    pub fn exists(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// A regular file's content (follows hard links; panics when missing or not a file).
    pub fn read(&self, path: &str) -> Vec<u8> {
        let entry = self.entry(path);
        match &entry.kind {
            Kind::File => entry.data.clone(),
            Kind::Hardlink(target) => self.read(target),
            other => panic!("{path} is a {other:?}, not a file"),
        }
    }

    /// A regular file's content as UTF-8.
    pub fn read_string(&self, path: &str) -> String {
        String::from_utf8(self.read(path)).expect("UTF-8 file content")
    }

    /// Names directly under the directory `dir`, sorted.
    pub fn children(&self, dir: &str) -> Vec<String> {
        let dir = normalize(dir);
        let prefix = if dir.is_empty() {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// Every path (sorted) that is not a directory.
    pub fn non_dirs(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.kind != Kind::Dir)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn remove_tree(&mut self, path: &str) {
        self.entries.remove(path);
        let prefix = format!("{path}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = format!("{dir}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }
}

/// `./a/b/` and `a/b` → `/a/b`; `/` → ``.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        out.push('/');
        out.push_str(part);
    }
    out
}

/// One layer of a built image: its descriptor and its entries as stored (whiteouts included).
pub struct LayerContents {
    /// The manifest's descriptor of the layer.
    pub descriptor: Value,
    /// The layer's entries as in the tar (paths normalized, `.wh.` files kept as files).
    pub tree: FileTree,
    /// Entry paths in the order they appear in the tar.
    pub order: Vec<String>,
}

/// An image exported by skiff, read with independent code.
pub struct BuiltImage {
    /// The manifest's digest (`sha256:…`).
    pub digest: String,
    /// The image manifest.
    pub manifest: Value,
    /// The image config.
    pub config: Value,
    /// The layers, bottom first.
    pub layers: Vec<LayerContents>,
    /// The file tree after applying every layer.
    pub fs: FileTree,
    /// Every blob in the archive, raw (compressed layers as stored), keyed by digest.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

impl BuiltImage {
    /// Reads an OCI image layout archive (a tar with `index.json` and `blobs/`).
    pub fn open(archive: &Path) -> Result<BuiltImage> {
        let file = std::fs::File::open(archive)
            .with_context(|| format!("opening {}", archive.display()))?;
        let mut files = BTreeMap::new();
        let mut tar = tar::Archive::new(file);
        for entry in tar.entries()? {
            let mut entry = entry?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let path = normalize(&entry.path()?.to_string_lossy());
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            files.insert(path, data);
        }
        let index: Value = serde_json::from_slice(
            files
                .get("/index.json")
                .context("the archive has no index.json")?,
        )?;
        let blobs: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter_map(|(path, data)| {
                path.strip_prefix("/blobs/sha256/")
                    .map(|hex| (format!("sha256:{hex}"), data.clone()))
            })
            .collect();
        for (digest, data) in &blobs {
            if &crate::layout::sha256_digest(data) != digest {
                bail!("blob {digest} does not hash to its name");
            }
        }
        let blob_json = |digest: &str| -> Result<Value> {
            let data = blobs
                .get(digest)
                .with_context(|| format!("blob {digest} is missing"))?;
            Ok(serde_json::from_slice(data)?)
        };
        let mut descriptor = index["manifests"][0].clone();
        // Descend through nested indexes to this machine's manifest.
        loop {
            let media = descriptor["mediaType"].as_str().unwrap_or_default();
            if !media.contains("index") && !media.contains("manifest.list") {
                break;
            }
            let nested = blob_json(descriptor["digest"].as_str().unwrap_or_default())?;
            let arch = crate::layout::host_architecture();
            let manifests = nested["manifests"].as_array().cloned().unwrap_or_default();
            descriptor = manifests
                .iter()
                .find(|m| m["platform"]["architecture"] == arch)
                .or(manifests.first())
                .cloned()
                .context("an empty image index")?;
        }
        let digest = descriptor["digest"]
            .as_str()
            .context("index.json names no manifest digest")?
            .to_string();
        let manifest = blob_json(&digest)?;
        let config = blob_json(manifest["config"]["digest"].as_str().unwrap_or_default())?;
        let mut layers = Vec::new();
        let mut fs = FileTree::default();
        for layer in manifest["layers"].as_array().cloned().unwrap_or_default() {
            let ldigest = layer["digest"].as_str().unwrap_or_default();
            let raw = blobs
                .get(ldigest)
                .with_context(|| format!("layer {ldigest} is missing"))?;
            let media = layer["mediaType"].as_str().unwrap_or_default();
            let (tree, order) = read_layer(raw, media)
                .with_context(|| format!("reading layer {ldigest} ({media})"))?;
            apply(&mut fs, &tree, &order);
            layers.push(LayerContents {
                descriptor: layer,
                tree,
                order,
            });
        }
        Ok(BuiltImage {
            digest,
            manifest,
            config,
            layers,
            fs,
            blobs,
        })
    }

    /// `config.config` (Env, Cmd, User, …), `{}` when absent.
    pub fn runtime_config(&self) -> &Value {
        &self.config["config"]
    }

    /// `config.history`, as (created_by, empty_layer) pairs.
    pub fn history(&self) -> Vec<(String, bool)> {
        self.config["history"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|h| {
                (
                    h["created_by"].as_str().unwrap_or_default().to_string(),
                    h["empty_layer"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    /// One variable of the config's `Env`, if set.
    pub fn env(&self, name: &str) -> Option<String> {
        self.runtime_config()["Env"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .find_map(|kv| {
                kv.split_once('=')
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
    }

    /// Whether any blob (raw or, for layers, decompressed) contains `needle`.
    pub fn any_blob_contains(&self, needle: &[u8]) -> bool {
        let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        self.blobs.values().any(|b| contains(b))
            || self.layers.iter().any(|l| {
                l.tree
                    .entries
                    .iter()
                    .any(|(p, e)| contains(p.as_bytes()) || contains(&e.data))
            })
    }
}

fn read_layer(raw: &[u8], media: &str) -> Result<(FileTree, Vec<String>)> {
    let reader: Box<dyn Read + '_> = if media.ends_with("gzip") {
        Box::new(flate2::read::GzDecoder::new(raw))
    } else if media.ends_with("zstd") {
        Box::new(zstd::stream::read::Decoder::new(raw)?)
    } else {
        Box::new(raw)
    };
    let mut tree = FileTree::default();
    let mut order = Vec::new();
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path()?.to_string_lossy());
        if path.is_empty() {
            continue;
        }
        let header = entry.header().clone();
        let link = || -> Result<String> { Ok(entry_link(&header)?.unwrap_or_default()) };
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => Kind::Hardlink(normalize(&link()?)),
            tar::EntryType::Fifo => Kind::Fifo,
            _ => Kind::Other,
        };
        let mut xattrs = BTreeMap::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.insert(name.to_string(), ext.value_bytes().to_vec());
                }
            }
        }
        let mut data = Vec::new();
        if kind == Kind::File {
            entry.read_to_end(&mut data)?;
        }
        order.push(path.clone());
        tree.entries.insert(
            path,
            Entry {
                kind,
                mode: header.mode()? & 0o7777,
                uid: header.uid()?,
                gid: header.gid()?,
                mtime: header.mtime()?,
                data,
                xattrs,
            },
        );
    }
    Ok((tree, order))
}

fn entry_link(header: &tar::Header) -> Result<Option<String>> {
    Ok(header
        .link_name()?
        .map(|p| p.to_string_lossy().into_owned()))
}

/// Applies one layer (in tar order) over `fs`, with OCI whiteout semantics.
fn apply(fs: &mut FileTree, layer: &FileTree, order: &[String]) {
    for path in order {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name == ".wh..wh..opq" {
            fs.remove_children(dir);
        } else if let Some(hidden) = name.strip_prefix(".wh.") {
            fs.remove_tree(&format!("{dir}/{hidden}"));
        }
    }
    for path in order {
        let name = path.rsplit('/').next().unwrap_or_default();
        if name.starts_with(".wh.") {
            continue;
        }
        let entry = layer.entries[path].clone();
        if entry.kind != Kind::Dir {
            fs.remove_tree(path);
        }
        fs.entries.insert(path.clone(), entry);
    }
}

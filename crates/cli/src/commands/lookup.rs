//! Finding images in the store as Docker does: by name (`app:1`, normalised), by full ID
//! (`sha256:<config digest>`) or by an ID prefix (`3f5a9c1b2d4e`, `sha256:3f5a`), an
//! ambiguous prefix being an error that lists the images it matches.
//!
//! An image's ID is Docker's: the digest of its config. The store names manifests, so one
//! image (one ID) is every manifest with that config, under all their names. An image that
//! was loaded without a name is named in the store by its ID (`sha256:…`); such a name is
//! not a name for Docker's purposes ([`is_id_name`]): `images` shows the image as
//! `<none>`, and `inspect` gives it no `RepoTags`.

use super::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_image::reference::Reference;
use skiff_image::Store;

/// One image of the store.
#[derive(Clone, Debug)]
pub struct StoredImage {
    /// `sha256:<hex>`, the digest of its config.
    pub id: String,
    /// Its manifest (the first, by name, when several manifests share the config).
    pub manifest: Descriptor,
    /// Every name the store gives it, sorted, including an ID name.
    pub names: Vec<String>,
}

impl StoredImage {
    /// The names that are names for Docker (not the `sha256:…` ID names).
    pub fn real_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|n| !is_id_name(n))
    }

    /// The 12 hex digits Docker shows as the short ID.
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }
}

/// What a user's text names.
pub enum Found {
    /// A name in the store (normalised as stored) and the manifest it names.
    Name(String, Descriptor),
    /// An image given by its ID or an ID prefix.
    Id(StoredImage),
}

/// Whether a store name is an unnamed image's ID name (`sha256:<hex>`).
pub fn is_id_name(name: &str) -> bool {
    name.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && is_hex(hex))
}

fn is_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Opens the store named by `--root`/`SKIFF_ROOT`.
pub fn open_store(ctx: &Context) -> Result<Store> {
    let root = super::store_root(ctx);
    Store::open(&root).with_context(|| format!("opening the store at {}", root.display()))
}

/// Every image of the store, one per ID, ordered by their first name.
pub fn stored_images(store: &Store) -> Result<Vec<StoredImage>> {
    let mut images: Vec<StoredImage> = Vec::new();
    for (name, descriptor) in store.images()? {
        let manifest = store
            .read_manifest(&descriptor)
            .with_context(|| format!("reading the manifest of {name}"))?;
        let id = manifest.config.digest().to_string();
        match images.iter_mut().find(|i| i.id == id) {
            Some(image) => image.names.push(name),
            None => images.push(StoredImage {
                id,
                manifest: descriptor,
                names: vec![name],
            }),
        }
    }
    Ok(images)
}

/// What `text` names: a full ID first, then a name, then an ID prefix (Docker's order).
pub fn lookup(store: &Store, text: &str) -> Result<Found> {
    let prefix = text.strip_prefix("sha256:").unwrap_or(text);
    let id_like = !prefix.is_empty() && prefix.len() <= 64 && is_hex(prefix);
    if id_like && prefix.len() == 64 {
        if let Some(image) = by_id_prefix(store, prefix)? {
            return Ok(Found::Id(image));
        }
    }
    let normalised = Reference::parse(text).map(|r| r.to_string()).ok();
    for candidate in normalised.iter().map(String::as_str).chain([text]) {
        if let Some(descriptor) = store.resolve(candidate)? {
            return Ok(Found::Name(candidate.to_string(), descriptor));
        }
    }
    if id_like {
        if let Some(image) = by_id_prefix(store, prefix)? {
            return Ok(Found::Id(image));
        }
    }
    Err(anyhow!(
        "no image named {} in the store (see `skiff images`)",
        normalised.as_deref().unwrap_or(text)
    ))
}

/// The image whose ID starts with `prefix` (hex), or whose manifest digest is `prefix`
/// whole; an error listing them when several match.
fn by_id_prefix(store: &Store, prefix: &str) -> Result<Option<StoredImage>> {
    let images = stored_images(store)?;
    let mut matching: Vec<StoredImage> = images
        .iter()
        .filter(|i| i.short_id().len() == 12 && i.id["sha256:".len()..].starts_with(prefix))
        .cloned()
        .collect();
    if matching.is_empty() && prefix.len() == 64 {
        let digest = format!("sha256:{prefix}");
        matching.extend(
            images
                .into_iter()
                .filter(|i| i.manifest.digest().to_string() == digest),
        );
    }
    match matching.len() {
        0 => Ok(None),
        1 => Ok(matching.pop()),
        _ => {
            let ids: Vec<String> = matching
                .iter()
                .map(|i| format!("{} ({})", i.id, i.names.join(", ")))
                .collect();
            bail!(
                "the image ID prefix {prefix} is ambiguous: it matches {}",
                ids.join("; ")
            )
        }
    }
}

/// The store's name and manifest for what the user typed (a name or an ID); an image given
/// by ID is named by its ID (`sha256:…`), which `save` records as no name.
pub fn find_image(store: &Store, text: &str) -> Result<(String, Descriptor)> {
    Ok(match lookup(store, text)? {
        Found::Name(name, descriptor) => (name, descriptor),
        Found::Id(image) => (image.id, image.manifest),
    })
}

/// Docker's short form of a store name (`app:1` for `docker.io/library/app:1`).
pub fn familiar(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_string(), |r| r.familiar())
}

/// A name's repository and tag as `docker images` shows them (`<none>` for a missing tag).
pub fn repository_and_tag(name: &str) -> (String, String) {
    match Reference::parse(name) {
        Ok(reference) => {
            let familiar = reference.familiar();
            let repository = familiar.split('@').next().unwrap_or(&familiar).to_string();
            let repository = match reference.tag() {
                Some(tag) => repository
                    .strip_suffix(&format!(":{tag}"))
                    .unwrap_or(&repository)
                    .to_string(),
                None => repository,
            };
            let tag = reference.tag().unwrap_or("<none>").to_string();
            (repository, tag)
        }
        Err(_) => (name.to_string(), "<none>".to_string()),
    }
}

/// Docker's size of an image: the sum over its layers of what each takes once extracted.
pub fn image_size(store: &Store, manifest: &Descriptor) -> Result<u64> {
    let manifest = store.read_manifest(manifest)?;
    let mut total = 0;
    for layer in &manifest.layers {
        let blob = std::fs::File::open(store.blob_path(layer.digest()))
            .with_context(|| format!("reading the layer {}", layer.digest()))?;
        total += layer_size(std::io::BufReader::new(blob))
            .with_context(|| format!("reading the layer {}", layer.digest()))?;
    }
    Ok(total)
}

/// What Docker counts for a layer (`directory.Size` of its extracted directory): the size
/// of each regular file once (a hard link adds nothing), and the length of each symbolic
/// link's target; directories, devices and whiteouts count nothing.
pub fn layer_size(blob: impl std::io::Read) -> Result<u64> {
    let mut archive = tar::Archive::new(skiff_image::layer::decompressed(blob)?);
    let mut total = 0;
    for entry in archive.entries()? {
        let entry = entry?;
        let header = entry.header();
        total += match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => header.size()?,
            tar::EntryType::Symlink => entry
                .link_name_bytes()
                .map_or(0, |target| target.len() as u64),
            _ => 0,
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::{is_id_name, repository_and_tag};

    #[test]
    fn names_split_as_docker_images_shows_them() {
        let split = |n: &str| repository_and_tag(n);
        let owned = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split("docker.io/library/app:1"), owned("app", "1"));
        assert_eq!(split("docker.io/other/app:2"), owned("other/app", "2"));
        assert_eq!(
            split("127.0.0.1:5000/a/b:v1"),
            owned("127.0.0.1:5000/a/b", "v1")
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = format!("docker.io/library/app@{digest}");
        assert_eq!(split(&pinned), owned("app", "<none>"));
        assert!(is_id_name(&digest));
        assert!(!is_id_name("sha256:abc"));
    }
}

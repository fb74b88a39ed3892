//! A stage's image while it is being built: config, layers, and the cache key of the
//! steps so far. Every state that follows a layer step is committed to the store as a
//! manifest, which is what the cache index points at.

use crate::config::ImageConfig;
use anyhow::{bail, Context as _, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use skiff_image::layer::Compression;
use skiff_image::Store;

/// An image under construction.
#[derive(Clone, Debug)]
pub struct ImageState {
    /// The config, history included.
    pub config: ImageConfig,
    /// The layer blobs, lowest first (their diff IDs are in `config.rootfs`).
    pub layers: Vec<Descriptor>,
    /// The cache key of everything that led here.
    pub key: String,
    /// The ARGs the stage declared so far: a stage built `FROM` this one starts with them in
    /// scope, as in BuildKit. Not part of the committed image (a loaded state has none).
    pub args: ArgScope,
}

/// The ARGs in scope at the end of a stage, as [`ImageState::args`] hands them on.
#[derive(Clone, Debug, Default)]
pub struct ArgScope {
    /// Every ARG declared, in order (repeats kept), with the value it resolved to.
    pub declared: Vec<(String, Option<String>)>,
    /// The ARG values that override the image's `Env` (until an `ENV` of the same name).
    pub overrides: Vec<(String, String)>,
}

impl ImageState {
    /// An empty image (`FROM scratch`).
    pub fn scratch(platform: &skiff_image::registry::Platform) -> ImageState {
        let mut config = ImageConfig {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            ..Default::default()
        };
        // BuildKit's `emptyImage`: the default PATH and `/` as the working directory.
        config
            .config
            .env
            .push(format!("PATH={}", crate::config::DEFAULT_PATH));
        config.config.working_dir = "/".into();
        ImageState {
            config,
            layers: Vec::new(),
            // The platform is part of the key: a scratch image's config names it.
            key: format!("scratch {platform}"),
            args: ArgScope::default(),
        }
    }

    /// Loads a committed state (a manifest in the store).
    pub fn load(store: &Store, manifest: &Digest) -> Result<ImageState> {
        let (m, config) = store.read_image(manifest)?;
        // As containerd's unpacker: a config that disagrees with its manifest is refused
        // before any layer is used (a hostile base could declare 50,000 layers for one).
        if config.rootfs.diff_ids.len() != m.layers.len() {
            bail!(
                "image {manifest} is inconsistent: its config lists {} layers (rootfs.diff_ids) \
                 but its manifest has {}",
                config.rootfs.diff_ids.len(),
                m.layers.len()
            );
        }
        Ok(ImageState {
            config,
            layers: m.layers,
            key: format!("manifest:{manifest}"),
            args: ArgScope::default(),
        })
    }

    /// Writes config and manifest blobs; returns the manifest's descriptor.
    pub fn commit(&self, store: &Store) -> Result<Descriptor> {
        store.write_image(&self.config, &self.layers)
    }
}

/// Fills in the `created` times BuildKit's exporter fills in. An entry without a time (a
/// metadata step) gets the time of the closest timed entry before it, except for the first run
/// of untimed entries, which gets the first timed entry after that run (so a leading `ENV`
/// does not take the base image's time). Without a timed entry after that run, the last timed
/// one is used (typically the base image's), and `fallback` when no entry has a time (`FROM
/// scratch` with metadata only). The image's `created` is the last entry's.
pub fn fill_history_times(config: &mut ImageConfig, fallback: &str) {
    let mut fill: Option<String> = None;
    let mut seen_untimed = false;
    for h in &config.history {
        match &h.created {
            Some(t) => {
                fill = Some(t.clone());
                if seen_untimed {
                    break;
                }
            }
            None => seen_untimed = true,
        }
    }
    if fill.is_none() {
        fill = Some(fallback.to_string());
    }
    seen_untimed = false;
    for h in &mut config.history {
        match &h.created {
            Some(t) => {
                if seen_untimed {
                    fill = Some(t.clone());
                }
            }
            None => {
                seen_untimed = true;
                h.created = fill.clone();
            }
        }
    }
    config.created = config
        .history
        .last()
        .and_then(|h| h.created.clone())
        .or(fill);
}

/// The empty tar as Go's `compress/gzip` writes it (what BuildKit stores): written as is, the
/// empty layer's digest is BuildKit's `sha256:4f4fb700…`, so registries and image tools
/// share the blob between images built by either. zlib-rs would give other bytes.
const GO_GZIP_EMPTY_TAR: [u8; 32] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x62, 0x18, 0x05, 0xa3, 0x60, 0x14,
    0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff, 0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00,
];

/// Writes the layer BuildKit writes for a step that changed nothing (`WORKDIR` of an
/// existing directory, a `RUN` that wrote nothing): an empty tar, two zero blocks, whose
/// diff ID is `sha256:5f70bf18…`. Compressed like the build's other layers.
pub fn empty_layer(
    store: &Store,
    opts: &crate::layer_options::LayerOptions,
) -> Result<crate::rootfs::NewLayer> {
    use sha2::Digest as _;
    let tar = [0u8; 1024];
    let (bytes, media) = match opts.compression {
        Compression::Zstd => (
            zstd::encode_all(&tar[..], 3).context("compressing the empty layer")?,
            MediaType::ImageLayerZstd,
        ),
        Compression::Gzip => (GO_GZIP_EMPTY_TAR.to_vec(), MediaType::ImageLayerGzip),
        Compression::Uncompressed => (tar.to_vec(), MediaType::ImageLayer),
    };
    let (digest, size) = store.put_blob(&bytes)?;
    Ok(crate::rootfs::NewLayer {
        descriptor: Descriptor::new(media, size, digest),
        diff_id: format!("sha256:{}", hex::encode(sha2::Sha256::digest(tar)))
            .parse::<Digest>()
            .context("diff_id of the empty layer")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::History;

    fn entry(created: Option<&str>, empty_layer: bool) -> History {
        History {
            created: created.map(str::to_string),
            empty_layer,
            ..Default::default()
        }
    }

    fn times(config: &ImageConfig) -> Vec<&str> {
        config
            .history
            .iter()
            .map(|h| h.created.as_deref().unwrap_or("-"))
            .collect()
    }

    #[test]
    fn the_empty_gzip_layer_is_buildkits() {
        use sha2::Digest as _;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(GO_GZIP_EMPTY_TAR)),
            "4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1"
        );
        let mut tar = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&GO_GZIP_EMPTY_TAR[..]),
            &mut tar,
        )
        .unwrap();
        assert_eq!(tar, [0u8; 1024]);
    }

    #[test]
    fn metadata_entries_take_the_layer_time_before_them_or_the_first_after() {
        let mut config = ImageConfig {
            history: vec![
                entry(Some("base"), false),
                entry(None, true),
                entry(Some("l1"), false),
                entry(None, true),
                entry(Some("l2"), false),
                entry(None, true),
            ],
            ..Default::default()
        };
        fill_history_times(&mut config, "now");
        assert_eq!(times(&config), ["base", "l1", "l1", "l1", "l2", "l2"]);
        assert_eq!(config.created.as_deref(), Some("l2"));
    }

    #[test]
    fn without_new_layers_the_base_time_is_used_and_scratch_falls_back() {
        let mut config = ImageConfig {
            history: vec![entry(Some("base"), false), entry(None, true)],
            ..Default::default()
        };
        fill_history_times(&mut config, "now");
        assert_eq!(times(&config), ["base", "base"]);
        let mut scratch = ImageConfig {
            history: vec![entry(None, true)],
            ..Default::default()
        };
        fill_history_times(&mut scratch, "now");
        assert_eq!(times(&scratch), ["now"]);
        assert_eq!(scratch.created.as_deref(), Some("now"));
    }
}

//! How a build writes its layers: the options every layer-making step shares and the cache
//! key's layer format is read from. A module of its own, below both the writers and the keys.

/// How layers are written.
#[derive(Clone, Debug, Default)]
pub struct LayerOptions {
    /// How layer blobs are compressed (`--compression`), kept typed down to the writer.
    pub compression: skiff_image::layer::Compression,
    /// `SOURCE_DATE_EPOCH`: file times in layers are clamped to it.
    pub source_date_epoch: Option<i64>,
}

//! What a finished build leaves behind for scripts, as buildx writes it: the image ID file
//! (`--iidfile`: `sha256:` and the config digest, no newline) and the metadata file
//! (`--metadata-file`: a JSON object with BuildKit's exporter keys).

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The files `--iidfile` and `--metadata-file` name.
#[derive(Clone, Debug, Default)]
pub struct ResultFiles {
    /// `--iidfile`: the image ID.
    pub iidfile: Option<PathBuf>,
    /// `--metadata-file`: BuildKit's result metadata.
    pub metadata_file: Option<PathBuf>,
}

/// The image a build produced, as its result files describe it.
#[derive(Clone, Debug)]
pub struct Built {
    /// The manifest's descriptor (`containerimage.descriptor`).
    pub manifest: Descriptor,
    /// The image ID: the config blob's digest (`containerimage.config.digest`).
    pub image_id: String,
    /// The names it was given (in the store or pushed), in order.
    pub names: Vec<String>,
}

impl ResultFiles {
    /// The files the flags name.
    pub fn of(args: &super::args::BuildArgs) -> ResultFiles {
        ResultFiles {
            iidfile: args.iidfile.clone(),
            metadata_file: args.metadata_file.clone(),
        }
    }

    /// Removes the files a previous build left, so that a failed build leaves none (buildx
    /// removes a stale image ID file the same way before it builds).
    pub fn clear(&self) -> Result<()> {
        for path in [&self.iidfile, &self.metadata_file].into_iter().flatten() {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the files asked for, each replaced whole (written beside it, then renamed).
    pub fn write(&self, built: &Built) -> Result<()> {
        if let Some(path) = &self.iidfile {
            write_whole(path, built.image_id.as_bytes()).context("--iidfile")?;
        }
        if let Some(path) = &self.metadata_file {
            let mut text = serde_json::to_vec_pretty(&metadata(built))?;
            text.push(b'\n');
            write_whole(path, &text).context("--metadata-file")?;
        }
        Ok(())
    }
}

/// BuildKit's image exporter response for `built` (buildx's `buildx.build.ref` left out:
/// skiff has no builder instance to refer to).
pub fn metadata(built: &Built) -> Value {
    let mut map = Map::new();
    map.insert("containerimage.config.digest".into(), json!(built.image_id));
    map.insert(
        "containerimage.descriptor".into(),
        json!({
            "mediaType": built.manifest.media_type().to_string(),
            "digest": built.manifest.digest().to_string(),
            "size": built.manifest.size(),
        }),
    );
    map.insert(
        "containerimage.digest".into(),
        json!(built.manifest.digest().to_string()),
    );
    if !built.names.is_empty() {
        map.insert("image.name".into(), json!(built.names.join(",")));
    }
    Value::Object(map)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so that a reader
/// never sees half of it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.skiff-tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;

    #[test]
    fn the_metadata_has_buildkits_keys() {
        let digest: oci_spec::image::Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let built = Built {
            manifest: Descriptor::new(MediaType::ImageManifest, 42, digest),
            image_id: format!("sha256:{}", "b".repeat(64)),
            names: vec!["a:1".into(), "b:2".into()],
        };
        let m = metadata(&built);
        assert_eq!(
            m["containerimage.digest"],
            json!(format!("sha256:{}", "a".repeat(64)))
        );
        assert_eq!(m["containerimage.config.digest"], json!(built.image_id));
        assert_eq!(m["containerimage.descriptor"]["size"], json!(42));
        assert_eq!(
            m["containerimage.descriptor"]["mediaType"],
            json!("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(m["image.name"], json!("a:1,b:2"));
    }
}

//! The image the export tests deliver: two layers (gzip, then zstd with a whiteout) and a
//! config, written into a temp store. A module of its own so the tests file stays short.

use oci_spec::image::{Arch, Descriptor, MediaType};
use sha2::{Digest as _, Sha256};
use skiff_image::export::{self, Destination, Output};
use skiff_image::Store;
use std::io::Write;
use std::path::PathBuf;

pub const NAME: &str = "skiff-test/export:v1";
pub const HELLO: &str = "hello from skiff\n";
pub const SECOND: &str = "second layer\n";
pub const MTIME: u64 = 1_700_000_000;

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A small two-layer image in a temp store: busybox (for `docker run`), a text
/// file, a 0755 script, symlinks (gzip), and a second layer (zstd) that whites
/// out a file.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub store: Store,
    pub manifest: Descriptor,
    pub layer_digests: Vec<String>,
    pub diff_ids: Vec<String>,
}

/// A layer tar written entry by entry, with fixed owners and mtimes.
struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl LayerBuilder {
    fn new() -> LayerBuilder {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Complete);
        LayerBuilder { tar }
    }
    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
    fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut h, path, std::io::empty())
            .unwrap();
        self
    }
    fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.tar.append_data(&mut h, path, data).unwrap();
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut h, path, target).unwrap();
        self
    }
    /// Finishes the tar; returns (uncompressed, gzip-compressed).
    fn gzip(self) -> (Vec<u8>, Vec<u8>, &'static str) {
        let raw = self.tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        (raw, gz, "application/vnd.oci.image.layer.v1.tar+gzip")
    }
    /// Finishes the tar; returns (uncompressed, zstd-compressed).
    fn zstd(self) -> (Vec<u8>, Vec<u8>, &'static str) {
        let raw = self.tar.into_inner().unwrap();
        let zst = zstd::encode_all(raw.as_slice(), 3).unwrap();
        (raw, zst, "application/vnd.oci.image.layer.v1.tar+zstd")
    }
}

impl Fixture {
    /// Writes the image into a new temp store.
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path().join("store")).unwrap();
        let busybox = std::fs::read("/bin/busybox").unwrap_or_else(|_| b"#!/bin/false\n".to_vec());
        let layer1 = LayerBuilder::new()
            .dir("bin/")
            .file("bin/busybox", 0o755, &busybox)
            .symlink("bin/cat", "busybox")
            .symlink("bin/sh", "busybox")
            .symlink("bin/test", "busybox")
            .dir("etc/")
            .file("etc/hello.txt", 0o644, HELLO.as_bytes())
            .file("etc/remove-me", 0o600, b"gone in layer 2\n")
            .dir("usr/")
            .dir("usr/bin/")
            .file("usr/bin/run.sh", 0o755, b"#!/bin/sh\necho run\n")
            .gzip();
        let layer2 = LayerBuilder::new()
            .dir("etc/")
            .file("etc/.wh.remove-me", 0o644, b"")
            .file("etc/second.txt", 0o644, SECOND.as_bytes())
            .symlink("hello", "etc/hello.txt")
            .zstd();
        let mut layers = Vec::new();
        let (mut layer_digests, mut diff_ids) = (Vec::new(), Vec::new());
        for (raw, compressed, media_type) in [layer1, layer2] {
            let (digest, size) = store.put_blob(&compressed).unwrap();
            assert_eq!(digest.to_string(), sha256(&compressed));
            layers.push(serde_json::json!({
                "mediaType": media_type,
                "digest": digest.to_string(), "size": size,
            }));
            layer_digests.push(digest.to_string());
            diff_ids.push(sha256(&raw));
        }
        let config = serde_json::json!({
            "architecture": Arch::default().to_string(),
            "os": "linux",
            "created": "2026-11-26T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin", "GREETING=hi"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "layer 1"}, {"created_by": "layer 2"}],
        });
        let config = serde_json::to_vec(&config).unwrap();
        let (config_digest, config_size) = store.put_blob(&config).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest.to_string(), "size": config_size},
            "layers": layers,
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        let (digest, size) = store.put_blob(&manifest).unwrap();
        Fixture {
            tmp,
            store,
            manifest: Descriptor::new(MediaType::ImageManifest, size, digest),
            layer_digests,
            diff_ids,
        }
    }

    /// `name` in the fixture's temp directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Exports the image to `output` (buildx `-o` syntax), tagged [`NAME`]; returns where.
    pub fn write(&self, output: &str) -> PathBuf {
        let output = Output::parse(output)
            .unwrap()
            .with_tags(&[NAME.to_string()])
            .unwrap();
        export::write(&self.store, &self.manifest, &output).unwrap();
        match output {
            Output::Oci {
                dest: Destination::File(p),
                ..
            }
            | Output::Docker {
                dest: Destination::File(p),
                ..
            }
            | Output::Tar {
                dest: Destination::File(p),
            }
            | Output::Local { dest: p } => p,
            other => panic!("not a file output: {other:?}"),
        }
    }
}

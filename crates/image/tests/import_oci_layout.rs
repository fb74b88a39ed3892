//! Importing images from an OCI image layout directory (`oci-layout://` build contexts).

use oci_spec::image::Arch;
use sha2::{Digest as _, Sha256};
use skiff_image::import::oci_layout;
use skiff_image::Store;
use std::path::{Path, PathBuf};

/// Writes OCI layout directories by hand.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(dir: PathBuf) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout { dir }
    }

    /// Stores a blob; returns a descriptor JSON for it.
    fn blob(&self, media_type: &str, bytes: &[u8]) -> serde_json::Value {
        let hex = hex::encode(Sha256::digest(bytes));
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    }

    fn json_blob(&self, media_type: &str, value: serde_json::Value) -> serde_json::Value {
        self.blob(media_type, &serde_json::to_vec(&value).unwrap())
    }

    /// A one-layer image for `arch` whose only file says `text`; returns the manifest descriptor.
    fn image(&self, arch: &str, text: &str) -> serde_json::Value {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, "file.txt", text.as_bytes())
            .unwrap();
        let layer_bytes = tar.into_inner().unwrap();
        let layer = self.blob("application/vnd.oci.image.layer.v1.tar", &layer_bytes);
        let config = self.json_blob(
            "application/vnd.oci.image.config.v1+json",
            serde_json::json!({"architecture": arch, "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}),
        );
        let mut desc = self.json_blob(
            "application/vnd.oci.image.manifest.v1+json",
            serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config, "layers": [layer]}),
        );
        desc["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        desc
    }

    fn index(&self, manifests: Vec<serde_json::Value>) {
        let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }

    fn layer_of(&self, manifest: &serde_json::Value) -> String {
        let hex = manifest["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let bytes = std::fs::read(self.dir.join("blobs/sha256").join(hex)).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        m["layers"][0]["digest"].as_str().unwrap().to_string()
    }
}

fn named(mut desc: serde_json::Value, ref_name: &str) -> serde_json::Value {
    desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": ref_name});
    desc
}

fn other_arch() -> &'static str {
    if Arch::default() == Arch::Amd64 {
        "s390x"
    } else {
        "amd64"
    }
}

fn store(dir: &Path, name: &str) -> Store {
    Store::open(dir.join(name)).unwrap()
}

#[test]
fn a_multi_platform_index_resolves_to_the_host_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("layout"));
    let host = layout.image(&Arch::default().to_string(), "host");
    let other = layout.image(other_arch(), "other");
    let nested = layout.json_blob(
        "application/vnd.oci.image.index.v1+json",
        serde_json::json!({"schemaVersion": 2, "manifests": [other.clone(), host.clone()]}),
    );
    let plain = layout.image(&Arch::default().to_string(), "plain");
    layout.index(vec![named(nested, "multi"), named(plain.clone(), "plain")]);

    let s = store(tmp.path(), "a");
    let desc = oci_layout(&s, &layout.dir, Some("multi")).unwrap();
    assert_eq!(desc.digest().to_string(), host["digest"].as_str().unwrap());
    assert!(s.has_blob(&layout.layer_of(&host).parse().unwrap()));
    assert!(
        !s.has_blob(&layout.layer_of(&other).parse().unwrap()),
        "only the host's platform is copied"
    );

    let desc = oci_layout(&store(tmp.path(), "b"), &layout.dir, Some("plain")).unwrap();
    assert_eq!(desc.digest().to_string(), plain["digest"].as_str().unwrap());
    let by_digest = plain["digest"].as_str().unwrap();
    let desc = oci_layout(&store(tmp.path(), "c"), &layout.dir, Some(by_digest)).unwrap();
    assert_eq!(desc.digest().to_string(), by_digest);

    // A digest that only the nested index lists, as `oci-layout:///dir@sha256:…` gives it.
    let nested_only = host["digest"].as_str().unwrap();
    let desc = oci_layout(&store(tmp.path(), "e"), &layout.dir, Some(nested_only)).unwrap();
    assert_eq!(desc.digest().to_string(), nested_only);

    let err = format!(
        "{:#}",
        oci_layout(&store(tmp.path(), "d"), &layout.dir, None).unwrap_err()
    );
    assert!(
        err.contains("holds 2 images") && err.contains("multi, plain"),
        "{err}"
    );
}

#[test]
fn an_unnamed_platform_list_picks_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("layout"));
    let host = layout.image(&Arch::default().to_string(), "host");
    let other = layout.image(other_arch(), "other");
    layout.index(vec![other, host.clone()]);
    let desc = oci_layout(&store(tmp.path(), "s"), &layout.dir, None).unwrap();
    assert_eq!(desc.digest().to_string(), host["digest"].as_str().unwrap());
}

#[test]
fn a_tampered_blob_is_refused_and_not_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("layout"));
    let image = layout.image(&Arch::default().to_string(), "original");
    layout.index(vec![image.clone()]);
    let layer = layout.layer_of(&image);
    let path = layout
        .dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let tampered = std::fs::read(&path)
        .unwrap()
        .iter()
        .map(|b| if *b == b'o' { b'0' } else { *b })
        .collect::<Vec<_>>();
    std::fs::write(&path, tampered).unwrap();

    let s = store(tmp.path(), "s");
    let err = format!("{:#}", oci_layout(&s, &layout.dir, None).unwrap_err());
    assert!(err.contains(&layer), "{err}");
    assert!(!s.has_blob(&layer.parse().unwrap()));
    assert!(
        !s.has_blob(&image["digest"].as_str().unwrap().parse().unwrap()),
        "no manifest for a broken image"
    );
}

#[test]
fn a_directory_that_is_no_layout_or_lacks_the_tag_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path(), "s");
    let err = format!("{:#}", oci_layout(&s, tmp.path(), None).unwrap_err());
    assert!(err.contains("is not an OCI image layout"), "{err}");
    let layout = Layout::new(tmp.path().join("layout"));
    let image = layout.image(&Arch::default().to_string(), "x");
    layout.index(vec![named(image, "v1")]);
    let err = format!("{:#}", oci_layout(&s, &layout.dir, Some("v2")).unwrap_err());
    assert!(
        err.contains("no image \"v2\"") && err.contains("it has: v1"),
        "{err}"
    );
}

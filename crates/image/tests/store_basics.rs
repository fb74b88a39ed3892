//! The store's contract through its public API: blobs, names, cache, snapshots, prune.

use oci_spec::image::{Descriptor, Digest, MediaType};
use skiff_image::store::PruneReport;
use skiff_image::Store;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::str::FromStr;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn tmp_entries(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("tmp")).unwrap().count()
}

/// A gzipped layer tar from (path, contents) pairs; a `None` content is a directory.
fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, content) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_mtime(1_000_000);
        match content {
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn layer_desc(store: &Store, bytes: &[u8]) -> Descriptor {
    let (digest, size) = store.put_blob(bytes).unwrap();
    Descriptor::new(MediaType::ImageLayerGzip, size, digest)
}

/// A manifest blob referencing `config` and `layers`; returns its descriptor.
fn manifest(store: &Store, config: &Descriptor, layers: &[Descriptor]) -> Descriptor {
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (digest, size) = store.put_blob(&bytes).unwrap();
    Descriptor::new(MediaType::ImageManifest, size, digest)
}

#[test]
fn blobs_are_content_addressed_and_verified() {
    let (_d, store) = store();
    let (digest, size) = store.put_blob(b"hello").unwrap();
    assert_eq!(
        digest.to_string(),
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(size, 5);
    assert!(store.has_blob(&digest));
    assert_eq!(store.read_blob(&digest).unwrap(), b"hello");
    assert!(store.blob_path(&digest).ends_with(
        "blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    ));

    // streamed, with the right expectation
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"hel").unwrap();
    w.write_all(b"lo").unwrap();
    assert_eq!(
        w.commit(Some((&digest, Some(5)))).unwrap(),
        (digest.clone(), 5)
    );

    // a wrong digest stores nothing and leaves no temp file
    let wrong = Digest::from_str(&format!("sha256:{}", "0".repeat(64))).unwrap();
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"tampered").unwrap();
    let err = w.commit(Some((&wrong, None))).unwrap_err().to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(!store.has_blob(&wrong));
    // a wrong size too
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"hello").unwrap();
    let err = w.commit(Some((&digest, Some(6)))).unwrap_err().to_string();
    assert!(err.contains("size mismatch"), "{err}");
    // an abandoned writer cleans up after itself
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"never committed").unwrap();
    drop(w);
    assert_eq!(tmp_entries(&store), 0);
    assert!(store
        .read_blob(&wrong)
        .unwrap_err()
        .to_string()
        .contains("not in the store"));
}

#[test]
fn store_is_an_oci_layout() {
    let (_d, store) = store();
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.root().join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.root().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0);
}

#[test]
fn names_live_in_index_json() {
    let (_d, store) = store();
    let config = layer_desc(&store, b"{}");
    let m1 = manifest(&store, &config, &[]);
    let m2 = manifest(&store, &config, std::slice::from_ref(&config));
    store.tag("docker.io/library/a:1", &m1).unwrap();
    store.tag("docker.io/library/b:1", &m1).unwrap();
    store.tag("docker.io/library/a:1", &m2).unwrap(); // retag replaces
    assert_eq!(
        store
            .resolve("docker.io/library/a:1")
            .unwrap()
            .unwrap()
            .digest(),
        m2.digest()
    );
    assert!(store.resolve("docker.io/library/c:1").unwrap().is_none());
    let names: Vec<String> = store
        .images()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["docker.io/library/a:1", "docker.io/library/b:1"]);

    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.root().join("index.json")).unwrap()).unwrap();
    let refs: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(refs.len(), 2);
    assert!(refs.contains(&"docker.io/library/a:1"));

    assert!(store.untag("docker.io/library/b:1").unwrap());
    assert!(!store.untag("docker.io/library/b:1").unwrap());
    assert_eq!(store.images().unwrap().len(), 1);
}

#[test]
fn concurrent_tagging_loses_nothing() {
    let (_d, store) = store();
    let config = layer_desc(&store, b"{}");
    let m = manifest(&store, &config, &[]);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (store, m) = (Store::open(store.root()).unwrap(), m.clone());
            s.spawn(move || {
                for i in 0..10 {
                    store.tag(&format!("t{t}:{i}"), &m).unwrap();
                }
            });
        }
    });
    assert_eq!(store.images().unwrap().len(), 40);
}

#[test]
fn cache_index_maps_keys_to_manifests() {
    let (_d, store) = store();
    assert_eq!(store.cache_get("step-1").unwrap(), None);
    let config = layer_desc(&store, b"{}");
    let m = manifest(&store, &config, &[]);
    store.cache_put("step-1", m.digest()).unwrap();
    assert_eq!(
        store.cache_get("step-1").unwrap().as_ref(),
        Some(m.digest())
    );
    assert_eq!(store.cache_get("step-2").unwrap(), None);
    // an entry whose manifest is gone counts as a miss
    let ghost = Digest::from_str(&format!("sha256:{}", "1".repeat(64))).unwrap();
    store.cache_put("step-3", &ghost).unwrap();
    assert_eq!(store.cache_get("step-3").unwrap(), None);
    assert_eq!(tmp_entries(&store), 0);
}

#[test]
fn snapshots_are_extracted_once_and_overlay_ready() {
    if !is_root() {
        eprintln!(
            "SKIP snapshots_are_extracted_once_and_overlay_ready: overlay whiteouts need root"
        );
        return;
    }
    let (_d, store) = store();
    let base = layer_desc(
        &store,
        &layer(&[
            ("etc/", None),
            ("etc/passwd", Some(b"root:x:0:0::/root:/bin/sh\n")),
        ]),
    );
    let top = layer_desc(
        &store,
        &layer(&[
            ("etc/", None),
            ("etc/.wh.passwd", Some(b"")),
            ("var/", None),
            ("var/.wh..wh..opq", Some(b"")),
            ("var/new", Some(b"x")),
        ]),
    );
    let dirs = store.snapshots(&[base.clone(), top.clone()]).unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(
        std::fs::read(dirs[0].join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    let wh = std::fs::symlink_metadata(dirs[1].join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    let opaque = rustix::fs::getxattr(
        dirs[1].join("var"),
        "trusted.overlay.opaque",
        &mut [0u8; 4][..],
    )
    .unwrap();
    assert_eq!(opaque, 1);
    assert!(!dirs[1].join("var/.wh..wh..opq").exists());

    // a second call reuses the extraction (the marker survives), concurrent calls agree
    std::fs::write(dirs[0].join("marker"), b"").unwrap();
    let again: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| store.snapshots(&[base.clone(), top.clone()]).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for dirs2 in again {
        assert_eq!(dirs2, dirs);
    }
    assert!(dirs[0].join("marker").exists());
    assert_eq!(tmp_entries(&store), 0);
}

#[test]
fn concurrent_first_extraction_happens_once() {
    if !is_root() {
        eprintln!("SKIP concurrent_first_extraction_happens_once: overlay whiteouts need root");
        return;
    }
    let (_d, store) = store();
    let files: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("f{i}"), vec![b'a'; 1000]))
        .collect();
    let entries: Vec<(&str, Option<&[u8]>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_slice())))
        .collect();
    let l = layer_desc(&store, &layer(&entries));
    let inodes: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let store = Store::open(store.root()).unwrap();
                let l = l.clone();
                s.spawn(move || {
                    let d = store.snapshots(&[l]).unwrap().remove(0);
                    std::fs::metadata(d.join("f1")).unwrap().ino()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(inodes.windows(2).all(|w| w[0] == w[1]), "{inodes:?}");
}

#[test]
fn missing_layer_blob_is_a_clear_error() {
    let (_d, store) = store();
    let ghost = Descriptor::new(
        MediaType::ImageLayerGzip,
        1,
        Digest::from_str(&format!("sha256:{}", "2".repeat(64))).unwrap(),
    );
    let err = store.snapshots(&[ghost]).unwrap_err().to_string();
    assert!(err.contains("not in the store"), "{err}");
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn prune_keeps_what_is_reachable() {
    let (_d, store) = store();
    let config = layer_desc(&store, b"{\"architecture\":\"amd64\"}");
    let kept_layer = layer_desc(&store, &layer(&[("a", Some(b"kept"))]));
    let cached_layer = layer_desc(&store, &layer(&[("b", Some(b"cached"))]));
    let dropped_layer = layer_desc(&store, &layer(&[("c", Some(b"dropped"))]));
    let named = manifest(&store, &config, std::slice::from_ref(&kept_layer));
    let cached = manifest(&store, &config, std::slice::from_ref(&cached_layer));
    let dropped = manifest(&store, &config, std::slice::from_ref(&dropped_layer));
    // an index naming one manifest and one absent (other platform) manifest
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [named, {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
            "digest": format!("sha256:{}", "3".repeat(64))}],
    });
    let (idx_digest, idx_size) = store
        .put_blob(&serde_json::to_vec(&index).unwrap())
        .unwrap();
    store
        .tag(
            "img:1",
            &Descriptor::new(MediaType::ImageIndex, idx_size, idx_digest.clone()),
        )
        .unwrap();
    store.cache_put("key", cached.digest()).unwrap();
    store.cache_put("dead", dropped.digest()).unwrap();
    std::fs::remove_file(store.blob_path(dropped.digest())).unwrap(); // dead cache entry
    let snapshot_ok = is_root();
    if snapshot_ok {
        store
            .snapshots(&[kept_layer.clone(), dropped_layer.clone()])
            .unwrap();
    }
    let orphan = store.put_blob(b"orphan").unwrap();

    let report: PruneReport = store.prune().unwrap();
    assert_eq!(report.blobs_removed, 2, "{report:?}"); // dropped layer + orphan
    assert_eq!(report.cache_entries_removed, 1, "{report:?}");
    assert_eq!(report.blob_bytes_freed, dropped_layer.size() + orphan.1);
    for d in [
        &idx_digest,
        named.digest(),
        cached.digest(),
        config.digest(),
        kept_layer.digest(),
        cached_layer.digest(),
    ] {
        assert!(store.has_blob(d), "{d} was pruned");
    }
    assert!(!store.has_blob(dropped_layer.digest()));
    assert!(!store.has_blob(&orphan.0));
    if snapshot_ok {
        assert_eq!(report.snapshots_removed, 1, "{report:?}");
        assert_eq!(count(&store.root().join("snapshots/sha256")), 1);
    }
    assert_eq!(store.prune().unwrap(), PruneReport::default());
}

#[test]
fn prune_waits_for_leases() {
    let (_d, store) = store();
    let lease = store.lock_shared().unwrap();
    let store2 = Store::open(store.root()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        store2.prune().unwrap();
        tx.send(()).unwrap();
    });
    assert!(rx
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_err());
    drop(lease);
    rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    t.join().unwrap();
}

#[test]
fn default_root_follows_skiff_root() {
    // only SKIFF_ROOT is set here; other env-dependent branches are covered by the CLI tests
    std::env::set_var("SKIFF_ROOT", "/some/where");
    assert_eq!(Store::default_root(), Path::new("/some/where"));
    std::env::remove_var("SKIFF_ROOT");
    let root = Store::default_root();
    if is_root() {
        assert_eq!(root, Path::new("/var/lib/skiff"));
    } else {
        assert!(root.ends_with("skiff"));
    }
}

#[test]
fn snapshots_stack_as_overlay_lower_dirs() {
    if !is_root() {
        eprintln!("SKIP snapshots_stack_as_overlay_lower_dirs: mounting overlayfs needs root");
        return;
    }
    let (d, store) = store();
    let base = layer_desc(
        &store,
        &layer(&[
            ("etc/", None),
            ("etc/passwd", Some(b"root\n")),
            ("etc/group", Some(b"root\n")),
            ("var/", None),
            ("var/old", Some(b"old")),
        ]),
    );
    let top = layer_desc(
        &store,
        &layer(&[
            ("etc/", None),
            ("etc/.wh.passwd", Some(b"")),
            ("var/", None),
            ("var/.wh..wh..opq", Some(b"")),
            ("var/new", Some(b"new")),
        ]),
    );
    let dirs = store.snapshots(&[base, top]).unwrap();
    let merged = d.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    // overlayfs lists the uppermost lower dir first
    let lower = format!("lowerdir={}:{}", dirs[1].display(), dirs[0].display());
    let status = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &lower])
        .arg(&merged)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "mounting the snapshots as overlay lower dirs failed"
    );
    let mut seen: Vec<String> = Vec::new();
    for dir in ["etc", "var"] {
        for e in std::fs::read_dir(merged.join(dir)).unwrap() {
            seen.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    let new = std::fs::read(merged.join("var/new"));
    std::process::Command::new("umount")
        .arg(&merged)
        .status()
        .unwrap();
    seen.sort();
    assert_eq!(seen, ["etc/group", "var/new"]);
    assert_eq!(new.unwrap(), b"new");
}

#[test]
fn a_snapshot_of_another_boot_is_extracted_again() {
    let (_d, store) = store();
    let desc = layer_desc(&store, &layer(&[("f", Some(b"content"))]));
    let hex = desc.digest().digest().to_string();
    let dir = store
        .snapshots(std::slice::from_ref(&desc))
        .unwrap()
        .remove(0);
    let marker = store.root().join("snapshots/unsynced").join(&hex);
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    // Not synced to disk: marked with this boot, and used as it is within it.
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), boot.trim());
    std::fs::write(dir.join("sentinel"), "").unwrap();
    let again = store
        .snapshots(std::slice::from_ref(&desc))
        .unwrap()
        .remove(0);
    assert!(
        again.join("sentinel").exists(),
        "extracted again within the same boot"
    );
    // After a reboot its files may have been cut short: extracted anew from the blob, the
    // old one moved to tmp/ for prune.
    std::fs::write(&marker, "another-boot").unwrap();
    let fresh = store
        .snapshots(std::slice::from_ref(&desc))
        .unwrap()
        .remove(0);
    assert_eq!(fresh, dir);
    assert!(!fresh.join("sentinel").exists());
    assert_eq!(std::fs::read(fresh.join("f")).unwrap(), b"content");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), boot.trim());
    assert_eq!(
        tmp_entries(&store),
        1,
        "the stale snapshot waits in tmp/ for prune"
    );
    let report = store.prune().unwrap();
    assert_eq!(report.temp_entries_removed, 1, "{report:?}");
    // A marker without its snapshot goes at prune.
    std::fs::write(
        store.root().join("snapshots/unsynced").join("0".repeat(64)),
        "x",
    )
    .unwrap();
    store.prune().unwrap();
    let markers: Vec<_> = std::fs::read_dir(store.root().join("snapshots/unsynced"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(markers.is_empty(), "{markers:?}");
}

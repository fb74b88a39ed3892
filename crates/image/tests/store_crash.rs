//! `kill -9` in the middle of store writes leaves a consistent store.
//!
//! The test re-runs this test binary in a child mode ([`child_writer`]) that
//! writes blobs, snapshots, names and cache entries in a loop, SIGKILLs it at
//! varying moments, and then checks the store.

use oci_spec::image::{Descriptor, MediaType};
use sha2::{Digest as _, Sha256};
use skiff_image::Store;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "SKIFF_TEST_CRASH_CHILD_STORE";

fn layer_tar(iteration: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for i in 0..200 {
        let data = format!("iteration {iteration} file {i}\n").repeat(40);
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("dir{}/f{i}", i % 10)).unwrap();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Child mode: writes forever until killed. Not a test of its own.
#[test]
#[ignore = "helper process for sigkill_mid_write_leaves_a_consistent_store"]
fn child_writer() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(root).unwrap();
    let can_snapshot = rustix::process::geteuid().is_root();
    let mut stdout = std::io::stdout();
    for iteration in 0u64.. {
        let _lease = store.lock_shared().unwrap();
        // a big blob, streamed in chunks
        let mut w = store.blob_writer().unwrap();
        for chunk in 0..128u64 {
            let bytes = format!("{iteration}:{chunk};").repeat(8 * 1024);
            w.write_all(bytes.as_bytes()).unwrap();
        }
        let (big, big_size) = w.commit(None).unwrap();
        let (layer, layer_size) = store.put_blob(&layer_tar(iteration)).unwrap();
        let layer = Descriptor::new(MediaType::ImageLayerGzip, layer_size, layer);
        if can_snapshot {
            store.snapshots(std::slice::from_ref(&layer)).unwrap();
        }
        let config = store
            .put_blob(format!("{{\"i\":{iteration}}}").as_bytes())
            .unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": Descriptor::new(MediaType::ImageConfig, config.1, config.0),
            "layers": [layer, Descriptor::new(MediaType::ImageLayer, big_size, big)],
        });
        let (m, m_size) = store
            .put_blob(&serde_json::to_vec(&manifest).unwrap())
            .unwrap();
        let m = Descriptor::new(MediaType::ImageManifest, m_size, m);
        store.tag(&format!("crash:{}", iteration % 5), &m).unwrap();
        store
            .cache_put(&format!("key-{iteration}"), m.digest())
            .unwrap();
        writeln!(stdout, "done {iteration}").unwrap();
        stdout.flush().unwrap();
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every blob's content matches its name; every named manifest is whole.
fn assert_consistent(store: &Store) {
    for e in std::fs::read_dir(store.root().join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(sha256_hex(&bytes), name, "partial or corrupt blob {name}");
    }
    for (name, desc) in store.images().expect("index.json parses") {
        let manifest: serde_json::Value =
            serde_json::from_slice(&store.read_blob(desc.digest()).unwrap()).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        for l in layers.iter().chain([&manifest["config"]]) {
            let d = l["digest"].as_str().unwrap().parse().unwrap();
            assert!(store.has_blob(&d), "{name}: blob {d} missing");
        }
    }
    for e in std::fs::read_dir(store.root().join("snapshots/sha256")).unwrap() {
        let dir = e.unwrap().path();
        let files: usize = (0..10)
            .map(|d| {
                std::fs::read_dir(dir.join(format!("dir{d}")))
                    .unwrap()
                    .count()
            })
            .sum();
        assert_eq!(files, 200, "incomplete snapshot {}", dir.display());
    }
}

#[test]
fn sigkill_mid_write_leaves_a_consistent_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    Store::open(&root).unwrap();
    for (round, delay_ms) in [(0u64, 0u64), (1, 7), (2, 23), (3, 41)] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &root)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // wait for a couple of finished iterations, then kill somewhere in the next
        let mut done = 0;
        while done < 2 {
            let line = lines.next().expect("child writer died early").unwrap();
            if line.starts_with("done ") {
                done += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        eprintln!("round {round}: killed after {delay_ms} ms");

        let store = Store::open(&root).unwrap();
        assert_consistent(&store);
    }
    let store = Store::open(&root).unwrap();
    let report = store.prune().unwrap();
    eprintln!("{report:?}");
    assert_consistent(&store);
    assert_eq!(
        std::fs::read_dir(root.join("tmp")).unwrap().count(),
        0,
        "prune left temp files behind"
    );
    assert!(!store.images().unwrap().is_empty());
    // the store is still usable
    store.put_blob(b"after the crash").unwrap();
    assert_eq!(store.prune().unwrap().blobs_removed, 1);
}

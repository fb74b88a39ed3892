//! `skiff pull/push/images/inspect/rmi/prune` through the binary, against a real local
//! registry: round trips that skopeo agrees with, corrupt blobs refused, and a pull killed
//! with SIGKILL half way that leaves a store the next pull and `prune` handle.

use skiff_testkit::command::run_ok;
use skiff_testkit::layout::Layer;
use skiff_testkit::payload::random_bytes;
use skiff_testkit::store_check::{assert_blobs_verify, files_under};
use skiff_testkit::{busybox_image, push_image, require_tool, skiff_bin_at, FaultProxy, Registry};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn skiff(root: &Path) -> Command {
    let mut cmd = Command::new(skiff_bin_at(env!("CARGO_BIN_EXE_skiff")));
    cmd.arg("--root").arg(root);
    cmd
}

/// `skiff images --format`: each name as given to pull (`127.0.0.1:PORT/…:tag`) and its
/// manifest digest.
const NAME_AND_DIGEST: &str = "{{.Repository}}:{{.Tag}} {{.Digest}}";

fn run_failing(cmd: &mut Command) -> Output {
    let output = cmd.output().unwrap();
    assert!(!output.status.success(), "{cmd:?} succeeded unexpectedly");
    output
}

fn fixtures() -> Option<Registry> {
    let registry = Registry::start_or_skip()?;
    require_tool("skopeo").then_some(registry)
}

fn skopeo_digest(reference: &str) -> String {
    run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
            .arg(format!("docker://{reference}")),
    )
    .trim()
    .to_string()
}

#[test]
fn pull_push_images_inspect_rmi_prune_round_trip() {
    let Some(registry) = fixtures() else { return };
    let busybox = busybox_image(&registry).unwrap();
    let root = skiff_testkit::tempfile::tempdir().unwrap();

    let out = run_ok(skiff(root.path()).args(["pull", &busybox.reference]));
    assert!(out.contains(&busybox.digest), "{out}");

    let out = run_ok(skiff(root.path()).args(["images", "--format", NAME_AND_DIGEST]));
    assert_eq!(
        out.trim(),
        format!("{} {}", busybox.reference, busybox.digest)
    );

    let out = run_ok(skiff(root.path()).args(["inspect", "--raw", &busybox.reference]));
    for needle in [
        "\"Manifest\"",
        "\"Config\"",
        "\"rootfs\"",
        busybox.digest.as_str(),
    ] {
        assert!(out.contains(needle), "{needle} missing from {out}");
    }

    let second = registry.reference("second/busybox:v1");
    let out = run_ok(skiff(root.path()).args(["push", &busybox.reference, &second]));
    assert!(
        out.contains(&format!("Digest: {}", busybox.digest)),
        "{out}"
    );
    assert_eq!(skopeo_digest(&second), busybox.digest);

    let out = run_ok(skiff(root.path()).args(["push", &busybox.reference, &second]));
    assert!(
        out.contains("0 blob(s) uploaded, 0 mounted, 2 already present"),
        "{out}"
    );

    let out = run_ok(skiff(root.path()).args(["rmi", &busybox.reference]));
    assert!(out.contains("Untagged"), "{out}");
    let out = run_ok(skiff(root.path()).args(["images", "--format", NAME_AND_DIGEST]));
    assert!(!out.contains(&busybox.reference), "{out}");
    run_ok(skiff(root.path()).arg("prune"));
    assert!(
        files_under(&root.path().join("blobs/sha256")).is_empty(),
        "prune left blobs of an untagged image"
    );
    let failed = run_failing(skiff(root.path()).args(["inspect", &busybox.reference]));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("no image named"));
}

#[test]
fn pulling_a_corrupt_blob_fails_clearly_and_stores_nothing_of_it() {
    let Some(registry) = fixtures() else { return };
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let tar = skiff_testkit::layout::tar_of_files(&[("payload", &payload)]).unwrap();
    let (image, written) = push_image(
        &registry,
        &[Layer { tar, gzip: true }],
        skiff_testkit::serde_json::json!({"Cmd": ["/payload"]}),
        "corrupt/app:1",
    )
    .unwrap();
    let layer = &written.layer_digests[0];
    let blob_file = registry.blob_data_path(layer);
    let mut bytes = std::fs::read(&blob_file).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0x55;
    std::fs::write(&blob_file, &bytes).unwrap();

    let root = skiff_testkit::tempfile::tempdir().unwrap();
    let failed = run_failing(skiff(root.path()).args(["pull", &image.reference]));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains(layer.as_str()), "{stderr}");
    assert!(stderr.contains("does not match its digest"), "{stderr}");
    assert!(stderr.contains(registry.addr()), "{stderr}");
    let hex = &layer["sha256:".len()..];
    assert!(!root.path().join("blobs/sha256").join(hex).exists());
    for path in files_under(root.path()) {
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size < 100_000,
            "{} ({size} bytes) was left behind",
            path.display()
        );
    }
    let out = run_ok(skiff(root.path()).arg("images"));
    assert!(!out.contains("corrupt/app"), "{out}");
}

#[test]
fn a_pull_killed_half_way_leaves_a_store_the_next_pull_and_prune_handle() {
    let Some(registry) = fixtures() else { return };
    let payload = random_bytes(32 << 20);
    let tar = skiff_testkit::layout::tar_of_files(&[("random.bin", &payload)]).unwrap();
    drop(payload);
    let (image, written) = push_image(
        &registry,
        &[Layer { tar, gzip: false }],
        skiff_testkit::serde_json::json!({}),
        "big/random:1",
    )
    .unwrap();
    let proxy = FaultProxy::start(registry.addr()).unwrap();
    proxy.throttle(4 << 20);
    let through_proxy = proxy.reference("big/random:1");
    let root = skiff_testkit::tempfile::tempdir().unwrap();

    let mut child = skiff(root.path())
        .args(["pull", &through_proxy])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a few MiB of the layer are on disk somewhere in the store, then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let partial = files_under(root.path())
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 2 << 20));
        if partial {
            break;
        }
        assert!(Instant::now() < deadline, "the pull wrote nothing in 30 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the pull ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let layer_hex = &written.layer_digests[0]["sha256:".len()..];
    assert!(
        !root.path().join("blobs/sha256").join(layer_hex).exists(),
        "the half-pulled layer must not look complete"
    );

    proxy.throttle(0);
    let out = run_ok(skiff(root.path()).args(["pull", &through_proxy]));
    assert!(out.contains(&image.digest), "{out}");
    run_ok(skiff(root.path()).arg("prune"));

    // Consistent: the image is whole, every blob verifies, and no partial download is left.
    assert_blobs_verify(root.path());
    let blobs = root.path().join("blobs/sha256");
    for path in files_under(root.path()) {
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size < 1 << 20 || path.starts_with(&blobs),
            "{} ({size} bytes) is a leftover of the killed pull",
            path.display()
        );
    }
    let out = run_ok(skiff(root.path()).args(["inspect", "--raw", &through_proxy]));
    assert!(out.contains(&written.layer_digests[0]), "{out}");
}

#[test]
fn a_missing_tag_or_repository_is_said_plainly() {
    let Some(registry) = fixtures() else { return };
    let busybox = busybox_image(&registry).unwrap();
    let root = skiff_testkit::tempfile::tempdir().unwrap();
    // The repository exists, the tag does not.
    let (repo, _) = busybox.reference.rsplit_once(':').unwrap();
    let missing_tag = format!("{repo}:no-such-tag");
    let failed = run_failing(skiff(root.path()).args(["pull", &missing_tag]));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(&format!("tag no-such-tag not found in {repo}")),
        "{stderr}"
    );
    // Neither does the repository (the distribution registry answers "manifest unknown"
    // here too, or "name unknown").
    let missing_repo = registry.reference("no/such-repo:v1");
    let failed = run_failing(skiff(root.path()).args(["pull", &missing_repo]));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("not found in") || stderr.contains("repository"),
        "{stderr}"
    );
}

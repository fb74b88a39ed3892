//! The registry client against a real registry (CNCF distribution): pulls by tag and digest,
//! pushes that skip, mount and upload, corrupt blobs refused, transient failures retried.

use oci_spec::image::Digest;
use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions, Platform, RetryPolicy};
use skiff_image::Store;
use skiff_testkit::layout::{tar_of_files, Layer};
use skiff_testkit::{busybox_image, push_image, require_tool, FaultProxy, Registry};
use std::time::Duration;

fn fixtures() -> Option<Registry> {
    let registry = Registry::start_or_skip()?;
    require_tool("skopeo").then_some(registry)
}

fn client() -> Client {
    Client::new(ClientOptions {
        retry: RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..ClientOptions::default()
    })
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

#[test]
fn pull_by_tag_and_by_digest_stores_the_verified_image() {
    let Some(registry) = fixtures() else { return };
    let busybox = busybox_image(&registry).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();

    let pulled = client()
        .pull_blocking(&store, &reference(&busybox.reference), None)
        .unwrap();
    assert_eq!(pulled.manifest.digest().to_string(), busybox.digest);
    assert_eq!(pulled.name, busybox.reference);
    assert_eq!(pulled.config.os, "linux");
    assert_eq!(pulled.manifest_value.layers.len(), 1);
    assert!(store.has_blob(pulled.manifest_value.config.digest()));
    for layer in &pulled.manifest_value.layers {
        assert!(store.has_blob(layer.digest()));
    }
    let named = store.resolve(&busybox.reference).unwrap().unwrap();
    assert_eq!(named.digest(), pulled.manifest.digest());

    let by_digest = client()
        .pull_blocking(
            &store,
            &reference(&busybox.by_digest()),
            Some(&Platform::host()),
        )
        .unwrap();
    assert_eq!(by_digest.manifest.digest().to_string(), busybox.digest);
    assert!(store.resolve(&busybox.by_digest()).unwrap().is_some());
}

#[test]
fn push_mounts_from_sibling_repositories_then_skips_then_uploads_elsewhere() {
    let Some(registry) = fixtures() else { return };
    let busybox = busybox_image(&registry).unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let source = reference(&busybox.reference);
    client().pull_blocking(&store, &source, None).unwrap();

    // Same registry, another repository: the blobs are mounted from testkit/busybox.
    let copy = reference(&registry.reference("copies/busybox:v1"));
    let first = client().push_blocking(&store, &source, &copy).unwrap();
    assert_eq!(first.digest.to_string(), busybox.digest);
    assert_eq!(
        (first.uploaded, first.mounted, first.skipped),
        (0, 2, 0),
        "{first:?}"
    );
    assert_eq!(
        registry
            .status(
                "HEAD",
                &format!("/v2/copies/busybox/manifests/{}", busybox.digest)
            )
            .unwrap(),
        200
    );

    // Again: the repository has everything.
    let second = client().push_blocking(&store, &source, &copy).unwrap();
    assert_eq!(
        (second.uploaded, second.mounted, second.skipped),
        (0, 0, 2),
        "{second:?}"
    );

    // Another registry knows nothing: everything is uploaded, digest unchanged.
    let other = Registry::start().unwrap();
    let elsewhere = reference(&other.reference("moved/busybox:v2"));
    let third = client().push_blocking(&store, &source, &elsewhere).unwrap();
    assert_eq!(
        (third.uploaded, third.mounted, third.skipped),
        (2, 0, 0),
        "{third:?}"
    );
    assert_eq!(third.digest.to_string(), busybox.digest);
    let back_root = tempfile::tempdir().unwrap();
    let back = Store::open(back_root.path()).unwrap();
    let again = client().pull_blocking(&back, &elsewhere, None).unwrap();
    assert_eq!(again.manifest.digest().to_string(), busybox.digest);
}

#[test]
fn a_blob_that_does_not_match_its_digest_fails_the_pull_and_is_not_stored() {
    let Some(registry) = fixtures() else { return };
    let payload = vec![b'x'; 200_000];
    let tar = tar_of_files(&[("data.bin", &payload)]).unwrap();
    let (image, written) = push_image(
        &registry,
        &[Layer { tar, gzip: false }],
        serde_json::json!({}),
        "tampered/app:1",
    )
    .unwrap();
    let layer = &written.layer_digests[0];
    let blob_file = registry.blob_data_path(layer);
    let mut bytes = std::fs::read(&blob_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob_file, &bytes).unwrap();

    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let err = client()
        .pull_blocking(&store, &reference(&image.reference), None)
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains(layer.as_str()), "{message}");
    assert!(message.contains("does not match its digest"), "{message}");
    assert!(message.contains(registry.addr()), "{message}");
    assert!(!store.has_blob(&digest(layer)));
    assert!(store.resolve(&image.reference).unwrap().is_none());
}

#[test]
fn transient_registry_failures_are_retried() {
    let Some(registry) = fixtures() else { return };
    let busybox = busybox_image(&registry).unwrap();
    let proxy = FaultProxy::start(registry.addr()).unwrap();
    proxy.fail_next_connections(2);
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let through_proxy = reference(&proxy.reference("testkit/busybox:latest"));
    let pulled = client()
        .pull_blocking(&store, &through_proxy, None)
        .unwrap();
    assert_eq!(pulled.manifest.digest().to_string(), busybox.digest);
    assert!(
        proxy.connections() >= 3,
        "{} connections",
        proxy.connections()
    );

    // A registry that keeps failing makes the pull fail, saying how often it tried.
    proxy.fail_next_connections(1000);
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let err = client()
        .pull_blocking(&store, &through_proxy, None)
        .unwrap_err();
    assert!(format!("{err:#}").contains("after 4 attempts"), "{err:#}");
}

#[test]
fn a_missing_image_is_reported_with_its_name() {
    let Some(registry) = fixtures() else { return };
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let missing = reference(&registry.reference("nothing/here:1"));
    let err = client().pull_blocking(&store, &missing, None).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("nothing/here:1"), "{message}");
    assert!(message.to_lowercase().contains("unknown"), "{message}");
}

//! The fixtures work end to end: a registry starts and answers, the busybox image lands in
//! it under the digest the layout names, and a second build comes from the cache.

use skiff_testkit::{busybox, busybox_image, layout, push_image, require_tool, Registry};
use std::process::Command;

#[test]
fn busybox_fixture_is_served_by_the_local_registry_under_its_digest() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("skopeo") || !require_tool(busybox::BUSYBOX_BIN) {
        return;
    }
    assert_eq!(registry.status("GET", "/v2/").unwrap(), 200);

    let image = busybox_image(&registry).unwrap();
    assert_eq!(
        image.reference,
        format!("{}/testkit/busybox:latest", registry.addr())
    );
    let status = registry
        .status(
            "HEAD",
            &format!("/v2/testkit/busybox/manifests/{}", image.digest),
        )
        .unwrap();
    assert_eq!(status, 200, "registry log: {}", registry.log());

    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{}", image.reference))
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["Digest"], image.digest.as_str());
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

    // Cached: the same layout, the same digest, pushed again under the same name.
    let again = busybox_image(&registry).unwrap();
    assert_eq!(again, image);
}

#[test]
fn busybox_layer_has_the_applets_users_and_a_sticky_tmp() {
    if !require_tool(busybox::BUSYBOX_BIN) {
        return;
    }
    let dir = busybox::busybox_layout().unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let blob =
        |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d["sha256:".len()..])).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(manifest_digest)).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
    let mut seen = std::collections::HashMap::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        seen.insert(path, (entry.header().mode().unwrap(), link));
    }
    assert_eq!(seen["bin/sh"].1.as_deref(), Some("/bin/busybox"));
    assert_eq!(seen["tmp/"].0 & 0o7777, 0o1777);
    assert_eq!(seen["root/"].0 & 0o777, 0o700);
    assert!(seen.contains_key("bin/busybox") && seen.contains_key("etc/passwd"));
    assert!(seen.contains_key("etc/group"));
}

#[test]
fn custom_images_are_pushed_with_the_digests_written() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("skopeo") {
        return;
    }
    let tar = layout::tar_of_files(&[("hello.txt", b"hello")]).unwrap();
    let (pushed, written) = push_image(
        &registry,
        &[layout::Layer { tar, gzip: false }],
        serde_json::json!({"Cmd": ["/hello"]}),
        "custom/one:v1",
    )
    .unwrap();
    assert_eq!(pushed.digest, written.manifest_digest);
    assert!(registry.has_blob_data(&written.layer_digests[0]));
    assert!(registry.has_blob_data(&written.config_digest));
}

#[test]
fn busybox_multi_fixture_is_a_two_platform_index_in_the_registry() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("skopeo") || !require_tool("dpkg-deb") {
        return;
    }
    let multi = skiff_testkit::busybox_multi_image(&registry).unwrap();
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}", multi.index.reference))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(index["mediaType"], layout::MEDIA_TYPE_INDEX);
    let platforms: Vec<String> = (index["manifests"].as_array().unwrap().iter())
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(multi.manifests.len(), 2);
    // The arm64 binary really is AArch64 (e_machine 183).
    let arm = skiff_testkit::busybox_multi::arm64_busybox().unwrap();
    assert_eq!(&arm[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([arm[18], arm[19]]), 183);
}

//! Pulls of every manifest shape a registry serves: OCI indexes (choosing the platform) and
//! Docker schema 2 manifests.

use skiff_image::reference::Reference;
use skiff_image::registry::{Client, ClientOptions, Platform};
use skiff_image::Store;
use skiff_testkit::layout::{tar_of_files, write_index_layout, write_layout, Layer, PlatformImage};
use skiff_testkit::{push_layout, push_layout_as, require_tool, PushFormat, Registry};

fn fixtures() -> Option<Registry> {
    let registry = Registry::start_or_skip()?;
    require_tool("skopeo").then_some(registry)
}

fn image_for(platform: &str) -> PlatformImage {
    PlatformImage {
        platform: platform.to_string(),
        layers: vec![Layer {
            tar: tar_of_files(&[("platform", platform.as_bytes())]).unwrap(),
            gzip: true,
        }],
        container_config: serde_json::json!({"Cmd": ["/bin/true"]}),
    }
}

#[test]
fn the_platform_is_chosen_from_an_index() {
    let Some(registry) = fixtures() else { return };
    let layout = tempfile::tempdir().unwrap();
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    let written = write_index_layout(layout.path(), "multi", &platforms.map(image_for)).unwrap();
    let pushed = push_layout(&registry, layout.path(), "multi", "multi/app:1").unwrap();
    assert_eq!(pushed.digest, written.index_digest);
    let reference = Reference::parse(&pushed.reference).unwrap();
    let client = Client::new(ClientOptions::default());

    for (i, platform) in platforms.iter().enumerate() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let platform: Platform = platform.parse().unwrap();
        let pulled = client
            .pull_blocking(&store, &reference, Some(&platform))
            .unwrap();
        assert_eq!(
            pulled.manifest.digest().to_string(),
            written.images[i].manifest_digest,
            "{platform}"
        );
        assert_eq!(pulled.config.architecture.clone(), platform.architecture);
    }

    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let err = client
        .pull_blocking(&store, &reference, Some(&"linux/s390x".parse().unwrap()))
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("no image for platform linux/s390x"),
        "{message}"
    );
    assert!(message.contains("linux/arm64"), "{message}");
}

#[test]
fn docker_schema_2_manifests_are_pulled() {
    let Some(registry) = fixtures() else { return };
    let layout = tempfile::tempdir().unwrap();
    let tar = tar_of_files(&[("hello", b"docker")]).unwrap();
    write_layout(
        layout.path(),
        "d",
        &[Layer { tar, gzip: true }],
        serde_json::json!({}),
    )
    .unwrap();
    let pushed = push_layout_as(
        &registry,
        layout.path(),
        "d",
        "docker/app:1",
        PushFormat::DockerSchema2,
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let reference = Reference::parse(&pushed.reference).unwrap();
    let pulled = Client::new(ClientOptions::default())
        .pull_blocking(&store, &reference, None)
        .unwrap();
    assert_eq!(pulled.manifest.digest().to_string(), pushed.digest);
    assert_eq!(
        pulled.manifest.media_type().to_string(),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert!(store.has_blob(pulled.manifest_value.layers[0].digest()));
}

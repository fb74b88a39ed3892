//! Reproducible builds, black-box through `skiff build`: the same Dockerfile and context built
//! from scratch in two stores gives the same manifest digest with `SOURCE_DATE_EPOCH` set
//! (gzip and zstd), and the same layers without it (only `created` times differ).

use skiff_testkit::project::{BuiltImage, Project};
use skiff_testkit::serde_json::Value;

const DOCKERFILE: &str = "FROM busybox\n\
WORKDIR /app\n\
COPY . ./\n\
RUN mkdir -p /out/sub && echo built > /out/sub/file && ln -s sub/file /out/link \
    && chmod 0600 /out/sub/file && echo scratch > /app/tmp\n\
RUN rm /app/tmp && touch /out/empty\n\
ENV A=1\n\
CMD [\"cat\", \"/out/link\"]\n";

fn project() -> Project {
    let p = Project::new();
    p.write("src/main.c", "int main(void) { return 0; }\n");
    p.write_mode("run.sh", "#!/bin/sh\necho hi\n", 0o755);
    p.dockerfile(DOCKERFILE);
    p
}

/// A `--no-cache` build of `p` exported as an OCI archive, with `SOURCE_DATE_EPOCH` set or
/// absent from skiff's environment (a `Project` build never inherits it).
fn build(p: &Project, epoch: Option<&str>, extra: &[&str]) -> BuiltImage {
    let mut args = vec!["--no-cache"];
    args.extend_from_slice(extra);
    let envs: Vec<(&str, &str)> = epoch
        .map(|e| ("SOURCE_DATE_EPOCH", e))
        .into_iter()
        .collect();
    p.build_image_env(&args, &envs).1
}

fn layer_digests(image: &BuiltImage) -> Vec<String> {
    image.manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The second project: the same files written again (new inodes and times) elsewhere.
fn twin(p: &Project) -> Project {
    let q = project();
    assert_eq!(
        std::fs::read(p.path("run.sh")).unwrap(),
        std::fs::read(q.path("run.sh")).unwrap()
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    q
}

fn reproducible_with_epoch(compression: &str) {
    let p = project();
    let q = twin(&p);
    let args = ["--compression", compression];
    let one = build(&p, Some("1700000000"), &args);
    let two = build(&q, Some("1700000000"), &args);
    assert_eq!(one.digest, two.digest, "same inputs, different images");
    assert_eq!(one.config["created"], Value::from("2023-11-14T22:13:20Z"));
    let media = one.manifest["layers"][1]["mediaType"].as_str().unwrap();
    assert!(media.ends_with(compression), "{media}");
    assert_eq!(one.fs.read_string("/out/sub/file"), "built\n");
    // Nothing in the layers skiff wrote (all but the base's) is newer than the epoch.
    for layer in &one.layers[1..] {
        for (path, entry) in &layer.tree.entries {
            assert!(
                entry.mtime <= 1_700_000_000,
                "{path} has mtime {}",
                entry.mtime
            );
        }
    }
}

#[test]
fn same_manifest_digest_with_source_date_epoch_gzip() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    reproducible_with_epoch("gzip");
}

#[test]
fn same_manifest_digest_with_source_date_epoch_zstd() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    reproducible_with_epoch("zstd");
}

#[test]
fn same_layers_without_source_date_epoch() {
    if !skiff_testkit::require_tool("runc") {
        return;
    }
    let p = project();
    let q = twin(&p);
    let one = build(&p, None, &[]);
    let two = build(&q, None, &[]);
    assert_eq!(layer_digests(&one), layer_digests(&two));
    assert_eq!(one.config["rootfs"], two.config["rootfs"]);
    assert_eq!(one.config["config"], two.config["config"]);
    assert_eq!(one.history(), two.history());
}

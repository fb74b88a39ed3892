//! `--build-context` beyond a COPY source directory, as BuildKit: a context named like a stage
//! replaces that stage (its instructions are not built), and `docker-image://scratch` is the
//! empty image, never fetched.

use skiff_testkit::project::{busybox_build_context, Project};

/// The busybox fixture as a `--build-context` called `name`.
fn busybox_as(name: &str) -> String {
    let spec = busybox_build_context();
    let (_, source) = spec.split_once('=').expect("NAME=SOURCE");
    format!("{name}={source}")
}

#[test]
fn a_context_named_like_a_stage_replaces_it() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox AS builder\n",
        "RUN exit 3\n",
        "FROM scratch AS base\n",
        "COPY no-such-file /x\n",
        "FROM base\n",
        "COPY --from=builder /bin/busybox /bb\n",
    )) else {
        return;
    };
    let builder = busybox_as("builder");
    let base = busybox_as("base");
    let (run, image) = p.build_image(&["--build-context", &builder, "--build-context", &base]);
    // Neither replaced stage ran its instructions (both would fail).
    let executed = run.executed_steps().join("\n");
    assert!(!executed.contains("exit 3"), "{}", run.report());
    assert!(!executed.contains("no-such-file"), "{}", run.report());
    // FROM base is the busybox image, COPY --from=builder reads the busybox image.
    assert!(image.fs.exists("/bin/busybox"), "{}", run.report());
    assert!(image.fs.exists("/bb"), "{}", run.report());
    assert!(
        run.stderr().contains("FROM base (build context)"),
        "{}",
        run.report()
    );
}

#[test]
fn docker_image_scratch_is_the_empty_image_and_is_never_fetched() {
    let p = Project::new();
    p.write("a.txt", "a\n");
    p.dockerfile(concat!(
        "FROM alt\n",
        "COPY --from=empty / /from-empty/\n",
        "COPY a.txt /a.txt\n",
    ));
    // The machine has no route to Docker Hub: a fetch would fail after its retries.
    let (run, image) = p.build_image(&[
        "--build-context",
        "alt=docker-image://scratch",
        "--build-context",
        "empty=docker-image://scratch",
    ]);
    assert!(!run.stderr().contains("retrying"), "{}", run.report());
    assert_eq!(image.fs.read_string("/a.txt"), "a\n");
    assert!(!image.fs.exists("/bin/busybox"), "{}", run.report());
}

#[test]
fn a_directory_context_can_be_a_base_and_replace_a_stage() {
    let p = Project::new();
    let assets = skiff_testkit::tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("asset.txt"), "asset\n").unwrap();
    let tools = skiff_testkit::tempfile::tempdir().unwrap();
    std::fs::write(tools.path().join("tool.txt"), "tool\n").unwrap();
    p.dockerfile(concat!(
        "FROM busybox AS tools\n",
        "RUN echo 'replaced by --build-context: never runs' && exit 1\n",
        "FROM assets\n",
        "COPY --from=tools /tool.txt /tool.txt\n",
    ));
    let (run, image) = p.build_image(&[
        "--build-context",
        &format!("assets={}", assets.path().display()),
        "--build-context",
        &format!("tools={}", tools.path().display()),
    ]);
    assert!(!run.stderr().contains("never runs"), "{}", run.report());
    assert_eq!(image.fs.read_string("/asset.txt"), "asset\n");
    assert_eq!(image.fs.read_string("/tool.txt"), "tool\n");
    assert!(!image.fs.exists("/bin/busybox"), "{}", run.report());
}

#[test]
fn an_oci_layout_context_is_selected_by_digest() {
    let Some(p) = Project::needing_runc("FROM busybox\nRUN echo ok > /ok\n") else {
        return;
    };
    let spec = busybox_build_context();
    let (_, source) = spec
        .split_once("oci-layout://")
        .expect("an oci-layout context");
    let (dir, _tag) = source.rsplit_once(':').expect("PATH:TAG");
    let index: skiff_testkit::serde_json::Value =
        skiff_testkit::serde_json::from_slice(&std::fs::read(format!("{dir}/index.json")).unwrap())
            .unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let by_digest = format!("busybox=oci-layout://{dir}@{digest}");
    let (run, image) = p.build_image(&["--build-context", &by_digest]);
    assert!(image.fs.exists("/bin/busybox"), "{}", run.report());
    assert_eq!(image.fs.read_string("/ok"), "ok\n");
    // A digest the layout does not hold is named in the error.
    let missing = format!("busybox=oci-layout://{dir}@sha256:{}", "0".repeat(64));
    let run = p.build(&["--build-context", &missing]);
    run.assert_failed_with(&"0".repeat(64));
}

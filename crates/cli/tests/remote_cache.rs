//! The build cache shared through a registry or a directory, black-box through `skiff build`
//! against a real local registry: machine A exports, a fresh store B imports and rebuilds with
//! every step CACHED and the same image, fetching only the layers the result needs.

use skiff_testkit::command::run_ok;
use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::store_check::blob_names;
use skiff_testkit::{require_tool, serde_json, FaultProxy, Registry};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

const MULTI_STAGE: &str = "FROM busybox AS builder\n\
WORKDIR /src\n\
COPY app.txt ./\n\
RUN cat app.txt > /out && echo built >> /out\n\
FROM busybox\n\
COPY --from=builder /out /out\n\
RUN cat /out > /copied\n";

const ALL_STEPS: [&str; 5] = [
    "WORKDIR /src",
    "COPY app.txt ./",
    "RUN cat app.txt > /out && echo built >> /out",
    "COPY --from=builder /out /out",
    "RUN cat /out > /copied",
];

/// A project with the multi-stage Dockerfile on a store of its own (a machine).
fn machine() -> Project {
    let p = Project::new();
    p.write("app.txt", "hello\n");
    p.dockerfile(MULTI_STAGE);
    p
}

/// Builds with `SOURCE_DATE_EPOCH`; the run, the image digest and its layers' digests (hex).
fn build(p: &Project, args: &[&str]) -> (BuildRun, String, BTreeSet<String>) {
    let (run, image) = p.build_image_env(args, &[EPOCH]);
    let layers = (image.manifest["layers"].as_array().unwrap().iter())
        .map(|l| l["digest"].as_str().unwrap()[7..].to_string())
        .collect();
    (run, image.digest.clone(), layers)
}

/// The cache config (the records) of the cache artifact in the OCI layout `dir`.
fn cache_config(dir: &Path) -> serde_json::Value {
    let read = |digest: &str| {
        let hex = digest.trim_start_matches("sha256:");
        std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.skiff.cache.v1");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.skiff.cache.config.v1+json"
    );
    serde_json::from_slice(&read(manifest["config"]["digest"].as_str().unwrap())).unwrap()
}

/// The layer digests (hex) of every record in a cache config.
fn record_layers(config: &serde_json::Value) -> BTreeSet<String> {
    (config["records"].as_array().unwrap().iter())
        .flat_map(|r| r["layers"].as_array().unwrap().iter())
        .map(|l| l["descriptor"]["digest"].as_str().unwrap()[7..].to_string())
        .collect()
}

#[test]
fn a_fresh_store_rebuilds_from_the_registry_cache_fetching_only_the_final_layers() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") || !require_tool("skopeo") {
        return;
    }
    let reference = registry.reference("cache/app:buildcache");
    let a = machine();
    let to = format!("type=registry,ref={reference},mode=max");
    let (first, digest_a, final_layers) = build(&a, &["--cache-to", &to]);
    first.assert_executed(&ALL_STEPS);
    assert!(
        first.stderr().contains("exported cache to"),
        "{}",
        first.report()
    );

    // skopeo copies the artifact out, with every layer it references.
    let copied = a.scratch_path("copied");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:latest", copied.display())),
    );
    let config = cache_config(&copied);
    let builder_only: BTreeSet<String> = record_layers(&config)
        .difference(&final_layers)
        .cloned()
        .collect();
    assert!(
        !builder_only.is_empty(),
        "mode=max exports the builder stage: {config}"
    );
    for hex in record_layers(&config) {
        assert!(copied.join("blobs/sha256").join(&hex).is_file(), "{hex}");
    }

    let b = machine();
    let from = format!("type=registry,ref={reference}");
    // B exports to the same ref too: what the repository has is not uploaded again, and
    // the builder's layers are not fetched for it.
    let (again, digest_b, _) = build(&b, &["--cache-from", &from, "--cache-to", &to]);
    again.assert_executed(&[]);
    again.assert_cached(&ALL_STEPS);
    assert_eq!(digest_b, digest_a, "the same image on both machines");
    let blobs_b = blob_names(b.store());
    assert!(final_layers.is_subset(&blobs_b));
    let fetched: Vec<&String> = builder_only.intersection(&blobs_b).collect();
    assert!(
        fetched.is_empty(),
        "store B fetched the builder's layers {fetched:?}"
    );
    let uploaded: usize = (again.stderr().split("blobs: ").nth(1))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no export report\n{}", again.report()));
    assert!(
        uploaded <= 1,
        "only the cache config may be new\n{}",
        again.report()
    );
}

#[test]
fn mode_min_exports_only_the_final_images_steps() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") || !require_tool("skopeo") {
        return;
    }
    let reference = registry.reference("cache/min:buildcache");
    let a = machine();
    let (_, digest, final_layers) = build(
        &a,
        &["--cache-to", &format!("type=registry,ref={reference}")],
    );
    let copied = a.scratch_path("copied");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:latest", copied.display())),
    );
    let config = cache_config(&copied);
    assert!(record_layers(&config).is_subset(&final_layers));
    // The COPY --from checksum travels with the cache, so B keys the COPY without the builder.
    assert!(!config["memos"].as_array().unwrap().is_empty(), "{config}");
    let b = machine();
    let (run, same, _) = build(
        &b,
        &["--cache-from", &format!("type=registry,ref={reference}")],
    );
    assert_eq!(same, digest);
    // The builder's steps ran again; the final stage's were cached.
    run.assert_cached(&["COPY --from=builder /out /out", "RUN cat /out > /copied"]);
}

#[test]
fn a_local_directory_cache_round_trips() {
    if !require_tool("runc") {
        return;
    }
    let a = machine();
    let dir = a.scratch_path("cache-dir");
    let (first, digest_a, _) = build(
        &a,
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", dir.display()),
        ],
    );
    first.assert_executed(&ALL_STEPS);
    assert!(dir.join("index.json").is_file() && dir.join("oci-layout").is_file());
    let b = machine();
    let (again, digest_b, _) = build(
        &b,
        &["--cache-from", &format!("type=local,src={}", dir.display())],
    );
    again.assert_cached(&ALL_STEPS);
    assert_eq!(digest_b, digest_a);
}

#[test]
fn a_missing_cache_is_a_notice_and_a_cold_build() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let b = machine();
    let from = format!(
        "type=registry,ref={}",
        registry.reference("cache/none:nothing")
    );
    let (run, _, _) = build(&b, &["--cache-from", &from]);
    run.assert_executed(&ALL_STEPS);
    assert!(run.stderr().contains("not imported"), "{}", run.report());
    let missing_dir = b.scratch_path("no-such-dir");
    let from = format!("type=local,src={}", missing_dir.display());
    let other = machine();
    let (run, _, _) = build(&other, &["--cache-from", &from]);
    run.assert_executed(&ALL_STEPS);
    assert!(run.stderr().contains("not imported"), "{}", run.report());
}

#[test]
fn malformed_cache_flags_are_usage_errors() {
    let p = machine();
    let run = p.build(&["--cache-to", "type=s3,bucket=x"]);
    assert!(!run.success());
    assert!(
        run.stderr().contains("unknown cache type \"s3\""),
        "{}",
        run.report()
    );
    let run = p.build(&[
        "--cache-from",
        "type=registry,ref=localhost:5000/x,mode=max",
    ]);
    assert!(!run.success());
    assert!(
        run.stderr().contains("unknown key \"mode\""),
        "{}",
        run.report()
    );
}

#[test]
fn a_cached_layer_that_does_not_match_its_digest_is_discarded_and_its_step_runs() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let reference = registry.reference("cache/tampered:buildcache");
    let a = machine();
    let to = format!("type=registry,ref={reference},mode=max");
    build(&a, &["--cache-to", &to]);
    let (_, image) = a.build_image_env(&[], &[EPOCH]);
    // The registry now serves other bytes for the last layer (the final RUN's).
    let last = image.manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let data = registry.blob_data_path(&last);
    let size = std::fs::metadata(&data).unwrap().len() as usize;
    std::fs::write(&data, vec![b'x'; size]).unwrap();

    let b = machine();
    let (run, image_b) = b.build_image_env(
        &["--cache-from", &format!("type=registry,ref={reference}")],
        &[EPOCH],
    );
    assert!(run.stderr().contains("discarded"), "{}", run.report());
    run.assert_executed(&["RUN cat /out > /copied"]);
    assert_eq!(image_b.fs.read_string("/copied"), "hello\nbuilt\n");
}

#[test]
fn an_export_to_a_failing_registry_fails_the_build_unless_errors_are_ignored() {
    if !require_tool("runc") {
        return;
    }
    // Nothing listens on port 1.
    let p = machine();
    let run = p.build_env(
        &["--cache-to", "type=registry,ref=127.0.0.1:1/cache/x:c"],
        &[EPOCH],
    );
    assert!(!run.success(), "{}", run.report());
    assert!(
        run.stderr().contains("exporting the cache"),
        "{}",
        run.report()
    );
    let run = p.build_env(
        &[
            "--cache-to",
            "type=registry,ref=127.0.0.1:1/cache/x:c,ignore-error=true",
        ],
        &[EPOCH],
    );
    assert!(run.success(), "{}", run.report());
    assert!(run.stderr().contains("(ignored)"), "{}", run.report());
}

/// The same through a registry that answers, but fails every request during the export
/// (`503` from the testkit's fault proxy, after skiff's retries).
#[test]
fn a_registry_failing_during_the_export_fails_the_build_unless_errors_are_ignored() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let proxy = FaultProxy::start(registry.addr()).unwrap();
    let p = machine();
    p.build_ok(&[]);
    proxy.fail_next_connections(10_000);
    let to = format!("type=registry,ref={}", proxy.reference("cache/failing:c"));
    let run = p.build_env(&["--cache-to", &to], &[EPOCH]);
    assert!(!run.success(), "{}", run.report());
    assert!(
        run.stderr().contains("exporting the cache"),
        "{}",
        run.report()
    );
    assert!(proxy.connections() > 0, "the export reached the registry");
    let run = p.build_env(
        &["--cache-to", &format!("{to},ignore-error=true")],
        &[EPOCH],
    );
    assert!(run.success(), "{}", run.report());
    assert!(run.stderr().contains("(ignored)"), "{}", run.report());
}

#[test]
fn two_builds_exporting_to_one_ref_at_once_both_finish_and_leave_a_valid_cache() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let reference = registry.reference("cache/race:buildcache");
    let to = format!("type=registry,ref={reference},mode=max");
    let (a, b) = (machine(), machine());
    b.write("app.txt", "other\n");
    let runs = [&a, &b].map(|p| p.spawn_build(&["--cache-to", &to]));
    for run in runs {
        let run = run.wait();
        assert!(run.success(), "{}", run.report());
    }
    // Whichever export came last, the ref is a whole cache one of the two machines can use.
    let c = machine();
    let from = format!("type=registry,ref={reference}");
    let run = c.build_ok(&["--cache-from", &from]);
    assert!(run.stderr().contains("records"), "{}", run.report());
    let d = machine();
    d.write("app.txt", "other\n");
    let other = d.build_ok(&["--cache-from", &from]);
    let fully = |r: &BuildRun| r.cached_steps().len() == ALL_STEPS.len();
    assert!(
        fully(&run) != fully(&other),
        "one of the two contexts is fully cached\n{}\n{}",
        run.report(),
        other.report()
    );
}

#[test]
fn an_inline_cache_travels_inside_the_pushed_image() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let image = registry.reference("app/inline:latest");
    let a = machine();
    let (_, digest_a, _) = build(&a, &["--cache-to", "type=inline", "-t", &image, "--push"]);
    let b = machine();
    let from = format!("type=registry,ref={image}");
    let (run, digest_b, _) = build(&b, &["--cache-from", &from, "--cache-to", "type=inline"]);
    // The image holds the cache of its own stage's steps (mode=min): the builder runs again.
    run.assert_cached(&["COPY --from=builder /out /out", "RUN cat /out > /copied"]);
    assert_eq!(digest_b, digest_a, "the same image, inline cache included");
    // Without an inline export, the image is another one (its config holds no cache).
    let c = machine();
    let (_, plain, _) = build(&c, &[]);
    assert_ne!(plain, digest_a);
}

const CACHE_MOUNT: &str = "FROM busybox\n\
COPY app.txt /app.txt\n\
RUN --mount=type=cache,target=/c,id=gocache sh -c 'cat /c/last > /seen 2>/dev/null || echo none > /seen; cp /app.txt /c/last'\n";

#[test]
fn cache_mount_contents_travel_with_cache_mounts_true_and_never_enter_the_image() {
    if !require_tool("runc") {
        return;
    }
    let project = |text: &str| {
        let p = Project::new();
        p.write("app.txt", text);
        p.dockerfile(CACHE_MOUNT);
        p
    };
    let a = project("hello\n");
    let with = a.scratch_path("with-mounts");
    // Exports that leave the cache mount out: without the flag, excluded, over the size limit.
    let without: Vec<(std::path::PathBuf, &str)> = [
        "mode=max",
        "mode=max,cache-mounts=true,cache-mounts-exclude=gocache",
        "mode=max,cache-mounts=true,cache-mounts-max-size=1",
    ]
    .map(|opts| (a.scratch_path("without-mounts"), opts))
    .into();
    let to_with = format!(
        "type=local,dest={},mode=max,cache-mounts=true",
        with.display()
    );
    let (_, image) = a.build_image_env(&["--cache-to", &to_with], &[EPOCH]);
    assert_eq!(image.fs.read_string("/seen"), "none\n");
    assert!(
        image.fs.get("/c/last").is_none(),
        "the cache's contents leaked into the image"
    );
    // Each from a fresh machine, so that the RUN (and its cache mount) runs there too.
    for (dir, opts) in &without {
        let to = format!("type=local,dest={},{opts}", dir.display());
        let run = project("hello\n").build_ok(&["--cache-to", &to]);
        assert_eq!(run.executed_instructions().len(), 2, "{}", run.report());
    }

    // B changed app.txt: the RUN runs again and finds what A left in the cache mount.
    let b = project("changed\n");
    let from = format!("type=local,src={}", with.display());
    let (run, image) = b.build_image_env(&["--cache-from", &from], &[EPOCH]);
    let ran = run.executed_instructions();
    assert_eq!(ran.len(), 2, "{}", run.report());
    assert!(
        ran[1].starts_with("RUN --mount=type=cache"),
        "{}",
        run.report()
    );
    assert_eq!(image.fs.read_string("/seen"), "hello\n");
    assert!(image.fs.get("/c/last").is_none());
    // A exports again from a build where every step is cached (as CI does on a rerun): the
    // cache mount goes with it all the same.
    let again = a.scratch_path("fully-cached-export");
    let to_again = format!(
        "type=local,dest={},mode=max,cache-mounts=true",
        again.display()
    );
    let run = a.build_env(&["--cache-to", &to_again], &[EPOCH]);
    assert_eq!(
        run.executed_instructions(),
        Vec::<String>::new(),
        "{}",
        run.report()
    );
    let d = project("changed\n");
    let from = format!("type=local,src={}", again.display());
    let (_, image) = d.build_image_env(&["--cache-from", &from], &[EPOCH]);
    assert_eq!(image.fs.read_string("/seen"), "hello\n", "{}", run.report());
    // From the others the cache mount starts empty.
    for (dir, opts) in &without {
        let c = project("changed\n");
        let from = format!("type=local,src={}", dir.display());
        let (_, image) = c.build_image_env(&["--cache-from", &from], &[EPOCH]);
        assert_eq!(image.fs.read_string("/seen"), "none\n", "{opts}");
    }
}

#[test]
fn a_fully_cached_builder_stage_never_downloads_its_base_image_layers() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !require_tool("runc") {
        return;
    }
    let busybox = skiff_testkit::busybox_image(&registry).unwrap();
    let dockerfile = format!(
        "FROM {} AS builder\nRUN echo built > /out\nFROM scratch\nCOPY --from=builder /out /out\n",
        busybox.reference
    );
    let project = || {
        let p = Project::new();
        p.dockerfile(&dockerfile);
        p
    };
    let reference = registry.reference("cache/base:buildcache");
    let a = project();
    let to = format!("type=registry,ref={reference},mode=max");
    let (_, digest_a, _) = build(&a, &["--cache-to", &to]);
    // The base image's layers, as machine A pulled them.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(a.store().join("blobs/sha256").join(&busybox.digest[7..])).unwrap(),
    )
    .unwrap();
    let base_layers: Vec<String> = (manifest["layers"].as_array().unwrap().iter())
        .map(|l| l["digest"].as_str().unwrap()[7..].to_string())
        .collect();
    assert!(!base_layers.is_empty());
    assert!(base_layers
        .iter()
        .all(|l| a.store().join("blobs/sha256").join(l).is_file()));

    let b = project();
    let from = format!("type=registry,ref={reference}");
    let (run, digest_b, _) = build(&b, &["--cache-from", &from]);
    run.assert_cached(&["RUN echo built > /out", "COPY --from=builder /out /out"]);
    assert_eq!(digest_b, digest_a);
    let blobs = blob_names(b.store());
    let fetched: Vec<&String> = base_layers.iter().filter(|l| blobs.contains(*l)).collect();
    assert!(
        fetched.is_empty(),
        "store B downloaded the builder's base layers {fetched:?}"
    );
}

#[test]
fn credentials_come_from_the_docker_config_like_pushes() {
    if !require_tool(skiff_testkit::registry::REGISTRY_BIN) || !require_tool("runc") {
        return;
    }
    let registry = Registry::start_with_basic_auth().unwrap();
    let reference = registry.reference("cache/auth:buildcache");
    let a = machine();
    let auth = run_ok(Command::new("sh").arg("-c").arg(format!(
        "printf %s '{}' | base64 -w0",
        registry.credentials().unwrap()
    )));
    let config = a.scratch_path("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let json = serde_json::json!({"auths": {registry.addr(): {"auth": auth.trim()}}});
    std::fs::write(config.join("config.json"), json.to_string()).unwrap();
    let env = [EPOCH, ("DOCKER_CONFIG", config.to_str().unwrap())];

    // Without credentials the export fails (the registry wants them).
    let to = format!("type=registry,ref={reference},mode=max");
    let run = a.build_env(
        &["--cache-to", &to],
        &[EPOCH, ("DOCKER_CONFIG", "/nonexistent")],
    );
    assert!(!run.success(), "{}", run.report());
    let (_, image_a) = a.build_image_env(&["--cache-to", &to], &env);
    let b = machine();
    let from = format!("type=registry,ref={reference}");
    let (run, image_b) = b.build_image_env(&["--cache-from", &from], &env);
    run.assert_cached(&ALL_STEPS);
    assert_eq!(image_b.digest, image_a.digest);
}

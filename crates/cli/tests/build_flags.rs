//! The buildx flags CI scripts use (issue #12, item 2), black-box through `skiff build`, each
//! checked so that the test fails if the flag were ignored: `--iidfile`, `--metadata-file`,
//! `-q`, malformed `--build-arg` and unknown `--no-cache-filter` stages, `--build-arg
//! SOURCE_DATE_EPOCH`, `--annotation`, `--shm-size`, `--ulimit` and `--pull`.

use skiff_testkit::command::run_ok;
use skiff_testkit::project::Project;
use skiff_testkit::serde_json::{self, Value};
use skiff_testkit::Registry;

fn simple(p: &Project) {
    p.write("hello.txt", "hello\n");
    p.dockerfile("FROM busybox\nCOPY hello.txt /hello.txt\n");
}

/// The names in the project's store (`skiff images`, first column).
fn stored_names(p: &Project) -> Vec<String> {
    let listing = run_ok(p.skiff().arg("images"));
    let rows = listing.lines().skip(1);
    rows.filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn iidfile_and_metadata_file_describe_the_image_as_buildx_does() {
    let p = Project::new();
    simple(&p);
    let iid = p.scratch_path("iid");
    let meta = p.scratch_path("metadata.json");
    let out = p.scratch_path("image.tar");
    let (iid_s, meta_s) = (iid.to_str().unwrap(), meta.to_str().unwrap());
    let output = format!("type=oci,dest={}", out.display());
    let run = p.build_ok(&[
        "-t",
        "app:1",
        "--iidfile",
        iid_s,
        "--metadata-file",
        meta_s,
        "--output",
        &output,
        "--output",
        "type=image",
    ]);
    let image = skiff_testkit::project::BuiltImage::open(&out).unwrap();
    let config_digest = image.manifest["config"]["digest"].as_str().unwrap();
    // The image ID is the config's digest, with no newline (docker and buildx write it so).
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), config_digest);
    let m: Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(
        m["containerimage.digest"],
        Value::from(image.digest.clone())
    );
    assert_eq!(
        m["containerimage.config.digest"],
        Value::from(config_digest)
    );
    let d = &m["containerimage.descriptor"];
    assert_eq!(d["digest"], Value::from(image.digest.clone()));
    assert_eq!(
        d["mediaType"],
        Value::from("application/vnd.oci.image.manifest.v1+json")
    );
    let manifest_bytes = &image.blobs[&image.digest];
    assert_eq!(d["size"], Value::from(manifest_bytes.len()));
    assert_eq!(
        m["image.name"],
        Value::from("docker.io/library/app:1"),
        "{m}\n{}",
        run.report()
    );
    // The digest on stdout is the manifest's, as before.
    assert_eq!(run.stdout().trim(), image.digest);

    // An OCI archive's names are the image's names too (buildx's `image.name`).
    let output = format!("type=oci,dest={},name=other:2", out.display());
    p.build_ok(&[
        "-t",
        "app:1",
        "--metadata-file",
        meta_s,
        "--output",
        &output,
    ]);
    let m: Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(
        m["image.name"],
        Value::from("docker.io/library/other:2,docker.io/library/app:1")
    );

    // A failed build leaves no stale file behind.
    p.dockerfile("FROM busybox\nCOPY missing.txt /m\n");
    let run = p.build(&["--iidfile", iid_s, "--metadata-file", meta_s]);
    run.assert_failed_with("missing.txt");
    assert!(!iid.exists() && !meta.exists(), "{}", run.report());
    // So does one that fails before it starts (a bad flag value found while converting).
    simple(&p);
    p.build_ok(&["--iidfile", iid_s]);
    let run = p.build(&["--iidfile", iid_s, "--build-arg", "SOURCE_DATE_EPOCH=x"]);
    run.assert_failed_with("SOURCE_DATE_EPOCH=x");
    assert!(!iid.exists(), "{}", run.report());
}

#[test]
fn quiet_prints_the_image_id_and_nothing_else() {
    let p = Project::new();
    simple(&p);
    let iid = p.scratch_path("iid");
    let run = p.build_ok(&["-q", "--iidfile", iid.to_str().unwrap()]);
    assert!(run.stderr().is_empty(), "{}", run.report());
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(run.stdout(), format!("{id}\n"), "{}", run.report());
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let run = p.build_ok(&["--quiet"]);
    assert_eq!(run.stdout(), format!("{id}\n"), "{}", run.report());
    // Errors still go to stderr, nothing to stdout.
    let run = p.build(&["-q", "--build-arg", "=x"]);
    assert_ne!(run.code(), Some(0));
    assert!(
        run.stdout().is_empty() && !run.stderr().is_empty(),
        "{}",
        run.report()
    );
}

#[test]
fn malformed_build_args_and_unknown_no_cache_filter_stages_build_nothing() {
    let p = Project::new();
    p.write("hello.txt", "hello\n");
    p.dockerfile(
        "FROM busybox AS base\nCOPY hello.txt /a\nFROM base AS final\nCOPY hello.txt /b\n",
    );
    for bad in ["=x", "", "A\nB=1", "A B=1"] {
        let run = p.build(&["-t", "never:1", "--build-arg", bad]);
        assert_eq!(run.code(), Some(2), "{bad:?}\n{}", run.report());
        assert!(run.stderr().contains("--build-arg"), "{}", run.report());
    }
    let run = p.build(&["-t", "never:1", "--no-cache-filter", "bsae"]);
    run.assert_failed_with("--no-cache-filter bsae");
    assert!(run.stderr().contains("base, final"), "{}", run.report());
    assert!(
        !run.stderr().contains("#1 "),
        "a step ran\n{}",
        run.report()
    );
    assert!(stored_names(&p).is_empty());
    // A known stage, in any case, is fine.
    p.build_ok(&["--no-cache-filter", "BASE"]);
}

#[test]
fn source_date_epoch_as_a_build_arg_makes_the_build_reproducible() {
    let p = Project::new();
    simple(&p);
    p.dockerfile("FROM busybox\nCOPY hello.txt /hello.txt\nENV A=1\n");
    let arg = ["--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"];
    let (_, one) = p.build_image(&arg);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, two) = p.build_image(&arg);
    assert_eq!(one.digest, two.digest, "two builds with the arg differ");
    assert_eq!(one.config["created"], Value::from("2023-11-14T22:13:20Z"));
    let history = one.config["history"].as_array().unwrap();
    let ours = &history[history.len() - 2..];
    for h in ours {
        assert_eq!(h["created"], Value::from("2023-11-14T22:13:20Z"), "{h}");
    }
    // The same as the environment variable.
    let (_, env) = p.build_image_env(&["--no-cache"], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert_eq!(env.digest, one.digest);
    // The build arg wins over the environment.
    let (_, both) = p.build_image_env(&arg, &[("SOURCE_DATE_EPOCH", "5")]);
    assert_eq!(both.digest, one.digest);
    for bad in ["soon", "-5", "1.5"] {
        let value = format!("SOURCE_DATE_EPOCH={bad}");
        let run = p.build(&["--build-arg", &value]);
        run.assert_failed_with(&value);
    }
}

#[test]
fn annotations_reach_the_manifest() {
    let p = Project::new();
    simple(&p);
    let (_, plain) = p.build_image(&[]);
    let (run, image) = p.build_image(&[
        "--annotation",
        "org.opencontainers.image.source=https://example.com/app",
        "--annotation",
        "manifest:com.example.team=ci",
    ]);
    let a = &image.manifest["annotations"];
    assert_eq!(
        a["org.opencontainers.image.source"],
        Value::from("https://example.com/app"),
        "{}\n{}",
        image.manifest,
        run.report()
    );
    assert_eq!(a["com.example.team"], Value::from("ci"));
    assert_ne!(image.digest, plain.digest);
    assert_eq!(image.manifest["config"], plain.manifest["config"]);
    let run = p.build(&["--annotation", "index:k=v"]);
    assert_eq!(run.code(), Some(2), "{}", run.report());
    assert!(
        run.stderr().contains("manifest:KEY=VALUE"),
        "{}",
        run.report()
    );
}

/// The soft and hard limit `/proc/self/limits` shows for `name` (`Max open files`).
fn limit(limits: &str, name: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default();
    let mut words = line[name.len().min(line.len())..].split_whitespace();
    let mut next = || words.next().unwrap_or_default().to_string();
    (next(), next())
}

#[test]
fn shm_size_and_ulimit_reach_run() {
    let Some(p) = Project::needing_runc(
        "FROM busybox\nRUN grep ' /dev/shm ' /proc/mounts > /shm && cat /proc/self/limits > /limits\n",
    ) else {
        return;
    };
    let (_, default) = p.build_image(&[]);
    assert!(default.fs.read_string("/shm").contains("size=65536k"));
    let limits = default.fs.read_string("/limits");
    assert_eq!(
        limit(&limits, "Max open files"),
        ("1024".into(), "1024".into()),
        "{limits}"
    );
    let (run, image) = p.build_image(&[
        "--shm-size",
        "128m",
        "--ulimit",
        "nofile=512:1000",
        "--ulimit",
        "nproc=300",
    ]);
    let shm = image.fs.read_string("/shm");
    assert!(shm.contains("size=131072k"), "{shm}\n{}", run.report());
    let limits = image.fs.read_string("/limits");
    assert_eq!(
        limit(&limits, "Max open files"),
        ("512".into(), "1000".into()),
        "{limits}"
    );
    assert_eq!(
        limit(&limits, "Max processes"),
        ("300".into(), "300".into()),
        "{limits}"
    );
    // The limits are part of the step's key: the step ran again.
    let cached = run.cached_steps();
    assert!(
        !cached.iter().any(|s| s.contains("RUN")),
        "{}",
        run.report()
    );
    for (flag, bad) in [
        ("--shm-size", "lots"),
        ("--ulimit", "files=1"),
        ("--ulimit", "nofile=9:1"),
    ] {
        let run = p.build(&[flag, bad]);
        assert_eq!(run.code(), Some(2), "{flag} {bad}\n{}", run.report());
    }
}

/// Builds an image holding `/version` = `version` and pushes it as `reference` (from a store
/// of its own, so the consumer's store never sees it but through the registry).
fn push_base(reference: &str, version: &str) {
    let pusher = Project::new();
    pusher.dockerfile(&format!("FROM busybox\nRUN echo {version} > /version\n"));
    pusher.build_ok(&["-t", reference, "--push"]);
}

#[test]
fn pull_follows_a_moved_tag_and_fails_without_the_registry() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !skiff_testkit::tools::require_tool("runc") {
        return;
    }
    let base = registry.reference("base/app:1");
    push_base(&base, "one");
    let p = Project::new();
    p.dockerfile(&format!("FROM {base}\nCOPY Dockerfile /d\n"));
    let (_, first) = p.build_image(&[]);
    assert_eq!(first.fs.read_string("/version"), "one\n");
    push_base(&base, "two");
    // Without --pull the stored copy is used.
    let (_, stored) = p.build_image(&[]);
    assert_eq!(stored.fs.read_string("/version"), "one\n");
    // With --pull the registry is asked again and the moved tag followed.
    let (run, pulled) = p.build_image(&["--pull"]);
    assert_eq!(
        pulled.fs.read_string("/version"),
        "two\n",
        "{}",
        run.report()
    );
    // An unreachable registry: --pull fails and says so; without it the stored copy serves.
    let port = skiff_testkit::registry::free_port().unwrap();
    let gone = format!("127.0.0.1:{port}/base/app:1");
    run_ok(p.skiff().args(["tag", &base, &gone]));
    p.dockerfile(&format!("FROM {gone}\nCOPY Dockerfile /d\n"));
    p.build_ok(&[]);
    let run = p.build(&["--pull"]);
    run.assert_failed_with("--pull");
    assert!(run.stderr().contains(&gone), "{}", run.report());
}

#[test]
fn load_puts_the_image_into_docker_and_says_when_nothing_answers() {
    let Some(dockerd) = skiff_testkit::dockerd::Dockerd::start_or_skip() else {
        return;
    };
    let p = Project::new();
    simple(&p);
    let host = format!("unix://{}", dockerd.socket().display());
    // Debian's 20.10 client first on PATH (see testkit's dockerd module).
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let env = [("DOCKER_HOST", host.as_str()), ("PATH", path.as_str())];
    let iid = p.scratch_path("iid");
    let run = p.build_env(
        &[
            "--load",
            "-t",
            "loaded/app:1",
            "--iidfile",
            iid.to_str().unwrap(),
        ],
        &env,
    );
    assert!(run.success(), "{}", run.report());
    assert!(
        run.stderr().contains("loaded into docker"),
        "{}",
        run.report()
    );
    let out = dockerd
        .run(&["image", "inspect", "--format", "{{.Id}}", "loaded/app:1"])
        .unwrap();
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        id,
        std::fs::read_to_string(&iid).unwrap(),
        "{}",
        dockerd.log()
    );
    // Neither docker nor podman on PATH: a clear error.
    let empty = skiff_testkit::tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let run = p.build_env(&["--load"], &[("PATH", path)]);
    run.assert_failed_with("--load: neither a docker daemon");
}

/// What a CI job writes: the context piped in as a tar, the base re-pulled, the IDs and
/// metadata written to files for the next steps, the image loaded into docker, `-q`.
#[test]
fn a_ci_script_with_a_stdin_context_pull_iidfile_metadata_load_and_quiet() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    let Some(dockerd) = skiff_testkit::dockerd::Dockerd::start_or_skip() else {
        return;
    };
    if !skiff_testkit::tools::require_tool("runc") {
        return;
    }
    let base = registry.reference("ci/base:1");
    push_base(&base, "base");
    let p = Project::new();
    let ctx = p.scratch_path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nCOPY app.txt /app.txt\n"),
    )
    .unwrap();
    std::fs::write(ctx.join("app.txt"), "app\n").unwrap();
    let (iid, meta) = (p.scratch_path("iid"), p.scratch_path("meta.json"));
    let script = format!(
        "set -euo pipefail\n\
         tar -C {ctx} -cf - . | {skiff} --root {store} build --pull --iidfile {iid} \
         --metadata-file {meta} --load -q -t ci/app:1 - > out.txt\n\
         test \"$(cat out.txt)\" = \"$(cat {iid})\"\n\
         test \"$(docker image inspect -f '{{{{.Id}}}}' ci/app:1)\" = \"$(cat {iid})\"\n\
         docker run --rm ci/app:1 cat /version /app.txt\n",
        ctx = ctx.display(),
        skiff = skiff_testkit::skiff_bin().display(),
        store = p.store().display(),
        iid = iid.display(),
        meta = meta.display(),
    );
    let host = format!("unix://{}", dockerd.socket().display());
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(p.scratch_path("").parent().unwrap())
        .env("DOCKER_HOST", &host)
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        dockerd.log()
    );
    assert_eq!(stdout, "base\napp\n");
    let meta: skiff_testkit::serde_json::Value =
        skiff_testkit::serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert!(
        meta["containerimage.digest"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{meta}"
    );
    assert_eq!(
        meta["containerimage.config.digest"].as_str(),
        Some(std::fs::read_to_string(&iid).unwrap().trim())
    );
}

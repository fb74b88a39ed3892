//! `skiff build`'s flags, black-box through the binary, as `docker build` users write them:
//! `-t` (once or more), `-f FILE`, `-f -`, the default Dockerfile, `--target`,
//! `--build-arg`, `--label`, `--platform`, every `--output` type, `--push`, `--compression`,
//! and the failures: bad flag values, a missing context, and a failed build that must tag
//! nothing and leave no half-written output.

use skiff_testkit::command::{output_ok, run_ok};
use skiff_testkit::project::{busybox_build_context, BuiltImage, Project};
use skiff_testkit::Registry;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// `skiff images` of the project's store.
fn images(p: &Project) -> String {
    run_ok(p.skiff().arg("images"))
}

/// The names in `skiff images` (`app:1`, as Docker shows them) with their manifest digest.
fn image_rows(p: &Project) -> Vec<(String, String)> {
    run_ok(p.skiff().args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}\t{{.Digest}}",
    ]))
    .lines()
    .map(|l| {
        let (name, digest) = l.split_once('\t').unwrap_or((l, ""));
        (name.to_string(), digest.to_string())
    })
    .collect()
}

fn simple(p: &Project) {
    p.write("hello.txt", "hello\n");
    p.dockerfile("FROM busybox\nCOPY hello.txt /hello.txt\n");
}

#[test]
fn tag_names_the_image_in_the_store() {
    let p = Project::new();
    simple(&p);
    let run = p.build_ok(&["-t", "go-server:latest"]);
    let rows = image_rows(&p);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "go-server:latest");
    assert!(
        run.stderr()
            .contains("=> naming to docker.io/library/go-server:latest"),
        "{}",
        run.report()
    );
}

#[test]
fn several_tags_name_the_same_image() {
    let p = Project::new();
    simple(&p);
    p.build_ok(&[
        "-t",
        "app:1.0",
        "--tag",
        "app:latest",
        "-t",
        "localhost:5000/team/app:x",
    ]);
    let rows = image_rows(&p);
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["app:1.0", "app:latest", "localhost:5000/team/app:x"]
    );
    assert!(rows.iter().all(|(_, d)| *d == rows[0].1), "{rows:?}");
}

#[test]
fn a_dockerfile_elsewhere_and_on_stdin() {
    let p = Project::new();
    p.write("hello.txt", "hello\n");
    p.write(
        "build/Custom.dockerfile",
        "FROM busybox\nCOPY hello.txt /custom.txt\n",
    );
    let file = p.path("build/Custom.dockerfile");
    let (_, image) = p.build_image(&["-f", file.to_str().unwrap()]);
    assert_eq!(image.fs.read_string("/custom.txt"), "hello\n");

    // `-f -`: the Dockerfile comes from stdin.
    let out = p.scratch_path("stdin-image.tar");
    let output = format!("type=oci,dest={}", out.display());
    let mut build = p.build_command(&["-f", "-", "--output", &output]);
    let mut child = build
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM busybox\nCOPY hello.txt /from-stdin.txt\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{build:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = BuiltImage::open(&out).unwrap();
    assert_eq!(image.fs.read_string("/from-stdin.txt"), "hello\n");
}

#[test]
fn the_default_dockerfile_is_the_contexts_and_a_missing_one_is_explained() {
    let p = Project::new();
    simple(&p);
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/hello.txt"), "hello\n");
    p.remove("Dockerfile");
    let run = p.build(&[]);
    run.assert_failed_with("Dockerfile");
    assert!(
        run.stderr().contains("-f"),
        "the message should say how to name another file\n{}",
        run.report()
    );
}

#[test]
fn target_builds_up_to_that_stage() {
    let p = Project::new();
    p.dockerfile(
        "FROM busybox AS base\nENV STAGE=base\nCOPY Dockerfile /base.txt\n\
         FROM base AS final\nENV STAGE=final\nCOPY Dockerfile /final.txt\n",
    );
    let (run, image) = p.build_image(&["--target", "base"]);
    assert_eq!(image.env("STAGE").as_deref(), Some("base"));
    assert!(!image.fs.exists("/final.txt"));
    assert!(
        run.steps().iter().all(|s| s.starts_with("[base ")),
        "{:?}",
        run.steps()
    );
    let run = p.build(&["--target", "nosuch"]);
    run.assert_failed_with("nosuch");
}

#[test]
fn build_args_and_labels_reach_the_image() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nARG VERSION=0\nARG FROM_ENV\nENV VERSION=$VERSION FROM_ENV=$FROM_ENV\nLABEL from.file=yes\n");
    let (_, image) = p.build_image_env(
        &[
            "--build-arg",
            "VERSION=1.2.3",
            "--build-arg",
            "FROM_ENV",
            "--label",
            "org.opencontainers.image.title=demo",
            "--label",
            "empty",
        ],
        &[("FROM_ENV", "taken from the environment")],
    );
    assert_eq!(image.env("VERSION").as_deref(), Some("1.2.3"));
    assert_eq!(
        image.env("FROM_ENV").as_deref(),
        Some("taken from the environment")
    );
    let labels = &image.runtime_config()["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], "demo");
    assert_eq!(labels["empty"], "");
    assert_eq!(labels["from.file"], "yes");
}

#[test]
fn platform_of_the_host_works_and_a_foreign_one_is_explained() {
    let p = Project::new();
    simple(&p);
    let (_, image) = p.build_image(&["--platform", "linux/amd64"]);
    assert_eq!(image.config["architecture"], "amd64");
    assert_eq!(image.config["os"], "linux");
    // The busybox fixture exists for amd64 only.
    let run = p.build(&["--platform", "linux/arm64"]);
    if run.success() {
        panic!(
            "an amd64 base built as linux/arm64 must not succeed silently\n{}",
            run.report()
        );
    }
    assert!(run.stderr().contains("arm64"), "{}", run.report());
    let run = p.build(&["--platform", "amd64"]);
    run.assert_failed_with("os/arch");
}

fn tar_entries(path: &Path) -> Vec<String> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string()
        })
        .collect()
}

#[test]
fn every_output_type_writes_what_it_says() {
    let p = Project::new();
    simple(&p);
    let scratch = skiff_testkit::tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let local = dir.join("rootfs");
    let rootfs_tar = dir.join("rootfs.tar");
    let oci = dir.join("oci.tar");
    let docker = dir.join("docker.tar");
    let run = p.build_ok(&[
        "-t",
        "multi:1",
        "--output",
        &format!("type=local,dest={}", local.display()),
        "--output",
        &format!("type=tar,dest={}", rootfs_tar.display()),
        "--output",
        &format!("type=oci,dest={}", oci.display()),
        "--output",
        &format!("type=docker,dest={}", docker.display()),
    ]);
    assert_eq!(
        std::fs::read_to_string(local.join("hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(local.join("bin/busybox").exists());
    assert!(tar_entries(&rootfs_tar).contains(&"hello.txt".to_string()));
    let image = BuiltImage::open(&oci).unwrap();
    assert_eq!(image.digest, run.stdout().trim());
    assert_eq!(image.fs.read_string("/hello.txt"), "hello\n");
    let docker_entries = tar_entries(&docker);
    assert!(
        docker_entries.contains(&"manifest.json".to_string()),
        "{docker_entries:?}"
    );
    let mut archive = tar::Archive::new(std::fs::File::open(&docker).unwrap());
    let manifest: skiff_testkit::serde_json::Value = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_string_lossy().trim_start_matches("./") == "manifest.json")
        .map(|e| skiff_testkit::serde_json::from_reader(e).unwrap())
        .unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "multi:1");
    for kind in ["local", "tar", "oci", "docker"] {
        assert!(
            run.stderr()
                .contains(&format!("=> exported to type={kind},dest=")),
            "{kind}\n{}",
            run.report()
        );
    }
    // With outputs, the store is not written unless asked (as with buildx).
    assert!(image_rows(&p).is_empty(), "{}", images(&p));
}

#[test]
fn tar_to_stdout_is_the_only_thing_on_stdout() {
    let p = Project::new();
    simple(&p);
    let run = p.build_ok(&["--output", "type=tar,dest=-"]);
    let mut archive = tar::Archive::new(&run.output().stdout[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "hello.txt"),
        "{names:?}"
    );
    let stderr = run.stderr();
    assert!(
        stderr.contains("=> exported to type=tar,dest=-"),
        "{stderr}"
    );
}

#[test]
fn zstd_compression_makes_zstd_layers() {
    let p = Project::new();
    simple(&p);
    let (_, image) = p.build_image(&["--compression", "zstd"]);
    let last = image.layers.last().unwrap();
    assert!(
        last.descriptor["mediaType"]
            .as_str()
            .unwrap()
            .ends_with("+zstd"),
        "{}",
        last.descriptor
    );
    assert_eq!(image.fs.read_string("/hello.txt"), "hello\n");
}

#[test]
fn zstd_compression_reaches_the_empty_layer_of_a_step_that_changed_nothing() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nRUN true\n");
    let (_, image) = p.build_image(&["--compression", "zstd"]);
    let last = image.layers.last().unwrap();
    assert_eq!(
        last.descriptor["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
        "{}",
        last.descriptor
    );
}

#[test]
fn push_sends_the_image_to_the_registry() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    let p = Project::new();
    simple(&p);
    let reference = registry.reference("pushed/app:1");
    let run = p.build_ok(&["-t", &reference, "--push"]);
    let digest = run.stdout().trim().to_string();
    assert!(
        run.stderr().contains(&format!("@{digest}")),
        "{}",
        run.report()
    );
    // Pulled back into another store, the image has the same digest.
    let other = Project::new();
    run_ok(other.skiff().args(["pull", &reference]));
    let rows = image_rows(&other);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, digest);
    // --push without a name says what to add.
    let run = p.build(&["--push"]);
    run.assert_failed_with("-t");
}

/// `-t A -o type=registry,name=B`: B is pushed, as the output names it (issue #10, item 9:
/// it used to push A only). A is pushed too. buildx (`build/opt.go`, `toSolveOpt`) fills the
/// `name` of every image/oci/docker exporter with the `-t` tags, replacing `name=` (its
/// `type=registry` is `type=image,push=true`), so buildx pushes A; skiff keeps that and no
/// longer drops the output's own name.
#[test]
fn an_outputs_name_is_pushed_alongside_the_tags() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    let p = Project::new();
    simple(&p);
    let tagged = registry.reference("named/by-tag:1");
    let output_name = registry.reference("named/by-output:1");
    let run = p.build_ok(&[
        "-t",
        &tagged,
        "--output",
        &format!("type=registry,name={output_name}"),
    ]);
    let digest = run.stdout().trim().to_string();
    for reference in [&output_name, &tagged] {
        assert!(
            run.stderr()
                .contains(&format!("pushed {reference}@{digest}")),
            "{reference}\n{}",
            run.report()
        );
        let other = Project::new();
        run_ok(other.skiff().args(["pull", reference]));
        let pulled = image_rows(&other);
        assert_eq!(pulled.len(), 1, "{pulled:?}");
        assert_eq!(pulled[0].1, digest);
    }
    // `type=image,name=…` with `-t`: both names in the store.
    let run = p.build_ok(&["-t", "by-tag:2", "--output", "type=image,name=by-output:2"]);
    let names: Vec<String> = image_rows(&p).into_iter().map(|(n, _)| n).collect();
    for name in ["by-output:2", "by-tag:2"] {
        let name = name.to_string();
        assert!(names.contains(&name), "{name}: {names:?}\n{}", run.report());
    }
}

#[test]
fn bad_flag_values_are_refused_with_the_valid_ones() {
    let p = Project::new();
    simple(&p);
    let run = p.build(&["--progress=fancy"]);
    assert_eq!(run.code(), Some(2), "{}", run.report());
    assert!(
        run.stderr().contains("fancy") && run.stderr().contains("plain"),
        "{}",
        run.report()
    );
    let run = p.build(&["--compression", "lz4"]);
    assert_eq!(run.code(), Some(2), "{}", run.report());
    assert!(run.stderr().contains("zstd"), "{}", run.report());
    let run = p.build(&["--output", "type=bogus,dest=x"]);
    run.assert_failed_with("unknown output type");
    let run = p.build(&["--output", "type=oci"]);
    run.assert_failed_with("dest=");
    let run = p.build(&["-t", "UPPER:case"]);
    run.assert_failed_with("-t");
    let run = p.build(&["--label", "=v"]);
    run.assert_failed_with("--label");
    for bad in ["=x", "", "A\n B"] {
        let run = p.build(&["--build-arg", bad]);
        assert_eq!(run.code(), Some(2), "{bad:?}\n{}", run.report());
        assert!(
            run.stderr().contains("--build-arg") && run.stderr().contains("KEY=VALUE"),
            "{bad:?}\n{}",
            run.report()
        );
    }
    assert!(image_rows(&p).is_empty());
}

#[test]
fn a_missing_context_is_explained() {
    let p = Project::new();
    let missing = p.path("no/such/dir");
    let out = p
        .skiff()
        .args(["build", "--progress=plain"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("build context") && err.contains(&*missing.to_string_lossy()),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn a_failed_build_tags_nothing_and_leaves_no_output_file() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nCOPY does-not-exist /x\n");
    let scratch = skiff_testkit::tempfile::tempdir().unwrap();
    let out = scratch.path().join("image.tar");
    let run = p.build(&[
        "-t",
        "never:1",
        "--output",
        &format!("type=oci,dest={}", out.display()),
        "--output",
        "type=image",
    ]);
    run.assert_failed_with("does-not-exist");
    assert!(run.stderr().contains("Dockerfile:2"), "{}", run.report());
    assert!(image_rows(&p).is_empty(), "{}", images(&p));
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn quiet_prints_only_the_digest() {
    let p = Project::new();
    simple(&p);
    let run = p.build_ok(&["-q"]);
    assert!(run.stderr().is_empty(), "{}", run.report());
    assert!(run.stdout().trim().starts_with("sha256:"));
    // A failure still says what went wrong, and only that.
    p.dockerfile("FROM busybox\nCOPY missing.txt /m\n");
    let run = p.build(&["-q"]);
    run.assert_failed_with("missing.txt");
    assert!(run.stderr().starts_with("error: "), "{}", run.report());
    assert!(run.stderr().contains("Dockerfile:2"), "{}", run.report());
    assert!(run.stdout().is_empty());
}

#[test]
fn no_cache_and_no_cache_filter_rebuild_what_they_name() {
    let p = Project::new();
    p.write("a.txt", "a");
    p.dockerfile(
        "FROM busybox AS dep\nCOPY a.txt /dep.txt\n\
         FROM busybox\nCOPY --from=dep /dep.txt /dep.txt\nCOPY a.txt /a.txt\n",
    );
    let first = p.build_ok(&[]);
    assert_eq!(p.build_ok(&[]).executed_steps(), Vec::<String>::new());
    let all = p.build_ok(&["--no-cache"]);
    assert_eq!(
        all.executed_steps(),
        first.executed_steps(),
        "{}",
        all.report()
    );
    let filtered = p.build_ok(&["--no-cache-filter", "dep"]);
    // The filtered stage runs again (whether what depends on it is cached is the cache's
    // business: build_cache.rs).
    let executed = filtered.executed_steps();
    assert_eq!(
        executed.first().map(String::as_str),
        Some("[dep 2/2] COPY a.txt /dep.txt"),
        "{}",
        filtered.report()
    );
}

#[test]
fn a_named_build_context_directory_is_a_copy_source() {
    let p = Project::new();
    let extra = skiff_testkit::tempfile::tempdir().unwrap();
    std::fs::write(extra.path().join("extra.txt"), "from elsewhere\n").unwrap();
    p.dockerfile("FROM busybox\nCOPY --from=assets extra.txt /extra.txt\n");
    let spec = format!("assets={}", extra.path().display());
    let (_, image) = p.build_image(&["--build-context", &spec]);
    assert_eq!(image.fs.read_string("/extra.txt"), "from elsewhere\n");
    let run = p.build(&["--build-context", "assets=/no/such/dir"]);
    run.assert_failed_with("is not a directory");
}

#[test]
fn buildkit_progress_sets_the_default_mode() {
    let p = Project::new();
    simple(&p);
    // No --progress flag: the mode comes from the environment.
    let out = output_ok(
        p.skiff()
            .env("BUILDKIT_PROGRESS", "json")
            .args(["build", "--build-context", &busybox_build_context()])
            .arg(p.dir()),
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .lines()
            .all(
                |l| skiff_testkit::serde_json::from_str::<skiff_testkit::serde_json::Value>(l)
                    .is_ok()
            ),
        "{stderr}"
    );
}

//! The build cache, black-box through `skiff build`: a rebuild with the same inputs hits every
//! step and writes nothing; each kind of input change misses exactly from the first step it
//! reaches; the cache is shared through the store; concurrent and killed builds leave the
//! store consistent.

use skiff_testkit::busybox::busybox_layout;
use skiff_testkit::command::run_ok;
use skiff_testkit::layout::{write_layout, Layer};
use skiff_testkit::leftovers::{mounts_under, runc_containers_of};
use skiff_testkit::project::Project;
use skiff_testkit::store_check::{assert_blobs_verify, blob_names};
use skiff_testkit::{serde_json, tempfile};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

fn runc_available() -> bool {
    skiff_testkit::require_tool("runc")
}

const LAYERED: &str = "FROM busybox\n\
WORKDIR /src\n\
ENV MODE=dev\n\
COPY go.mod ./\n\
RUN cat go.mod > /deps\n\
COPY . .\n\
RUN ls /src > /listing\n\
CMD [\"cat\", \"/deps\"]\n";

fn go_project() -> Project {
    let p = Project::new();
    p.write("go.mod", "module example\n");
    p.write("main.go", "package main\n");
    p.write("util.go", "package main // util\n");
    p.dockerfile(LAYERED);
    p
}

#[test]
fn unchanged_rebuild_hits_every_step_and_writes_nothing() {
    if !runc_available() {
        return;
    }
    let p = go_project();
    let (first, image) = p.build_image(&[]);
    assert!(first.cached_steps().is_empty(), "{}", first.report());
    assert_eq!(image.fs.read_string("/deps"), "module example\n");
    let before = blob_names(p.store());
    let started = Instant::now();
    let (again, same) = p.build_image(&[]);
    let took = started.elapsed();
    eprintln!("fully cached rebuild with OCI export: {took:?}");
    again.assert_executed(&[]);
    again.assert_cached(&[
        "WORKDIR /src",
        "COPY go.mod ./",
        "RUN cat go.mod > /deps",
        "COPY . .",
        "RUN ls /src > /listing",
    ]);
    assert_eq!(
        same.digest, image.digest,
        "a fully cached build is the same image"
    );
    assert_eq!(
        blob_names(p.store()),
        before,
        "a fully cached build wrote new blobs"
    );
    assert!(
        took < Duration::from_secs(2),
        "a fully cached build (with export) took {took:?}\n{}",
        again.report()
    );
}

#[test]
fn editing_a_file_reruns_only_the_steps_after_the_copy_that_reads_it() {
    if !runc_available() {
        return;
    }
    let p = go_project();
    p.build_ok(&[]);
    p.write("main.go", "package main\nfunc main() {}\n");
    let run = p.build_ok(&[]);
    run.assert_executed(&["COPY . .", "RUN ls /src > /listing"]);
    run.assert_cached(&["WORKDIR /src", "COPY go.mod ./", "RUN cat go.mod > /deps"]);
    p.write("go.mod", "module example\ngo 1.19\n");
    let (run, image) = p.build_image(&[]);
    run.assert_executed(&[
        "COPY go.mod ./",
        "RUN cat go.mod > /deps",
        "COPY . .",
        "RUN ls /src > /listing",
    ]);
    assert_eq!(image.fs.read_string("/deps"), "module example\ngo 1.19\n");
}

#[test]
fn same_size_same_mtime_edit_is_seen() {
    if !runc_available() {
        return;
    }
    let p = go_project();
    p.build_ok(&[]);
    let path = p.path("main.go");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, "package mian\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (run, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/src/main.go"), "package mian\n");
    run.assert_executed(&["COPY . .", "RUN ls /src > /listing"]);
}

#[test]
fn touch_alone_is_a_hit() {
    if !runc_available() {
        return;
    }
    let p = go_project();
    p.build_ok(&[]);
    let later = SystemTime::now() + Duration::from_secs(3600);
    for f in ["go.mod", "main.go"] {
        std::fs::File::options()
            .write(true)
            .open(p.path(f))
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    let run = p.build_ok(&[]);
    run.assert_executed(&[]);
}

#[test]
fn renaming_a_wildcard_match_and_changing_a_mode_are_misses() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("a.txt", "same\n");
    p.write("b.txt", "other\n");
    p.dockerfile("FROM busybox\nCOPY *.txt /d/\nRUN ls -l /d > /listing\n");
    p.build_ok(&[]);
    std::fs::rename(p.path("a.txt"), p.path("c.txt")).unwrap();
    let (run, image) = p.build_image(&[]);
    run.assert_executed(&["COPY *.txt /d/", "RUN ls -l /d > /listing"]);
    assert_eq!(image.fs.children("/d"), ["b.txt", "c.txt"]);

    p.write_mode("b.txt", "other\n", 0o755);
    let (run, image) = p.build_image(&[]);
    run.assert_executed(&["COPY *.txt /d/", "RUN ls -l /d > /listing"]);
    assert_eq!(image.fs.entry("/d/b.txt").mode, 0o755);
}

#[test]
fn build_arg_change_misses_from_the_first_step_that_sees_it() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.dockerfile(
        "FROM busybox\nRUN echo one > /1\nARG V=default\nRUN echo two > /2\nRUN echo \"$V\" > /3\n",
    );
    p.build_ok(&["--build-arg", "V=a"]);
    let (run, image) = p.build_image(&["--build-arg", "V=b"]);
    run.assert_cached(&["RUN echo one > /1"]);
    run.assert_executed(&["RUN echo two > /2", "RUN echo \"$V\" > /3"]);
    assert_eq!(image.fs.read_string("/3"), "b\n");
    // An argument no ARG declares is seen by no step.
    let run = p.build_ok(&["--build-arg", "V=b", "--build-arg", "UNUSED=1"]);
    run.assert_executed(&[]);
}

#[test]
fn env_change_misses_from_the_env() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.dockerfile("FROM busybox\nRUN echo one > /1\nENV X=1\nRUN echo $X > /x\n");
    p.build_ok(&[]);
    p.dockerfile("FROM busybox\nRUN echo one > /1\nENV X=2\nRUN echo $X > /x\n");
    let (run, image) = p.build_image(&[]);
    run.assert_cached(&["RUN echo one > /1"]);
    run.assert_executed(&["RUN echo $X > /x"]);
    assert_eq!(image.fs.read_string("/x"), "2\n");
}

const TWO_STAGES: &str = "FROM busybox AS a\n\
COPY a.txt /a.txt\n\
RUN cp /a.txt /a.out\n\
FROM busybox AS b\n\
COPY b.txt /b.txt\n\
RUN cp /b.txt /b.out\n\
FROM busybox\n\
COPY --from=a /a.out /a\n\
COPY --from=b /b.out /b\n";

fn two_stage_project() -> Project {
    let p = Project::new();
    p.write("a.txt", "a\n");
    p.write("b.txt", "b\n");
    p.dockerfile(TWO_STAGES);
    p
}

#[test]
fn a_stage_is_not_invalidated_by_a_stage_it_does_not_depend_on() {
    if !runc_available() {
        return;
    }
    let p = two_stage_project();
    p.build_ok(&[]);
    p.write("b.txt", "b2\n");
    let (run, image) = p.build_image(&[]);
    run.assert_executed(&[
        "COPY b.txt /b.txt",
        "RUN cp /b.txt /b.out",
        "COPY --from=b /b.out /b",
    ]);
    run.assert_cached(&[
        "COPY a.txt /a.txt",
        "RUN cp /a.txt /a.out",
        "COPY --from=a /a.out /a",
    ]);
    assert_eq!(image.fs.read_string("/b"), "b2\n");
}

#[test]
fn no_cache_reruns_everything_and_no_cache_filter_reruns_one_stage_only() {
    if !runc_available() {
        return;
    }
    let p = two_stage_project();
    p.build_ok(&[]);
    let run = p.build_ok(&["--no-cache"]);
    run.assert_cached(&[]);
    assert_eq!(run.executed_instructions().len(), 6, "{}", run.report());
    let run = p.build_ok(&["--no-cache-filter", "b"]);
    // As in BuildKit, a COPY --from is keyed by the content it copies: stage b ran again
    // but made the same /b.out, so its user's COPY is a hit.
    run.assert_executed(&["COPY b.txt /b.txt", "RUN cp /b.txt /b.out"]);
    run.assert_cached(&[
        "COPY a.txt /a.txt",
        "RUN cp /a.txt /a.out",
        "COPY --from=a /a.out /a",
        "COPY --from=b /b.out /b",
    ]);
}

/// A copy of the busybox fixture whose config differs (an extra `Env`), so another digest.
fn other_base(dir: &Path) -> PathBuf {
    let fixture = busybox_layout().unwrap();
    let read_json = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let blob = |digest: &str| {
        fixture
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..])
    };
    let index = read_json(fixture.join("index.json"));
    let manifest = read_json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = read_json(blob(manifest["config"]["digest"].as_str().unwrap()));
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(blob(layer["digest"].as_str().unwrap()))
            .output()
            .expect("gzip");
        assert!(out.status.success());
        layers.push(Layer {
            tar: out.stdout,
            gzip: true,
        });
    }
    let mut container = config["config"].clone();
    container["Env"]
        .as_array_mut()
        .unwrap()
        .push("BASE=other".into());
    let out = dir.join("other-busybox");
    write_layout(&out, "latest", &layers, container).unwrap();
    out
}

#[test]
fn changing_the_base_image_is_a_miss() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.write("f.txt", "f\n");
    p.dockerfile("FROM base\nCOPY f.txt /f\nRUN echo \"$BASE\" > /base\n");
    let fixture = busybox_layout().unwrap();
    let first = format!("base=oci-layout://{}:latest", fixture.display());
    p.build_ok(&["--build-context", &first]);
    let run = p.build_ok(&["--build-context", &first]);
    run.assert_executed(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let other = format!(
        "base=oci-layout://{}:latest",
        other_base(scratch.path()).display()
    );
    let (run, image) = p.build_image(&["--build-context", &other]);
    run.assert_executed(&["COPY f.txt /f", "RUN echo \"$BASE\" > /base"]);
    assert_eq!(image.fs.read_string("/base"), "other\n");
}

#[test]
fn the_cache_is_shared_by_projects_using_one_store() {
    if !runc_available() {
        return;
    }
    let first = go_project();
    first.build_ok(&[]);
    let second = Project::with_store(first.store());
    for f in ["go.mod", "main.go", "util.go"] {
        second.write(f, std::fs::read(first.path(f)).unwrap());
    }
    second.dockerfile(LAYERED);
    let run = second.build_ok(&[]);
    run.assert_executed(&[]);
    second.write("util.go", "package main // changed\n");
    let run = second.build_ok(&[]);
    run.assert_executed(&["COPY . .", "RUN ls /src > /listing"]);
}

#[test]
fn concurrent_builds_on_one_store_both_succeed_and_prune_keeps_both() {
    if !runc_available() {
        return;
    }
    let one = go_project();
    let two = Project::with_store(one.store());
    two.write("x.txt", "two\n");
    two.dockerfile("FROM busybox\nCOPY x.txt /x\nRUN sleep 1 && cat /x > /y\n");
    let a = one.spawn_build(&["-t", "one:latest"]);
    let b = two.spawn_build(&["-t", "two:latest"]);
    for (name, build) in [("one", a), ("two", b)] {
        let run = build.wait();
        assert!(run.success(), "build {name} failed:\n{}", run.report());
    }
    assert_blobs_verify(one.store());
    run_ok(one.skiff().arg("prune"));
    assert_blobs_verify(one.store());
    // Both images are still there after the prune.
    for name in ["one:latest", "two:latest"] {
        run_ok(one.skiff().args(["inspect", name]));
    }
    // Both are still whole: a rebuild of each is fully cached.
    let run = one.build_ok(&[]);
    run.assert_executed(&[]);
    let run = two.build_ok(&[]);
    run.assert_executed(&[]);
}

#[test]
fn a_build_killed_during_run_leaves_the_store_usable() {
    if !runc_available() {
        return;
    }
    let p = Project::new();
    p.dockerfile("FROM busybox\nRUN echo first > /f\n");
    p.build_ok(&["-t", "prev:latest"]);
    p.dockerfile("FROM busybox\nRUN echo first > /f\nRUN sleep 5 && echo done > /g\n");
    let mut child = p.spawn_build(&["-t", "prev:latest"]).child;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while runc_containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the RUN container of build {pid} never started"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the build ended before its RUN started: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The watchdog removes the container; the step's mount died with the process.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !runc_containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "container of the killed build still there"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(mounts_under(p.store()), Vec::<String>::new());
    assert_blobs_verify(p.store());
    // The previous image is not gone.
    run_ok(p.skiff().args(["inspect", "prev:latest"]));
    let (run, image) = p.build_image(&[]);
    run.assert_cached(&["RUN echo first > /f"]);
    assert_eq!(image.fs.read_string("/g"), "done\n");
    run_ok(p.skiff().arg("prune"));
    assert_blobs_verify(p.store());
    let left: Vec<_> = std::fs::read_dir(p.store().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "prune left the killed build's temp files: {left:?}"
    );
    let run = p.build_ok(&[]);
    run.assert_executed(&[]);
}

#[test]
fn the_target_platform_is_part_of_the_key() {
    let p = Project::new();
    p.write("f.txt", "f\n");
    p.dockerfile("FROM scratch\nCOPY f.txt /f\n");
    let (_, arm) = p.build_image(&["--platform", "linux/arm64"]);
    assert_eq!(arm.config["architecture"], "arm64");
    let (run, amd) = p.build_image(&["--platform", "linux/amd64"]);
    assert_eq!(amd.config["architecture"], "amd64", "{}", run.report());
    run.assert_executed(&["COPY f.txt /f"]);
}

//! The workloads: the seed story's Go example (`examples/go-server`) built cold, again with
//! nothing changed, after an edit of `main.go`, and after an edit with `Dockerfile.cache`
//! (cache mounts) and once more on a fresh runner importing the cache another exported; then
//! a context of thousands of small files (`COPY . /src` and a `RUN`
//! that counts them), cold and after one file changed.
//!
//! Every timed build's image is read back and checked ([`check_server`], [`check_count`]):
//! `/server` is a Go binary, and it changed exactly when the source did; `/count` holds the
//! number of files in the context. A builder that failed, or reused a stale result, stops the
//! benchmark instead of looking fast.

use super::builder::Builder;
use super::report::Results;
use crate::project::BuiltImage;
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One measured workload: its name in the table and what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The row name in the table and the JSON.
    pub name: &'static str,
    /// One line saying what is measured.
    pub description: &'static str,
}

/// The Go example's `Dockerfile`, build cache emptied first (bases pulled and unpacked).
pub const COLD: Workload = Workload {
    name: "go: cold",
    description: "examples/go-server Dockerfile, build cache emptied, base images present",
};
/// The same build again, nothing changed.
pub const NO_CHANGE: Workload = Workload {
    name: "go: no change",
    description: "the same build again, nothing changed (every step cached)",
};
/// After appending a comment line to `main.go`: `COPY . .` and `go build` run again.
pub const EDIT: Workload = Workload {
    name: "go: main.go edited",
    description: "after appending a line to main.go: COPY . . and go build run again",
};
/// The same edit with `Dockerfile.cache`: Go's build and module caches are cache mounts.
pub const EDIT_CACHE_MOUNTS: Workload = Workload {
    name: "go: edited, cache mounts",
    description: "after another main.go edit, Dockerfile.cache (go build cache in a cache mount, \
                  warmed by one untimed build)",
};
/// A CI runner with an empty build cache (bases pulled) and the cache another runner
/// exported: the edit of [`EDIT_CACHE_MOUNTS`] once more, built with `--cache-from`.
pub const FRESH_RUNNER: Workload = Workload {
    name: "go: fresh runner + cache",
    description: "another main.go edit on a runner with an empty build cache (bases pulled), \
                  Dockerfile.cache with --cache-from the registry: skiff's cache (mode=max, cache \
                  mounts included), BuildKit's inline cache (dockerd 20.10 has no other)",
};
/// `COPY . /src` of many small files and a `RUN` counting them, in a context never built.
pub const CONTEXT_COLD: Workload = Workload {
    name: "5k files: cold",
    description:
        "COPY . /src of ~5,000 small files (a context never built before) + RUN counting them",
};
/// The same context after one file changed.
pub const CONTEXT_TOUCHED: Workload = Workload {
    name: "5k files: 1 changed",
    description: "the same context after one file's content changed",
};

/// The Dockerfile of the many-files workloads (bookworm-slim, whose `find` and `wc` count).
const CONTEXT_DOCKERFILE: &str = "ARG REGISTRY=127.0.0.1:5000\n\
FROM ${REGISTRY}/debian:bookworm-slim\n\
COPY . /src\n\
RUN find /src -type f | wc -l > /count\n";

/// Files per directory in the generated context.
const FILES_PER_DIR: usize = 100;

/// Everything one run needs besides the builders.
pub struct RunSpec<'a> {
    /// `examples/go-server`, copied afresh for each run.
    pub example: &'a Path,
    /// A directory for this run's contexts (created; removed by the caller).
    pub work: &'a Path,
    /// The run's number (from 1): in edits and generated files, so that no run reuses another's cache.
    pub run: usize,
    /// How many files the many-files context has (besides its Dockerfile).
    pub files: usize,
    /// `127.0.0.1:PORT`: the registry the bases are in, where the caches are exported.
    pub registry: &'a str,
}

/// Runs every workload once with every builder, recording timings in `results`.
///
/// Within each workload the builders take turns going first from one run to the next, so that
/// neither always finds the page cache warmed by the other.
pub fn run_once(
    builders: &mut [Box<dyn Builder>],
    spec: &RunSpec,
    results: &mut Results,
) -> Result<()> {
    let app = spec.work.join("go-server");
    copy_dir(spec.example, &app)?;
    flush_to_disk()?;
    let rotate = spec.run % builders.len().max(1);
    builders.rotate_left(rotate);
    let outcome = go_workloads(builders, spec, &app, results)
        .and_then(|()| context_workloads(builders, spec, results));
    builders.rotate_right(rotate);
    outcome
}

/// Workloads 1–4 on the Go example in `app`.
fn go_workloads(
    builders: &mut [Box<dyn Builder>],
    spec: &RunSpec,
    app: &Path,
    results: &mut Results,
) -> Result<()> {
    const TAG: &str = "skiff-bench/go-server:latest";
    const CACHE_TAG: &str = "skiff-bench/go-server:cache";
    let mut servers = Vec::new();
    for b in builders.iter_mut() {
        b.reset()
            .with_context(|| format!("emptying {}'s build cache", b.name()))?;
        let image = measure(b.as_mut(), COLD, app, "Dockerfile", TAG, results)?;
        servers.push(check_server(&image, b.name(), COLD)?);
    }
    for (b, previous) in builders.iter_mut().zip(&mut servers) {
        let image = measure(b.as_mut(), NO_CHANGE, app, "Dockerfile", TAG, results)?;
        let server = check_server(&image, b.name(), NO_CHANGE)?;
        ensure!(
            server == *previous,
            "{}: the no-change rebuild produced a different /server",
            b.name()
        );
    }
    edit_main_go(app, spec.run, 1)?;
    flush_to_disk()?;
    for (b, previous) in builders.iter_mut().zip(&mut servers) {
        let image = measure(b.as_mut(), EDIT, app, "Dockerfile", TAG, results)?;
        let server = check_server(&image, b.name(), EDIT)?;
        ensure_changed(&server, previous, b.name(), EDIT)?;
        *previous = server;
    }
    for (b, previous) in builders.iter_mut().zip(&mut servers) {
        // Warms the cache mounts (module and build caches), untimed.
        b.build(app, "Dockerfile.cache", CACHE_TAG)
            .with_context(|| format!("{}: warming Dockerfile.cache", b.name()))?;
        let image = b.image(app, "Dockerfile.cache", CACHE_TAG)?;
        *previous = check_server(&image, b.name(), EDIT_CACHE_MOUNTS)?;
    }
    edit_main_go(app, spec.run, 2)?;
    flush_to_disk()?;
    for (b, previous) in builders.iter_mut().zip(&mut servers) {
        let image = measure(
            b.as_mut(),
            EDIT_CACHE_MOUNTS,
            app,
            "Dockerfile.cache",
            CACHE_TAG,
            results,
        )?;
        let server = check_server(&image, b.name(), EDIT_CACHE_MOUNTS)?;
        ensure_changed(&server, previous, b.name(), EDIT_CACHE_MOUNTS)?;
        *previous = server;
    }
    fresh_runner(builders, spec, app, &servers, results)
}

/// [`FRESH_RUNNER`]: each builder exports its cache (untimed), forgets its build cache, and
/// builds the next edit with the cache imported.
/// `servers` are the builders' last `/server`s (of [`EDIT_CACHE_MOUNTS`]).
fn fresh_runner(
    builders: &mut [Box<dyn Builder>],
    spec: &RunSpec,
    app: &Path,
    servers: &[String],
    results: &mut Results,
) -> Result<()> {
    const TAG: &str = "skiff-bench/go-server:runner";
    let caches: Vec<String> = (builders.iter())
        .map(|b| {
            format!(
                "{}/skiff-bench/{}-cache:run-{}",
                spec.registry,
                b.name(),
                spec.run
            )
        })
        .collect();
    for (b, cache) in builders.iter_mut().zip(&caches) {
        b.export_cache(app, "Dockerfile.cache", cache)
            .with_context(|| format!("{}: exporting the cache to {cache}", b.name()))?;
    }
    edit_main_go(app, spec.run, 3)?;
    flush_to_disk()?;
    for ((b, cache), previous) in builders.iter_mut().zip(&caches).zip(servers) {
        b.reset()
            .with_context(|| format!("{}: emptying the build cache", b.name()))?;
        let elapsed = b
            .build_from_cache(app, "Dockerfile.cache", TAG, cache)
            .with_context(|| format!("{}: {}", b.name(), FRESH_RUNNER.name))?;
        let image = b.image(app, "Dockerfile.cache", TAG)?;
        let server = check_server(&image, b.name(), FRESH_RUNNER)?;
        ensure_changed(&server, previous, b.name(), FRESH_RUNNER)?;
        record(FRESH_RUNNER, b.name(), elapsed, results);
    }
    Ok(())
}

/// Workload 5: the many-files context, cold and after one file changed.
fn context_workloads(
    builders: &mut [Box<dyn Builder>],
    spec: &RunSpec,
    results: &mut Results,
) -> Result<()> {
    const TAG: &str = "skiff-bench/files:latest";
    let context = spec.work.join("files");
    let count = write_many_files(&context, spec.files, spec.run)?;
    flush_to_disk()?;
    for b in builders.iter_mut() {
        let image = measure(
            b.as_mut(),
            CONTEXT_COLD,
            &context,
            "Dockerfile",
            TAG,
            results,
        )?;
        check_count(&image, count, b.name(), CONTEXT_COLD)?;
    }
    let changed = "dir-00/file-00000.txt";
    let content = format!("changed in run {}\n", spec.run);
    std::fs::write(context.join(changed), &content)?;
    flush_to_disk()?;
    for b in builders.iter_mut() {
        let image = measure(
            b.as_mut(),
            CONTEXT_TOUCHED,
            &context,
            "Dockerfile",
            TAG,
            results,
        )?;
        check_count(&image, count, b.name(), CONTEXT_TOUCHED)?;
        let seen = image.fs.get(&format!("/src/{changed}")).map(|e| &e.data);
        ensure!(
            seen == Some(&content.clone().into_bytes()),
            "{}: {}: /src/{changed} does not hold the changed content",
            b.name(),
            CONTEXT_TOUCHED.name
        );
    }
    Ok(())
}

/// One timed build and its image read back. The time is recorded now; a check failing
/// afterwards stops the whole benchmark, so it is never reported.
fn measure(
    builder: &mut dyn Builder,
    workload: Workload,
    context: &Path,
    dockerfile: &str,
    tag: &str,
    results: &mut Results,
) -> Result<BuiltImage> {
    let elapsed = builder
        .build(context, dockerfile, tag)
        .with_context(|| format!("{}: {}", builder.name(), workload.name))?;
    let image = builder.image(context, dockerfile, tag).with_context(|| {
        format!(
            "{}: reading back the image of {}",
            builder.name(),
            workload.name
        )
    })?;
    record(workload, builder.name(), elapsed, results);
    Ok(image)
}

/// Prints one timing and adds it to `results`.
fn record(workload: Workload, builder: &str, elapsed: Duration, results: &mut Results) {
    let seconds = elapsed.as_secs_f64();
    eprintln!("   {:<26} {builder:<9} {seconds:>7.2} s", workload.name);
    results.record(workload.name, workload.description, builder, seconds);
}

/// Checks that the image runs `/server`, a Go binary of a plausible size, and returns its
/// sha256.
pub fn check_server(image: &BuiltImage, builder: &str, workload: Workload) -> Result<String> {
    let what = format!("{builder}: {}", workload.name);
    let Some(server) = image.fs.get("/server") else {
        bail!("{what}: the image has no /server");
    };
    ensure!(
        server.data.starts_with(b"\x7fELF") && server.data.len() > 1_000_000,
        "{what}: /server is not a Go binary ({} bytes)",
        server.data.len()
    );
    let cmd = &image.runtime_config()["Cmd"];
    ensure!(
        *cmd == serde_json::json!(["/server"]),
        "{what}: the image's Cmd is {cmd}, not [\"/server\"]"
    );
    Ok(hex::encode(Sha256::digest(&server.data)))
}

fn ensure_changed(server: &str, previous: &str, builder: &str, workload: Workload) -> Result<()> {
    ensure!(
        server != previous,
        "{builder}: {}: /server is the same binary as before main.go was edited (a stale cache hit)",
        workload.name
    );
    Ok(())
}

/// Checks that `/count` holds `expected`, the number of files in the context.
pub fn check_count(
    image: &BuiltImage,
    expected: usize,
    builder: &str,
    workload: Workload,
) -> Result<()> {
    let Some(count) = image.fs.get("/count") else {
        bail!("{builder}: {}: the image has no /count", workload.name);
    };
    let count = String::from_utf8_lossy(&count.data).trim().to_string();
    ensure!(
        count == expected.to_string(),
        "{builder}: {}: RUN counted {count} files in /src, the context has {expected}",
        workload.name
    );
    Ok(())
}

/// Appends a comment naming the run and the edit to `main.go`: the source changes (so
/// `COPY . .` and `go build` must run again), the program does not.
pub fn edit_main_go(app: &Path, run: usize, edit: usize) -> Result<()> {
    use std::io::Write as _;
    let path = app.join("main.go");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "\n// edited by skiff-bench: run {run}, edit {edit}")?;
    Ok(())
}

/// Writes the many-files context into `dir`: its Dockerfile and `files` small files (about
/// 200 bytes each, naming `run` so that no run finds another's in a cache) in directories of
/// `FILES_PER_DIR`. Returns how many files the context holds, Dockerfile included.
pub fn write_many_files(dir: &Path, files: usize, run: usize) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("Dockerfile"), CONTEXT_DOCKERFILE)?;
    for i in 0..files {
        let sub = dir.join(format!("dir-{:02}", i / FILES_PER_DIR));
        if i % FILES_PER_DIR == 0 {
            std::fs::create_dir_all(&sub)?;
        }
        let line = format!("run {run}, file {i}: some text to make a small source file\n");
        std::fs::write(sub.join(format!("file-{i:05}.txt")), line.repeat(3))?;
    }
    Ok(files + 1)
}

/// `sync`: writes back the contexts just written, untimed, so that whichever builder goes
/// first does not pay for the kernel flushing thousands of new files during its build.
fn flush_to_disk() -> Result<()> {
    let status = std::process::Command::new("sync")
        .status()
        .context("running sync")?;
    ensure!(status.success(), "sync failed ({status})");
    Ok(())
}

/// Copies a directory tree of regular files (the example has no links or special files).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_many_files_context_has_the_asked_number_of_files_and_names_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let count = write_many_files(dir.path(), 250, 7).unwrap();
        assert_eq!(count, 251);
        let mut found = 0;
        for sub in std::fs::read_dir(dir.path()).unwrap() {
            let sub = sub.unwrap();
            if sub.file_type().unwrap().is_dir() {
                found += std::fs::read_dir(sub.path()).unwrap().count();
            } else {
                found += 1;
            }
        }
        assert_eq!(found, count);
        let text = std::fs::read_to_string(dir.path().join("dir-02/file-00249.txt")).unwrap();
        assert!(text.starts_with("run 7, file 249:"), "{text}");
    }

    #[test]
    fn an_edit_changes_main_go_differently_each_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.go"), "package main\n").unwrap();
        edit_main_go(dir.path(), 2, 1).unwrap();
        let once = std::fs::read_to_string(dir.path().join("main.go")).unwrap();
        edit_main_go(dir.path(), 2, 2).unwrap();
        let twice = std::fs::read_to_string(dir.path().join("main.go")).unwrap();
        assert!(
            once.ends_with("// edited by skiff-bench: run 2, edit 1\n"),
            "{once}"
        );
        assert!(twice.starts_with(&once) && twice != once);
    }
}

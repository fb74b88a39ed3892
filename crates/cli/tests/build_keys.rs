//! What the cache key covers and what a cached step does not do, through `skiff build`:
//! layers are reused only by builds that write them with the same compression, and a cached
//! `RUN` sets none of its mounts up (no cache lock taken, no secret file written, no `rw`
//! bind source copied).

use skiff_testkit::project::{BuiltImage, Project};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Asserts that the last `count` layers of `image` (the ones the build made) are compressed
/// as `compression` says, by media type and by their first bytes.
fn assert_built_layers(image: &BuiltImage, count: usize, compression: &str) {
    let magic = if compression == "zstd" {
        ZSTD_MAGIC
    } else {
        GZIP_MAGIC
    };
    let built = &image.layers[image.layers.len() - count..];
    for layer in built {
        let media = layer.descriptor["mediaType"].as_str().unwrap_or_default();
        assert_eq!(
            media,
            format!("application/vnd.oci.image.layer.v1.tar+{compression}"),
            "a layer of a --compression {compression} build"
        );
        let digest = layer.descriptor["digest"].as_str().unwrap_or_default();
        let blob = &image.blobs[digest];
        assert!(
            blob.starts_with(magic),
            "layer {digest} of a --compression {compression} build starts with {:02x?}",
            &blob[..blob.len().min(4)]
        );
    }
}

#[test]
fn compression_is_honoured_when_the_steps_are_cached() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo ran > /ran\n",
        "COPY a.txt /a.txt\n",
        "WORKDIR /work\n",
    )) else {
        return;
    };
    p.write("a.txt", "a\n");
    let (_, zstd) = p.build_image(&["--compression", "zstd"]);
    assert_built_layers(&zstd, 3, "zstd");
    // Same store, same steps: the zstd results must not come back for a gzip build.
    let (run, gzip) = p.build_image(&["--compression", "gzip"]);
    assert_built_layers(&gzip, 3, "gzip");
    assert_eq!(zstd.fs.read_string("/ran"), gzip.fs.read_string("/ran"));
    assert!(
        run.cached_instructions().is_empty(),
        "a gzip build reused zstd results: {}",
        run.report()
    );
    // And back: each compression keeps its own cached results.
    let (run, again) = p.build_image(&["--compression", "zstd"]);
    assert_built_layers(&again, 3, "zstd");
    assert!(run.executed_instructions().is_empty(), "{}", run.report());
    let (run, again) = p.build_image(&[]);
    assert_built_layers(&again, 3, "gzip");
    assert!(run.executed_instructions().is_empty(), "{}", run.report());
}

/// The lock files of the store's cache mounts.
fn cache_mount_locks(store: &Path) -> Vec<PathBuf> {
    let dir = store.join("cache-mounts");
    let mut locks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "lock"))
        .collect();
    locks.sort();
    locks
}

/// Whether another process holds an exclusive `flock` on `path`.
fn is_locked(path: &Path) -> bool {
    !Command::new("flock")
        .arg("-n")
        .arg(path)
        .arg("true")
        .status()
        .expect("running flock")
        .success()
}

/// A process holding an exclusive `flock` on `path` until it is killed.
struct LockHolder(Child);

impl LockHolder {
    fn hold(path: &Path) -> LockHolder {
        // `exec` twice: the shell that took the lock becomes `sleep`, so killing the child
        // releases it.
        let child = Command::new("sh")
            .arg("-c")
            .arg("exec 9>\"$1\" && flock -x 9 && exec sleep 300")
            .arg("sh")
            .arg(path)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting a process that holds the lock");
        let holder = LockHolder(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_locked(path) {
            assert!(Instant::now() < deadline, "the lock was not taken");
            std::thread::sleep(Duration::from_millis(50));
        }
        holder
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` up to `limit`; kills it and returns `None` when it is still running.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("polling skiff") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cached_run_does_not_wait_for_its_locked_cache_mount() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=cache,id=held,target=/c,sharing=locked echo x > /c/x && echo ok > /ok\n",
    )) else {
        return;
    };
    p.build_ok(&[]);
    let locks = cache_mount_locks(p.store());
    assert_eq!(locks.len(), 1, "{locks:?}");
    let _holder = LockHolder::hold(&locks[0]);

    // The lock held is the one the step takes: a step that runs waits for it.
    let mut blocked = p.spawn_build(&["--no-cache"]);
    assert!(
        wait_for(&mut blocked.child, Duration::from_secs(4)).is_none(),
        "a --no-cache build did not wait for the held cache lock"
    );

    // A fully cached rebuild does not take it.
    let mut cached = p.spawn_build(&[]);
    let status = wait_for(&mut cached.child, Duration::from_secs(60));
    assert!(
        status.is_some(),
        "a cached build waited for the lock of a cache mount it does not use"
    );
    let run = cached.wait();
    assert!(run.success(), "{}", run.report());
    assert!(run.executed_instructions().is_empty(), "{}", run.report());
}

#[test]
fn a_cached_run_writes_no_secret_file() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && echo ok > /ok\n",
    )) else {
        return;
    };
    p.write_mode("token.txt", "s3cret\n", 0o600);
    let secret = format!("id=token,src={}", p.path("token.txt").display());
    let args = ["--secret", secret.as_str()];
    p.build_ok(&args);
    // Secret files go where SKIFF_SECRET_DIR says: a directory that does not exist, so that
    // writing one fails the build.
    let nowhere = p.scratch_path("no-secret-dir");
    let env = [("SKIFF_SECRET_DIR", nowhere.to_str().unwrap())];
    let mut no_cache = vec!["--no-cache"];
    no_cache.extend_from_slice(&args);
    let ran = p.build_env(&no_cache, &env);
    assert!(
        !ran.success(),
        "a step that ran did not write its secret where SKIFF_SECRET_DIR says: {}",
        ran.report()
    );
    let cached = p.build_env(&args, &env);
    assert!(cached.success(), "{}", cached.report());
    assert!(
        cached.executed_instructions().is_empty(),
        "{}",
        cached.report()
    );
    assert!(!nowhere.exists());
}

#[test]
fn a_cached_run_does_not_copy_its_rw_bind_source() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=target=/src,rw touch /src/scribble && cat /src/data > /got\n",
    )) else {
        return;
    };
    p.write("data", "data\n");
    p.build_ok(&[]);
    // A `cp` first on PATH that records each call and fails: an rw bind copy made with it
    // fails the build and leaves a mark.
    let bin = p.scratch_path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mark = p.scratch_path("cp-called");
    let stub = bin.join("cp");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", mark.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path.as_str())];
    let ran = p.build_env(&["--no-cache"], &env);
    assert!(
        !ran.success() && mark.exists(),
        "a step that ran did not copy its rw bind source with cp: {}",
        ran.report()
    );
    std::fs::remove_file(&mark).unwrap();
    let cached = p.build_env(&[], &env);
    assert!(cached.success(), "{}", cached.report());
    assert!(
        cached.executed_instructions().is_empty(),
        "{}",
        cached.report()
    );
    assert!(
        !mark.exists(),
        "a cached build copied: cp {}",
        std::fs::read_to_string(&mark).unwrap_or_default()
    );
    assert!(!p.path("scribble").exists());
}

/// The cache entries of a build of `FROM scratch` steps (metadata, COPY, ADD, WORKDIR,
/// `COPY --link`, a heredoc) are pinned: each is stored under the SHA-256 of its key, so a
/// change of the key format (or of what a step's spec holds) changes them. Pinned by the
/// engine's golden test too, spec by spec; this one pins how the Dockerfile becomes specs.
#[test]
fn the_cache_keys_of_a_dockerfile_are_pinned() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM scratch\n",
        "ENV A=1\n",
        "LABEL l=v\n",
        "COPY a.txt /a.txt\n",
        "ADD --chmod=600 b.txt /dir/\n",
        "WORKDIR /w\n",
        "COPY --link --chown=1:2 c.txt /c/\n",
        "COPY <<EOF /h.txt\n",
        "hello\n",
        "EOF\n",
        "CMD [\"/a\"]\n",
    )) else {
        return;
    };
    p.write_mode("a.txt", "a\n", 0o644);
    p.write_mode("b.txt", "b\n", 0o644);
    p.write_mode("c.txt", "c\n", 0o755);
    let run = p.build_env(&[], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert!(run.success(), "{}", run.report());
    let dir = p.store().join("cache");
    let mut entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    // Seven entries: COPY, ADD, WORKDIR, COPY --link (its step and its layer), the heredoc
    // COPY and the stage's result.
    let golden: &[&str] = &[
        "0cd9841f62582e72c75c74f54ffcb431bf47ffb729bb8dddf3c87257efe9b219",
        "171ec358d0087d59c1ca12b55768538c7f5aa90255540dbdab3274e1738db233",
        "178dbf731c71586ca7116cc3247031b8682a896a645c815ed8e0b7c95866c5bb",
        "1cf02dba841227bb241eab75c35045eb5e9eed0d62990475da0e99b6b9dac970",
        "56b5201b909d3c67adf6775727452540787f48d9d9642f83f701f6286b0aee94",
        "733ec6cda422a5cc53d511cbdf5ddd7beeb0af6bc16c32664ad7d141723ef1e3",
        "894e6dd9826dd2f1da610c9ec13caef3e890d83232630395c5fc5a2f9c60a0c3",
    ];
    assert_eq!(
        entries, golden,
        "the cache key format changed: bump KEY_FORMAT_VERSION in the engine's cachekey.rs, \
         update docs/cache-keys.md, then these golden values"
    );
}

//! Hostile build contexts and base images, black-box through the binary (issue 17, item 6):
//! each gives a clear error or a correct result, never a hang (every build runs under a
//! timeout and is killed when it overruns) and never memory in proportion to a file's size.

use skiff_testkit::layout::{tar_of_files, write_layout, Layer};
use skiff_testkit::project::{BuiltImage, Kind, Project};
use skiff_testkit::store_check::problems;
use skiff_testkit::{push_layout, serde_json, Registry};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `cmd` to its end, at most `secs` seconds: past that it is SIGKILLed and the test fails
/// (a hang).
fn within(mut cmd: Command, secs: u64) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let child = cmd.spawn().expect("starting skiff");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.expect("waiting for skiff"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{shown} hung: killed after {secs} s");
        }
    }
}

/// A build of `p` exported as an OCI archive under a timeout; the image when it succeeded.
fn build(p: &Project, args: &[&str], secs: u64) -> (Output, Option<BuiltImage>) {
    let out = p.scratch_path("image.tar");
    let output = format!("type=oci,dest={}", out.display());
    let mut all = vec!["-o", output.as_str()];
    all.extend_from_slice(args);
    let result = within(p.build_command(&all), secs);
    let image = result
        .status
        .success()
        .then(|| BuiltImage::open(&out).expect("reading the exported image"));
    (result, image)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error line of a failed build's output (its last line when none says `error`).
fn summary(out: &Output) -> String {
    let text = stderr(out);
    let line = text
        .lines()
        .find(|l| l.contains("error") || l.contains("ERROR"));
    line.or(text.lines().last()).unwrap_or_default().to_string()
}

/// Asserts a build failed with an error naming `needle`.
fn assert_clear_error(out: &Output, needle: &str) {
    let text = stderr(out);
    assert!(!out.status.success(), "the build should fail:\n{text}");
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

#[test]
fn symlink_loops_in_the_context_are_copied_as_links_and_following_one_is_an_error() {
    let p = Project::new();
    p.write("a.txt", "a\n");
    std::os::unix::fs::symlink("loop2", p.path("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", p.path("loop2")).unwrap();
    std::os::unix::fs::symlink("self", p.path("self")).unwrap();
    std::fs::create_dir(p.path("dir")).unwrap();
    std::os::unix::fs::symlink("..", p.path("dir/up")).unwrap();
    p.dockerfile("FROM busybox\nCOPY . /ctx/\n");
    let (out, image) = build(&p, &[], 60);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(
        image.fs.entry("/ctx/loop1").kind,
        Kind::Symlink("loop2".into())
    );
    assert_eq!(
        image.fs.entry("/ctx/self").kind,
        Kind::Symlink("self".into())
    );
    assert_eq!(
        image.fs.entry("/ctx/dir/up").kind,
        Kind::Symlink("..".into())
    );
    assert_eq!(image.fs.read_string("/ctx/a.txt"), "a\n");

    // Naming a looping link makes COPY follow it: an error that names it, not a hang.
    p.dockerfile("FROM busybox\nCOPY loop1 /x\n");
    let (out, _) = build(&p, &[], 60);
    assert_clear_error(&out, "loop1");
    eprintln!("COPY loop1: {}", summary(&out));
}

#[test]
fn a_fifo_in_the_context_is_never_opened_and_stays_a_fifo() {
    let p = Project::new();
    p.write("a.txt", "a\n");
    let fifo = p.path("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    // Nobody writes to the pipe: opening it for reading would block for ever (the timeout
    // turns that into a failure).
    p.dockerfile("FROM busybox\nCOPY . /ctx/\n");
    let (out, image) = build(&p, &[], 60);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(image.fs.read_string("/ctx/a.txt"), "a\n");
    // BuildKit's context transfer (fsutil) sends a FIFO's stat but never its data (send.go
    // requests data only for regular files) and recreates it: the image holds a fifo.
    assert_eq!(image.fs.entry("/ctx/pipe").kind, Kind::Fifo);

    // Naming it alone copies the fifo too, still without opening it.
    p.dockerfile("FROM busybox\nCOPY pipe /p\n");
    let (out, image) = build(&p, &[], 60);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(image.fs.entry("/p").kind, Kind::Fifo);
    assert_eq!(problems(p.store()), Vec::<String>::new());
}

/// Makes `depth` nested directories `d/d/…` under `dir` (with perl: `mkdir`+`chdir`, since
/// the path soon exceeds PATH_MAX) and a file at the bottom.
fn deep_chain(dir: &Path, depth: usize) {
    let script = format!(
        "chdir $ARGV[0] or die; for (1..{depth}) {{ mkdir 'd' or die; chdir 'd' or die }} \
         open(F, '>bottom') or die; print F \"deep\\n\"; close F"
    );
    let ok = Command::new("perl")
        .args(["-e", &script])
        .arg(dir)
        .status()
        .unwrap();
    assert!(ok.success(), "making the deep chain failed");
}

#[test]
fn a_very_deep_directory_chain_is_a_clear_error_or_copied() {
    let depth: usize = std::env::var("SKIFF_HOSTILE_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(10_000);
    let p = Project::new();
    std::fs::create_dir(p.path("deep")).unwrap();
    deep_chain(&p.path("deep"), depth);
    p.dockerfile("FROM busybox\nCOPY deep /deep\n");
    let started = std::time::Instant::now();
    let (out, image) = build(&p, &[], 300);
    eprintln!(
        "COPY of a {depth}-deep chain: success {} in {:?}: {}",
        out.status.success(),
        started.elapsed(),
        summary(&out)
    );
    // The chain exceeds PATH_MAX: rm -rf (fts) removes it where a recursive removal may not.
    Command::new("rm")
        .arg("-rf")
        .arg(p.path("deep"))
        .status()
        .unwrap();
    match image {
        Some(image) => {
            let bottom = format!("/deep/{}bottom", "d/".repeat(depth));
            assert_eq!(image.fs.read_string(&bottom), "deep\n");
        }
        None => assert_clear_error(&out, "directories deep"),
    }
}

#[test]
fn a_name_that_is_not_utf8_is_a_clear_error_or_copied_byte_for_byte() {
    let p = Project::new();
    p.write("good.txt", "good\n");
    let bad = std::ffi::OsStr::from_bytes(b"bad\xff.txt");
    std::fs::write(p.dir().join(bad), "bad\n").unwrap();
    p.dockerfile("FROM busybox\nCOPY . /ctx/\n");
    let (out, image) = build(&p, &[], 60);
    eprintln!("COPY of a non-UTF-8 name: {}", summary(&out));
    match image {
        Some(image) => assert_eq!(image.fs.read_string("/ctx/good.txt"), "good\n"),
        None => assert_clear_error(&out, "UTF-8"),
    }
    // Left out by .dockerignore, it is no obstacle.
    p.write(".dockerignore", "bad*\n");
    let (out, image) = build(&p, &[], 60);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(image.fs.read_string("/ctx/good.txt"), "good\n");
}

/// A context file rewritten over and over (truncated, then refilled with another letter and
/// another length) while the build copies it: the build ends, with an image whose layer reads
/// back whole (every blob verified) or with a clear error naming the file; the store stays
/// consistent; and once the file is left alone, the next build copies what it holds then (a
/// cache key taken from one version never serves another's content).
#[test]
fn a_file_that_changes_while_it_is_copied_gives_a_whole_layer_or_a_clear_error() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let p = Project::new();
    let path = p.path("moving.bin");
    let rewrite = |round: usize| {
        let letter = b'a' + (round % 26) as u8;
        let mib = 16 + (round * 7) % 48;
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![letter; 1 << 20];
        for _ in 0..mib {
            file.write_all(&chunk).unwrap();
        }
    };
    rewrite(0);
    p.dockerfile("FROM busybox\nCOPY moving.bin /moving.bin\n");
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(1);
    let (out, image) = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                rewrite(rounds.fetch_add(1, Ordering::SeqCst));
            }
        });
        let result = build(&p, &[], 300);
        stop.store(true, Ordering::SeqCst);
        result
    });
    eprintln!(
        "COPY of a file rewritten {} times meanwhile: success {}: {}",
        rounds.load(Ordering::SeqCst),
        out.status.success(),
        summary(&out)
    );
    match image {
        Some(image) => {
            let data = &image.fs.entry("/moving.bin").data;
            assert!(
                data.iter().all(u8::is_ascii_lowercase),
                "bytes that no version of the file held"
            );
        }
        None => assert_clear_error(&out, "moving.bin"),
    }
    assert_eq!(problems(p.store()), Vec::<String>::new());

    // Settled: the rebuild holds exactly the file as it is now.
    let settled = std::fs::read(&path).unwrap();
    let (out, image) = build(&p, &[], 300);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert!(
        image.fs.entry("/moving.bin").data == settled,
        "the rebuild does not hold the settled file ({} bytes, {:?}…)",
        settled.len(),
        settled.first()
    );
}

/// A sparse file of 1 GiB by default, so the default test run stays short; the 10 GB
/// figure is `SKIFF_HOSTILE_SPARSE_GIB=10` (scripts/reliability sets it). The file's bytes are
/// all read and hashed (the layer holds them), so the time grows with the size; the memory
/// must not.
#[test]
fn copying_a_huge_sparse_file_takes_little_memory() {
    let gib: u64 = std::env::var("SKIFF_HOSTILE_SPARSE_GIB")
        .ok()
        .and_then(|g| g.parse().ok())
        .unwrap_or(1);
    let p = Project::new();
    let file = std::fs::File::create(p.path("sparse.bin")).unwrap();
    file.set_len(gib << 30).unwrap();
    drop(file);
    p.dockerfile("FROM busybox\nCOPY sparse.bin /sparse.bin\n");
    let rss_file = p.scratch_path("rss");
    let build = p.build_command(&["-t", "sparse:1"]);
    let mut timed = Command::new("/usr/bin/time");
    timed.args(["-f", "%M", "-o"]).arg(&rss_file);
    timed.arg(build.get_program()).args(build.get_args());
    let started = std::time::Instant::now();
    let out = within(timed, 300 + 180 * gib);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let kib: u64 = std::fs::read_to_string(&rss_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "COPY of a {gib} GiB sparse file: {took:?}, peak RSS {} MiB",
        kib >> 10
    );
    assert!(kib < 512 << 10, "peak RSS {kib} KiB for a {gib} GiB file");
    assert_eq!(problems(p.store()), Vec::<String>::new());
}

/// An OCI layout whose config declares `diff_ids` diff IDs while its manifest has one layer.
fn layout_with_diff_ids(dir: &Path, diff_ids: usize) {
    let tar = tar_of_files(&[("f", &b"f\n"[..])]).unwrap();
    let written = write_layout(
        dir,
        "fixture",
        &[Layer { tar, gzip: true }],
        serde_json::json!({}),
    )
    .unwrap();
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let read = |d: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(blob(d)).unwrap()).unwrap()
    };
    let put = |v: &serde_json::Value| -> (String, usize) {
        let bytes = serde_json::to_vec(v).unwrap();
        let digest = skiff_testkit::layout::sha256_digest(&bytes);
        std::fs::write(blob(&digest), &bytes).unwrap();
        (digest, bytes.len())
    };
    let mut config = read(&written.config_digest);
    let fake = format!("sha256:{}", "0".repeat(64));
    config["rootfs"]["diff_ids"] = serde_json::json!(vec![fake; diff_ids]);
    let (config_digest, config_size) = put(&config);
    let mut manifest = read(&written.manifest_digest);
    manifest["config"]["digest"] = config_digest.into();
    manifest["config"]["size"] = config_size.into();
    let (manifest_digest, manifest_size) = put(&manifest);
    let path = dir.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["manifests"][0]["digest"] = manifest_digest.into();
    index["manifests"][0]["size"] = manifest_size.into();
    std::fs::write(&path, index.to_string()).unwrap();
}

#[test]
fn a_base_whose_config_declares_50k_layers_for_one_is_a_clear_error() {
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    if !skiff_testkit::require_tool("skopeo") {
        return;
    }
    let dir = skiff_testkit::tempfile::tempdir().unwrap();
    layout_with_diff_ids(dir.path(), 50_000);
    let base = push_layout(&registry, dir.path(), "fixture", "hostile/diffids:1").unwrap();
    let p = Project::new();
    p.write("a", "a\n");
    p.dockerfile(&format!("FROM {}\nCOPY a /a\n", base.reference));
    let (out, _) = build(&p, &[], 120);
    eprintln!("50k diff IDs: {}", summary(&out));
    assert_clear_error(&out, "diff");
}

#[test]
fn a_user_missing_from_the_image_fails_the_run_clearly_and_is_kept_in_the_config() {
    let Some(p) = Project::needing_runc("FROM busybox\nUSER nosuchuser\nRUN id\n") else {
        return;
    };
    let (out, _) = build(&p, &[], 120);
    assert_clear_error(&out, "nosuchuser");
    eprintln!("USER nosuchuser + RUN: {}", summary(&out));
    // Without a RUN the name is only recorded, as BuildKit does.
    p.dockerfile("FROM busybox\nUSER nosuchuser\n");
    let (out, image) = build(&p, &[], 120);
    let image = image.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(image.runtime_config()["User"], "nosuchuser");
}

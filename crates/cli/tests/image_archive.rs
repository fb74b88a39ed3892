//! `skiff tag`, `skiff save` and `skiff load` through the binary: `skiff save | docker load`
//! and `docker save | skiff load` against a private dockerd 20.10, OCI and docker archives
//! round-tripped between two stores, and truncated, corrupt or escaping archives refused
//! with a store that stays usable.

use skiff_testkit::command::run_ok;
use skiff_testkit::dockerd::Dockerd;
use skiff_testkit::layout::{sha256_digest, tar_of_files};
use skiff_testkit::project::Project;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn failing(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(!output.status.success(), "{cmd:?} succeeded unexpectedly");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A project whose store holds `name`, built `FROM busybox` with `/file` = `content`.
fn image_with_file(p: &Project, name: &str, content: &str) {
    p.write("file", content);
    p.dockerfile("FROM busybox\nCOPY file /file\n");
    p.build_ok(&["-t", name]);
}

fn manifest_digest(p: &Project, name: &str) -> String {
    let out = run_ok(p.skiff().args(["inspect", "--raw", name]));
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    value["Digest"].as_str().unwrap().to_string()
}

#[test]
fn tag_names_an_image_for_inspect_and_build() {
    let p = Project::new();
    image_with_file(&p, "skiff-test/tagged:1", "tagged\n");
    let before = manifest_digest(&p, "skiff-test/tagged:1");

    run_ok(
        p.skiff()
            .args(["tag", "skiff-test/tagged:1", "other/renamed:2"]),
    );
    assert_eq!(manifest_digest(&p, "other/renamed:2"), before);
    let images = run_ok(
        p.skiff()
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"]),
    );
    assert!(images.contains("other/renamed:2"), "{images}");
    assert!(images.contains("skiff-test/tagged:1"), "{images}");

    let child = Project::with_store(p.store());
    child.write("more", "more\n");
    child.dockerfile("FROM other/renamed:2\nCOPY more /more\n");
    let (_, image) = child.build_image(&[]);
    assert_eq!(image.fs.read_string("/file"), "tagged\n");
    assert_eq!(image.fs.read_string("/more"), "more\n");

    let err = failing(p.skiff().args(["tag", "skiff-test/absent:1", "x:1"]));
    assert!(err.contains("no image named"), "{err}");
}

#[test]
fn save_of_two_images_is_what_docker_load_runs() {
    let Some(dockerd) = Dockerd::start_or_skip() else {
        return;
    };
    let p = Project::new();
    image_with_file(&p, "skiff-test/first:1", "first image\n");
    let q = Project::with_store(p.store());
    image_with_file(&q, "skiff-test/second:2", "second image\n");

    // `skiff save A B | docker load`, through a real pipe.
    let mut save = p.skiff();
    save.args(["save", "skiff-test/first:1", "skiff-test/second:2"]);
    let mut child = save.stdout(Stdio::piped()).spawn().unwrap();
    let loaded = dockerd
        .docker()
        .arg("load")
        .stdin(Stdio::from(child.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(child.wait().unwrap().success(), "skiff save failed");
    assert!(loaded.status.success(), "docker load: {loaded:?}");
    let out = stdout(&loaded);
    assert!(out.contains("Loaded image: skiff-test/first:1"), "{out}");
    assert!(out.contains("Loaded image: skiff-test/second:2"), "{out}");

    for (name, content) in [
        ("skiff-test/first:1", "first image\n"),
        ("skiff-test/second:2", "second image\n"),
    ] {
        let ran = dockerd
            .run(&["run", "--rm", "--network", "none", name, "cat", "/file"])
            .unwrap();
        assert_eq!(stdout(&ran), content);
    }
}

#[test]
fn docker_save_is_what_skiff_load_reads() {
    let Some(dockerd) = Dockerd::start_or_skip() else {
        return;
    };
    // A base image that only docker made: a busybox from skiff, plus a layer `docker commit`
    // writes (saved as docker 20.10 saves: `<id>/layer.tar`, uncompressed).
    let p = Project::new();
    image_with_file(&p, "skiff-test/base:1", "base\n");
    let archive = p.scratch_path("base.tar");
    run_ok(
        p.skiff()
            .args(["save", "-o"])
            .arg(&archive)
            .arg("skiff-test/base:1"),
    );
    dockerd
        .run(&["load", "-i", archive.to_str().unwrap()])
        .unwrap();
    let container = "skiff-test-commit";
    let script = "echo by docker > /docker-file";
    dockerd
        .run(&[
            "run",
            "--name",
            container,
            "--network",
            "none",
            "skiff-test/base:1",
            "sh",
            "-c",
            script,
        ])
        .map(drop)
        .unwrap_or_else(|e| panic!("{e:#}"));
    dockerd
        .run(&[
            "commit",
            "--change",
            "LABEL made.by=docker",
            container,
            "skiff-test/docker-made:3",
        ])
        .unwrap();

    let other = Project::new();
    let saved = dockerd
        .run(&["save", "skiff-test/docker-made:3"])
        .unwrap()
        .stdout;
    let mut load = other.skiff();
    let mut child = load
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &saved).unwrap();
    let loaded = child.wait_with_output().unwrap();
    assert!(loaded.status.success(), "skiff load: {loaded:?}");
    assert_eq!(stdout(&loaded), "Loaded image: skiff-test/docker-made:3\n");

    let images = run_ok(
        other
            .skiff()
            .args(["images", "skiff-test/docker-made:3", "-q"]),
    );
    assert_eq!(images.lines().count(), 1, "{images}");
    let inspect = run_ok(other.skiff().args(["inspect", "skiff-test/docker-made:3"]));
    assert!(inspect.contains("made.by"), "{inspect}");

    other.write("more", "more\n");
    other.dockerfile("FROM skiff-test/docker-made:3\nCOPY more /more\n");
    let (_, image) = other.build_image(&[]);
    assert_eq!(image.fs.read_string("/file"), "base\n");
    assert_eq!(image.fs.read_string("/more"), "more\n");
    assert_eq!(image.fs.read_string("/docker-file"), "by docker\n");
    assert!(image.fs.exists("/bin/busybox"));
}

#[test]
fn both_archive_formats_round_trip_into_a_second_store() {
    let p = Project::new();
    image_with_file(&p, "skiff-test/round:1", "round trip\n");
    let digest = manifest_digest(&p, "skiff-test/round:1");
    for format in ["oci", "docker"] {
        let archive = p.scratch_path(&format!("{format}.tar"));
        run_ok(
            p.skiff()
                .args(["save", "--format", format, "-o"])
                .arg(&archive)
                .arg("skiff-test/round:1"),
        );
        let second = Project::new();
        let out = run_ok(second.skiff().args(["load", "-q", "-i"]).arg(&archive));
        assert_eq!(out, "Loaded image: skiff-test/round:1\n", "{format}");
        if format == "oci" {
            // The manifest comes back byte for byte.
            assert_eq!(manifest_digest(&second, "skiff-test/round:1"), digest);
        }
        second.write("more", "more\n");
        second.dockerfile("FROM skiff-test/round:1\nCOPY more /more\n");
        let (_, image) = second.build_image(&[]);
        assert_eq!(image.fs.read_string("/file"), "round trip\n", "{format}");
        assert_eq!(image.fs.read_string("/more"), "more\n", "{format}");
    }
}

/// A docker 20.10-style archive (`<hex>.json` config, `<id>/layer.tar` uncompressed) with
/// one layer holding `files`, whose config claims the diff ID `diff_id` (the layer's own
/// when `None`), named `repo_tag`; `extra` members are added as they are.
fn docker_archive(
    files: &[(&str, &[u8])],
    diff_id: Option<&str>,
    repo_tag: &str,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    docker_archive_at("0123/layer.tar", files, diff_id, repo_tag, extra)
}

/// [`docker_archive`] whose `manifest.json` names the layer at `layer_path`.
fn docker_archive_at(
    layer_path: &str,
    files: &[(&str, &[u8])],
    diff_id: Option<&str>,
    repo_tag: &str,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let layer = tar_of_files(files).unwrap();
    let own = sha256_digest(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.unwrap_or(&own)]},
    })
    .to_string();
    let config_hex = sha256_digest(config.as_bytes())["sha256:".len()..].to_string();
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": if repo_tag.is_empty() { vec![] } else { vec![repo_tag] },
        "Layers": [layer_path],
    }])
    .to_string();
    let mut members: Vec<(String, Vec<u8>)> = vec![
        ("0123/layer.tar".into(), layer),
        (format!("{config_hex}.json"), config.into_bytes()),
        ("manifest.json".into(), manifest.into_bytes()),
    ];
    members.extend(extra.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    raw_tar(&members)
}

/// A tar whose member names are written as given, `..` and `/` included (the tar crate's
/// builder refuses such names, so the header is filled by hand). A member whose name is
/// `NAME -> TARGET` is a symbolic link.
fn raw_tar(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut header = tar::Header::new_old();
        let (name, link) = match name.split_once(" -> ") {
            Some((name, target)) => (name, Some(target)),
            None => (name.as_str(), None),
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        match link {
            Some(target) => {
                header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
            }
            None => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
            }
        }
        header.set_mode(0o644);
        header.set_cksum();
        let data: &[u8] = if link.is_some() { &[] } else { bytes };
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn load_bytes(p: &Project, bytes: &[u8], name: &str) -> (bool, String) {
    let path = p.scratch_path(name);
    std::fs::write(&path, bytes).unwrap();
    let output = p.skiff().args(["load", "-i"]).arg(&path).output().unwrap();
    let text = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn a_hand_made_docker_archive_loads_and_a_wrong_diff_id_is_refused() {
    let p = Project::new();
    let good = docker_archive(&[("hello", b"hello\n")], None, "hand/made:1", &[]);
    let (ok, out) = load_bytes(&p, &good, "good.tar");
    assert!(ok, "{out}");
    assert_eq!(out, "Loaded image: hand/made:1\n");
    let inspect = run_ok(p.skiff().args(["inspect", "--raw", "hand/made:1"]));
    assert!(
        inspect.contains("application/vnd.oci.image.layer.v1.tar\""),
        "{inspect}"
    );

    let wrong = format!("sha256:{}", "ab".repeat(32));
    let bad = docker_archive(&[("hello", b"evil\n")], Some(&wrong), "hand/bad:1", &[]);
    let (ok, out) = load_bytes(&p, &bad, "bad.tar");
    assert!(!ok, "{out}");
    assert!(
        out.contains("is corrupt") && out.contains("diff ID"),
        "{out}"
    );
    let images = run_ok(p.skiff().arg("images"));
    assert!(!images.contains("hand/bad"), "{images}");

    // Without a name: reported and named by its ID, saved again without a name.
    let unnamed = docker_archive(&[("anon", b"anon\n")], None, "", &[]);
    let (ok, out) = load_bytes(&p, &unnamed, "unnamed.tar");
    assert!(ok, "{out}");
    let id = out
        .strip_prefix("Loaded image ID: ")
        .unwrap_or_else(|| panic!("{out}"));
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert!(run_ok(p.skiff().args(["images", "-q", "--no-trunc"])).contains(id));
    let again = p.scratch_path("again.tar");
    run_ok(p.skiff().args(["save", "-o"]).arg(&again).arg(id));
    let (ok, out) = load_bytes(
        &Project::new(),
        &std::fs::read(&again).unwrap(),
        "again.tar",
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("Loaded image ID: {id}"));
}

#[test]
fn a_layer_saved_as_a_symbolic_link_loads_and_a_link_out_is_refused() {
    let p = Project::new();
    let files: &[(&str, &[u8])] = &[("linked", b"linked\n")];
    let link = "4567/layer.tar -> ../0123/layer.tar";
    let archive = docker_archive_at("4567/layer.tar", files, None, "hand/link:1", &[(link, b"")]);
    let (ok, out) = load_bytes(&p, &archive, "link.tar");
    assert!(ok, "{out}");
    assert_eq!(out, "Loaded image: hand/link:1\n");

    let out_link = "4567/layer.tar -> ../../0123/layer.tar";
    let archive = docker_archive_at(
        "4567/layer.tar",
        files,
        None,
        "hand/out:1",
        &[(out_link, b"")],
    );
    let (ok, out) = load_bytes(&p, &archive, "out.tar");
    assert!(!ok, "{out}");
    assert!(out.contains("links outside the archive"), "{out}");
}

#[test]
fn member_paths_leaving_the_archive_are_refused() {
    let p = Project::new();
    for name in ["../escape/layer.tar", "/abs/layer.tar", "0123/../../x"] {
        let archive = docker_archive(&[("a", b"a\n")], None, "hand/esc:1", &[(name, b"x")]);
        let (ok, out) = load_bytes(&p, &archive, "escape.tar");
        assert!(!ok, "{name}: {out}");
        assert!(out.contains("refusing to load"), "{name}: {out}");
        assert!(out.contains(name), "{name}: {out}");
    }
    let parent = p.store().parent().unwrap();
    assert!(!parent.join("escape").exists() && !Path::new("/abs").exists());
    let images = run_ok(p.skiff().arg("images"));
    assert!(!images.contains("hand/esc"), "{images}");
}

#[test]
fn truncated_or_corrupt_archives_fail_clearly_and_leave_a_usable_store() {
    let p = Project::new();
    image_with_file(&p, "skiff-test/victim:1", &"x".repeat(300_000));
    let archive = p.scratch_path("victim.tar");
    run_ok(
        p.skiff()
            .args(["save", "--format", "oci", "-o"])
            .arg(&archive)
            .arg("skiff-test/victim:1"),
    );
    let bytes = std::fs::read(&archive).unwrap();
    let target = Project::new();

    let (ok, out) = load_bytes(&target, &bytes[..bytes.len() / 2], "half.tar");
    assert!(!ok, "{out}");
    assert!(out.contains("truncated"), "{out}");

    // Flip one byte inside the largest blob (a layer): its digest no longer matches.
    let mut corrupt = bytes.clone();
    let mut members = tar::Archive::new(bytes.as_slice());
    let (offset, size) = members
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.raw_file_position(), e.size()))
        .max_by_key(|(_, size)| *size)
        .unwrap();
    corrupt[(offset + size / 2) as usize] ^= 0xff;
    let (ok, out) = load_bytes(&target, &corrupt, "corrupt.tar");
    assert!(!ok, "{out}");
    assert!(out.contains("is corrupt"), "{out}");

    let (ok, out) = load_bytes(&target, b"not a tar at all, just text", "junk.tar");
    assert!(!ok, "{out}");
    assert!(out.contains("not a tar"), "{out}");

    let images = run_ok(target.skiff().args(["images", "-q"]));
    assert_eq!(images.trim(), "", "nothing is named after failed loads");
    run_ok(target.skiff().arg("prune"));
    image_with_file(&target, "skiff-test/after:1", "after\n");
    let (ok, out) = load_bytes(&target, &bytes, "whole.tar");
    assert!(ok, "{out}");
    assert_eq!(out, "Loaded image: skiff-test/victim:1\n");
}

#[test]
fn save_refuses_a_terminal_as_docker_does() {
    if !skiff_testkit::require_tool("script") {
        return;
    }
    let p = Project::new();
    image_with_file(&p, "skiff-test/tty:1", "tty\n");
    let save = p.skiff();
    let command = std::iter::once(save.get_program())
        .chain(save.get_args())
        .chain(["save".as_ref(), "skiff-test/tty:1".as_ref()])
        .map(|w| format!("'{}'", w.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    // `script` gives the command a pseudo-terminal as standard output.
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("running script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
        "{text}"
    );
}

//! The archive and rootfs outputs, checked by the tools that consume them:
//! skopeo, podman and (when a daemon can be started) docker 20.10.
//! A tool that is absent skips its check, saying so; with `CI=true` it fails instead.

use skiff_image::export::{self, Output};
use skiff_image::Store;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod export_fixture;

use export_fixture::{sha256, Fixture, HELLO, SECOND};

/// Finds `tool` on PATH (or in the sbin directories), or says why its check is skipped.
/// In CI (`CI=true`) a missing tool is a failure.
fn require(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    if found.is_none() {
        skip(&format!("{tool} is not installed"));
    }
    found
}

fn skip(reason: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and {reason}: .ci/run must provide it");
    }
    eprintln!("SKIPPED: {reason}");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tar_entries(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn tar_file(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == name {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            return out;
        }
    }
    panic!("{name} is not in the archive")
}

#[test]
fn oci_archive_is_a_deterministic_layout_named_as_buildkit_names_it() {
    let f = Fixture::new();
    let first =
        std::fs::read(f.write(&format!("type=oci,dest={}", f.path("a.tar").display()))).unwrap();
    let second =
        std::fs::read(f.write(&format!("type=oci,dest={}", f.path("b.tar").display()))).unwrap();
    assert_eq!(
        first, second,
        "the same image must give the same archive bytes"
    );

    let entries = tar_entries(&first);
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "entries are sorted");
    assert!(entries.contains(&"oci-layout".to_string()));
    for digest in &f.layer_digests {
        let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        assert!(entries.contains(&path), "{path} missing from {entries:?}");
    }
    let index: serde_json::Value = serde_json::from_slice(&tar_file(&first, "index.json")).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], f.manifest.digest().to_string());
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "docker.io/skiff-test/export:v1"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
}

#[test]
fn skopeo_reads_the_oci_archive() {
    let Some(skopeo) = require("skopeo") else {
        return;
    };
    let f = Fixture::new();
    let file = f.write(&format!("type=oci,dest={}", f.path("image.tar").display()));
    let out = run(Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("oci-archive:{}", file.display())));
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["Digest"], f.manifest.digest().to_string());
    assert_eq!(info["Layers"], serde_json::json!(f.layer_digests));
    assert!(
        info["Env"]
            .as_array()
            .unwrap()
            .contains(&"GREETING=hi".into()),
        "{info}"
    );
}

#[test]
fn docker_archive_has_manifest_json_repositories_and_blobs() {
    let f = Fixture::new();
    let bytes =
        std::fs::read(f.write(&format!("type=docker,dest={}", f.path("d.tar").display()))).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&tar_file(&bytes, "manifest.json")).unwrap();
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["skiff-test/export:v1"])
    );
    let layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    // The gzip layer is shipped as stored; the zstd one uncompressed (docker 20.10
    // cannot read zstd), so its content is what the config's diff ID names.
    assert_eq!(sha256(&tar_file(&bytes, &layers[0])), f.layer_digests[0]);
    assert_eq!(sha256(&tar_file(&bytes, &layers[1])), f.diff_ids[1]);
    assert_eq!(layers.len(), 2);
    let config = tar_file(&bytes, manifest[0]["Config"].as_str().unwrap());
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(f.diff_ids));
    let repositories: serde_json::Value =
        serde_json::from_slice(&tar_file(&bytes, "repositories")).unwrap();
    assert!(
        repositories["skiff-test/export"]["v1"].is_string(),
        "{repositories}"
    );
}

#[test]
fn skopeo_reads_the_docker_archive() {
    let Some(skopeo) = require("skopeo") else {
        return;
    };
    let f = Fixture::new();
    let file = f.write(&format!(
        "type=docker,dest={}",
        f.path("image.tar").display()
    ));
    let source = format!("docker-archive:{}", file.display());
    let config = run(Command::new(&skopeo)
        .args(["inspect", "--config"])
        .arg(&source));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(f.diff_ids));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    // A full copy reads every layer and checks it against the config's diff IDs.
    let copy = f.path("copied");
    run(Command::new(&skopeo)
        .arg("copy")
        .arg(&source)
        .arg(format!("oci:{}", copy.display())));
}

/// podman with private storage and a containers.conf that works on this machine.
struct Podman {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    fn new(bin: PathBuf) -> Podman {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [engine]\nruntime = \"runc\"\nevents_logger = \"none\"\ncgroup_manager = \"cgroupfs\"\n",
        )
        .unwrap();
        Podman { bin, dir }
    }

    fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(&self.bin);
        cmd.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs"]);
        cmd
    }
}

#[test]
fn podman_loads_both_archives() {
    let Some(bin) = require("podman") else { return };
    let f = Fixture::new();
    for kind in ["oci", "docker"] {
        let podman = Podman::new(bin.clone());
        let file = f.write(&format!(
            "type={kind},dest={}",
            f.path(&format!("{kind}.tar")).display()
        ));
        let out = run(podman.cmd().arg("load").arg("-i").arg(&file));
        assert!(
            out.contains("Loaded image"),
            "podman load of the {kind} archive: {out}"
        );
        let config = run(podman
            .cmd()
            .args(["image", "inspect", "--format", "{{json .Config.Env}}"])
            .arg(out.trim().rsplit(' ').next().unwrap()));
        assert!(config.contains("GREETING=hi"), "{kind}: {config}");
    }
}

/// A private dockerd 20.10, stopped (and its state removed) on drop.
struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    fn start(bin: &Path) -> Option<Dockerd> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new(bin)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if daemon
                .cmd()
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return Some(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                skip(&format!(
                    "dockerd exited ({status}): {}",
                    std::fs::read_to_string(daemon.dir.path().join("dockerd.log"))
                        .unwrap_or_default()
                ));
                return None;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        skip("dockerd did not come up within 60 s");
        None
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("/usr/bin/docker");
        cmd.env(
            "DOCKER_HOST",
            format!("unix://{}", self.dir.path().join("docker.sock").display()),
        );
        cmd
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Mounts under the data root are gone with the daemon; remove what is left.
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path().join("exec"))
            .output();
    }
}

#[test]
fn docker_loads_and_runs_the_docker_archive() {
    let Some(dockerd) = require("dockerd") else {
        return;
    };
    if !Path::new("/usr/bin/docker").is_file() {
        skip("the docker 20.10 client /usr/bin/docker is not installed");
        return;
    }
    if !rustix::process::geteuid().is_root() {
        skip("starting dockerd needs root");
        return;
    }
    let f = Fixture::new();
    let file = f.write(&format!(
        "type=docker,dest={}",
        f.path("image.tar").display()
    ));
    let Some(daemon) = Dockerd::start(&dockerd) else {
        return;
    };
    let out = run(daemon.cmd().arg("load").arg("-i").arg(&file));
    assert!(out.contains("Loaded image: skiff-test/export:v1"), "{out}");
    let out = run(daemon.cmd().args([
        "run", "--rm", "--network", "none", "skiff-test/export:v1", "sh", "-c",
        "cat /etc/hello.txt /etc/second.txt && test ! -e /etc/remove-me && test -x /usr/bin/run.sh && echo $GREETING",
    ]));
    assert_eq!(out, format!("{HELLO}{SECOND}hi\n"));
}

/// Path → (kind, mode, content or link target) for comparing trees.
type Tree = BTreeMap<String, (char, u32, Vec<u8>)>;

fn dir_tree(root: &Path) -> Tree {
    fn walk(root: &Path, rel: &str, out: &mut Tree) {
        let mut names: Vec<_> = std::fs::read_dir(root.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            let rel = if rel.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel.clone(), ('d', mode, Vec::new()));
                walk(root, &rel, out);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, ('l', 0, target.to_string_lossy().as_bytes().to_vec()));
            } else {
                out.insert(rel, ('f', mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(root, "", &mut out);
    out
}

fn tar_tree(bytes: &[u8]) -> Tree {
    let mut out = Tree::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let mode = entry.header().mode().unwrap() & 0o7777;
        let value = match entry.header().entry_type() {
            tar::EntryType::Directory => ('d', mode, Vec::new()),
            tar::EntryType::Symlink => (
                'l',
                0,
                entry
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .as_bytes()
                    .to_vec(),
            ),
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                ('f', mode, data)
            }
            other => panic!("unexpected {other:?} entry {path}"),
        };
        out.insert(path, value);
    }
    out
}

#[test]
fn local_and_tar_outputs_hold_the_same_flattened_rootfs() {
    let f = Fixture::new();
    let dir = f.write(&format!("type=local,dest={}", f.path("rootfs").display()));
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/hello.txt")).unwrap(),
        HELLO
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/second.txt")).unwrap(),
        SECOND
    );
    assert!(
        !dir.join("etc/remove-me").exists(),
        "the whiteout in layer 2 removes it"
    );
    assert!(
        !dir.join("etc/.wh.remove-me").exists(),
        "whiteouts are not files"
    );
    let script = std::fs::metadata(dir.join("usr/bin/run.sh")).unwrap();
    assert_eq!(script.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(dir.join("hello")).unwrap(),
        Path::new("etc/hello.txt")
    );
    assert_eq!(
        std::fs::read_link(dir.join("bin/cat")).unwrap(),
        Path::new("busybox")
    );

    // Into a directory that does not exist yet: it is created.
    let tar_path = f.path("new/dir/rootfs.tar");
    let tar = std::fs::read(f.write(&format!("type=tar,dest={}", tar_path.display()))).unwrap();
    assert_eq!(tar_tree(&tar), dir_tree(&dir));
    let left: Vec<_> = std::fs::read_dir(tar_path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["rootfs.tar"], "scratch files left behind");
}

#[test]
fn a_failed_export_leaves_no_file_behind() {
    let f = Fixture::new();
    // Layer 0 is streamed into both archives while they are written, so the
    // failure happens with the temp file already open.
    std::fs::remove_file(f.store.blob_path(&f.layer_digests[0].parse().unwrap())).unwrap();
    let dest = f.path("out");
    std::fs::create_dir(&dest).unwrap();
    for kind in ["oci", "docker"] {
        let output =
            Output::parse(&format!("type={kind},dest={}/image.tar", dest.display())).unwrap();
        let err = export::write(&f.store, &f.manifest, &output).unwrap_err();
        assert!(
            format!("{err:#}").contains("missing from the store"),
            "{err:#}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(&dest).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_oci_archive_imports_back_to_the_same_manifest() {
    let f = Fixture::new();
    let bytes = std::fs::read(f.write(&format!("type=oci,dest={}", f.path("image.tar").display())))
        .unwrap();
    let layout = f.path("layout");
    tar::Archive::new(bytes.as_slice()).unpack(&layout).unwrap();
    for tag in [None, Some("v1"), Some("docker.io/skiff-test/export:v1")] {
        let other = Store::open(f.path(&format!(
            "other-{}",
            tag.unwrap_or("none").replace('/', "_")
        )))
        .unwrap();
        let desc = skiff_image::import::oci_layout(&other, &layout, tag).unwrap();
        assert_eq!(desc.digest(), f.manifest.digest(), "tag {tag:?}");
        assert!(other.has_blob(f.manifest.digest()));
        for layer in &f.layer_digests {
            assert!(other.has_blob(&layer.parse().unwrap()));
        }
    }
    let other = Store::open(f.path("other-missing")).unwrap();
    let err = skiff_image::import::oci_layout(&other, &layout, Some("v2")).unwrap_err();
    assert!(format!("{err:#}").contains("it has: v1"), "{err:#}");
}

#[test]
fn the_image_output_names_the_image_in_the_store_normalised() {
    let f = Fixture::new();
    let output = Output::parse("type=image,\"name=app,localhost:5000/x/app:2\"").unwrap();
    export::write(&f.store, &f.manifest, &output).unwrap();
    for name in ["docker.io/library/app:latest", "localhost:5000/x/app:2"] {
        let found = f
            .store
            .resolve(name)
            .unwrap()
            .unwrap_or_else(|| panic!("{name} is not in the store"));
        assert_eq!(found.digest(), f.manifest.digest());
    }
}

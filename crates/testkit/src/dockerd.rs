//! A private Docker daemon (Debian's `docker.io` 20.10, with its built-in BuildKit) for
//! differential tests: the reference builder skiff is compared against.
//!
//! [`Dockerd::start`] runs `/usr/sbin/dockerd` with its data root, exec root, socket, pidfile and
//! config file all inside one temporary directory, without a bridge network and without
//! iptables rules (`--bridge=none --iptables=false`), so that it shares nothing with the other
//! dockerds that may run on the same machine. Builds therefore need `--network host`
//! ([`Dockerd::build`] passes it). On drop the daemon is stopped by its own pid (SIGTERM, then
//! SIGKILL), never by name, and its directory is deleted.
//!
//! The client is `/usr/bin/docker` (20.10, the one that honours `DOCKER_BUILDKIT=1`), not a
//! newer client that may come first on `PATH`.
//!
//! [`Dockerd::built_image`] reads an image back as a [`BuiltImage`]: `docker save` gives a
//! Docker archive (`manifest.json`, `<config>.json`, `<layer>/layer.tar`), converted here into
//! an OCI layout archive with the config blob kept byte for byte.
//!
//! ```no_run
//! let Some(dockerd) = skiff_testkit::dockerd::Dockerd::start_or_skip() else { return };
//! let context = std::path::Path::new("/tmp/ctx");
//! dockerd.build(context, &["--target", "app"], "skiff-test/app").unwrap();
//! let image = dockerd.built_image("skiff-test/app").unwrap();
//! println!("{}", image.config["config"]["Cmd"]);
//! ```

use crate::layout::{sha256_digest, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST};
use crate::project::BuiltImage;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `docker.io` installs the daemon.
pub const DOCKERD_BIN: &str = "/usr/sbin/dockerd";

/// Debian's 20.10 client. A newer client on `PATH` (`/usr/local/bin/docker`) refuses
/// `DOCKER_BUILDKIT=1` without the buildx plugin, so this one is always used by path.
pub const DOCKER_CLI: &str = "/usr/bin/docker";

/// How long the daemon gets to answer `/_ping` (it starts containerd first; slow on 2 cores).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// How long a SIGTERM'd daemon gets to stop its containerd and unmount before SIGKILL.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A running private dockerd; stopped by pid and its directory deleted on drop.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Starts a daemon in a fresh temporary directory and waits until it answers `/_ping`.
    ///
    /// Fails with the daemon's log when it does not come up; tests that may run where
    /// `docker.io` is not installed call [`Dockerd::start_or_skip`] instead.
    pub fn start() -> Result<Dockerd> {
        // Under /var/tmp: a disk-backed filesystem, which overlay2 needs for its data root.
        let dir = tempfile::Builder::new()
            .prefix("skiff-testkit-dockerd-")
            .tempdir_in("/var/tmp")
            .context("creating the dockerd's temporary directory under /var/tmp")?;
        for sub in ["data", "exec", "client"] {
            std::fs::create_dir(dir.path().join(sub))?;
        }
        // An empty daemon.json, so that the machine's /etc/docker/daemon.json is not read.
        std::fs::write(dir.path().join("daemon.json"), "{}\n")?;
        let log = std::fs::File::create(dir.path().join("dockerd.log"))?;
        let socket = dir.path().join("docker.sock");
        let child = Command::new(DOCKERD_BIN)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("--config-file")
            .arg(dir.path().join("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            // Never touch the shared docker0 bridge nor the host's iptables rules.
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!("running {DOCKERD_BIN} (install it: apt-get install docker.io)")
            })?;
        let mut dockerd = Dockerd { child, dir };
        dockerd.wait_until_ready()?;
        Ok(dockerd)
    }

    /// [`Dockerd::start`] when `docker.io` is installed; `None` (after printing why) when it is
    /// not and we are not in CI. In CI (`CI=true`) a missing daemon or client panics.
    pub fn start_or_skip() -> Option<Dockerd> {
        if !crate::tools::require_tool(DOCKERD_BIN) || !crate::tools::require_tool(DOCKER_CLI) {
            return None;
        }
        Some(Dockerd::start().unwrap_or_else(|e| panic!("starting the private dockerd: {e:#}")))
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "dockerd exited ({status}) before answering on {}: {}",
                    self.socket().display(),
                    self.log()
                );
            }
            if ping(&self.socket()).unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "dockerd did not answer /_ping on {} within {STARTUP_TIMEOUT:?}: {}",
                    self.socket().display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The daemon's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `/usr/bin/docker` pointed at this daemon, with `DOCKER_BUILDKIT=1` and a private client
    /// config directory (so the machine's `~/.docker/config.json` plays no part).
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new(DOCKER_CLI);
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_BUILDKIT", "1")
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `docker ARGS`; fails with its output when it exits non-zero.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let output = self
            .docker()
            .args(args)
            .output()
            .with_context(|| format!("running {DOCKER_CLI}"))?;
        if !output.status.success() {
            bail!(
                "docker {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// `docker build --network host --progress=plain -t TAG ARGS CONTEXT` with BuildKit;
    /// returns the progress log. `--network host` because the daemon has no bridge.
    pub fn build(&self, context: &Path, args: &[&str], tag: &str) -> Result<String> {
        let context = context.to_string_lossy();
        let mut all = vec!["build", "--network", "host", "--progress=plain", "-t", tag];
        all.extend_from_slice(args);
        all.push(&context);
        let output = self.run(&all)?;
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// An image of this daemon (`docker save`), read back as a [`BuiltImage`]: config blob
    /// byte for byte, layers uncompressed, file tree with whiteouts applied.
    pub fn built_image(&self, image: &str) -> Result<BuiltImage> {
        let saved = self.run(&["save", image])?.stdout;
        let oci = docker_archive_to_oci(&saved)
            .with_context(|| format!("converting `docker save {image}` to an OCI layout"))?;
        let file = tempfile::Builder::new()
            .prefix("saved-")
            .suffix(".tar")
            .tempfile_in(self.dir.path())?;
        std::fs::write(file.path(), oci)?;
        BuiltImage::open(file.path())
    }

    /// The daemon's log so far (for error messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// Stops the daemon: SIGTERM to its pid, SIGKILL when it has not exited in time; then its
    /// containerd by the pid it recorded, should it have outlived the daemon.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let containerd_pid = self.dir.path().join("exec/containerd/containerd.pid");
        if let Ok(pid) = std::fs::read_to_string(containerd_pid) {
            let pid = pid.trim();
            if !pid.is_empty() && Path::new("/proc").join(pid).exists() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the daemon at `socket` answers `GET /_ping` with 200.
fn ping(socket: &Path) -> Result<bool> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head)?;
    Ok(head[..n].starts_with(b"HTTP/1.0 200") || head[..n].starts_with(b"HTTP/1.1 200"))
}

/// Converts a `docker save` archive holding one image into an OCI image layout archive.
///
/// The config blob is the archive's `<id>.json` unchanged; each `layer.tar` becomes an
/// uncompressed layer blob (its digest is the diff_id). `docker save` writes a layer seen twice
/// as a symlink to the first copy, which is followed here.
pub fn docker_archive_to_oci(archive: &[u8]) -> Result<Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        match entry.header().entry_type() {
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                files.insert(path, data);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .context("a symlink without a target")?
                    .to_string_lossy()
                    .into_owned();
                links.insert(path, target);
            }
            _ => {}
        }
    }
    let read = |path: &str| -> Result<&Vec<u8>> {
        if let Some(data) = files.get(path) {
            return Ok(data);
        }
        let target = links
            .get(path)
            .with_context(|| format!("the archive has no {path}"))?;
        // Targets are relative to the link's directory (`../<id>/layer.tar`).
        let base = Path::new(path).parent().unwrap_or(Path::new(""));
        let resolved = normalize_relative(&base.join(target));
        files
            .get(&resolved)
            .with_context(|| format!("{path} links to {resolved}, which the archive lacks"))
    };
    let manifest: Value = serde_json::from_slice(read("manifest.json")?)?;
    let images = manifest.as_array().context("manifest.json is not a list")?;
    if images.len() != 1 {
        bail!("expected one image in the archive, found {}", images.len());
    }
    let config_name = images[0]["Config"]
        .as_str()
        .context("manifest.json names no Config")?;
    let config = read(config_name)?.clone();
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut layers = Vec::new();
    for layer in images[0]["Layers"].as_array().cloned().unwrap_or_default() {
        let data = read(
            layer
                .as_str()
                .context("a layer path that is not a string")?,
        )?
        .clone();
        let digest = sha256_digest(&data);
        layers
            .push(json!({"mediaType": MEDIA_TYPE_LAYER_TAR, "digest": digest, "size": data.len()}));
        blobs.push((digest, data));
    }
    let config_digest = sha256_digest(&config);
    let oci_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": layers,
    }))?;
    let manifest_digest = sha256_digest(&oci_manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MEDIA_TYPE_MANIFEST,
            "digest": manifest_digest,
            "size": oci_manifest.len(),
        }],
    }))?;
    blobs.push((config_digest, config));
    blobs.push((manifest_digest, oci_manifest));
    let mut out = tar::Builder::new(Vec::new());
    let mut append = |path: &str, data: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        out.append_data(&mut header, path, data)?;
        Ok(())
    };
    append("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    append("index.json", &index)?;
    for (digest, data) in &blobs {
        let hex = digest.trim_start_matches("sha256:");
        append(&format!("blobs/sha256/{hex}"), data)?;
    }
    Ok(out.into_inner()?)
}

/// `a/../b/layer.tar` → `b/layer.tar` (no filesystem access).
fn normalize_relative(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One member of a hand-made `docker save` archive.
    enum Member<'a> {
        File(&'a str, &'a [u8]),
        Symlink(&'a str, &'a str),
    }

    fn docker_archive(members: &[Member]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for member in members {
            let mut h = tar::Header::new_gnu();
            match member {
                Member::File(path, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, path, *data).unwrap();
                }
                Member::Symlink(path, target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    b.append_link(&mut h, path, target).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_saved_image_with_a_repeated_layer_reads_back_with_its_config_unchanged() {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let mut layer = tar::Builder::new(Vec::new());
        layer.append_data(&mut h, "hello", &b"hi\n"[..]).unwrap();
        let layer = layer.into_inner().unwrap();
        let config = br#"{"architecture":"amd64","config":{"Cmd":["sh"]},"os":"linux"}"#;
        let manifest = br#"[{"Config":"cfg.json","RepoTags":["x:latest"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;
        let archive = docker_archive(&[
            Member::File("a/layer.tar", &layer),
            Member::Symlink("b/layer.tar", "../a/layer.tar"),
            Member::File("cfg.json", config),
            Member::File("manifest.json", manifest),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oci.tar");
        std::fs::write(&path, docker_archive_to_oci(&archive).unwrap()).unwrap();
        let image = BuiltImage::open(&path).unwrap();
        assert_eq!(image.blobs[&sha256_digest(config)], config.to_vec());
        assert_eq!(image.layers.len(), 2);
        assert_eq!(image.fs.read("/hello"), b"hi\n");
        assert_eq!(image.runtime_config()["Cmd"], json!(["sh"]));
    }

    #[test]
    fn an_archive_with_two_images_is_refused() {
        let manifest = br#"[{"Config":"c","Layers":[]},{"Config":"c","Layers":[]}]"#;
        let archive = docker_archive(&[Member::File("manifest.json", manifest)]);
        let err = docker_archive_to_oci(&archive).unwrap_err();
        assert!(err.to_string().contains("expected one image"), "{err}");
    }

    #[test]
    fn a_started_daemon_uses_its_own_directories_and_leaves_nothing_behind() {
        let Some(dockerd) = Dockerd::start_or_skip() else {
            return;
        };
        let dir = dockerd.dir.path().to_path_buf();
        let pid = dockerd.child.id();
        let info = dockerd
            .run(&["info", "--format", "{{.DockerRootDir}}"])
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&info.stdout).trim(),
            dir.join("data").display().to_string()
        );
        let containerd = std::fs::read_to_string(dir.join("exec/containerd/containerd.pid"))
            .expect("the daemon's own containerd records its pid in the exec root");
        drop(dockerd);
        for pid in [pid.to_string(), containerd.trim().to_string()] {
            assert!(
                !Path::new("/proc").join(&pid).exists(),
                "process {pid} outlived the fixture"
            );
        }
        assert!(!dir.exists(), "{} was not deleted", dir.display());
    }
}

//! A throwaway local registry: Debian's `docker-registry` (CNCF distribution 2.8) on
//! 127.0.0.1 with a free port and a temporary storage directory, stopped when dropped.
//!
//! Every test that pulls or pushes talks to one of these, so tests never need the internet
//! and never share registry state.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the distribution registry.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How long the registry gets to answer `/v2/` after it is started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// How many times a start is retried when another process grabbed the chosen port first.
const START_ATTEMPTS: usize = 3;

/// The user [`Registry::start_with_basic_auth`] accepts.
pub const BASIC_AUTH_USER: &str = "testkit";
/// That user's password.
pub const BASIC_AUTH_PASSWORD: &str = "testkit-password";
/// `BASIC_AUTH_USER:bcrypt(BASIC_AUTH_PASSWORD)` (cost 4, so that tests stay fast): the htpasswd file.
const HTPASSWD: &str = "testkit:$2b$04$f7814U2jQvaqxCNA395siOK2KOYLIUaryZRlQmfdUdMTrgbzBBwkq\n";

/// A running local registry. Stops (kills the process) and deletes its storage on drop.
pub struct Registry {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    basic_auth: bool,
}

impl Registry {
    /// Starts a registry on `127.0.0.1:<free port>` and waits until `GET /v2/` answers.
    ///
    /// Fails with the registry's own log when it cannot start; tests that may run on a
    /// machine without the binary call [`Registry::start_or_skip`] instead.
    pub fn start() -> Result<Registry> {
        Self::start_with(false)
    }

    /// [`Registry::start`], but every request needs HTTP basic auth as
    /// [`BASIC_AUTH_USER`] / [`BASIC_AUTH_PASSWORD`] (an htpasswd realm).
    pub fn start_with_basic_auth() -> Result<Registry> {
        Self::start_with(true)
    }

    fn start_with(basic_auth: bool) -> Result<Registry> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(basic_auth) {
                Ok(registry) => return Ok(registry),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// [`Registry::start`] when `docker-registry` is installed; `None` (after printing why)
    /// when it is not and we are not in CI. In CI (`CI=true`) a missing registry panics.
    pub fn start_or_skip() -> Option<Registry> {
        if !crate::tools::require_tool(REGISTRY_BIN) {
            return None;
        }
        Some(Registry::start().unwrap_or_else(|e| panic!("starting the test registry: {e:#}")))
    }

    fn start_once(basic_auth: bool) -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-testkit-registry-")
            .tempdir()
            .context("creating the registry's temporary directory")?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage)?;
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            storage.display()
        );
        if basic_auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, HTPASSWD)?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, yaml)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!("running {REGISTRY_BIN} (install it: apt-get install docker-registry)")
            })?;
        let mut registry = Registry {
            child,
            addr,
            dir,
            basic_auth,
        };
        registry.wait_until_ready()?;
        Ok(registry)
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the registry exited ({status}) before answering on {}: {}",
                    self.addr,
                    self.log()
                );
            }
            // 401 is a ready registry that wants credentials.
            if request_status(&self.addr, "GET", "/v2/").is_ok_and(|s| s == 200 || s == 401) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the registry did not answer GET /v2/ on {} within {STARTUP_TIMEOUT:?}: {}",
                    self.addr,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`: the registry part of image references that point here.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `ADDR/repo:tag` for a `repo:tag` (or `repo@digest`) in this registry.
    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("{}/{repository_and_tag}", self.addr)
    }

    /// The registry's storage directory (distribution's filesystem driver layout).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The file holding a blob's bytes in the registry's storage. Tests overwrite it to make
    /// the registry serve content that does not match its digest.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Whether the registry holds the blob (anywhere, in any repository).
    pub fn has_blob_data(&self, digest: &str) -> bool {
        self.blob_data_path(digest).exists()
    }

    /// `user:password` when the registry wants basic auth (for tools like skopeo's `--creds`).
    pub fn credentials(&self) -> Option<String> {
        self.basic_auth
            .then(|| format!("{BASIC_AUTH_USER}:{BASIC_AUTH_PASSWORD}"))
    }

    /// The registry's log so far (for error messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Sends `GET path` (or `HEAD`) and returns the HTTP status code.
    pub fn status(&self, method: &str, path: &str) -> Result<u16> {
        request_status(&self.addr, method, path)
    }

    /// The registry's temporary directory (config, log, storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the kernel's choice for an ephemeral bind).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Every manifest type, so that manifest probes find OCI and Docker manifests and indexes.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A minimal HTTP/1.0 request: enough to probe a registry without an HTTP client dependency.
fn request_status(addr: &str, method: &str, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {MANIFEST_TYPES}\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP response from {addr}: {line:?}"))?;
    Ok(code)
}

//! Running a built image for real: runc on a root filesystem exported by `skiff build
//! -o type=local`, with the process taken from the image config (exported with `-o type=oci`).
//!
//! The seed story is not done until the image *runs*: the `FROM scratch` server answers on
//! 127.0.0.1, the production image drops root as its `USER` says. [`write_bundle`] turns an
//! image config into an OCI runtime bundle the way a container engine would: `Entrypoint` +
//! `Cmd` as the process, `Env`, `WorkingDir`, and `User` resolved against the image's own
//! `/etc/passwd` and `/etc/group`. The container shares the host's network namespace (so the
//! server is reachable on 127.0.0.1) and gets a read-only root. [`Container`] runs one in the
//! background and deletes it on drop; [`run_to_completion`] runs one in the foreground.
//!
//! ```no_run
//! # use std::path::Path;
//! # let (rootfs, config) = (Path::new("/tmp/rootfs"), skiff_testkit::serde_json::json!({}));
//! use skiff_testkit::container::{Container, Process};
//! let process = Process::from_image(rootfs, &config["config"]).unwrap().env("PORT", "18080");
//! let server = Container::start(rootfs, &process).unwrap();
//! ```

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The process a container runs: what an engine derives from the image config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// argv (`Entrypoint` followed by `Cmd`, unless overridden).
    pub args: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// The working directory (`WorkingDir`, default `/`).
    pub cwd: String,
    /// The numeric user.
    pub uid: u32,
    /// The numeric primary group.
    pub gid: u32,
}

impl Process {
    /// The process `image_config` (an OCI config's `config` object) describes, with the
    /// `User` looked up in `rootfs`'s `/etc/passwd` and `/etc/group` as runtimes do.
    pub fn from_image(rootfs: &Path, image_config: &Value) -> Result<Process> {
        let strings = |key: &str| -> Vec<String> {
            image_config[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut args = strings("Entrypoint");
        args.extend(strings("Cmd"));
        let cwd = image_config["WorkingDir"]
            .as_str()
            .filter(|d| !d.is_empty())
            .unwrap_or("/")
            .to_string();
        let user = image_config["User"].as_str().unwrap_or("");
        let (uid, gid) = resolve_user(rootfs, user)?;
        Ok(Process {
            args,
            env: strings("Env"),
            cwd,
            uid,
            gid,
        })
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Process {
        let prefix = format!("{key}=");
        self.env.retain(|kv| !kv.starts_with(&prefix));
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Replaces the argv (as `docker run IMAGE ARGS…` replaces `Cmd`).
    pub fn args(mut self, args: &[&str]) -> Process {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// `USER` → (uid, gid): `""` is root; `name`, `uid`, `name:group`, `uid:gid` are resolved
/// with `rootfs/etc/passwd` and `rootfs/etc/group` (a numeric uid absent from passwd gets gid 0).
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32)> {
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (user, group) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    // name:x:uid:gid:…
    let entry = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let (name, uid, gid) = (fields.first()?, fields.get(2)?, fields.get(3)?);
        (*name == user || *uid == user).then(|| (uid.parse::<u32>().ok(), gid.parse::<u32>().ok()))
    });
    let (uid, primary_gid) = match (entry, user.parse::<u32>()) {
        (Some((Some(uid), Some(gid))), _) => (uid, gid),
        (_, Ok(uid)) => (uid, 0),
        _ => bail!(
            "user {user:?} is not in {}/etc/passwd: the image's USER names an unknown user",
            rootfs.display()
        ),
    };
    let gid = match group {
        None => primary_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
                groups
                    .lines()
                    .find_map(|line| {
                        let fields: Vec<&str> = line.split(':').collect();
                        (fields.first() == Some(&group))
                            .then(|| fields.get(2).and_then(|g| g.parse().ok()))
                            .flatten()
                    })
                    .ok_or_else(|| {
                        anyhow!("group {group:?} is not in {}/etc/group", rootfs.display())
                    })?
            }
        },
    };
    Ok((uid, gid))
}

/// Writes `bundle/config.json`: `runc spec`'s defaults, with `process` and a read-only root
/// at `rootfs`, and without a network namespace (the host's loopback is the container's).
pub fn write_bundle(bundle: &Path, rootfs: &Path, process: &Process) -> Result<()> {
    std::fs::create_dir_all(bundle).with_context(|| format!("creating {}", bundle.display()))?;
    let config_path = bundle.join("config.json");
    let _ = std::fs::remove_file(&config_path);
    let spec = Command::new("runc")
        .arg("spec")
        .arg("--bundle")
        .arg(bundle)
        .output()
        .context("running `runc spec` (apt-get install runc)")?;
    if !spec.status.success() {
        bail!(
            "runc spec failed: {}",
            String::from_utf8_lossy(&spec.stderr).trim()
        );
    }
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path)?)
        .context("reading the config.json runc spec wrote")?;
    let rootfs = std::path::absolute(rootfs)?;
    config["root"] = json!({"path": rootfs, "readonly": true});
    let p = &mut config["process"];
    p["terminal"] = json!(false);
    p["args"] = json!(process.args);
    p["env"] = json!(process.env);
    p["cwd"] = json!(process.cwd);
    p["user"] = json!({"uid": process.uid, "gid": process.gid});
    if let Some(namespaces) = config["linux"]["namespaces"].as_array_mut() {
        namespaces.retain(|n| n["type"] != "network");
    }
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", config_path.display()))
}

/// A container unique to this process: `skiff-testkit-PID-N`.
fn container_id() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "skiff-testkit-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container running in the background (`runc run -d`); `runc delete -f` on drop.
pub struct Container {
    id: String,
    bundle: tempfile::TempDir,
}

impl Container {
    /// Starts `process` on `rootfs` (left unchanged: the root is mounted read-only).
    /// Its output goes to a log file, see [`Container::log`].
    pub fn start(rootfs: &Path, process: &Process) -> Result<Container> {
        let bundle = tempfile::Builder::new()
            .prefix("skiff-testkit-bundle-")
            .tempdir()?;
        write_bundle(bundle.path(), rootfs, process)?;
        let id = container_id();
        let log = std::fs::File::create(bundle.path().join("output.log"))?;
        // Detached: the container keeps runc's stdio, so give it a file, never a pipe we
        // would wait on.
        let status = Command::new("runc")
            .args(["run", "--detach", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .context("running runc (apt-get install runc)")?;
        let container = Container { id, bundle };
        if !status.success() {
            bail!("runc run failed ({status}):\n{}", container.log());
        }
        Ok(container)
    }

    /// Everything the container (and runc) printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.bundle.path().join("output.log")).unwrap_or_default()
    }

    /// The runc container id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `process` on `rootfs` in the foreground and returns its exit status and output.
pub fn run_to_completion(rootfs: &Path, process: &Process) -> Result<Output> {
    let bundle = tempfile::Builder::new()
        .prefix("skiff-testkit-bundle-")
        .tempdir()?;
    write_bundle(bundle.path(), rootfs, process)?;
    let id = container_id();
    let output = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .context("running runc (apt-get install runc)");
    let _ = Command::new("runc")
        .args(["delete", "--force", &id])
        .stderr(Stdio::null())
        .status();
    output
}

/// `GET path` on `127.0.0.1:port` over HTTP/1.0, retried for up to 10 s until something
/// listens; the whole response (status line, headers, body).
pub fn http_get(port: u16, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut stream) => {
                write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
                let mut response = String::new();
                stream.read_to_string(&mut response)?;
                return Ok(response);
            }
            Err(e) if std::time::Instant::now() > deadline => {
                bail!("nothing listens on 127.0.0.1:{port} after 10 s: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nappuser:x:999:998::/home/appuser:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nappgroup:x:998:\n").unwrap();
        dir
    }

    #[test]
    fn users_resolve_by_name_number_and_group() {
        let dir = rootfs();
        let r = |u: &str| resolve_user(dir.path(), u).unwrap();
        assert_eq!(r(""), (0, 0));
        assert_eq!(r("appuser"), (999, 998));
        assert_eq!(r("999"), (999, 998));
        assert_eq!(r("appuser:root"), (999, 0));
        assert_eq!(r("1234:55"), (1234, 55));
        assert_eq!(r("1234"), (1234, 0));
        assert!(resolve_user(dir.path(), "nobody").is_err());
        assert!(resolve_user(dir.path(), "appuser:nogroup").is_err());
    }

    #[test]
    fn process_comes_from_the_image_config() {
        let dir = rootfs();
        let config = json!({
            "User": "appuser",
            "Env": ["PATH=/bin", "PORT=1"],
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["./app"],
            "WorkingDir": "/home/appuser",
        });
        let p = Process::from_image(dir.path(), &config)
            .unwrap()
            .env("PORT", "8080");
        assert_eq!(p.args, ["/bin/sh", "-c", "./app"]);
        assert_eq!(p.env, ["PATH=/bin", "PORT=8080"]);
        assert_eq!((p.cwd.as_str(), p.uid, p.gid), ("/home/appuser", 999, 998));
        let bare = Process::from_image(dir.path(), &json!({"Cmd": ["/server"]})).unwrap();
        assert_eq!((bare.cwd.as_str(), bare.uid), ("/", 0));
    }
}

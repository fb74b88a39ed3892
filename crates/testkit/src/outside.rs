//! A server standing for the outside world, for tests of RUN's network: an HTTP server in a
//! network namespace of its own, joined to the host by a veth pair with addresses of a /30 in
//! 10.213.0.0/16. Traffic to it never leaves the machine: it goes from the host's end of the
//! pair to the namespace's. Everything goes when it is dropped: the server is killed by pid,
//! and the namespace (and with it the veth pair) ends with its holder process.
//!
//! Needs root, `ip` (iproute2), `unshare` and `nsenter` (util-linux) and busybox's `httpd`.

use crate::busybox::BUSYBOX_BIN;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The HTTP port the server listens on.
pub const OUTSIDE_PORT: u16 = 8080;

/// The body the server answers `GET /` with.
pub const OUTSIDE_BODY: &str = "hello from outside\n";

/// The running outside server; stopped on drop.
pub struct OutsideServer {
    /// The server's address (inside its namespace).
    pub ip: Ipv4Addr,
    holder: Child,
    server: Option<Child>,
    _docroot: tempfile::TempDir,
}

impl OutsideServer {
    /// Starts the namespace, the veth pair and the server, and waits until it answers.
    pub fn start() -> Result<OutsideServer> {
        let mut holder = Command::new("unshare")
            .args(["--net", "--", "/bin/sh", "-c", "echo; read -r _"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting unshare --net")?;
        let mut line = [0u8; 1];
        let ready = holder.stdout.as_mut().map(|o| o.read(&mut line));
        if !matches!(ready, Some(Ok(1))) {
            let _ = holder.kill();
            let _ = holder.wait();
            bail!("unshare --net failed (root is needed)");
        }
        let pid = holder.id();
        // A /30 picked from the holder's pid: two tests at once get different ones.
        let (a, b) = (((pid >> 6) & 0xff) as u8, ((pid & 0x3f) * 4) as u8);
        let host_ip = Ipv4Addr::new(10, 213, a, b + 1);
        let ip = Ipv4Addr::new(10, 213, a, b + 2);
        let docroot = tempfile::tempdir()?;
        std::fs::write(docroot.path().join("index.html"), OUTSIDE_BODY)?;
        let mut outside = OutsideServer {
            ip,
            holder,
            server: None,
            _docroot: docroot,
        };
        let (host_end, inner_end) = (format!("sko{pid}"), format!("ski{pid}"));
        let netns = format!("--net=/proc/{pid}/ns/net");
        run(Command::new("ip")
            .args(["link", "add", &host_end, "type", "veth", "peer", "name"])
            .args([&inner_end, "netns", &pid.to_string()]))?;
        run(Command::new("ip").args(["addr", "add", &format!("{host_ip}/30"), "dev", &host_end]))?;
        run(Command::new("ip").args(["link", "set", &host_end, "up"]))?;
        let inside = format!(
            "ip addr add {ip}/30 dev {inner_end} && ip link set {inner_end} up && ip link set lo up"
        );
        run(Command::new("nsenter").args([&netns, "--", "/bin/sh", "-c", &inside]))?;
        let server = Command::new("nsenter")
            .args([&netns, "--", BUSYBOX_BIN, "httpd", "-f"])
            .arg("-p")
            .arg(format!("{ip}:{OUTSIDE_PORT}"))
            .arg("-h")
            .arg(outside._docroot.path())
            .stdin(Stdio::null())
            .spawn()
            .context("starting busybox httpd")?;
        outside.server = Some(server);
        outside.wait_until_it_answers()?;
        Ok(outside)
    }

    /// `http://IP:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}:{OUTSIDE_PORT}/", self.ip)
    }

    fn wait_until_it_answers(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let addr = (self.ip, OUTSIDE_PORT).into();
        while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
            .is_err()
        {
            if std::time::Instant::now() > deadline {
                bail!("the outside server at {addr} never answered");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for OutsideServer {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        // End-of-file on the holder's stdin: it exits, and the namespace with the veth pair
        // goes with it.
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

fn run(command: &mut Command) -> Result<()> {
    let out = command.output().with_context(|| format!("{command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether this machine can host an [`OutsideServer`]: root, `ip`, `unshare`, `nsenter`.
pub fn outside_possible() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(str::to_owned)
        })
        .is_some_and(|uids| uids.split_whitespace().next() == Some("0"));
    root && ["ip", "unshare", "nsenter"]
        .iter()
        .all(|t| crate::tools::require_tool(t))
        && Path::new(BUSYBOX_BIN).exists()
}

/// What [`loopback_server`] answers.
pub const HOST_BODY: &str = "hello from the host's loopback\n";

/// An HTTP server on the host's 127.0.0.1 answering every request with [`HOST_BODY`] (a
/// service of the host a RUN step must not reach by default); its port. It serves until the
/// test process ends.
pub fn loopback_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{HOST_BODY}",
                HOST_BODY.len()
            );
        }
    });
    port
}

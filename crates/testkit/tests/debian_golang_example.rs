//! The golang rootfs builds the seed story's example offline with Go 1.19, and the binary
//! it makes serves `/` and `/healthz`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use skiff_testkit::debian::{self, DebianBase};

/// A scratch directory removed when the test ends, pass or fail.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) {
    skiff_testkit::command::output_ok(cmd);
}

/// Copies the example's files (it has no subdirectories) into `dest`.
fn copy_example(dest: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/go-server");
    std::fs::create_dir_all(dest).expect("creating the source dir");
    for entry in std::fs::read_dir(&example).expect("listing examples/go-server") {
        let entry = entry.expect("example entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copying the example");
        }
    }
}

/// `GET path` over plain HTTP/1.0, retried until the server listens; returns the response.
fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut stream) => {
                write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
                let mut response = String::new();
                stream.read_to_string(&mut response).expect("response");
                return response;
            }
            Err(e) if Instant::now() > deadline => panic!("the server never listened: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn golang_rootfs_builds_the_example_offline_and_the_server_answers() {
    let test = "golang_rootfs_builds_the_example_offline_and_the_server_answers";
    if !debian::can_build_or_skip(test) {
        return;
    }
    let tar = debian::golang_rootfs_tar();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("skiff-{test}-{}", std::process::id())));
    let rootfs = scratch.0.join("rootfs");
    std::fs::create_dir_all(&rootfs).expect("creating the rootfs dir");
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&rootfs));
    copy_example(&rootfs.join("src"));

    // The image's own environment, no network, its own /proc, and /dev from the host (the
    // tarball has none: runtimes provide it): as a RUN step would see it.
    let config = debian::image_config_for(DebianBase::Golang);
    let mut build = Command::new("unshare");
    build
        .args(["--net", "--mount", "--pid", "--fork"])
        .arg(format!("--mount-proc={}", rootfs.join("proc").display()))
        .args([
            "sh",
            "-c",
            r#"mount --bind /dev "$0/dev" && exec chroot "$0" "$@""#,
        ])
        .arg(&rootfs)
        .args(["/usr/bin/env", "-i", "HOME=/root"])
        .args(config.env.iter().map(|(k, v)| format!("{k}={v}")))
        .args([
            "sh",
            "-c",
            "cd /src && go mod download && CGO_ENABLED=0 go build -o /out/server .",
        ]);
    run(&mut build);

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let _server = Server(
        Command::new(rootfs.join("out/server"))
            .env("PORT", port.to_string())
            .spawn()
            .expect("starting the built server"),
    );
    let root = http_get(port, "/");
    assert!(root.starts_with("HTTP/1.0 200"), "GET / answered {root}");
    assert!(
        root.ends_with("\r\n\r\nhello from skiff\n"),
        "GET / answered {root}"
    );
    let health = http_get(port, "/healthz");
    assert!(
        health.contains(r#"{"status":"ok","uid":0,"gid":0}"#),
        "GET /healthz (as root) answered {health}"
    );
}

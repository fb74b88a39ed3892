//! ADD through `skiff build`, checked inside the built image: local archives (plain tar,
//! gzip, bzip2, xz, zstd) extracted, other files copied; URLs downloaded from a tiny HTTP
//! server on 127.0.0.1 started here (BuildKit's rules: the file named after the URL, mode
//! 0600, mtime from `Last-Modified`, never extracted, `--checksum` verified); git
//! repositories served by the same server (git's "dumb" HTTP protocol), checked out at a
//! tag, a branch or HEAD, with `.git` only under `--keep-git-dir`, and by `git daemon` (the
//! git protocol, shallow fetches) at a branch or a commit id.

use skiff_testkit::command::run_ok;
use skiff_testkit::project::{BuiltImage, Kind, Project};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// `Last-Modified` the server sends, and the same instant in Unix seconds.
const LAST_MODIFIED: &str = "Tue, 15 Nov 1994 08:12:31 GMT";
const LAST_MODIFIED_SECS: u64 = 784887151;

/// A minimal HTTP/1.1 file server on 127.0.0.1 for this test process: in-memory files
/// first, then files under an optional directory (for git's dumb protocol).
struct Server {
    port: u16,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Server {
    fn start(dir: Option<PathBuf>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let shared = files.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let files = shared.clone();
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &files, dir.as_deref());
                });
            }
        });
        Server { port, files }
    }

    fn put(&self, path: &str, data: impl Into<Vec<u8>>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), data.into());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn serve(
    stream: std::net::TcpStream,
    files: &Mutex<HashMap<String, Vec<u8>>>,
    dir: Option<&Path>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
        }
        let mut words = request.split_whitespace();
        let method = words.next().unwrap_or_default().to_string();
        let path = words.next().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_string();
        let body = files.lock().unwrap().get(&path).cloned().or_else(|| {
            let dir = dir?;
            let rel = path.trim_start_matches('/');
            if rel.split('/').any(|c| c == "..") {
                return None;
            }
            std::fs::read(dir.join(rel))
                .ok()
                .filter(|_| dir.join(rel).is_file())
        });
        match body {
            Some(body) => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: {LAST_MODIFIED}\r\nContent-Type: application/octet-stream\r\n\r\n",
                    body.len()
                )?;
                if method != "HEAD" {
                    stream.write_all(&body)?;
                }
            }
            None => write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            )?,
        }
        stream.flush()?;
    }
}

/// A child process killed (by its own pid) and reaped on drop.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Runs `cmd` (program and arguments) in `dir`; it must succeed.
fn run(dir: &Path, cmd: &[&str]) {
    run_ok(Command::new(cmd[0]).args(&cmd[1..]).current_dir(dir));
}

fn file_of(image: &BuiltImage, path: &str) -> (String, u32) {
    let e = image.fs.entry(path);
    assert_eq!(e.kind, Kind::File, "{path}");
    (String::from_utf8_lossy(&e.data).into_owned(), e.mode)
}

#[test]
fn local_archives_are_extracted_and_other_files_copied() {
    for tool in ["tar", "gzip", "bzip2", "xz", "zstd"] {
        if !skiff_testkit::require_tool(tool) {
            return;
        }
    }
    let p = Project::new();
    p.write("tree/top/file.txt", "in the archive\n").write_mode(
        "tree/top/bin/tool",
        "#!/bin/sh\n",
        0o755,
    );
    std::os::unix::fs::symlink("file.txt", p.path("tree/top/link")).unwrap();
    run(p.dir(), &["tar", "-C", "tree", "-cf", "a.tar", "top"]);
    for (tool, ext) in [
        ("gzip", "gz"),
        ("bzip2", "bz2"),
        ("xz", "xz"),
        ("zstd", "zst"),
    ] {
        run(p.dir(), &[tool, "-k", "-q", "a.tar"]);
        assert!(p.path(&format!("a.tar.{ext}")).exists());
    }
    p.remove("tree");
    // A gzip file that holds no tar, and a plain file: both copied as they are.
    p.write("notes.txt", "just text\n");
    run(p.dir(), &["gzip", "-k", "notes.txt"]);
    p.dockerfile(
        "FROM busybox\n\
         ADD a.tar /plain/\n\
         ADD a.tar.gz /gz/\n\
         ADD a.tar.bz2 /bz2/\n\
         ADD a.tar.xz /xz\n\
         ADD a.tar.zst /zst/\n\
         ADD notes.txt.gz /raw/\n\
         ADD notes.txt /notes\n\
         ADD --unpack=false a.tar.gz /packed/\n",
    );
    let (_, image) = p.build_image(&[]);
    for d in ["/plain", "/gz", "/bz2", "/xz", "/zst"] {
        assert_eq!(
            file_of(&image, &format!("{d}/top/file.txt")),
            ("in the archive\n".into(), 0o644),
            "{d}"
        );
        assert_eq!(
            file_of(&image, &format!("{d}/top/bin/tool")).1,
            0o755,
            "{d}"
        );
        assert_eq!(
            image.fs.entry(&format!("{d}/top/link")).kind,
            Kind::Symlink("file.txt".into())
        );
    }
    let raw = image.fs.read("/raw/notes.txt.gz");
    assert_eq!(raw, std::fs::read(p.path("notes.txt.gz")).unwrap());
    assert_eq!(file_of(&image, "/notes").0, "just text\n");
    assert_eq!(
        image.fs.read("/packed/a.tar.gz"),
        std::fs::read(p.path("a.tar.gz")).unwrap()
    );
}

#[test]
fn urls_are_downloaded_as_buildkit_does() {
    let server = Server::start(None);
    server.put("/files/tool.sh", "echo tool\n");
    let tarball = {
        let p = Project::new();
        p.write("t/x", "x");
        run(p.dir(), &["tar", "-C", "t", "-czf", "data.tar.gz", "x"]);
        std::fs::read(p.path("data.tar.gz")).unwrap()
    };
    let sum = sha256_hex(&tarball);
    server.put("/files/data.tar.gz", tarball.clone());
    let p = Project::new();
    let tool = server.url("/files/tool.sh");
    let data = server.url("/files/data.tar.gz");
    p.dockerfile(&format!(
        "FROM busybox\n\
         ADD --checksum=sha256:{sum} {data} /dl/\n\
         ADD --unpack=true {data} /unpacked/\n\
         ADD {tool} /tools/\n\
         ADD {tool} /renamed\n\
         ADD --chmod=755 {tool} /exec.sh\n"
    ));
    let (_, image) = p.build_image(&[]);
    let t = image.fs.entry("/tools/tool.sh");
    assert_eq!((t.mode, t.uid, t.gid), (0o600, 0, 0));
    assert_eq!(t.mtime, LAST_MODIFIED_SECS, "mtime from Last-Modified");
    assert_eq!(t.data, b"echo tool\n");
    assert_eq!(file_of(&image, "/renamed"), ("echo tool\n".into(), 0o600));
    assert_eq!(file_of(&image, "/exec.sh").1, 0o755);
    // A remote archive is not extracted.
    assert_eq!(image.fs.read("/dl/data.tar.gz"), tarball);
    // Unless --unpack=true says so.
    assert_eq!(file_of(&image, "/unpacked/x").0, "x");

    // Unchanged downloads are cache hits; a changed one reruns its step.
    let again = p.build_ok(&[]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
    server.put("/files/tool.sh", "echo TOOL\n");
    let changed = p.build_ok(&[]);
    assert!(
        changed
            .executed_steps()
            .iter()
            .all(|s| s.contains("tool.sh"))
            && changed.executed_steps().len() == 3,
        "{}",
        changed.report()
    );

    let wrong = "0".repeat(64);
    p.dockerfile(&format!(
        "FROM busybox\nADD --checksum=sha256:{wrong} {data} /dl/\n"
    ));
    let run = p.build(&[]);
    assert!(!run.success(), "{}", run.report());
    let err = run.stderr();
    assert!(
        err.contains("digest mismatch")
            && err.contains(&sum)
            && err.contains(&wrong)
            && err.contains("Dockerfile:2"),
        "{err}"
    );

    p.dockerfile(&format!(
        "FROM busybox\nADD {} /x\n",
        server.url("/missing")
    ));
    let run = p.build(&[]);
    run.assert_failed_with("404");
}

/// `git daemon` serving the repositories under `base` on a free port of 127.0.0.1 (killed
/// when the [`Daemon`] is dropped).
fn start_git_daemon(base: &Path) -> (Daemon, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // git-daemon itself (not `git daemon`, which would leave it orphaned when killed).
    let exec_path = String::from_utf8(
        Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let daemon = Daemon(
        Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .spawn()
            .unwrap(),
    );
    (daemon, port)
}

#[test]
fn git_repositories_are_checked_out() {
    if !skiff_testkit::require_tool("git") {
        return;
    }
    // Two scratch directories: the work tree and what the server serves.
    let work = Project::new();
    let srv = Project::new();
    let git = |dir: &Path, args: &[&str]| {
        let mut all = vec!["git", "-c", "user.name=t", "-c", "user.email=t@example.com"];
        all.extend_from_slice(args);
        run(dir, &all);
    };
    let w = work.dir();
    git(w, &["init", "-q", "-b", "main"]);
    std::fs::write(w.join("README"), "v1\n").unwrap();
    std::fs::create_dir(w.join("sub")).unwrap();
    std::fs::write(w.join("sub/a.txt"), "a\n").unwrap();
    git(w, &["add", "."]);
    git(w, &["commit", "-q", "-m", "one"]);
    git(w, &["tag", "v1"]);
    std::fs::write(w.join("README"), "v2\n").unwrap();
    git(w, &["commit", "-q", "-am", "two"]);
    git(
        srv.dir(),
        &["clone", "-q", "--bare", w.to_str().unwrap(), "repo.git"],
    );
    git(&srv.dir().join("repo.git"), &["update-server-info"]);
    let server = Server::start(Some(srv.dir().to_path_buf()));
    let repo = server.url("/repo.git");

    let p = Project::new();
    p.dockerfile(&format!(
        "FROM busybox\n\
         ADD {repo}#v1 /tag/\n\
         ADD {repo} /head/\n\
         ADD --keep-git-dir=true {repo}#main /kept/\n\
         ADD {repo}#main:sub /sub/\n"
    ));
    let (_, image) = p.build_image(&[]);
    assert_eq!(file_of(&image, "/tag/README").0, "v1\n");
    assert_eq!(file_of(&image, "/tag/sub/a.txt").0, "a\n");
    assert!(
        !image.fs.exists("/tag/.git"),
        "no .git without --keep-git-dir"
    );
    assert_eq!(file_of(&image, "/head/README").0, "v2\n");
    assert_eq!(file_of(&image, "/kept/README").0, "v2\n");
    assert_eq!(image.fs.entry("/kept/.git").kind, Kind::Dir);
    assert_eq!(image.fs.children("/sub"), ["a.txt"]);

    // The git protocol (shallow fetches) from `git daemon`, and a commit id as the ref.
    let (daemon, port) = start_git_daemon(srv.dir());
    let first = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "v1"])
            .current_dir(w)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let git_url = format!("git://127.0.0.1:{port}/repo.git");
    p.dockerfile(&format!(
        "FROM busybox\n\
         ADD {git_url}#main /main/\n\
         ADD {git_url}#{} /commit/\n",
        first.trim()
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let image = loop {
        // The daemon may take a moment to listen.
        let run = p.build(&[]);
        if run.success() || std::time::Instant::now() > deadline {
            assert!(run.success(), "{}", run.report());
            break p.build_image(&[]).1;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    drop(daemon);
    assert_eq!(file_of(&image, "/main/README").0, "v2\n");
    assert_eq!(file_of(&image, "/commit/README").0, "v1\n");

    p.dockerfile(&format!("FROM busybox\nADD {repo}#nosuchref /x/\n"));
    let run = p.build(&[]);
    run.assert_failed_with("nosuchref");

    // --checksum pins the commit.
    p.dockerfile(&format!(
        "FROM busybox\nADD --checksum={} {repo}#v1 /pinned/\n",
        first.trim()
    ));
    p.build_ok(&[]);
    p.dockerfile(&format!(
        "FROM busybox\nADD --checksum={} {repo}#main /pinned/\n",
        first.trim()
    ));
    let run = p.build(&[]);
    assert!(!run.success());
    assert!(
        run.stderr().contains("checksum mismatch") && run.stderr().contains(first.trim()),
        "{}",
        run.report()
    );
}

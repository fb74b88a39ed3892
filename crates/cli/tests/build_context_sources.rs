//! The context argument as `docker buildx build` takes it: `-` (a Dockerfile on standard
//! input with an empty context, or a tar archive, compressed or not), a Git repository over
//! HTTP (`URL.git#ref:dir`, `.git` left out of the context) and an `http://` tarball — all
//! served from this machine (a Python HTTP server on 127.0.0.1 in a directory of the test).

use skiff_testkit::project::{busybox_build_context, BuiltImage, Project};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `python3 -m http.server` serving `dir` on 127.0.0.1; killed when dropped.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &Path) -> StaticServer {
        let port = skiff_testkit::registry::free_port().unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        StaticServer { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skiff build -o type=oci,dest=… CONTEXT` (with the busybox fixture), `stdin` piped in.
fn build_from(
    p: &Project,
    context: &str,
    extra: &[&str],
    stdin: &[u8],
) -> (bool, String, Option<BuiltImage>) {
    let out = p.scratch_path("image.tar");
    let mut cmd = p.skiff();
    cmd.args([
        "build",
        "--progress=plain",
        "--build-context",
        &busybox_build_context(),
    ]);
    cmd.arg("--output")
        .arg(format!("type=oci,dest={}", out.display()));
    cmd.args(extra).arg(context);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("skiff build");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
    let image = output
        .status
        .success()
        .then(|| BuiltImage::open(&out).unwrap());
    (output.status.success(), report, image)
}

fn run(dir: &Path, args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

#[test]
fn a_dockerfile_on_stdin_builds_with_an_empty_context() {
    let Some(p) = Project::needing_runc("FROM busybox\n") else {
        return;
    };
    let dockerfile = b"FROM busybox\nRUN ls / | wc -l > /count && echo from-stdin > /x\n";
    let (ok, report, image) = build_from(&p, "-", &[], dockerfile);
    assert!(ok, "{report}");
    assert_eq!(image.unwrap().fs.read_string("/x"), "from-stdin\n");
    // A COPY has nothing to copy from.
    let (ok, report, _) = build_from(&p, "-", &[], b"FROM busybox\nCOPY a.txt /a\n");
    assert!(!ok && report.contains("a.txt"), "{report}");
    // Both from stdin is refused.
    let (ok, report, _) = build_from(&p, "-", &["-f", "-"], dockerfile);
    assert!(
        !ok && report.contains("cannot both come from standard input"),
        "{report}"
    );
}

#[test]
fn a_tar_on_stdin_is_the_context_gzip_included() {
    let Some(p) = Project::needing_runc("FROM busybox\n") else {
        return;
    };
    let dir = p.scratch_path("ctx");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY sub/a.txt /a.txt\n",
    )
    .unwrap();
    std::fs::write(dir.join("Dockerfile.other"), "FROM busybox\nCOPY sub /s\n").unwrap();
    std::fs::write(dir.join("sub/a.txt"), "in the tar\n").unwrap();
    let tar = Command::new("tar")
        .args(["-C"])
        .arg(&dir)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let (ok, report, image) = build_from(&p, "-", &[], &tar.stdout);
    assert!(ok, "{report}");
    assert_eq!(image.unwrap().fs.read_string("/a.txt"), "in the tar\n");
    let gz = Command::new("tar")
        .args(["-C"])
        .arg(&dir)
        .args(["-czf", "-", "."])
        .output()
        .unwrap();
    // -f names a file inside the archive.
    let (ok, report, image) = build_from(&p, "-", &["-f", "Dockerfile.other"], &gz.stdout);
    assert!(ok, "{report}");
    assert_eq!(image.unwrap().fs.read_string("/s/a.txt"), "in the tar\n");
}

#[test]
fn a_git_repository_over_http_at_a_tag_and_subdirectory() {
    if !skiff_testkit::require_tool("git") || !skiff_testkit::require_tool("python3") {
        return;
    }
    let Some(p) = Project::needing_runc("FROM busybox\n") else {
        return;
    };
    let work = p.scratch_path("work");
    std::fs::create_dir_all(work.join("app")).unwrap();
    std::fs::write(work.join("app/Dockerfile"), "FROM busybox\nCOPY . /src\n").unwrap();
    std::fs::write(work.join("app/v.txt"), "one\n").unwrap();
    std::fs::write(work.join("Dockerfile"), "FROM busybox\nCOPY . /root-ctx\n").unwrap();
    run(&work, &["git", "init", "-q", "-b", "main"]);
    run(&work, &["git", "add", "."]);
    run(&work, &["git", "commit", "-qm", "one"]);
    run(&work, &["git", "tag", "v1"]);
    std::fs::write(work.join("app/v.txt"), "two\n").unwrap();
    run(&work, &["git", "commit", "-qam", "two"]);
    // Served as Git's "dumb" HTTP protocol: a bare repository of static files.
    let served = p.scratch_path("served");
    std::fs::create_dir_all(&served).unwrap();
    run(
        &served,
        &[
            "git",
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            "app.git",
        ],
    );
    run(&served.join("app.git"), &["git", "update-server-info"]);
    let server = StaticServer::start(&served);
    let (ok, report, image) = build_from(&p, &server.url("app.git#v1:app"), &[], b"");
    assert!(ok, "{report}");
    let image = image.unwrap();
    assert_eq!(image.fs.read_string("/src/v.txt"), "one\n");
    assert!(
        !image.fs.exists("/src/.git"),
        "{:?}",
        image.fs.children("/src")
    );
    // The default branch, whole repository.
    let (ok, report, image) = build_from(&p, &server.url("app.git"), &[], b"");
    assert!(ok, "{report}");
    assert_eq!(
        image.unwrap().fs.read_string("/root-ctx/app/v.txt"),
        "two\n"
    );
    let (ok, report, _) = build_from(&p, &server.url("app.git#nope"), &[], b"");
    assert!(!ok && report.contains("nope"), "{report}");
}

#[test]
fn an_http_tarball_is_the_context() {
    if !skiff_testkit::require_tool("python3") {
        return;
    }
    let Some(p) = Project::needing_runc("FROM busybox\n") else {
        return;
    };
    let dir = p.scratch_path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY b.txt /b.txt\n").unwrap();
    std::fs::write(dir.join("b.txt"), "from the url\n").unwrap();
    let served = p.scratch_path("served");
    std::fs::create_dir_all(&served).unwrap();
    let tar = served.join("ctx.tar.gz");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-czf")
        .arg(&tar)
        .arg(".")
        .status();
    assert!(status.unwrap().success());
    let server = StaticServer::start(&served);
    let (ok, report, image) = build_from(&p, &server.url("ctx.tar.gz"), &[], b"");
    assert!(ok, "{report}");
    assert_eq!(image.unwrap().fs.read_string("/b.txt"), "from the url\n");
    let (ok, report, _) = build_from(&p, &server.url("missing.tar.gz"), &[], b"");
    assert!(!ok && report.contains("404"), "{report}");
}

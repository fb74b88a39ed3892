//! `skiff build --ssh` and `RUN --mount=type=ssh`: a real `ssh-agent` of the host reached from
//! inside RUN steps (proved with the host's own `ssh-add -l`, run in the busybox container through
//! its dynamic loader), BuildKit's target, mode and `$SSH_AUTH_SOCK`, and nothing of the socket
//! left in the image, its history or the cache key.

use skiff_testkit::project::{BuiltImage, Project};
use skiff_testkit::require_tool;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A host `ssh-agent` on a socket of its own, holding one fresh ed25519 key; killed on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    key: PathBuf,
    /// `SHA256:…` of the key, as `ssh-add -l` lists it.
    fingerprint: String,
}

impl Agent {
    fn start(p: &Project) -> Agent {
        let key = p.scratch_path("id_ed25519");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "skiff-test", "-f"])
            .arg(&key));
        let listed = run(Command::new("ssh-keygen").arg("-lf").arg(&key));
        let fingerprint = listed.split_whitespace().nth(1).unwrap().to_string();
        assert!(fingerprint.starts_with("SHA256:"), "{listed}");
        let socket = p.scratch_path("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting ssh-agent");
        let agent = Agent {
            child,
            socket,
            key,
            fingerprint,
        };
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(&agent.socket).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        run(Command::new("ssh-add")
            .arg(&agent.key)
            .env("SSH_AUTH_SOCK", &agent.socket));
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd`, which must succeed; returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies the host's `ssh-add`, the libraries it links and the dynamic loader into `tools/` of
/// the context, flat, so that a RUN can start it as `/t/ld.so --library-path /t /t/ssh-add`.
fn copy_ssh_add_into_context(p: &Project) {
    let bin = which("ssh-add");
    std::fs::create_dir_all(p.path("tools")).unwrap();
    std::fs::copy(&bin, p.path("tools/ssh-add")).unwrap();
    for line in run(Command::new("ldd").arg(&bin)).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|w| w.starts_with('/')),
        };
        let Some(path) = path.filter(|w| w.starts_with('/')) else {
            continue;
        };
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        let dest = if name.starts_with("ld-linux") {
            "ld.so".to_string()
        } else {
            name.to_string()
        };
        std::fs::copy(path, p.path(&format!("tools/{dest}"))).unwrap();
    }
    assert!(p.path("tools/ld.so").exists(), "no dynamic loader found");
}

fn which(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not on PATH"))
}

/// Asserts that no layer of `image` holds anything under `/run/buildkit` or the mount targets.
fn assert_no_mount_leftovers(image: &BuiltImage, targets: &[&str]) {
    for path in image.layers.iter().flat_map(|l| &l.order) {
        for target in targets {
            let target = target.trim_start_matches('/');
            let path = path.trim_start_matches('/');
            assert!(
                path != target && !path.starts_with(&format!("{target}/")),
                "{path} is in a layer"
            );
        }
    }
}

const SSH_ADD: &str = "/t/ld.so --library-path /t /t/ssh-add -l";

#[test]
fn forwarded_agent_and_key_files_answer_inside_run_and_leave_no_trace() {
    if !require_tool("ssh-agent") {
        return;
    }
    let Some(p) = Project::needing_runc(&format!(
        concat!(
            "FROM busybox\n",
            "RUN --mount=type=ssh echo \"$SSH_AUTH_SOCK\" > /sock-env \\\n",
            " && (test -S \"$SSH_AUTH_SOCK\" && echo socket || echo not-a-socket) > /is-socket \\\n",
            " && stat -c '%a %u %g' \"$SSH_AUTH_SOCK\" > /sock-stat\n",
            "RUN --mount=type=ssh --mount=type=bind,source=tools,target=/t {ssh_add} > /keys\n",
            "RUN --mount=type=ssh,id=keys,target=/agent,mode=0640,uid=7,gid=8 \\\n",
            "    --mount=type=bind,source=tools,target=/t \\\n",
            "    echo \"$SSH_AUTH_SOCK\" > /keys-env && stat -c '%a %u %g' /agent > /keys-stat \\\n",
            " && {ssh_add} > /keys-from-files\n",
            "RUN --mount=type=ssh,id=keys --mount=type=ssh \\\n",
            "    echo \"$SSH_AUTH_SOCK\" > /two-env && test -S /run/buildkit/ssh_agent.1 && echo ok > /second\n",
        ),
        ssh_add = SSH_ADD
    )) else {
        return;
    };
    copy_ssh_add_into_context(&p);
    let agent = Agent::start(&p);
    let sock = format!("default={}", agent.socket.display());
    let keys = format!("keys={}", agent.key.display());
    let (_, image) = p.build_image(&["--ssh", &sock, "--ssh", &keys]);

    assert_eq!(
        image.fs.read_string("/sock-env"),
        "/run/buildkit/ssh_agent.0\n"
    );
    assert_eq!(image.fs.read_string("/is-socket"), "socket\n");
    assert_eq!(image.fs.read_string("/sock-stat"), "600 0 0\n");
    let listed = image.fs.read_string("/keys");
    assert!(
        listed.contains(&agent.fingerprint),
        "the forwarded agent did not list the key: {listed:?}"
    );
    assert_eq!(image.fs.read_string("/keys-env"), "/agent\n");
    assert_eq!(image.fs.read_string("/keys-stat"), "640 7 8\n");
    let from_files = image.fs.read_string("/keys-from-files");
    assert!(
        from_files.contains(&agent.fingerprint),
        "the agent made from the key file did not list it: {from_files:?}"
    );
    assert_eq!(
        image.fs.read_string("/two-env"),
        "/run/buildkit/ssh_agent.0\n"
    );
    assert_eq!(image.fs.read_string("/second"), "ok\n");

    assert!(!image.fs.exists("/run"), "the ssh mount point leaked");
    assert!(!image.fs.exists("/agent"), "the ssh mount point leaked");
    assert!(!image.fs.exists("/t"), "the bind mount point leaked");
    assert_no_mount_leftovers(&image, &["/run", "/agent", "/t"]);
    let host_paths = [
        agent.socket.to_str().unwrap(),
        agent.key.to_str().unwrap(),
        "skiff-ssh-",
    ];
    for (created_by, _) in image.history() {
        for host in host_paths {
            assert!(!created_by.contains(host), "{created_by}");
        }
    }
    for host in host_paths {
        assert!(
            !image.any_blob_contains(host.as_bytes()),
            "{host} in a blob"
        );
    }

    // The socket's host path is not part of the cache key: the same agent under another path
    // reuses every step.
    let link = p.scratch_path("other.sock");
    std::os::unix::fs::symlink(&agent.socket, &link).unwrap();
    let moved = format!("default={}", link.display());
    let again = p.build_ok(&["--ssh", &moved, "--ssh", &keys]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
}

#[test]
fn a_required_agent_that_was_not_given_fails_before_the_run() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN touch /ran\n",
        "RUN --mount=type=ssh,id=deploy,required=true touch /ran-too\n",
    )) else {
        return;
    };
    let run = p.build(&[]);
    run.assert_failed_with("ssh agent \"deploy\" is required");
    run.assert_failed_with("--ssh deploy=");
}

#[test]
fn a_cached_step_needs_no_agent_even_when_required() {
    let Some(p) = Project::needing_runc(
        "FROM busybox\nRUN --mount=type=ssh,id=deploy,required=true test -S \"$SSH_AUTH_SOCK\"\n",
    ) else {
        return;
    };
    // Any listening socket does as the agent: the step only checks it is mounted.
    let dir = skiff_testkit::tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let first = p.build_ok(&["--ssh", &format!("deploy={}", socket.display())]);
    first.assert_executed(&[
        "RUN --mount=type=ssh,id=deploy,required=true test -S \"$SSH_AUTH_SOCK\"",
    ]);
    // As in BuildKit, a cache hit asks for no agent: the same build without --ssh is a hit.
    let again = p.build_ok(&[]);
    again.assert_executed(&[]);
    again.assert_cached(&[
        "RUN --mount=type=ssh,id=deploy,required=true test -S \"$SSH_AUTH_SOCK\"",
    ]);
}

#[test]
fn an_optional_agent_that_was_not_given_leaves_the_mount_out() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --mount=type=ssh \\\n",
        "    (test -e /run/buildkit/ssh_agent.0 && echo mounted || echo absent) > /mounted \\\n",
        " && echo \"$SSH_AUTH_SOCK\" > /env\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/mounted"), "absent\n");
    // As in BuildKit, the variable names the target even when no agent is mounted there.
    assert_eq!(image.fs.read_string("/env"), "/run/buildkit/ssh_agent.0\n");
    assert!(!image.fs.exists("/run"));
}

#[test]
fn a_missing_socket_or_key_fails_before_any_step() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nRUN --mount=type=ssh,id=foo true\n");
    let run = p.build(&["--ssh", "foo=/nonexistent/agent.sock"]);
    run.assert_failed_with("--ssh foo: /nonexistent/agent.sock does not exist");
    assert!(run.steps().is_empty(), "{}", run.report());

    let unset = p.build_env(&["--ssh", "default"], &[("SSH_AUTH_SOCK", "")]);
    unset.assert_failed_with("$SSH_AUTH_SOCK is not set");
}

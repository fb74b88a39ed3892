//! The registry fault matrix (issue 17, item 3), black-box through the binary: `skiff pull`,
//! `skiff push` and a build's `--cache-to`/`--cache-from type=registry` talk to a real local
//! registry through the testkit's fault proxy ([`FaultProxy::start_http`]), which refuses
//! connections, resets them half way through a blob, answers 5xx and 429 with and without
//! `Retry-After`, drips, stalls, truncates or corrupts bodies, serves a manifest of another
//! media type, puts a bearer-token realm in front whose token endpoint fails or loops, and
//! redirects blob downloads to another host.
//!
//! Each case must end in a retry that succeeds or a clear error naming the cause, within its
//! time bound (the process is SIGKILLed past it, which fails the test); after each, the store
//! passes the consistency check (every blob hashes to its name: no corrupt blob stored), and
//! what a push or an export left in the registry is whole.
//!
//! Skiff's read timeout is shortened to 2 s (`SKIFF_REGISTRY_READ_TIMEOUT`) so that stalls
//! are seen quickly; its retries are its defaults (5 attempts, 250 ms doubling).

use skiff_testkit::project::{busybox_build_context, Project};
use skiff_testkit::proxy::{Action, TokenEndpoint};
use skiff_testkit::store_check::problems;
use skiff_testkit::{busybox_image, skiff_bin_at, FaultProxy, ImageRef, Registry};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Blob downloads (config and layers): `GET /v2/NAME/blobs/sha256:…`.
const BLOB: &str = "/blobs/sha256:";
/// Manifests, by tag or digest.
const MANIFEST: &str = "/manifests/";
/// Upload sessions: `POST /v2/NAME/blobs/uploads/`, then `PUT …/uploads/ID?digest=…`.
const UPLOAD: &str = "/blobs/uploads/";

/// Skiff's read timeout in these tests (seconds).
const READ_TIMEOUT: &str = "2";

/// The longest any case may take before it counts as a hang (its process is killed).
const HANG: Duration = Duration::from_secs(45);

/// Cases run at once: most of a case's time is skiff waiting (backoff, timeouts).
const PARALLEL: usize = 4;

/// What a case must end in.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Success (after retries, if the fault was passing).
    Ok,
    /// Failure with an error that contains each of these (case-insensitive).
    Error(&'static [&'static str]),
}

/// What the faults act on besides the proxy: another host blobs can be redirected to, and an
/// address nothing listens on.
struct Hosts {
    blob_host: FaultProxy,
    dead: String,
}

struct Case {
    name: &'static str,
    setup: fn(&FaultProxy, &Hosts),
    expect: Expect,
    /// The longest this case may take (it includes skiff's backoff and timeouts).
    within: Duration,
}

const fn case(name: &'static str, setup: fn(&FaultProxy, &Hosts), expect: Expect) -> Case {
    Case {
        name,
        setup,
        expect,
        within: Duration::from_secs(20),
    }
}

fn status(code: u16, retry_after: Option<&str>) -> Action {
    Action::Status {
        code,
        retry_after: retry_after.map(str::to_string),
    }
}

/// A manifest answer of the proxy's own: `content_type` and `body`.
fn manifest_answer(content_type: &str, body: &str) -> Action {
    Action::Respond {
        status: 200,
        content_type: content_type.to_string(),
        body: body.as_bytes().to_vec(),
    }
}

fn skiff(root: &Path) -> Command {
    let mut cmd = Command::new(skiff_bin_at(env!("CARGO_BIN_EXE_skiff")));
    cmd.arg("--root").arg(root);
    cmd.env("SKIFF_REGISTRY_READ_TIMEOUT", READ_TIMEOUT);
    cmd
}

/// Runs `cmd` to its end, SIGKILLing it (and failing the test) past `limit`.
fn within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let started = Instant::now();
    let child = cmd.spawn().expect("starting skiff");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => (out.expect("waiting for skiff"), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{shown} hung: killed after {limit:?}");
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The line of the output that says what failed.
fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = (stderr.lines().rev())
        .find(|l| l.to_lowercase().contains("error"))
        .or(stderr.lines().last());
    line.unwrap_or_default().to_string()
}

/// Checks a case's outcome against what it expects: the row of the matrix, or what is wrong.
fn judge(kind: &str, case: &Case, out: &Output, took: Duration) -> Result<String, String> {
    let all = text(out);
    let name = case.name;
    match case.expect {
        Expect::Ok if !out.status.success() => {
            return Err(format!("{kind} / {name}: expected success:\n{all}"))
        }
        Expect::Error(_) if out.status.success() => {
            return Err(format!("{kind} / {name}: expected an error:\n{all}"))
        }
        Expect::Error(needles) => {
            let lower = all.to_lowercase();
            if let Some(missing) = needles.iter().find(|n| !lower.contains(&n.to_lowercase())) {
                return Err(format!("{kind} / {name}: expected {missing:?} in:\n{all}"));
            }
        }
        Expect::Ok => {}
    }
    if took > case.within {
        return Err(format!(
            "{kind} / {name}: took {took:?}, more than its bound {:?}:\n{all}",
            case.within
        ));
    }
    let retries = all.matches("retrying").count();
    let outcome = match case.expect {
        Expect::Ok if retries == 1 => "ok after 1 retry".to_string(),
        Expect::Ok if retries > 0 => format!("ok after {retries} retries"),
        Expect::Ok => "ok".to_string(),
        Expect::Error(_) => format!("error: {}", error_line(out)),
    };
    Ok(format!(
        "{kind} | {name} | {outcome} | {:.1} s",
        took.as_secs_f64()
    ))
}

/// Prints the matrix rows and fails with every case that went wrong.
fn report(kind: &str, started: Instant, rows: Vec<Result<String, String>>) {
    let mut failed = Vec::new();
    for row in &rows {
        match row {
            Ok(row) => eprintln!("{row}"),
            Err(problem) => failed.push(problem.clone()),
        }
    }
    eprintln!(
        "{kind} matrix: {} cases in {:?}",
        rows.len(),
        started.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{} of {} {kind} cases failed:\n\n{}",
        failed.len(),
        rows.len(),
        failed.join("\n\n")
    );
}

fn fixtures() -> Option<(Registry, ImageRef, Hosts)> {
    let registry = Registry::start_or_skip()?;
    let busybox = busybox_image(&registry).expect("pushing busybox");
    let blob_host = FaultProxy::start_http(registry.addr()).expect("starting the blob host");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    Some((registry, busybox, Hosts { blob_host, dead }))
}

fn store_consistent(kind: &str, name: &str, root: &Path) -> Result<(), String> {
    let found = problems(root);
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{kind} / {name}: the store is inconsistent: {found:#?}"
        ))
    }
}

/// The pull matrix: each case pulls busybox through a fresh proxy into a fresh store.
const PULL: &[Case] = &[
    case("no fault", |_, _| {}, Expect::Ok),
    case(
        "connection refused for 1.2 s",
        |p, _| p.refuse_connections_for(Duration::from_millis(1200)),
        Expect::Ok,
    ),
    case(
        "connection refused for good",
        |p, _| p.refuse_connections_for(Duration::from_secs(3600)),
        Expect::Error(&["connect", "gave up after 5 attempts"]),
    ),
    case(
        "reset mid-blob, twice",
        |p, _| p.on("GET", BLOB, 2, Action::ResetMidBody),
        Expect::Ok,
    ),
    case(
        "reset mid-blob, always",
        |p, _| p.on("GET", BLOB, usize::MAX, Action::ResetMidBody),
        Expect::Error(&["pulling blob", "gave up after 5 attempts"]),
    ),
    case(
        "500 on blobs, twice",
        |p, _| p.on("GET", BLOB, 2, status(500, None)),
        Expect::Ok,
    ),
    case(
        "502 on the manifest, twice",
        |p, _| p.on("GET", MANIFEST, 2, status(502, None)),
        Expect::Ok,
    ),
    case(
        "503 with Retry-After: 1, twice",
        |p, _| p.on("GET", BLOB, 2, status(503, Some("1"))),
        Expect::Ok,
    ),
    case(
        "503 without Retry-After, twice",
        |p, _| p.on("GET", BLOB, 2, status(503, None)),
        Expect::Ok,
    ),
    case(
        "503 always",
        |p, _| p.on("*", "/v2/", usize::MAX, status(503, Some("1"))),
        Expect::Error(&["503", "gave up after 5 attempts"]),
    ),
    case(
        "429 with Retry-After: 1, twice",
        |p, _| p.on("GET", BLOB, 2, status(429, Some("1"))),
        Expect::Ok,
    ),
    case(
        "429 without Retry-After, always",
        |p, _| p.on("GET", MANIFEST, usize::MAX, status(429, None)),
        Expect::Error(&["too many requests", "gave up after 5 attempts"]),
    ),
    case(
        "slow drip (512 KiB/s)",
        |p, _| {
            p.on(
                "GET",
                BLOB,
                usize::MAX,
                Action::Drip {
                    bytes_per_second: 512 << 10,
                },
            )
        },
        Expect::Ok,
    ),
    case(
        "stall mid-blob, once",
        |p, _| p.on("GET", BLOB, 1, Action::StallMidBody),
        Expect::Ok,
    ),
    case(
        "stall mid-blob, always",
        |p, _| p.on("GET", BLOB, usize::MAX, Action::StallMidBody),
        Expect::Error(&["pulling blob", "gave up after 5 attempts"]),
    ),
    case(
        "truncated body, twice",
        |p, _| p.on("GET", BLOB, 2, Action::TruncateMidBody),
        Expect::Ok,
    ),
    case(
        "truncated body, always",
        |p, _| p.on("GET", BLOB, usize::MAX, Action::TruncateMidBody),
        Expect::Error(&["pulling blob", "gave up after 5 attempts"]),
    ),
    case(
        "body not matching its digest",
        |p, _| p.on("GET", BLOB, usize::MAX, Action::CorruptBody),
        Expect::Error(&["does not match its digest", "nothing was stored"]),
    ),
    case(
        "manifest: schema 1 (v1+prettyjws)",
        |p, _| {
            p.on(
                "GET",
                MANIFEST,
                usize::MAX,
                manifest_answer(
                    "application/vnd.docker.distribution.manifest.v1+prettyjws",
                    r#"{"schemaVersion":1,"name":"testkit/busybox","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}"#,
                ),
            )
        },
        Expect::Error(&["schema"]),
    ),
    case(
        "manifest: an HTML page",
        |p, _| {
            p.on(
                "GET",
                MANIFEST,
                usize::MAX,
                manifest_answer(
                    "text/html",
                    "<html><body>Welcome to the captive portal</body></html>",
                ),
            )
        },
        Expect::Error(&["manifest"]),
    ),
    case(
        "manifest: an artifact, not an image",
        |p, _| {
            p.on(
                "GET",
                MANIFEST,
                usize::MAX,
                manifest_answer(
                    "application/vnd.oci.image.manifest.v1+json",
                    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.helm.chart","config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#,
                ),
            )
        },
        Expect::Error(&["helm"]),
    ),
    case(
        "bearer token realm that works",
        |p, _| p.require_bearer_token(TokenEndpoint::Grants),
        Expect::Ok,
    ),
    case(
        "token endpoint fails (500)",
        |p, _| p.require_bearer_token(TokenEndpoint::Fails(500)),
        Expect::Error(&["access token", "token service"]),
    ),
    case(
        "token endpoint redirects to itself",
        |p, _| p.require_bearer_token(TokenEndpoint::RedirectsToItself),
        Expect::Error(&["authenticating", "too many redirects"]),
    ),
    case(
        "token never accepted (challenge loop)",
        |p, _| p.require_bearer_token(TokenEndpoint::GrantsUnusableToken),
        Expect::Error(&["docker login"]),
    ),
    case(
        "blobs redirected to another host",
        |p, h| {
            p.on(
                "GET",
                BLOB,
                usize::MAX,
                Action::RedirectTo(h.blob_host.addr().to_string()),
            )
        },
        Expect::Ok,
    ),
    case(
        "blobs redirected to another host, behind a token realm",
        |p, h| {
            p.require_bearer_token(TokenEndpoint::Grants);
            p.on(
                "GET",
                BLOB,
                usize::MAX,
                Action::RedirectTo(h.blob_host.addr().to_string()),
            );
        },
        Expect::Ok,
    ),
    case(
        "blobs redirected to a host that is down",
        |p, h| p.on("GET", BLOB, usize::MAX, Action::RedirectTo(h.dead.clone())),
        Expect::Error(&["pulling blob", "gave up after 5 attempts"]),
    ),
];

/// Runs `check` on every case, [`PARALLEL`] at once; the results in the table's order.
fn run_all(
    cases: &[Case],
    check: impl Fn(usize, &Case) -> Result<String, String> + Sync,
) -> Vec<Result<String, String>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(i, case)))
                        .unwrap_or_else(|panic| {
                            let message = (panic.downcast_ref::<String>().cloned())
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            Err(format!("{}: panicked: {message}", case.name))
                        });
                results.lock().unwrap()[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

/// `skiff pull REFERENCE` into the store at `root`: its output (which must succeed).
fn pull_ok(root: &Path, reference: &str) -> String {
    let mut cmd = skiff(root);
    cmd.args(["pull", reference]);
    let (out, _) = within(cmd, HANG);
    assert!(
        out.status.success(),
        "skiff pull {reference}:\n{}",
        text(&out)
    );
    text(&out)
}

#[test]
fn pull_through_every_registry_fault() {
    let Some((registry, busybox, hosts)) = fixtures() else {
        return;
    };
    let started = Instant::now();
    let rows = run_all(PULL, |_, case| {
        let proxy = FaultProxy::start_http(registry.addr()).unwrap();
        (case.setup)(&proxy, &hosts);
        let root = skiff_testkit::tempfile::tempdir().unwrap();
        let mut cmd = skiff(root.path());
        cmd.args(["pull", &proxy.reference("testkit/busybox:latest")]);
        let (out, took) = within(cmd, HANG);
        let row = judge("pull", case, &out, took)?;
        store_consistent("pull", case.name, root.path())?;
        if out.status.success() && !text(&out).contains(&busybox.digest) {
            return Err(format!(
                "pull / {}: not the pushed image:\n{}",
                case.name,
                text(&out)
            ));
        }
        if case.name.contains("another host") {
            // The blob host is shared by the redirect cases; none may have sent credentials.
            let at_blob_host = hosts.blob_host.requests();
            if !at_blob_host.iter().any(|r| r.path.contains(BLOB)) {
                return Err(format!(
                    "pull / {}: no blob fetched from the other host: {at_blob_host:?}",
                    case.name
                ));
            }
            if at_blob_host.iter().any(|r| r.authorization) {
                return Err(format!(
                    "pull / {}: credentials sent to the other host: {at_blob_host:?}",
                    case.name
                ));
            }
        }
        Ok(row)
    });
    report("pull", started, rows);
}

/// The push matrix: each case pushes busybox (pulled straight from the registry into a fresh
/// store) through a fresh proxy to a repository of its own.
const PUSH: &[Case] = &[
    case("no fault", |_, _| {}, Expect::Ok),
    case(
        "connection refused for 1.2 s",
        |p, _| p.refuse_connections_for(Duration::from_millis(1200)),
        Expect::Ok,
    ),
    case(
        "connection refused for good",
        |p, _| p.refuse_connections_for(Duration::from_secs(3600)),
        Expect::Error(&["connect", "gave up after 5 attempts"]),
    ),
    case(
        "reset mid-upload, twice",
        |p, _| p.on("PUT", UPLOAD, 2, Action::ResetMidUpload),
        Expect::Ok,
    ),
    case(
        "reset mid-upload, always",
        |p, _| p.on("PUT", UPLOAD, usize::MAX, Action::ResetMidUpload),
        Expect::Error(&["uploading blob", "gave up after 5 attempts"]),
    ),
    case(
        "500 on starting an upload, twice",
        |p, _| p.on("POST", UPLOAD, 2, status(500, None)),
        Expect::Ok,
    ),
    case(
        "502 on the blob check (HEAD), twice",
        |p, _| p.on("HEAD", BLOB, 2, status(502, None)),
        Expect::Ok,
    ),
    case(
        "503 with Retry-After: 1 on the upload, twice",
        |p, _| p.on("PUT", UPLOAD, 2, status(503, Some("1"))),
        Expect::Ok,
    ),
    case(
        "503 on the manifest, always",
        |p, _| p.on("PUT", MANIFEST, usize::MAX, status(503, None)),
        Expect::Error(&["putting the manifest", "503", "gave up after 5 attempts"]),
    ),
    case(
        "429 on the manifest, twice",
        |p, _| p.on("PUT", MANIFEST, 2, status(429, None)),
        Expect::Ok,
    ),
    case(
        "the registry hangs on an upload, once",
        |p, _| p.on("PUT", UPLOAD, 1, Action::Hang),
        Expect::Ok,
    ),
    case(
        "bearer token realm that works",
        |p, _| p.require_bearer_token(TokenEndpoint::Grants),
        Expect::Ok,
    ),
    case(
        "token endpoint fails (503)",
        |p, _| p.require_bearer_token(TokenEndpoint::Fails(503)),
        Expect::Error(&["access token", "token service"]),
    ),
    case(
        "token endpoint redirects to itself",
        |p, _| p.require_bearer_token(TokenEndpoint::RedirectsToItself),
        Expect::Error(&["authenticating", "too many redirects"]),
    ),
    case(
        "token never accepted (challenge loop)",
        |p, _| p.require_bearer_token(TokenEndpoint::GrantsUnusableToken),
        Expect::Error(&["docker login"]),
    ),
];

#[test]
fn push_through_every_registry_fault() {
    let Some((registry, busybox, hosts)) = fixtures() else {
        return;
    };
    let started = Instant::now();
    let rows = run_all(PUSH, |i, case| {
        let root = skiff_testkit::tempfile::tempdir().unwrap();
        pull_ok(root.path(), &busybox.reference);
        let proxy = FaultProxy::start_http(registry.addr()).unwrap();
        (case.setup)(&proxy, &hosts);
        let destination = format!("pushed/case-{i}:1");
        let mut cmd = skiff(root.path());
        cmd.args(["push", &busybox.reference, &proxy.reference(&destination)]);
        let (out, took) = within(cmd, HANG);
        let row = judge("push", case, &out, took)?;
        store_consistent("push", case.name, root.path())?;
        // What the registry holds now: the whole image, or (after a failure) nothing.
        let check = skiff_testkit::tempfile::tempdir().unwrap();
        let mut cmd = skiff(check.path());
        cmd.args(["pull", &registry.reference(&destination)]);
        let (back, _) = within(cmd, HANG);
        let whole = back.status.success() && text(&back).contains(&busybox.digest);
        let absent = !back.status.success() && text(&back).contains("not found");
        if !(whole || absent && !out.status.success()) {
            return Err(format!(
                "push / {}: the registry holds neither the whole image nor nothing:\n{}",
                case.name,
                text(&back)
            ));
        }
        store_consistent("push (pulled back)", case.name, check.path())?;
        Ok(row)
    });
    report("push", started, rows);
}

/// A build whose one step (a COPY) is what the cache holds.
const CACHED_BUILD: &str = "FROM busybox\nCOPY a.txt /a.txt\n";
const COPY_STEP: &str = "COPY a.txt /a.txt";

/// `skiff build` of [`CACHED_BUILD`] on a fresh store with `args`, exported as an OCI
/// archive: the output, the time it took and the store.
fn cached_build(args: &[&str]) -> (Output, Duration, Project) {
    let p = Project::new();
    p.write("a.txt", "cached\n");
    p.dockerfile(CACHED_BUILD);
    let out = p.scratch_path("image.tar");
    let output = format!("type=oci,dest={}", out.display());
    let mut cmd = p.skiff();
    cmd.args(["build", "--progress=plain", "--build-context"]);
    cmd.arg(busybox_build_context());
    cmd.args(["-o", &output]).args(args).arg(p.dir());
    cmd.env("SKIFF_REGISTRY_READ_TIMEOUT", READ_TIMEOUT);
    let (result, took) = within(cmd, HANG);
    (result, took, p)
}

/// Whether a build's output shows the COPY step taken from the cache: its `#N [2/2] COPY …`
/// line, then `#N CACHED`.
fn copy_was_cached(out: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let step = (stderr.lines())
        .find(|l| l.ends_with(COPY_STEP))
        .and_then(|l| l.split_whitespace().next());
    step.is_some_and(|n| stderr.lines().any(|l| l == format!("{n} CACHED")))
}

/// The cache export matrix: `--cache-to type=registry` through a fresh proxy, each case to a
/// ref of its own; a good export is then imported straight from the registry.
const CACHE_EXPORT: &[Case] = &[
    case("no fault", |_, _| {}, Expect::Ok),
    case(
        "503 on blob uploads, twice",
        |p, _| p.on("PUT", UPLOAD, 2, status(503, None)),
        Expect::Ok,
    ),
    case(
        "reset mid-upload, twice",
        |p, _| p.on("PUT", UPLOAD, 2, Action::ResetMidUpload),
        Expect::Ok,
    ),
    case(
        "503 on the manifest, always",
        |p, _| p.on("PUT", MANIFEST, usize::MAX, status(503, None)),
        Expect::Error(&["exporting the cache", "gave up after 5 attempts"]),
    ),
    case(
        "token endpoint fails (500)",
        |p, _| p.require_bearer_token(TokenEndpoint::Fails(500)),
        Expect::Error(&["exporting the cache", "access token"]),
    ),
];

/// The cache import matrix: `--cache-from type=registry` through a fresh proxy, of a cache
/// exported straight to the registry. A cache that cannot be read is a notice and the build
/// goes on without it (as BuildKit's); a layer that fails its digest is dropped and the step
/// runs.
const CACHE_IMPORT: &[Case] = &[
    case("no fault", |_, _| {}, Expect::Ok),
    case(
        "502 on the manifest, twice",
        |p, _| p.on("GET", MANIFEST, 2, status(502, None)),
        Expect::Ok,
    ),
    case(
        "reset mid-blob, twice",
        |p, _| p.on("GET", BLOB, 2, Action::ResetMidBody),
        Expect::Ok,
    ),
    case(
        "truncated body, twice",
        |p, _| p.on("GET", BLOB, 2, Action::TruncateMidBody),
        Expect::Ok,
    ),
    case(
        "registry down (connection refused)",
        |p, _| p.refuse_connections_for(Duration::from_secs(3600)),
        Expect::Ok,
    ),
    case(
        "body not matching its digest",
        |p, _| p.on("GET", BLOB, usize::MAX, Action::CorruptBody),
        Expect::Ok,
    ),
    case(
        "manifest: an HTML page",
        |p, _| {
            p.on(
                "GET",
                MANIFEST,
                usize::MAX,
                manifest_answer("text/html", "<html><body>maintenance</body></html>"),
            )
        },
        Expect::Ok,
    ),
];

#[test]
fn cache_export_and_import_through_registry_faults() {
    let Some((registry, _, hosts)) = fixtures() else {
        return;
    };
    let started = Instant::now();
    // The cache every import case reads.
    let import_ref = registry.reference("cache/import:c");
    let to = format!("type=registry,ref={import_ref},mode=max");
    let (out, _, _) = cached_build(&["--cache-to", &to]);
    assert!(out.status.success(), "{}", text(&out));

    let mut rows = run_all(CACHE_EXPORT, |i, case| {
        let proxy = FaultProxy::start_http(registry.addr()).unwrap();
        (case.setup)(&proxy, &hosts);
        let path = format!("cache/export-{i}:c");
        let to = format!("type=registry,ref={},mode=max", proxy.reference(&path));
        let (out, took, p) = cached_build(&["--cache-to", &to]);
        let row = judge("cache export", case, &out, took)?;
        store_consistent("cache export", case.name, p.store())?;
        if out.status.success() {
            // The exported cache is whole: a fresh store builds the step from it.
            let from = format!("type=registry,ref={}", registry.reference(&path));
            let (again, _, q) = cached_build(&["--cache-from", &from]);
            if !(again.status.success() && copy_was_cached(&again)) {
                return Err(format!(
                    "cache export / {}: the exported cache is not usable:\n{}",
                    case.name,
                    text(&again)
                ));
            }
            store_consistent("cache export (imported)", case.name, q.store())?;
        }
        Ok(row)
    });
    rows.extend(run_all(CACHE_IMPORT, |_, case| {
        let proxy = FaultProxy::start_http(registry.addr()).unwrap();
        (case.setup)(&proxy, &hosts);
        let from = format!("type=registry,ref={}", proxy.reference("cache/import:c"));
        let (out, took, p) = cached_build(&["--cache-from", &from]);
        let row = judge("cache import", case, &out, took)?;
        store_consistent("cache import", case.name, p.store())?;
        let cached = copy_was_cached(&out);
        let passing = matches!(case.expect, Expect::Ok)
            && !case.name.contains("down")
            && !case.name.contains("digest")
            && !case.name.contains("HTML");
        if passing && !cached {
            return Err(format!(
                "cache import / {}: the step was not taken from the cache:\n{}",
                case.name,
                text(&out)
            ));
        }
        Ok(format!(
            "{row} | {}",
            if cached {
                "cache hit"
            } else {
                "built without the cache"
            }
        ))
    }));
    report("cache", started, rows);
}

//! The seed article's story (`../shared/seed/multi-stage-builds.txt`), end to end through the
//! `skiff` binary: `examples/go-server` built on golang/slim base images that skiff itself
//! makes from Debian packages and pushes to a local registry; the images run with runc; the
//! layer cache and the cache mounts do what the article promises.
//!
//! One test with phases, because every phase needs the same registry, store and base images,
//! and making those (a 700 MB golang image) is most of the cost. The Debian root filesystems
//! come from `skiff_testkit::debian` (debootstrap, cached in `/var/tmp/skiff-testkit`: about
//! 5 minutes on a machine's first run).

use skiff_testkit::container::{http_get, run_to_completion, Container, Process};
use skiff_testkit::debian::{self, DebianBase};
use skiff_testkit::go_example;
use skiff_testkit::project::{BuiltImage, Kind, Project};
use skiff_testkit::registry::free_port;
use skiff_testkit::serde_json::json;
use skiff_testkit::{require_tool, tempfile, Registry};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "seed_story/checks.rs"]
mod checks;
#[path = "seed_story/fleet.rs"]
mod fleet;

const TEST: &str = "the_seed_story_builds_runs_and_caches";

/// The Go build cache and the module cache: `Dockerfile.cache` mounts them, so no layer may
/// hold anything under them.
const CACHE_MOUNT_TARGETS: [&str; 2] = ["/root/.cache/go-build", "/go/pkg/mod"];

#[test]
fn the_seed_story_builds_runs_and_caches() {
    if !require_tool("runc") || !require_tool("openssl") || !debian::can_build_or_skip(TEST) {
        return;
    }
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    let story = Story::new(registry);
    story.make_base_images();
    let app = story.example();
    story.minimal_image_is_one_small_file_that_serves(&app);
    story.unchanged_rebuild_runs_nothing(&app);
    let (rootfs, production) = story.production_image_runs_as_non_root(&app);
    story.production_check_trusts_only_an_installed_ca(&rootfs, &production);
    story.article_images_get_no_warning(&app);
    story.production_without_certificates_is_told(&app);
    let (plain_edit, cold_go_build) = story.edit_reruns_only_the_steps_after_copy(&app);
    story.cache_mounts_speed_up_the_rebuild_and_stay_out_of_layers(&app, plain_edit);
    story.a_fresh_runner_rebuilds_from_the_registry_cache(&app, cold_go_build);
}

/// What every phase shares: the registry the base images are pushed to, one store.
struct Story {
    registry: Registry,
    store: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

impl Story {
    fn new(registry: Registry) -> Story {
        Story {
            registry,
            store: tempfile::tempdir().expect("a store directory"),
            scratch: tempfile::tempdir().expect("a scratch directory"),
        }
    }

    /// A project building into the shared store.
    fn project(&self) -> Project {
        Project::with_store(self.store.path())
    }

    /// `--build-arg REGISTRY=…`: the example's FROM lines name the test registry.
    fn registry_arg(&self) -> String {
        format!("REGISTRY={}", self.registry.addr())
    }

    /// `-f Dockerfile.cache --build-arg REGISTRY=…`: a build of `app`'s cache-mount Dockerfile.
    fn cache_dockerfile_args(&self, app: &Project) -> [String; 4] {
        [
            "-f".to_string(),
            app.path("Dockerfile.cache").display().to_string(),
            "--build-arg".to_string(),
            self.registry_arg(),
        ]
    }

    /// A fresh directory for a `-o type=local` export.
    fn rootfs_dir(&self, name: &str) -> PathBuf {
        let dir = self.scratch.path().join(name);
        assert!(!dir.exists(), "{} is used twice", dir.display());
        dir
    }

    /// `golang:1.19-bookworm` and `debian:bookworm-slim`, made by skiff from the Debian root
    /// filesystems (`FROM scratch` + `ADD rootfs.tar /` + ENV/WORKDIR/CMD) and pushed.
    fn make_base_images(&self) {
        for base in [DebianBase::Golang, DebianBase::BookwormSlim] {
            let started = Instant::now();
            let tag = go_example::push_base(base, &self.project(), &self.registry);
            eprintln!("[{TEST}] base image {tag}: {:.1?}", started.elapsed());
        }
    }

    /// A context holding `examples/go-server` (its files; it has no subdirectories).
    fn example(&self) -> Project {
        let p = self.project();
        go_example::write_example(&p);
        p
    }

    /// `Dockerfile`: exactly one file, `/server`, under 10 MB; it answers on 127.0.0.1.
    fn minimal_image_is_one_small_file_that_serves(&self, app: &Project) {
        let rootfs = self.rootfs_dir("minimal");
        let (run, image) = timed("Dockerfile, cold", || {
            app.build_image(&[
                "--build-arg",
                &self.registry_arg(),
                "--output",
                &local_output(&rootfs),
            ])
        });
        let paths: Vec<&String> = image.fs.entries.keys().collect();
        assert_eq!(paths, ["/server"], "{}", run.report());
        self.minimal_build_reports_only_the_missing_certificates(&run);
        let server = image.fs.entry("/server");
        assert_eq!((&server.kind, server.mode & 0o111), (&Kind::File, 0o111));
        let compressed = compressed_size(&image);
        eprintln!(
            "[{TEST}] FROM scratch image: /server {} bytes, {compressed} bytes compressed",
            server.data.len()
        );
        assert!(server.data.len() < 10_000_000 && compressed < 10_000_000);
        assert_eq!(image.runtime_config()["Cmd"], json!(["/server"]));

        let port = free_port().expect("a free port");
        let process = Process::from_image(&rootfs, image.runtime_config())
            .expect("the image's process")
            .env("PORT", &port.to_string());
        let container = Container::start(&rootfs, &process).expect("runc runs /server");
        let root = http_get(port, "/").unwrap_or_else(|e| panic!("{e:#}\n{}", container.log()));
        assert!(root.ends_with("\r\n\r\nhello from skiff\n"), "{root}");
    }

    /// Nothing changed: every step comes from the cache, none runs.
    fn unchanged_rebuild_runs_nothing(&self, app: &Project) {
        let run = timed("Dockerfile, nothing changed", || {
            app.build_ok(&["--build-arg", &self.registry_arg()])
        });
        assert_eq!(
            run.executed_steps(),
            Vec::<String>::new(),
            "{}",
            run.report()
        );
        assert!(!run.cached_steps().is_empty(), "{}", run.report());
    }

    /// `Dockerfile.production`: runs as `appuser`, not root (its `/healthz` says so). Pushed,
    /// so that the next phase can derive an image from it.
    fn production_image_runs_as_non_root(&self, app: &Project) -> (PathBuf, BuiltImage) {
        let rootfs = self.rootfs_dir("production");
        let tag = self.registry.reference("go-server:production");
        let dockerfile = app.path("Dockerfile.production");
        let (run, image) = timed("Dockerfile.production, cold", || {
            app.build_image(&[
                "-f",
                dockerfile.to_str().unwrap(),
                "--build-arg",
                &self.registry_arg(),
                "-t",
                &tag,
                "--push",
                "--output",
                &local_output(&rootfs),
            ])
        });
        assert_eq!(
            image.runtime_config()["User"],
            "appuser",
            "{}",
            run.report()
        );
        // Certificates, a non-root user, a static binary: nothing to warn about.
        assert_eq!(
            run.warning_rules(),
            Vec::<String>::new(),
            "{}",
            run.report()
        );
        let app_binary = image.fs.entry("/home/appuser/app");
        assert_ne!(app_binary.uid, 0, "chown appuser:appgroup ./app");

        let port = free_port().expect("a free port");
        let process = Process::from_image(&rootfs, image.runtime_config())
            .expect("the image's process")
            .env("PORT", &port.to_string());
        assert_ne!(process.uid, 0, "USER appuser resolves to a non-root uid");
        let container = Container::start(&rootfs, &process).expect("runc runs ./app");
        let health =
            http_get(port, "/healthz").unwrap_or_else(|e| panic!("{e:#}\n{}", container.log()));
        let expected = format!("\"uid\":{},\"gid\":{}", process.uid, process.gid);
        assert!(health.contains(&expected), "{health}");
        eprintln!(
            "[{TEST}] production /healthz: {}",
            health.lines().last().unwrap_or("")
        );
        (rootfs, image)
    }

    /// `./app -check https://127.0.0.1:PORT/` against a server whose CA is self-signed: fails
    /// in the production image, succeeds in an image derived from it that installs the CA.
    fn production_check_trusts_only_an_installed_ca(
        &self,
        production_rootfs: &Path,
        production: &BuiltImage,
    ) {
        let tls = TlsServer::start(self.scratch.path()).expect("an openssl s_server");
        let url = format!("https://127.0.0.1:{}/", tls.port);
        let check = |rootfs: &Path, image: &BuiltImage| {
            let process = Process::from_image(rootfs, image.runtime_config())
                .expect("the image's process")
                .args(&["./app", "-check", &url]);
            assert_ne!(process.uid, 0);
            run_to_completion(rootfs, &process).expect("runc runs ./app -check")
        };

        let untrusted = check(production_rootfs, production);
        let stderr = String::from_utf8_lossy(&untrusted.stderr);
        assert!(
            !untrusted.status.success() && stderr.contains("unknown authority"),
            "the production image must not trust the test CA yet: {untrusted:?}"
        );

        let derived = self.project();
        let rootfs = self.rootfs_dir("production-testca");
        derived.write("skiff-test-ca.crt", std::fs::read(&tls.ca).unwrap());
        derived.dockerfile(
            "ARG REGISTRY\nFROM ${REGISTRY}/go-server:production\nUSER root\n\
             COPY skiff-test-ca.crt /usr/local/share/ca-certificates/\n\
             RUN update-ca-certificates\nUSER appuser\n",
        );
        let (run, image) = derived.build_image(&[
            "--build-arg",
            &self.registry_arg(),
            "--output",
            &local_output(&rootfs),
        ]);
        let trusted = check(&rootfs, &image);
        assert!(
            trusted.status.success(),
            "-check failed although the CA is installed: {trusted:?}\n{}\nserver log:\n{}",
            run.report(),
            tls.log()
        );
        assert!(String::from_utf8_lossy(&trusted.stdout).contains(": ok"));
    }

    /// Appending to `main.go`: `WORKDIR`, `COPY go.mod go.sum` and `go mod download` come from
    /// the cache, only `COPY . .`, `go build` and the final `COPY --from` run. Returns how long
    /// the rebuild took. A cold `Dockerfile.cache` build comes first, so that the next phase
    /// compares the two Dockerfiles on the same edit with warm caches.
    /// Returns the rebuild's time and its `go build` step's seconds (Go's build cache empty).
    fn edit_reruns_only_the_steps_after_copy(&self, app: &Project) -> (Duration, f64) {
        let cache_args = self.cache_dockerfile_args(app);
        timed("Dockerfile.cache, cold", || {
            app.build_ok(&cache_args.each_ref().map(String::as_str))
        });

        append_to_main_go(app, "first edit");
        let started = Instant::now();
        let run = app.build_ok(&["--build-arg", &self.registry_arg()]);
        let took = started.elapsed();
        eprintln!("[{TEST}] Dockerfile, main.go edited: {took:.1?}");
        let cached = run.cached_steps();
        for step in [
            "WORKDIR /src",
            "COPY go.mod go.sum ./",
            "RUN go mod download",
        ] {
            assert!(
                cached.iter().any(|s| s.ends_with(step)),
                "{step} must come from the cache\n{}",
                run.report()
            );
        }
        let executed = run.executed_steps();
        let after_copy = [
            "COPY . .",
            "RUN CGO_ENABLED=0 go build -o /out/server .",
            "COPY --from=builder /out/server /server",
        ];
        assert!(
            executed
                .iter()
                .all(|s| after_copy.iter().any(|a| s.ends_with(a))),
            "only the steps after COPY . . may run\n{}",
            run.report()
        );
        assert!(
            executed.iter().any(|s| s.ends_with("COPY . .")),
            "{}",
            run.report()
        );
        assert!(
            executed.iter().any(|s| s.contains("go build")),
            "{}",
            run.report()
        );
        let go_build = run
            .step_seconds("go build")
            .expect("the go build step's time");
        (took, go_build)
    }

    /// `Dockerfile.cache` after the same kind of edit: faster than `Dockerfile` (Go's build
    /// cache survives in the cache mount), and neither cache directory enters a layer —
    /// while the plain builder's `go build` layer does hold Go's build cache.
    fn cache_mounts_speed_up_the_rebuild_and_stay_out_of_layers(
        &self,
        app: &Project,
        plain_edit: Duration,
    ) {
        append_to_main_go(app, "second edit");
        let args = self.cache_dockerfile_args(app);
        let args = args.each_ref().map(String::as_str);
        let started = Instant::now();
        let (run, image) = app.build_image(&args);
        let cache_edit = started.elapsed();
        eprintln!(
            "[{TEST}] after editing main.go: Dockerfile {plain_edit:.1?}, Dockerfile.cache {cache_edit:.1?}"
        );
        assert!(
            cache_edit < plain_edit,
            "Dockerfile.cache ({cache_edit:?}) must rebuild faster than Dockerfile ({plain_edit:?})\n{}",
            run.report()
        );
        let paths: Vec<&String> = image.fs.entries.keys().collect();
        assert_eq!(paths, ["/server"]);

        let mut with_target = args.to_vec();
        with_target.extend(["--target", "builder"]);
        let (_, builder) = timed("Dockerfile.cache --target builder", || {
            app.build_image(&with_target)
        });
        for image in [&image, &builder] {
            let leaked = cached_content(image);
            assert!(
                leaked.is_empty(),
                "cache mount contents in a layer: {leaked:?}"
            );
        }
        let (_, plain_builder) =
            app.build_image(&["--build-arg", &self.registry_arg(), "--target", "builder"]);
        assert!(
            !cached_content(&plain_builder).is_empty(),
            "without cache mounts, Go's build cache lands in the go build layer (the check must be able to fail)"
        );
    }
}

/// Paths under a cache mount target, in any layer of `image`.
fn cached_content(image: &BuiltImage) -> Vec<String> {
    image
        .layers
        .iter()
        .flat_map(|layer| layer.tree.entries.keys())
        .filter(|path| {
            CACHE_MOUNT_TARGETS
                .iter()
                .any(|target| path.starts_with(&format!("{target}/")))
        })
        .take(5)
        .cloned()
        .collect()
}

/// Runs `build`, printing how long it took under `what`.
fn timed<T>(what: &str, build: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = build();
    eprintln!("[{TEST}] {what}: {:.1?}", started.elapsed());
    result
}

/// `type=local,dest=DIR`.
fn local_output(dir: &Path) -> String {
    format!("type=local,dest={}", dir.display())
}

/// The sum of the layer blobs' sizes: what a registry stores and a pull downloads.
fn compressed_size(image: &BuiltImage) -> u64 {
    image
        .layers
        .iter()
        .filter_map(|l| l.descriptor["size"].as_u64())
        .sum()
}

/// A source edit that changes the binary (not only whitespace in a file Go ignores).
fn append_to_main_go(app: &Project, what: &str) {
    let path = app.path("main.go");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\n// {what}\nvar _ = \"{what}\"\n"));
    app.write("main.go", text);
}

/// An HTTPS server on 127.0.0.1 (`openssl s_server -www`) whose certificate is signed by a
/// self-signed CA made for the test; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    ca: PathBuf,
    log: PathBuf,
}

impl TlsServer {
    fn start(dir: &Path) -> anyhow::Result<TlsServer> {
        let dir = dir.join("tls");
        std::fs::create_dir_all(&dir)?;
        let openssl = |args: &[&str]| -> anyhow::Result<()> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()?;
            if !out.status.success() {
                anyhow::bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=skiff test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ])?;
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ])?;
        let port = free_port()?;
        let log = dir.join("s_server.log");
        let child = Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-cert",
                "server.crt",
                "-key",
                "server.key",
            ])
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.join("s_server.err"))?)
            .spawn()?;
        let server = TlsServer {
            child,
            port,
            ca: dir.join("ca.crt"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                anyhow::bail!("openssl s_server never listened: {}", server.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
            + &std::fs::read_to_string(self.log.with_file_name("s_server.err")).unwrap_or_default()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A build context on disk plus a private skiff store, for black-box tests of `skiff build`.
//!
//! [`Project`] writes files, runs the real `skiff` binary on them and reads the result back
//! with [`BuiltImage`]: an OCI archive exported by skiff (`-o type=oci,dest=…`), opened here
//! without any skiff code, its layers applied in order (OCI whiteouts included) into an
//! in-memory file tree whose entries carry type, mode, owner and content.
//!
//! Every build gets `--build-context busybox=oci-layout://<busybox fixture>:latest`, so a
//! Dockerfile can simply say `FROM busybox`.
//!
//! ```no_run
//! use skiff_testkit::project::Project;
//! let p = Project::new();
//! p.dockerfile("FROM busybox\nRUN echo hi > /hi\n");
//! let (run, image) = p.build_image(&[]);
//! assert_eq!(image.fs.read("/hi"), b"hi\n");
//! assert!(run.cached_steps().is_empty());
//! ```

mod built_image;

pub use built_image::{BuiltImage, Entry, FileTree, Kind, LayerContents};

use crate::busybox::{busybox_layout, LAYOUT_TAG};
use crate::rootless::RootlessUser;
use crate::tools::skiff_bin;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use tempfile::TempDir;

/// A build context and a store of its own; both deleted on drop.
pub struct Project {
    context: TempDir,
    store: PathBuf,
    _store_dir: Option<TempDir>,
    scratch: TempDir,
    user: Option<&'static RootlessUser>,
}

impl Default for Project {
    fn default() -> Self {
        Project::new()
    }
}

impl Project {
    /// An empty context and an empty private store.
    pub fn new() -> Project {
        let store_dir = tempdir("skiff-test-store-");
        let store = store_dir.path().to_path_buf();
        Project {
            context: tempdir("skiff-test-context-"),
            store,
            _store_dir: Some(store_dir),
            scratch: tempdir("skiff-test-out-"),
            user: None,
        }
    }

    /// A project with `dockerfile` for a test whose build runs `RUN` steps, or `None` when
    /// runc is missing (the test is skipped; in CI [`crate::require_tool`] panics instead).
    pub fn needing_runc(dockerfile: &str) -> Option<Project> {
        if !crate::tools::require_tool("runc") {
            return None;
        }
        let p = Project::new();
        p.dockerfile(dockerfile);
        Some(p)
    }

    /// An empty context building into an existing store (to share a cache between projects).
    pub fn with_store(store: &Path) -> Project {
        Project {
            context: tempdir("skiff-test-context-"),
            store: store.to_path_buf(),
            _store_dir: None,
            scratch: tempdir("skiff-test-out-"),
            user: None,
        }
    }

    /// The same project, with every skiff it runs run as `user` (rootless): the context,
    /// store and scratch directories become the user's.
    pub fn run_as(mut self, user: &'static RootlessUser) -> Project {
        std::fs::create_dir_all(self.user_tmp()).expect("the user's TMPDIR");
        for dir in [
            self.context.path(),
            self.store.as_path(),
            self.scratch.path(),
        ] {
            user.give(dir);
        }
        self.user = Some(user);
        self
    }

    /// The `TMPDIR` of every skiff a [`Project::run_as`] runs: where its temporary files
    /// would be left outside the store.
    pub fn user_tmp(&self) -> PathBuf {
        self.scratch.path().join("tmp")
    }

    /// The context directory.
    pub fn dir(&self) -> &Path {
        self.context.path()
    }

    /// The store directory (`skiff --root`).
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// A path inside the context.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.context.path().join(rel)
    }

    /// Writes a file in the context (parents created), mode 0644.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        self.write_mode(rel, contents, 0o644)
    }

    /// Writes a file in the context with the given permission bits.
    pub fn write_mode(&self, rel: &str, contents: impl AsRef<[u8]>, mode: u32) -> &Self {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        self.chmod(rel, mode)
    }

    /// Sets the permission bits of a file or directory of the context (a directory's mode
    /// once [`Project::write`] has created it with files in it).
    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {mode:o} {rel} in the context: {e}"));
        self
    }

    /// Writes `Dockerfile` in the context.
    pub fn dockerfile(&self, text: &str) -> &Self {
        self.write("Dockerfile", text)
    }

    /// Removes a file or directory from the context.
    pub fn remove(&self, rel: &str) -> &Self {
        let path = self.path(rel);
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
        self
    }

    /// `skiff --root STORE`, ready for more arguments.
    pub fn skiff(&self) -> Command {
        let mut cmd = match self.user {
            Some(user) => {
                let mut cmd = user.skiff();
                cmd.env("TMPDIR", self.user_tmp());
                cmd
            }
            None => Command::new(skiff_bin()),
        };
        cmd.arg("--root").arg(&self.store);
        cmd
    }

    /// `skiff build --progress=plain --build-context busybox=… ARGS CONTEXT`, not started
    /// (for tests that spawn, time or kill the build themselves).
    ///
    /// `SOURCE_DATE_EPOCH` is not inherited from the test's environment: a build sees it only
    /// when the test passes it ([`Project::build_env`]), so that image times never depend on
    /// the shell the tests were started from.
    pub fn build_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.skiff();
        cmd.arg("build").arg("--progress=plain");
        cmd.arg("--build-context").arg(busybox_build_context());
        cmd.args(args).arg(self.context.path());
        cmd.env_remove("SOURCE_DATE_EPOCH");
        cmd
    }

    /// [`Project::build_command`] started in the background, stdout and stderr piped (for
    /// tests that time, poll or kill the build).
    pub fn spawn_build(&self, args: &[&str]) -> SpawnedBuild {
        let mut cmd = self.build_command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().expect("starting skiff build");
        SpawnedBuild {
            command: format!("{cmd:?}"),
            child,
        }
    }

    /// Runs [`Project::build_command`]; the build may fail.
    pub fn build(&self, args: &[&str]) -> BuildRun {
        self.build_env(args, &[])
    }

    /// [`Project::build`] with extra environment variables for skiff (`SOURCE_DATE_EPOCH`, …),
    /// set on the child only so that they do not leak into other tests of the process.
    pub fn build_env(&self, args: &[&str], envs: &[(&str, &str)]) -> BuildRun {
        let mut cmd = self.build_command(args);
        cmd.envs(envs.iter().copied());
        let output = cmd.output().expect("running skiff");
        BuildRun::new(format!("{cmd:?}"), output)
    }

    /// [`Project::build`] that must succeed (panics with skiff's output otherwise).
    pub fn build_ok(&self, args: &[&str]) -> BuildRun {
        let run = self.build(args);
        assert!(run.success(), "{}", run.report());
        run
    }

    /// A successful build exported as an OCI archive, read back as a [`BuiltImage`].
    pub fn build_image(&self, args: &[&str]) -> (BuildRun, BuiltImage) {
        self.build_image_env(args, &[])
    }

    /// [`Project::build_image`] with extra environment variables for skiff.
    pub fn build_image_env(&self, args: &[&str], envs: &[(&str, &str)]) -> (BuildRun, BuiltImage) {
        let (run, image) = self.try_build_image_env(args, envs);
        match image {
            Some(image) => (run, image),
            None => panic!("{}", run.report()),
        }
    }

    /// A build exported as an OCI archive; the image is `None` when the build failed.
    pub fn try_build_image_env(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> (BuildRun, Option<BuiltImage>) {
        let out = self.scratch_path("image.tar");
        let output = format!("type=oci,dest={}", out.display());
        let mut all = vec!["--output", output.as_str()];
        all.extend_from_slice(args);
        let run = self.build_env(&all, envs);
        let image = run.success().then(|| {
            BuiltImage::open(&out).unwrap_or_else(|e| {
                panic!(
                    "reading the exported image {}: {e:#}\n{}",
                    out.display(),
                    run.report()
                )
            })
        });
        std::fs::remove_file(&out).ok();
        (run, image)
    }

    /// A fresh path (not created) in a scratch directory outside the context and the store,
    /// removed with the project.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.scratch.path().join(format!("{n}-{name}"))
    }
}

/// `busybox=oci-layout://<busybox fixture>:latest`: the `--build-context` every build of a
/// [`Project`] gets, for tests that assemble a `skiff build` command line themselves.
pub fn busybox_build_context() -> String {
    let layout = busybox_layout().expect("the busybox fixture");
    format!("busybox=oci-layout://{}:{LAYOUT_TAG}", layout.display())
}

/// A `skiff build` running in the background, from [`Project::spawn_build`].
pub struct SpawnedBuild {
    command: String,
    /// The skiff process (stdout and stderr piped): its pid, to poll or to kill.
    pub child: Child,
}

impl SpawnedBuild {
    /// Waits for the build to end and reads what it reported.
    pub fn wait(self) -> BuildRun {
        let output = self
            .child
            .wait_with_output()
            .expect("waiting for skiff build");
        BuildRun::new(self.command, output)
    }
}

fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(std::env::temp_dir())
        .expect("creating a temporary directory")
}

/// What one `skiff build` did: exit status, output, and the steps it reported.
pub struct BuildRun {
    command: String,
    output: Output,
    /// Step number → step name (`[stage 2/4] RUN …`), from the plain progress lines.
    steps: BTreeMap<usize, String>,
    cached: BTreeSet<usize>,
}

impl BuildRun {
    fn new(command: String, output: Output) -> BuildRun {
        let mut steps = BTreeMap::new();
        let mut cached = BTreeSet::new();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        for line in stderr.lines() {
            let Some(rest) = line.strip_prefix('#') else {
                continue;
            };
            let Some((num, text)) = rest.split_once(' ') else {
                continue;
            };
            let Ok(num) = num.parse::<usize>() else {
                continue;
            };
            if text == "CACHED" {
                cached.insert(num);
            } else if text.starts_with('[') {
                steps.entry(num).or_insert_with(|| text.to_string());
            }
        }
        BuildRun {
            command,
            output,
            steps,
            cached,
        }
    }

    /// The raw process output.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// Whether skiff exited 0.
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// The exit code (None when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything skiff printed on stdout.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Everything skiff printed on stderr (progress and errors).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The command and its whole output, for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "{}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts that the build failed and that its stderr says `needle` (panics with the
    /// whole report otherwise).
    pub fn assert_failed_with(&self, needle: &str) {
        assert!(!self.success(), "the build should fail\n{}", self.report());
        assert!(
            self.stderr().contains(needle),
            "expected {needle:?}\n{}",
            self.report()
        );
    }

    /// The events of a `--progress=json` build: every stderr line parsed (panics with the
    /// report when a line is not JSON).
    pub fn json_events(&self) -> Vec<Value> {
        self.stderr()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("a line that is not JSON ({e}): {l}\n{}", self.report())
                })
            })
            .collect()
    }

    /// The rules of the warnings a plain-progress build printed after it ran (`warning:
    /// RULE: …`: the build checks and the final-image verification), in order.
    pub fn warning_rules(&self) -> Vec<String> {
        let stderr = self.stderr();
        let rules = stderr.lines().filter_map(|line| {
            let (rule, _) = line.strip_prefix("warning: ")?.split_once(": ")?;
            rule.chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then(|| rule.to_string())
        });
        rules.collect()
    }

    /// How long the first step whose name contains `needle` took, from its plain-progress
    /// `#N DONE 1.2s` line; `None` when no such step finished.
    pub fn step_seconds(&self, needle: &str) -> Option<f64> {
        let (number, _) = self.steps.iter().find(|(_, name)| name.contains(needle))?;
        let done = format!("#{number} DONE ");
        let stderr = self.stderr();
        let line = stderr.lines().find_map(|l| l.strip_prefix(done.as_str()))?;
        line.trim_end_matches('s').parse().ok()
    }

    /// Names of every step reported (`[stage n/m] INSTRUCTION`), in step order.
    pub fn steps(&self) -> Vec<String> {
        self.steps.values().cloned().collect()
    }

    /// Names of the steps whose result came from the cache.
    pub fn cached_steps(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|(n, _)| self.cached.contains(n))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Names of the steps that were executed (not from the cache); `FROM` steps, which
    /// resolve a base rather than run, are left out.
    pub fn executed_steps(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|(n, s)| !self.cached.contains(n) && !is_from_step(s))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// [`BuildRun::executed_steps`] without their `[stage n/m] ` prefix: the instructions, for
    /// readable assertions.
    pub fn executed_instructions(&self) -> Vec<String> {
        instructions(self.executed_steps())
    }

    /// [`BuildRun::cached_steps`] without their `[stage n/m] ` prefix.
    pub fn cached_instructions(&self) -> Vec<String> {
        instructions(self.cached_steps())
    }

    /// Asserts which steps ran (not from the cache; `FROM` left out), by instruction, in step
    /// order.
    pub fn assert_executed(&self, expected: &[&str]) {
        assert_eq!(self.executed_instructions(), expected, "{}", self.report());
    }

    /// Asserts which steps came from the cache, by instruction, in step order.
    pub fn assert_cached(&self, expected: &[&str]) {
        assert_eq!(self.cached_instructions(), expected, "{}", self.report());
    }
}

/// `[stage 2/4] COPY a b` → `COPY a b`.
fn instructions(steps: Vec<String>) -> Vec<String> {
    steps
        .into_iter()
        .map(|s| s.split_once("] ").map(|(_, i)| i.to_string()).unwrap_or(s))
        .collect()
}

/// `[stage 1/4] FROM busybox` → true.
fn is_from_step(name: &str) -> bool {
    name.split_once("] ")
        .is_some_and(|(_, instruction)| instruction.starts_with("FROM "))
}

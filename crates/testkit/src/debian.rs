//! Debian bookworm root filesystems, made offline from the machine's own apt mirror.
//!
//! There is no Docker Hub here, yet the seed story needs `golang:1.19-bookworm` and
//! `debian:bookworm-slim`. This module makes their root filesystems with
//! `debootstrap --variant=minbase`, strips what only the bootstrap needed (apt lists and
//! caches, logs, device nodes, the host's resolv.conf), and tars the result
//! deterministically with numeric owners. The tarballs are cached on disk
//! (`$SKIFF_TESTKIT_CACHE`, default `/var/tmp/skiff-testkit`) and built once, under a lock,
//! however many test processes ask at the same time. [`image_config_for`] gives the
//! ENV/WORKDIR/CMD that turn a tarball into the image of the same name
//! (`FROM scratch` + `ADD rootfs.tar /` + those instructions).

use std::fmt::Write as _;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cache::cache_dir;
use crate::tools::{find_tool, in_ci};

mod mirror;

pub use mirror::apt_mirror;

/// The Debian release every base image here comes from (Go 1.19 is bookworm's `golang-go`).
pub const SUITE: &str = "bookworm";

/// Every file in the tarballs gets at most this modification time (2025-05-20T00:00:00Z),
/// so that two builds from the same packages give the same bytes wherever the clock is.
const CLAMP_MTIME: u64 = 1_747_699_200;

/// Bumped whenever the recipe changes, so that old cached tarballs are not reused.
const RECIPE_VERSION: u32 = 2;

/// How long a test waits for another process that holds the build lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The two Debian base images the seed story needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebianBase {
    /// `golang:1.19-bookworm`: minbase plus `golang-go`, `ca-certificates` and `git`.
    Golang,
    /// `debian:bookworm-slim`: minbase plus `ca-certificates` (RUN has no network to add them).
    BookwormSlim,
}

impl DebianBase {
    /// The image reference (repository:tag, no registry) the tarball stands in for.
    pub fn reference(self) -> &'static str {
        match self {
            DebianBase::Golang => "golang:1.19-bookworm",
            DebianBase::BookwormSlim => "debian:bookworm-slim",
        }
    }

    /// The packages given to `debootstrap --include` on top of minbase.
    fn packages(self) -> &'static [&'static str] {
        match self {
            DebianBase::Golang => &["golang-go", "ca-certificates", "git"],
            DebianBase::BookwormSlim => &["ca-certificates"],
        }
    }

    /// The cached tarball's file name.
    fn tar_name(self) -> String {
        let stem = match self {
            DebianBase::Golang => "golang-1.19-bookworm",
            DebianBase::BookwormSlim => "debian-bookworm-slim",
        };
        format!("{stem}-rootfs-v{RECIPE_VERSION}.tar")
    }
}

/// The `golang:1.19-bookworm` root filesystem tarball (built on first use, then cached).
///
/// Panics with the reason and the fix when it cannot be made (not root, no debootstrap,
/// no apt mirror); tests that can run without root call [`missing_prerequisites`] first.
pub fn golang_rootfs_tar() -> PathBuf {
    rootfs_tar(DebianBase::Golang).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The `debian:bookworm-slim` root filesystem tarball (built on first use, then cached).
///
/// Panics like [`golang_rootfs_tar`].
pub fn bookworm_slim_rootfs_tar() -> PathBuf {
    rootfs_tar(DebianBase::BookwormSlim).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The root filesystem tarball of `base`: the cached one, or a fresh one built now.
///
/// Only one process builds at a time (a lock file in the cache directory); the others wait
/// and then find the finished tarball, which appears atomically by rename.
pub fn rootfs_tar(base: DebianBase) -> Result<PathBuf> {
    let dir = cache_dir();
    let tar = dir.join(base.tar_name());
    if tar.is_file() {
        return Ok(tar);
    }
    if let Some(why) = missing_prerequisites() {
        bail!(
            "cannot make the {} root filesystem: {why}",
            base.reference()
        );
    }
    fs::create_dir_all(&dir).with_context(|| {
        format!(
            "creating the testkit cache {} (set SKIFF_TESTKIT_CACHE to a writable directory)",
            dir.display()
        )
    })?;
    let _lock = BuildLock::acquire(&dir.join("debian.lock"))?;
    if tar.is_file() {
        return Ok(tar); // another process built it while we waited
    }
    build(base, &dir, &tar)?;
    Ok(tar)
}

/// Why the tarballs cannot be built on this machine, or `None` when they can.
///
/// Tests use it to skip with a clear message (and to fail instead when `CI=true`).
pub fn missing_prerequisites() -> Option<String> {
    if !is_root() {
        return Some("debootstrap needs root: run the tests as root".into());
    }
    for tool in ["debootstrap", "tar"] {
        if find_tool(tool).is_none() {
            return Some(format!(
                "`{tool}` is not on PATH: run scripts/install-deps (apt-get install {tool}), \
                 and as root make sure PATH includes /usr/sbin"
            ));
        }
    }
    None
}

/// Whether a test needing the tarballs can run here: `true` when it can; otherwise prints
/// why `test` is skipped and returns `false`, or panics in CI ([`in_ci`]: nothing may skip).
pub fn can_build_or_skip(test: &str) -> bool {
    let Some(why) = missing_prerequisites() else {
        return true;
    };
    if in_ci() {
        panic!("{test}: CI=true and nothing may skip, but {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// The configuration the image made from a tarball should carry, as the official images do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Environment variables, in the order the ENV instructions set them.
    pub env: Vec<(&'static str, &'static str)>,
    /// The WORKDIR, when the image has one.
    pub working_dir: Option<&'static str>,
    /// The CMD (exec form).
    pub cmd: Vec<&'static str>,
}

/// The PATH of Debian's own images.
const DEBIAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The PATH of the golang image: `$GOPATH/bin`, then Debian's Go 1.19 (`/usr/lib/go-1.19/bin`,
/// where `golang-go` puts `go` and `gofmt`), then Debian's PATH.
const GOLANG_PATH: &str =
    "/go/bin:/usr/lib/go-1.19/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The ENV/WORKDIR/CMD of the image made from `base`'s tarball.
pub fn image_config_for(base: DebianBase) -> ImageConfig {
    match base {
        DebianBase::Golang => ImageConfig {
            env: vec![("PATH", GOLANG_PATH), ("GOPATH", "/go")],
            working_dir: Some("/go"),
            cmd: vec!["bash"],
        },
        DebianBase::BookwormSlim => ImageConfig {
            env: vec![("PATH", DEBIAN_PATH)],
            working_dir: None,
            cmd: vec!["bash"],
        },
    }
}

impl ImageConfig {
    /// The Dockerfile instructions (`ENV`, `WORKDIR`, `CMD`) that give an image this config;
    /// also usable as `docker import --change` arguments.
    pub fn instructions(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("ENV {k}={v}"))
            .collect();
        if let Some(dir) = self.working_dir {
            lines.push(format!("WORKDIR {dir}"));
        }
        let args: Vec<String> = self.cmd.iter().map(|a| json_string(a)).collect();
        lines.push(format!("CMD [{}]", args.join(", ")));
        lines
    }

    /// A whole Dockerfile that makes the image from the tarball `rootfs_tar` (a path in
    /// the build context): `FROM scratch`, `ADD rootfs_tar /`, then [`Self::instructions`].
    pub fn dockerfile(&self, rootfs_tar: &str) -> String {
        let mut text = format!("FROM scratch\nADD {rootfs_tar} /\n");
        for line in self.instructions() {
            let _ = writeln!(text, "{line}");
        }
        text
    }
}

/// `s` as a JSON string literal (the values here are plain ASCII, but quote properly anyway).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds `base` in a scratch directory under `cache` and renames the tarball to `tar`.
fn build(base: DebianBase, cache: &Path, tar: &Path) -> Result<()> {
    remove_stale_builds(cache)?;
    // debootstrap wants absolute paths (--cache-dir refuses a relative one).
    let cache =
        &std::path::absolute(cache).with_context(|| format!("resolving {}", cache.display()))?;
    let work = cache.join(format!("{}.build-{}", base.tar_name(), std::process::id()));
    let result = (|| {
        let rootfs = work.join("rootfs");
        fs::create_dir_all(&rootfs).with_context(|| format!("creating {}", rootfs.display()))?;
        debootstrap(
            base,
            &rootfs,
            &cache.join("debs"),
            &work.join("debootstrap.log"),
        )?;
        clean(base, &rootfs)?;
        let partial = work.join("rootfs.tar");
        tar_deterministically(&rootfs, &partial)?;
        fs::rename(&partial, tar)
            .with_context(|| format!("moving {} to {}", partial.display(), tar.display()))
    })();
    remove_build_dir(&work)?;
    result.with_context(|| format!("making the {} root filesystem", base.reference()))
}

/// Runs debootstrap into `rootfs`, keeping downloaded packages in `debs` for the next build.
fn debootstrap(base: DebianBase, rootfs: &Path, debs: &Path, log: &Path) -> Result<()> {
    let mirror = apt_mirror(SUITE)?;
    fs::create_dir_all(debs).with_context(|| format!("creating {}", debs.display()))?;
    let log_file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", base.packages().join(",")))
        .arg(format!("--cache-dir={}", debs.display()))
        .arg(SUITE)
        .arg(rootfs)
        .arg(&mirror)
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .context("running debootstrap (apt-get install debootstrap)")?;
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "debootstrap from {mirror} failed ({status}); is the mirror reachable? last lines:\n{}",
            tail.join("\n")
        );
    }
    Ok(())
}

/// Removes what only the bootstrap needed or what describes the host, not the image.
fn clean(base: DebianBase, rootfs: &Path) -> Result<()> {
    empty_dir(&rootfs.join("var/lib/apt/lists"), &["partial"])?;
    empty_dir(&rootfs.join("var/lib/apt/lists/partial"), &[])?;
    empty_dir(&rootfs.join("var/cache/apt"), &["archives"])?;
    empty_dir(&rootfs.join("var/cache/apt/archives"), &["partial"])?;
    empty_dir(&rootfs.join("var/cache/apt/archives/partial"), &[])?;
    empty_dir(&rootfs.join("var/log/apt"), &[])?;
    for log in ["bootstrap.log", "dpkg.log", "alternatives.log"] {
        remove_if_present(&rootfs.join("var/log").join(log))?;
    }
    // ldconfig's aux-cache records inode numbers and ctimes: the only file that differed
    // between two builds. ldconfig recreates it when it needs it.
    remove_if_present(&rootfs.join("var/cache/ldconfig/aux-cache"))?;
    // Runtimes provide these; debootstrap copied the host's.
    remove_if_present(&rootfs.join("etc/resolv.conf"))?;
    remove_if_present(&rootfs.join("etc/hostname"))?;
    // Device nodes come from the runtime; extracting them would need mknod.
    empty_dir(&rootfs.join("dev"), &[])?;
    empty_dir(&rootfs.join("tmp"), &[])?;
    if base == DebianBase::Golang {
        // As the official golang image: GOPATH exists and anyone may write to it.
        for dir in ["go", "go/bin", "go/src"] {
            let path = rootfs.join(dir);
            fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
            set_mode(&path, 0o1777)?;
        }
    }
    Ok(())
}

/// Tars `rootfs` into `out`: sorted names, numeric owners, no atime/ctime, clamped mtimes.
fn tar_deterministically(rootfs: &Path, out: &Path) -> Result<()> {
    let mut top: Vec<String> = fs::read_dir(rootfs)
        .with_context(|| format!("listing {}", rootfs.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    top.sort();
    let output = Command::new("tar")
        .args(["--create", "--format=gnu", "--sort=name", "--numeric-owner"])
        .arg(format!("--mtime=@{CLAMP_MTIME}"))
        .arg("--clamp-mtime")
        .arg("--file")
        .arg(out)
        .arg("--directory")
        .arg(rootfs)
        .arg("--")
        .args(&top)
        .output()
        .context("running tar (GNU tar is needed)")?;
    if !output.status.success() {
        bail!(
            "tar of {} failed: {}",
            rootfs.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Removes scratch directories that crashed builds left behind (we hold the lock).
fn remove_stale_builds(cache: &Path) -> Result<()> {
    for entry in fs::read_dir(cache).with_context(|| format!("listing {}", cache.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.contains(".tar.build-") && path.is_dir() {
            remove_build_dir(&path)?;
        }
    }
    Ok(())
}

/// Removes a build directory, first unmounting anything a crashed debootstrap left mounted
/// inside it (its /proc or /sys), so that removal never reaches the host's.
fn remove_build_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut inside: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    inside.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for mount in &inside {
        let status = Command::new("umount").arg("--lazy").arg(mount).status();
        if !status.is_ok_and(|s| s.success()) {
            bail!(
                "{mount} is still mounted inside {}: unmount it, then remove the directory",
                dir.display()
            );
        }
    }
    fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// Removes everything in `dir` except the names in `keep` (a missing `dir` is fine).
fn empty_dir(dir: &Path, keep: &[&str]) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        if keep.iter().any(|k| entry.file_name() == *k) {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Removes a file or symlink if it exists.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Sets a directory's permission bits (including sticky), which `create_dir_all` cannot.
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// Whether this process runs as root (read from /proc, without a libc binding).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// An exclusive lock between processes: a file created with `O_EXCL` holding our pid.
/// A lock whose process is gone is stale and taken over.
struct BuildLock {
    path: PathBuf,
}

impl BuildLock {
    /// Waits (up to [`LOCK_TIMEOUT`]) until the lock at `path` is ours.
    fn acquire(path: &Path) -> Result<BuildLock> {
        let start = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Ok(BuildLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(path).unwrap_or_default();
                    let holder = holder.trim();
                    let alive = holder.is_empty() // being written right now
                        || Path::new("/proc").join(holder).exists();
                    if !alive {
                        remove_if_present(path)?;
                        continue;
                    }
                    if start.elapsed() > LOCK_TIMEOUT {
                        bail!(
                            "process {holder} has held {} for over {} minutes: if it is stuck, \
                             kill it or remove the lock file",
                            path.display(),
                            LOCK_TIMEOUT.as_secs() / 60
                        );
                    }
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_arguments_are_json_quoted() {
        assert_eq!(json_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}

//! An ordinary user with subordinate ids, to run skiff rootless: the tests run as root, and the
//! skiff they test runs as this user (`Project::run_as`, [`RootlessUser::command`]).
//!
//! The user, `skiff-rootless`, is created on first use (`useradd`, then `usermod
//! --add-subuids/--add-subgids` with 65536 ids from [`SUBID_START`] when useradd gave it none), as CI's fresh machine has
//! none; `newuidmap`/`newgidmap` come from Debian's `uidmap` (scripts/install-deps). The skiff
//! binary is hard-linked (or copied) into the user's home: the build tree may sit under a
//! directory the user cannot enter.

use crate::tools::{in_ci, require_tool, skiff_bin};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The test user's name.
pub const USER: &str = "skiff-rootless";
/// The first host id of the user's subordinate range (65536 ids).
pub const SUBID_START: u32 = 400_000;

/// The rootless test user.
#[derive(Debug)]
pub struct RootlessUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory (owned by the user).
    pub home: PathBuf,
    /// The skiff binary under test, where the user can run it.
    pub skiff: PathBuf,
}

impl RootlessUser {
    /// The user, made on first use; `None` (the test is skipped) when the tests do not run as
    /// root or `newuidmap` is missing. In CI (`CI=true`) those panic instead.
    pub fn get_or_skip() -> Option<&'static RootlessUser> {
        if !rustix::process::geteuid().is_root() {
            let reason = "rootless tests make a user, which needs the tests to run as root";
            assert!(!in_ci(), "CI must not skip tests: {reason}");
            eprintln!("SKIPPED: {reason}");
            return None;
        }
        if !require_tool("newuidmap") || !require_tool("runc") {
            return None;
        }
        static USER_ONCE: OnceLock<Result<RootlessUser, String>> = OnceLock::new();
        match USER_ONCE.get_or_init(make_user) {
            Ok(user) => Some(user),
            Err(why) => panic!("cannot set up the rootless test user: {why}"),
        }
    }

    /// `program` as this user: its uid and gid (std drops root's supplementary groups), `HOME`, `USER` and
    /// `LOGNAME` its own, `TMPDIR` [`RootlessUser::tmp`], and none of the caller's skiff or
    /// XDG settings.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(self.uid)
            .gid(self.gid)
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("TMPDIR", self.tmp())
            .env_remove("SKIFF_ROOT")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DOCKER_CONFIG")
            .current_dir(&self.home);
        cmd
    }

    /// `skiff` as this user.
    pub fn skiff(&self) -> Command {
        self.command(&self.skiff)
    }

    /// The user's `TMPDIR` in [`RootlessUser::command`]: where a build would leave temporary
    /// files outside its store (tests check it is empty afterwards).
    pub fn tmp(&self) -> PathBuf {
        self.home.join("tmp")
    }

    /// Gives `path` (recursively) to the user, so that a build as the user can read and write it.
    pub fn give(&self, path: &Path) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .expect("running chown");
        assert!(status.success(), "chown -R {} failed", path.display());
    }
}

fn make_user() -> Result<RootlessUser, String> {
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    };
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        run(Command::new("useradd")
            .args(["--create-home", "--user-group", "--shell", "/bin/sh"])
            .arg(USER))?;
    }
    let has_line = |file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:")))
    };
    if !has_line("/etc/subuid") || !has_line("/etc/subgid") {
        let range = format!("{SUBID_START}-{}", SUBID_START + 65_535);
        run(Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range])
            .arg(USER))?;
    }
    // RUN's own network (slirp4netns) opens /dev/net/tun as the user: Debian's udev makes it
    // 0666; some VMs (this project's CI among them) have 0600.
    let tun = Path::new("/dev/net/tun");
    if std::fs::metadata(tun).is_ok_and(|m| m.permissions().mode() & 0o006 != 0o006) {
        std::fs::set_permissions(tun, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| format!("chmod 0666 /dev/net/tun: {e}"))?;
    }
    let (uid, gid) = (id("-u").ok_or("no uid")?, id("-g").ok_or("no gid")?);
    let home = PathBuf::from(format!("/home/{USER}"));
    let user = RootlessUser {
        name: USER.to_owned(),
        uid,
        gid,
        skiff: home.join(".skiff-test-bin/skiff"),
        home,
    };
    for dir in [user.tmp(), user.home.join(".skiff-test-bin")] {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    user.give(&user.home);
    // After the chown: a hard link shares the build tree's inode, which stays root's (0755).
    install_binary(&skiff_bin(), &user.skiff)?;
    Ok(user)
}

/// Puts the binary under test at `dest` (a hard link where possible), replacing what is there.
fn install_binary(bin: &Path, dest: &Path) -> Result<(), String> {
    let staged = dest.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    if std::fs::hard_link(bin, &staged).is_err() {
        std::fs::copy(bin, &staged).map_err(|e| format!("copying {}: {e}", bin.display()))?;
    }
    std::fs::rename(&staged, dest).map_err(|e| format!("installing {}: {e}", dest.display()))
}

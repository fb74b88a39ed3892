//! `skiff info`: what this machine allows and what skiff will use here: who runs it, user
//! namespaces and subordinate ids (what a rootless skiff needs), how step root
//! filesystems are made, the OCI runtime, RUN's network, the store, and the emulated
//! platforms registered with binfmt_misc. Each line is looked up, not assumed.

use super::Context;
use anyhow::Result;
use serde::Serialize;
use skiff_host::subids::{self, Owner};
use skiff_sandbox::{NetworkHelper, Overlay, RootfsMode, Runtime};
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Flags of `skiff info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = InfoFormat::Text)]
    pub format: InfoFormat,
}

/// How `skiff info` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoFormat {
    /// lines for people
    Text,
    /// one JSON object
    Json,
}

/// Everything `skiff info` reports.
#[derive(Serialize, Debug)]
struct Info {
    version: String,
    kernel: String,
    user: UserInfo,
    user_namespaces: UserNamespaces,
    rootfs: RootfsInfo,
    runtime: RuntimeInfo,
    network: NetworkInfo,
    store: StoreInfo,
    emulation: Emulation,
}

#[derive(Serialize, Debug)]
struct UserInfo {
    uid: u32,
    name: Option<String>,
    root: bool,
    /// Whether skiff runs in a user namespace of its own (what follows is seen from there).
    rootless: bool,
}

#[derive(Serialize, Debug)]
struct UserNamespaces {
    /// `/proc/sys/user/max_user_namespaces`.
    max_user_namespaces: Option<u64>,
    /// `/proc/sys/kernel/unprivileged_userns_clone` (Debian's switch; absent elsewhere).
    unprivileged_userns_clone: Option<u64>,
    /// The user's `/etc/subuid` ranges (`START:COUNT`).
    subuid: Vec<String>,
    /// The user's `/etc/subgid` ranges.
    subgid: Vec<String>,
    /// `newuidmap` (Debian's uidmap package), when installed.
    newuidmap: Option<PathBuf>,
}

#[derive(Serialize, Debug)]
struct RootfsInfo {
    /// `overlay` or `copy`.
    mode: &'static str,
    reason: Option<String>,
}

#[derive(Serialize, Debug)]
struct RuntimeInfo {
    path: Option<PathBuf>,
    version: Option<String>,
    error: Option<String>,
}

#[derive(Serialize, Debug)]
struct NetworkInfo {
    /// What a RUN gets without `--network`: `isolated` (its own namespace) or `unavailable`.
    default: &'static str,
    helper: Option<HelperInfo>,
    /// The nameservers such a RUN is given.
    nameservers: Vec<String>,
    host_loopback_reachable: bool,
    /// What to do when the helper is missing.
    missing: Option<String>,
}

#[derive(Serialize, Debug)]
struct HelperInfo {
    name: &'static str,
    path: PathBuf,
    version: Option<String>,
}

#[derive(Serialize, Debug)]
struct StoreInfo {
    path: PathBuf,
    exists: bool,
    /// Disk space used (hard links counted once).
    bytes: u64,
}

#[derive(Serialize, Debug)]
struct Emulation {
    /// Whether `/proc/sys/fs/binfmt_misc` is mounted.
    binfmt_misc: bool,
    entries: Vec<BinfmtEntry>,
    /// The foreign platforms RUN steps can run for here (a handler registered with `F`).
    run_platforms: Vec<String>,
}

#[derive(Serialize, Debug)]
struct BinfmtEntry {
    name: String,
    enabled: bool,
    interpreter: Option<String>,
    /// The platform it stands for, when the name says (`qemu-aarch64` → `linux/arm64`).
    platform: Option<String>,
}

/// `skiff info`.
pub fn info(ctx: &Context, args: InfoArgs) -> Result<ExitCode> {
    let info = gather(ctx);
    let out = match args.format {
        InfoFormat::Json => format!("{}\n", serde_json::to_string_pretty(&info)?),
        InfoFormat::Text => text(&info),
    };
    // A closed pipe (`skiff info | head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    Ok(ExitCode::SUCCESS)
}

fn gather(ctx: &Context) -> Info {
    let store = super::store_root(ctx);
    // Rootless, this process is uid 0 of its own namespace by now: the user is who entered.
    let owner = match &ctx.rootless {
        Some(entered) => entered.owner.clone(),
        None => Owner::current(),
    };
    let (uid, name) = (owner.uid, owner.name.clone());
    let ranges = |file: &str| {
        subids::ranges(Path::new(file), &owner)
            .iter()
            .map(|r| format!("{}:{}", r.start, r.count))
            .collect()
    };
    let runtime = match Runtime::detect(None) {
        Ok(rt) => RuntimeInfo {
            version: first_line(&rt.path, "--version"),
            path: Some(rt.path),
            error: None,
        },
        Err(err) => RuntimeInfo {
            path: None,
            version: None,
            error: Some(format!("{err:#}")),
        },
    };
    let scratch = [store.join("tmp"), store.clone()]
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let rootfs = match Overlay::probe(&scratch) {
        RootfsMode::Overlay => RootfsInfo {
            mode: "overlay",
            reason: None,
        },
        RootfsMode::Copy { reason } => RootfsInfo {
            mode: "copy",
            reason: Some(reason),
        },
    };
    Info {
        version: format!("{} ({})", env!("CARGO_PKG_VERSION"), env!("SKIFF_COMMIT")),
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
        user_namespaces: UserNamespaces {
            max_user_namespaces: read_number("/proc/sys/user/max_user_namespaces"),
            unprivileged_userns_clone: read_number("/proc/sys/kernel/unprivileged_userns_clone"),
            subuid: ranges("/etc/subuid"),
            subgid: ranges("/etc/subgid"),
            newuidmap: skiff_sandbox::find_binary("newuidmap"),
        },
        user: UserInfo {
            uid,
            name,
            root: uid == 0,
            rootless: ctx.rootless.is_some(),
        },
        rootfs,
        runtime,
        network: network(),
        store: StoreInfo {
            exists: store.is_dir(),
            bytes: disk_usage(&store),
            path: store,
        },
        emulation: emulation(Path::new("/proc/sys/fs/binfmt_misc")),
    }
}

fn network() -> NetworkInfo {
    let helper = NetworkHelper::find().map(|h| HelperInfo {
        name: skiff_sandbox::HELPER,
        version: h.version(),
        path: h.path,
    });
    NetworkInfo {
        default: if helper.is_some() {
            "isolated"
        } else {
            "unavailable"
        },
        missing: helper.is_none().then(skiff_sandbox::missing_helper),
        helper,
        nameservers: skiff_sandbox::isolated_nameservers(),
        host_loopback_reachable: false,
    }
}

/// The text form: one line per subject, what skiff will do first.
fn text(info: &Info) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<17}{value}\n"));
    line("skiff:", info.version.clone());
    line("kernel:", info.kernel.clone());
    let who = info.user.name.as_deref().unwrap_or("?");
    line(
        "user:",
        if info.user.root {
            format!("{who} (uid 0)")
        } else {
            format!(
                "{who} (uid {}): rootless, in a user namespace of skiff's own (this uid as 0, \
                 the subordinate ids below as 1 and up); what follows is what builds get there",
                info.user.uid
            )
        },
    );
    line("user namespaces:", userns_text(&info.user_namespaces));
    line("subordinate ids:", subids_text(&info.user_namespaces));
    line(
        "root filesystem:",
        match &info.rootfs.reason {
            None => "overlayfs".to_string(),
            Some(reason) => format!("copied layers ({reason})"),
        },
    );
    line(
        "OCI runtime:",
        match (&info.runtime.path, &info.runtime.error) {
            (Some(path), _) => format!(
                "{} ({})",
                info.runtime.version.as_deref().unwrap_or("version unknown"),
                path.display()
            ),
            (None, Some(err)) => format!("none works: {err}"),
            (None, None) => "none".into(),
        },
    );
    line("network:", network_text(&info.network));
    line(
        "store:",
        if info.store.exists {
            format!(
                "{} ({})",
                info.store.path.display(),
                super::units::size(info.store.bytes, true)
            )
        } else {
            format!("{} (not created yet)", info.store.path.display())
        },
    );
    line("emulation:", emulation_text(&info.emulation));
    out
}

fn userns_text(ns: &UserNamespaces) -> String {
    let max = match ns.max_user_namespaces {
        Some(0) => "disabled (user.max_user_namespaces = 0)".to_string(),
        Some(n) => format!("available (user.max_user_namespaces = {n})"),
        None => "no /proc/sys/user/max_user_namespaces (kernel without them?)".to_string(),
    };
    match ns.unprivileged_userns_clone {
        Some(0) => format!("{max}; unprivileged ones off (kernel.unprivileged_userns_clone = 0)"),
        Some(n) => format!("{max}; kernel.unprivileged_userns_clone = {n}"),
        None => max,
    }
}

fn subids_text(ns: &UserNamespaces) -> String {
    let ranges = |r: &[String]| {
        if r.is_empty() {
            "none".to_string()
        } else {
            r.join(", ")
        }
    };
    let tool = match &ns.newuidmap {
        Some(path) => format!("newuidmap at {}", path.display()),
        None => "no newuidmap (Debian's uidmap package)".to_string(),
    };
    format!(
        "/etc/subuid {}; /etc/subgid {}; {tool}",
        ranges(&ns.subuid),
        ranges(&ns.subgid)
    )
}

fn network_text(net: &NetworkInfo) -> String {
    match &net.helper {
        Some(h) => format!(
            "RUN gets its own network namespace through {} {} ({}); the host's loopback is out \
             of reach; DNS: {}; --network=none: loopback only; --network=host: needs --allow \
             network.host",
            h.name,
            h.version.as_deref().unwrap_or("(version unknown)"),
            h.path.display(),
            net.nameservers.join(", ")
        ),
        None => net.missing.clone().unwrap_or_default(),
    }
}

fn emulation_text(e: &Emulation) -> String {
    if !e.binfmt_misc {
        return "binfmt_misc is not mounted: only the host's platform runs RUN steps".into();
    }
    if e.entries.is_empty() {
        return "no binfmt_misc entries: only the host's platform runs RUN steps".into();
    }
    let entries: Vec<String> = (e.entries.iter())
        .map(|x| {
            let mut s = x.name.clone();
            if let Some(p) = &x.platform {
                s.push_str(&format!(" = {p}"));
            }
            if !x.enabled {
                s.push_str(" (disabled)");
            }
            s
        })
        .collect();
    let usable = if e.run_platforms.is_empty() {
        "none usable by RUN (a handler needs the F flag: Debian's qemu-user-static)".to_string()
    } else {
        format!("RUN steps can run for {}", e.run_platforms.join(", "))
    };
    format!("binfmt_misc: {}; {usable}", entries.join(", "))
}

/// The registered binfmt_misc entries (every file but `register` and `status`).
fn emulation(dir: &Path) -> Emulation {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Emulation {
            binfmt_misc: false,
            entries: Vec::new(),
            run_platforms: Vec::new(),
        };
    };
    let mut names: Vec<String> = listing
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "register" && n != "status")
        .collect();
    names.sort();
    let entries = names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            BinfmtEntry {
                enabled: text.lines().next() == Some("enabled"),
                interpreter: (text.lines())
                    .find_map(|l| l.strip_prefix("interpreter "))
                    .map(str::to_string),
                platform: platform_of(&name).map(str::to_string),
                name,
            }
        })
        .collect();
    Emulation {
        binfmt_misc: dir.join("status").exists(),
        entries,
        run_platforms: (skiff_engine::emulated_platforms().iter())
            .map(|p| p.to_string())
            .collect(),
    }
}

/// The platform a binfmt_misc entry named after a qemu user-mode emulator stands for.
fn platform_of(entry: &str) -> Option<&'static str> {
    let arch = entry.strip_prefix("qemu-").unwrap_or(entry);
    Some(match arch {
        "aarch64" => "linux/arm64",
        "arm" => "linux/arm/v7",
        "x86_64" => "linux/amd64",
        "i386" => "linux/386",
        "riscv64" => "linux/riscv64",
        "ppc64le" => "linux/ppc64le",
        "s390x" => "linux/s390x",
        "mips64el" => "linux/mips64le",
        "loongarch64" => "linux/loong64",
        _ => return None,
    })
}

fn read_trimmed(path: &str) -> Option<String> {
    Some(std::fs::read_to_string(path).ok()?.trim().to_string())
}

fn read_number(path: &str) -> Option<u64> {
    read_trimmed(path)?.parse().ok()
}

/// `PROGRAM ARG`'s first line of output.
fn first_line(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .to_string(),
    )
}

/// Disk space under `dir` (allocated blocks; each inode once, symlinks not followed).
fn disk_usage(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_entries_name_their_platform() {
        assert_eq!(platform_of("qemu-aarch64"), Some("linux/arm64"));
        assert_eq!(platform_of("qemu-riscv64"), Some("linux/riscv64"));
        assert_eq!(platform_of("python3.11"), None);
    }

    #[test]
    fn binfmt_entries_are_read() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("status"), "enabled\n").unwrap();
        std::fs::write(dir.join("register"), "").unwrap();
        std::fs::write(
            dir.join("qemu-aarch64"),
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\n",
        )
        .unwrap();
        let e = emulation(&dir);
        assert!(e.binfmt_misc);
        assert_eq!(e.entries.len(), 1);
        assert_eq!(e.entries[0].platform.as_deref(), Some("linux/arm64"));
        assert!(e.entries[0].enabled);
        assert_eq!(
            e.entries[0].interpreter.as_deref(),
            Some("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skiff-info-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

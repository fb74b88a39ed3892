//! The OCI bundle's `config.json` for one step, with Docker's defaults.

use crate::limits::{Resource, RunLimits};
use crate::spec::{ExtraHost, MountKind, Network, RunSpec, Security};
use crate::stubs::StubKind;
use crate::{seccomp, security};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxBuilder, LinuxCapabilitiesBuilder,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType, Process,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::path::{Path, PathBuf};

/// Docker's (and containerd's, so BuildKit's) default capability set.
pub(crate) const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Docker's masked paths (hidden from the step).
const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The open-files limit BuildKit's steps get (containerd's default spec). Raising limits needs a
/// capability some VMs (this one) lack, so nothing above the usual hard limit is asked for.
const NOFILE_LIMIT: u64 = 1024;

/// Host files bound into every step, and the network namespace it joins.
pub(crate) struct HostFiles {
    /// Bound at `/etc/resolv.conf`.
    pub(crate) resolv_conf: PathBuf,
    /// Bound at `/etc/hosts`.
    pub(crate) hosts: PathBuf,
    /// The step's own network namespace ([`Network::Isolated`]), made before the container.
    pub(crate) netns: Option<PathBuf>,
}

/// The `/etc/hosts` a step sees: localhost plus its hostname, then the `--add-host` entries,
/// as BuildKit writes it.
pub(crate) fn hosts_file(hostname: &str, extra: &[ExtraHost]) -> String {
    let name = if hostname.is_empty() {
        String::new()
    } else {
        format!(" {hostname}")
    };
    let mut text =
        format!("127.0.0.1\tlocalhost{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for host in extra {
        text.push_str(&format!("{}\t{}\n", host.ip, host.name));
    }
    text
}

/// Every mount destination that must exist in the rootfs, with what it must be.
pub(crate) fn mount_points(spec: &RunSpec) -> Vec<(String, StubKind)> {
    let mut points: Vec<(String, StubKind)> = ["/proc", "/dev", "/sys"]
        .into_iter()
        .map(|p| (p.to_owned(), StubKind::Dir))
        .collect();
    points.push(("/etc/resolv.conf".into(), StubKind::File));
    points.push(("/etc/hosts".into(), StubKind::File));
    for mount in &spec.mounts {
        let kind = match &mount.kind {
            MountKind::Bind { source, .. } if !source.is_dir() => StubKind::File,
            _ => StubKind::Dir,
        };
        points.push((mount.destination.clone(), kind));
    }
    points
}

/// Builds the runtime configuration for `spec` with `rootfs` (absolute) as its root.
pub(crate) fn config(spec: &RunSpec, rootfs: &Path, files: &HostFiles) -> Result<Spec> {
    if spec.args.is_empty() {
        bail!("nothing to run: the step's command is empty");
    }
    if !spec.cwd.starts_with('/') {
        bail!("working directory {:?} is not an absolute path", spec.cwd);
    }
    let bounding: Capabilities = match spec.security {
        Security::Sandbox => DEFAULT_CAPABILITIES.into_iter().collect(),
        // BuildKit adds every capability it has to the default set.
        Security::Insecure => DEFAULT_CAPABILITIES
            .into_iter()
            .chain(security::current_capabilities()?)
            .collect(),
    };
    let mut builder = SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs)
                .readonly(false)
                .build()?,
        )
        .process(process(spec, &bounding)?)
        .mounts(mounts(spec, files)?)
        .linux(linux(spec, &bounding, files.netns.as_deref())?);
    if !spec.hostname.is_empty() {
        builder = builder.hostname(spec.hostname.clone());
    }
    builder
        .build()
        .context("building the OCI runtime configuration")
}

/// The process: argv, environment, user, capabilities and limits.
fn process(spec: &RunSpec, bounding: &Capabilities) -> Result<Process> {
    // Like Docker: a non-root user gets no effective/permitted capabilities, as after execve.
    // Every set is written out: the builder's defaults would add oci-spec's own three.
    // Insecure steps get every set full, whoever the user (BuildKit's `WithInsecureSpec`).
    let (effective, inherited) = match spec.security {
        Security::Sandbox if spec.user.uid == 0 => (bounding.clone(), Capabilities::new()),
        Security::Sandbox => (Capabilities::new(), Capabilities::new()),
        Security::Insecure => (bounding.clone(), bounding.clone()),
    };
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(bounding.clone())
        .effective(effective.clone())
        .permitted(effective)
        .inheritable(inherited.clone())
        .ambient(inherited)
        .build()?;
    Ok(ProcessBuilder::default()
        .terminal(false)
        .args(spec.args.clone())
        .env(spec.env.clone())
        .cwd(&spec.cwd)
        .user(
            UserBuilder::default()
                .uid(spec.user.uid)
                .gid(spec.user.gid)
                .additional_gids(spec.user.additional_gids.clone())
                .build()?,
        )
        .capabilities(capabilities)
        .rlimits(rlimits(&spec.limits)?)
        // BuildKit turns no_new_privileges off for every step, insecure or not
        // (`oci.WithNewPrivileges` in `executor/oci/spec.go`), so setuid binaries such as `su`
        // and `sudo` work in RUN as with `docker build`; the seccomp filter does not need it,
        // since runc installs the filter while the process still has CAP_SYS_ADMIN.
        .no_new_privileges(false)
        .build()?)
}

/// The step's rlimits: open files at [`NOFILE_LIMIT`] unless `--ulimit nofile` says
/// otherwise, and every `--ulimit`.
fn rlimits(limits: &RunLimits) -> Result<Vec<oci_spec::runtime::PosixRlimit>> {
    let mut wanted: Vec<(PosixRlimitType, u64, u64)> = limits
        .ulimits
        .iter()
        .map(|u| (rlimit_type(u.resource), u.soft, u.hard))
        .collect();
    if !limits
        .ulimits
        .iter()
        .any(|u| u.resource == Resource::Nofile)
    {
        wanted.push((PosixRlimitType::RlimitNofile, NOFILE_LIMIT, NOFILE_LIMIT));
    }
    let built = wanted.into_iter().map(|(typ, soft, hard)| {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
    });
    Ok(built.collect::<Result<_, _>>()?)
}

/// The OCI name of a resource docker's `--ulimit` names.
fn rlimit_type(resource: Resource) -> PosixRlimitType {
    match resource {
        Resource::As => PosixRlimitType::RlimitAs,
        Resource::Core => PosixRlimitType::RlimitCore,
        Resource::Cpu => PosixRlimitType::RlimitCpu,
        Resource::Data => PosixRlimitType::RlimitData,
        Resource::Fsize => PosixRlimitType::RlimitFsize,
        Resource::Locks => PosixRlimitType::RlimitLocks,
        Resource::Memlock => PosixRlimitType::RlimitMemlock,
        Resource::Msgqueue => PosixRlimitType::RlimitMsgqueue,
        Resource::Nice => PosixRlimitType::RlimitNice,
        Resource::Nofile => PosixRlimitType::RlimitNofile,
        Resource::Nproc => PosixRlimitType::RlimitNproc,
        Resource::Rss => PosixRlimitType::RlimitRss,
        Resource::Rtprio => PosixRlimitType::RlimitRtprio,
        Resource::Rttime => PosixRlimitType::RlimitRttime,
        Resource::Sigpending => PosixRlimitType::RlimitSigpending,
        Resource::Stack => PosixRlimitType::RlimitStack,
    }
}

/// Namespaces, the device cgroup, masked and read-only paths, seccomp and devices.
fn linux(spec: &RunSpec, bounding: &Capabilities, netns: Option<&Path>) -> Result<Linux> {
    let mut namespaces = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<Result<Vec<_>, _>>()?;
    match (spec.network, netns) {
        // runc brings up `lo` in a new network namespace with no other configuration.
        (Network::None, _) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()?,
        ),
        // Made and connected beforehand (see the `netns` module); joined by path.
        (Network::Isolated, Some(path)) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path)
                .build()?,
        ),
        (Network::Isolated, None) => bail!("the step's network namespace was not made"),
        (Network::Host, _) => {}
    }
    let builder = LinuxBuilder::default().namespaces(namespaces);
    let builder = match spec.security {
        Security::Sandbox => builder
            // Deny all devices; runc adds the defaults (/dev/null, zero, full, random,
            // urandom, tty, ptmx).
            .resources(
                LinuxResourcesBuilder::default()
                    .devices(vec![LinuxDeviceCgroupBuilder::default()
                        .allow(false)
                        .access("rwm")
                        .build()?])
                    .build()?,
            )
            .masked_paths(MASKED_PATHS.map(String::from).to_vec())
            .readonly_paths(READONLY_PATHS.map(String::from).to_vec())
            .seccomp(seccomp::default_profile(bounding)?),
        Security::Insecure => {
            let allow = |typ| {
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(typ)
                    .access("rwm")
                    .build()
            };
            builder
                .resources(
                    LinuxResourcesBuilder::default()
                        .devices(vec![allow(LinuxDeviceType::C)?, allow(LinuxDeviceType::B)?])
                        .build()?,
                )
                .masked_paths(Vec::new())
                .readonly_paths(Vec::new())
                .devices(security::insecure_devices()?)
        }
    };
    Ok(builder.build()?)
}

/// `/sys`: a sysfs of the step's network namespace, writable for insecure steps (BuildKit's
/// `oci.WithWriteableSysfs`). A rootless step on the host's network may not mount one (the
/// kernel wants the namespace owned by skiff's user namespace): it gets the host's `/sys`
/// bound read-only instead, as rootless podman does.
fn sysfs(
    spec: &RunSpec,
    bind: impl Fn(&str, &Path, bool) -> Result<Mount, oci_spec::OciSpecError>,
) -> Result<Mount> {
    if spec.network == Network::Host && !skiff_host::userns::is_initial() {
        return Ok(bind("/sys", Path::new("/sys"), true)?);
    }
    let options = match spec.security {
        Security::Sandbox => ["nosuid", "noexec", "nodev", "ro"],
        Security::Insecure => ["nosuid", "noexec", "nodev", "rw"],
    };
    Ok(MountBuilder::default()
        .destination("/sys")
        .typ("sysfs")
        .source("sysfs")
        .options(options.map(String::from).to_vec())
        .build()?)
}

fn mounts(spec: &RunSpec, files: &HostFiles) -> Result<Vec<Mount>> {
    let kernel = |dest: &str, typ: &str, source: &str, options: &[&str]| {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
    };
    let bind = |dest: &str, source: &Path, readonly: bool| {
        MountBuilder::default()
            .destination(dest)
            .typ("bind")
            .source(source)
            .options(vec![
                "rbind".to_string(),
                if readonly { "ro" } else { "rw" }.to_string(),
            ])
            .build()
    };
    // Docker's default is 64 MiB; `--shm-size` is given in bytes, as Docker's daemon does.
    let shm_size = match spec.limits.shm_size {
        Some(bytes) => format!("size={bytes}"),
        None => "size=65536k".to_string(),
    };
    let mut mounts = vec![
        kernel("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        kernel(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        kernel(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        kernel(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", shm_size.as_str()],
        )?,
        kernel(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        sysfs(spec, bind)?,
        bind("/etc/resolv.conf", &files.resolv_conf, true)?,
        bind("/etc/hosts", &files.hosts, true)?,
    ];
    for mount in &spec.mounts {
        if !mount.destination.starts_with('/') {
            bail!(
                "mount destination {:?} is not an absolute path",
                mount.destination
            );
        }
        mounts.push(match &mount.kind {
            MountKind::Bind { source, readonly } => bind(&mount.destination, source, *readonly)?,
            MountKind::Tmpfs { size } => {
                let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                MountBuilder::default()
                    .destination(&mount.destination)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(options)
                    .build()?
            }
        });
    }
    Ok(mounts)
}

//! Executing a `RUN`: the stage's rootfs mounted writable, the command run in the sandbox,
//! the change captured as a layer. A failing command fails the step with its exit code and
//! the last lines of its output.

use crate::layer_options::LayerOptions;
use crate::progress::{Event, Progress};
use crate::rootfs::{with_writable_rootfs, NewLayer};
use crate::spec::NetworkMode;
use anyhow::Result;
use oci_spec::image::Descriptor;
use skiff_frontend::instructions::{Network as NetworkFlag, RunCommand, Security as SecurityFlag};
use skiff_image::Store;
use skiff_sandbox::{ExtraHost, Mount, Network, RunSpec, Runtime, Security};

/// The hostname BuildKit gives RUN containers; kept for scripts that look at it.
pub const HOSTNAME: &str = "buildkitsandbox";

/// A fully expanded RUN, ready to execute.
#[derive(Clone, Debug, Default)]
pub struct RunParams {
    /// argv (the shell and its `-c` script for shell form).
    pub argv: Vec<String>,
    /// `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// `USER` text, resolved inside the rootfs.
    pub user: String,
    /// Its own network, none, or the host's.
    pub network: Network,
    /// `--add-host` entries for `/etc/hosts`.
    pub extra_hosts: Vec<ExtraHost>,
    /// Extra mounts (`RUN --mount`), already prepared on the host.
    pub mounts: Vec<Mount>,
    /// Sandboxed (Docker's seccomp profile and capabilities) or `--security=insecure`.
    pub security: Security,
    /// The container's hostname ([`HOSTNAME`] unless `BUILDKIT_SANDBOX_HOSTNAME` is given).
    pub hostname: Option<String>,
    /// `--shm-size` and `--ulimit`.
    pub limits: skiff_sandbox::RunLimits,
}

/// The build arg that sets RUN's hostname, as BuildKit's dockerfile frontend reads it.
pub const HOSTNAME_ARG: &str = "BUILDKIT_SANDBOX_HOSTNAME";

/// What the build allows RUN beyond the sandbox (`skiff build --allow`, buildx's entitlements;
/// BuildKit refuses a step that needs one the build did not grant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entitlements {
    /// `network.host`: `RUN --network=host`.
    pub network_host: bool,
    /// `security.insecure`: `RUN --security=insecure`.
    pub security_insecure: bool,
}

/// The build-wide network settings of RUN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunNetwork {
    /// `skiff build --network`: what a RUN without `--network` (or with `--network=default`)
    /// gets.
    pub default: NetworkMode,
    /// `--add-host` entries, written to every RUN's `/etc/hosts`.
    pub extra_hosts: Vec<ExtraHost>,
}

/// `skiff build --network=host` needs the `network.host` entitlement, as BuildKit: checked
/// before anything runs.
pub fn check_build_network(network: &RunNetwork, allowed: Entitlements) -> Result<()> {
    if network.default == NetworkMode::Host && !allowed.network_host {
        anyhow::bail!(
            "skiff build --network=host needs the network.host entitlement: add \
             --allow network.host"
        );
    }
    Ok(())
}

/// The network a RUN gets as keyed (its `--network`, else the build's) and as run.
fn network_of(r: &RunCommand, build_default: NetworkMode) -> (NetworkMode, Network) {
    let mode = match r.network {
        Some(NetworkFlag::None) => NetworkMode::None,
        Some(NetworkFlag::Host) => NetworkMode::Host,
        Some(NetworkFlag::Default) | None => build_default,
    };
    let network = match mode {
        NetworkMode::Default => Network::Isolated,
        NetworkMode::None => Network::None,
        NetworkMode::Host => Network::Host,
    };
    (mode, network)
}

/// The network (as keyed and as run) and confinement of a RUN, checked against what the build
/// allows (as BuildKit's solver checks entitlements before it runs anything, so a cached step
/// needs them too).
pub fn confinement(
    r: &RunCommand,
    allowed: Entitlements,
    build_network: NetworkMode,
) -> Result<(NetworkMode, Network, Security)> {
    if let Some(device) = r.devices.first() {
        anyhow::bail!(
            "RUN --device={} is not supported: skiff has no CDI device support (BuildKit injects \
             devices described by CDI specs in /etc/cdi, with the `device` entitlement); remove \
             the flag or build with BuildKit",
            device.name.value
        );
    }
    let (mode, network) = network_of(r, build_network);
    if network == Network::Host && !allowed.network_host {
        anyhow::bail!(
            "RUN --network=host needs the network.host entitlement: run skiff build with \
             --allow network.host"
        );
    }
    let security = match r.security {
        Some(SecurityFlag::Insecure) if !allowed.security_insecure => anyhow::bail!(
            "RUN --security=insecure needs the security.insecure entitlement: run skiff build \
             with --allow security.insecure"
        ),
        Some(SecurityFlag::Insecure) => Security::Insecure,
        Some(SecurityFlag::Sandbox) | None => Security::Sandbox,
    };
    Ok((mode, network, security))
}

/// Why a RUN failed, with what the person needs to see.
#[derive(Debug)]
pub struct RunFailed {
    /// The command as written.
    pub command: String,
    /// Its exit code.
    pub exit_code: i32,
    /// The last lines it printed.
    pub tail: Vec<String>,
}

impl std::fmt::Display for RunFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process \"{}\" did not complete successfully: exit code: {}",
            self.command, self.exit_code
        )?;
        if !self.tail.is_empty() {
            write!(f, "\n  last output:")?;
            for line in &self.tail {
                write!(f, "\n  │ {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RunFailed {}

/// Runs `params` on top of `layers`; returns the layer it made (`None` if nothing changed).
pub fn execute(
    store: &Store,
    runtime: &Runtime,
    layers: &[Descriptor],
    params: &RunParams,
    layer_opts: &LayerOptions,
    progress: &Progress,
    step: usize,
) -> Result<Option<NewLayer>> {
    with_writable_rootfs(store, layers, layer_opts, |root| {
        let user = skiff_sandbox::resolve_user(
            root,
            if params.user.is_empty() {
                "0"
            } else {
                &params.user
            },
        )?;
        let spec = RunSpec {
            rootfs: root.to_path_buf(),
            args: params.argv.clone(),
            env: params.env.clone(),
            cwd: if params.cwd.is_empty() {
                "/".into()
            } else {
                params.cwd.clone()
            },
            user,
            hostname: params.hostname.as_deref().unwrap_or(HOSTNAME).into(),
            network: params.network,
            extra_hosts: params.extra_hosts.clone(),
            mounts: params.mounts.clone(),
            security: params.security,
            limits: params.limits.clone(),
        };
        let mut pending = Vec::new();
        let mut emit = |chunk: &[u8]| {
            pending.extend_from_slice(chunk);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                progress.emit(Event::StepOutput { step, line });
            }
        };
        let outcome = runtime.run(&spec, &mut emit)?;
        if !pending.is_empty() {
            let line = String::from_utf8_lossy(&pending).into_owned();
            progress.emit(Event::StepOutput { step, line });
        }
        if outcome.exit_code != 0 {
            return Err(RunFailed {
                command: display_command(&params.argv),
                exit_code: outcome.exit_code,
                tail: outcome.tail,
            }
            .into());
        }
        Ok(())
    })
}

/// The argv as BuildKit shows it in messages: joined with spaces.
pub fn display_command(argv: &[String]) -> String {
    argv.join(" ")
}

/// The predefined proxy build args (`--build-arg HTTP_PROXY=…` and the like, see
/// [`crate::cachekey::PROXY_ARGS`]) a RUN sees without an `ARG` line, as `KEY=VALUE`: each of
/// the five proxies given in either case reaches RUN in both (`HTTP_PROXY` and `http_proxy`),
/// as BuildKit's `proxyEnvFromBuildArgs` and `proxyEnvList` do, but for names already in the
/// step's environment `env`. Like BuildKit, they stay out of the cache key and the history,
/// since they may hold credentials and depend on where the build runs.
pub fn undeclared_proxy_env(
    build_args: &[(String, String)],
    env: &[(String, String)],
) -> Vec<String> {
    let mut out = Vec::new();
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ] {
        let Some((_, value)) = build_args
            .iter()
            .rev()
            .find(|(k, v)| k.eq_ignore_ascii_case(proxy) && !v.is_empty())
        else {
            continue;
        };
        for name in [proxy.to_string(), proxy.to_ascii_lowercase()] {
            if !env.iter().any(|(k, _)| *k == name) {
                out.push(format!("{name}={value}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::undeclared_proxy_env;

    #[test]
    fn proxy_args_are_added_in_both_cases_unless_in_the_env() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        let args = [
            s("HTTP_PROXY", "http://p:1"),
            s("no_proxy", "x"),
            s("OTHER", "y"),
        ];
        let env = [s("no_proxy", "declared")];
        assert_eq!(
            undeclared_proxy_env(&args, &env),
            vec![
                "HTTP_PROXY=http://p:1",
                "http_proxy=http://p:1",
                "NO_PROXY=x"
            ]
        );
    }
}

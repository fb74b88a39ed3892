//! The metadata instructions: each one changes the image config and returns the `created_by`
//! text BuildKit writes into the history for it, as Go formats it (`CMD %q`, `VOLUME %v`, …).

use crate::config::{go_fmt, HealthcheckText, ImageConfig, RunConfig};
use crate::error::diag;
use anyhow::Result;
use skiff_frontend::ast::Word;
use skiff_frontend::instructions::{
    CmdCommand, CommandLine, EntrypointCommand, EnvCommand, ExposeCommand, HealthcheckCommand,
    KeyValue, LabelCommand, MaintainerCommand, OnbuildCommand, ShellCommand, StopSignalCommand,
    UserCommand, VolumeCommand,
};

/// `ENV`: the variables set in the config.
pub(super) fn env(config: &mut ImageConfig, e: &EnvCommand) -> String {
    for kv in &e.vars {
        config.config.env_set(&kv.key.value, &kv.value.value);
    }
    format!("ENV {}", pairs(&e.vars))
}

/// `LABEL`.
pub(super) fn label(config: &mut ImageConfig, l: &LabelCommand) -> String {
    for kv in &l.labels {
        (config.config.labels).insert(kv.key.value.clone(), kv.value.value.clone());
    }
    format!("LABEL {}", pairs(&l.labels))
}

/// `EXPOSE`: the ports, and the history text as current BuildKit prints it: the port specs
/// with the words sorted as written (ranges expanded, protocol lowercased) as a Go slice,
/// `EXPOSE 80 53/udp` → `EXPOSE [53/udp 80/tcp]`.
pub(super) fn expose(config: &mut ImageConfig, e: &ExposeCommand) -> Result<String> {
    let keys = e.port_keys().map_err(diag)?;
    for key in &keys {
        (config.config.exposed_ports).insert(key.clone(), serde_json::json!({}));
    }
    Ok(format!("EXPOSE [{}]", keys.join(" ")))
}

/// `USER`.
pub(super) fn user(config: &mut ImageConfig, u: &UserCommand) -> String {
    config.config.user = u.user.value.clone();
    format!("USER {}", u.user.value)
}

/// `VOLUME`.
pub(super) fn volume(config: &mut ImageConfig, v: &VolumeCommand) -> String {
    for vol in &v.volumes {
        (config.config.volumes).insert(vol.value.clone(), serde_json::json!({}));
    }
    format!("VOLUME {}", go_fmt::plain_list(&words(&v.volumes)))
}

/// `STOPSIGNAL`.
pub(super) fn stop_signal(config: &mut ImageConfig, s: &StopSignalCommand) -> String {
    config.config.stop_signal = Some(s.signal.value.clone());
    format!("STOPSIGNAL {}", s.signal.value)
}

/// `SHELL`.
pub(super) fn shell(config: &mut ImageConfig, s: &ShellCommand) -> String {
    config.config.shell = Some(words(&s.shell));
    format!("SHELL {}", go_fmt::plain_list(&words(&s.shell)))
}

/// `MAINTAINER`.
pub(super) fn maintainer(config: &mut ImageConfig, m: &MaintainerCommand) -> String {
    config.author = Some(m.maintainer.value.clone());
    format!("MAINTAINER {}", m.maintainer.value)
}

/// `CMD`.
pub(super) fn cmd(config: &mut ImageConfig, c: &CmdCommand) -> String {
    let argv = argv(&config.config, &c.command);
    let text = format!("CMD {}", go_fmt::quoted_list(&argv));
    config.config.cmd = Some(argv);
    config.config.args_escaped = true;
    text
}

/// `ENTRYPOINT`. BuildKit: it clears the CMD inherited from the base, but keeps one this
/// stage set before it (`cmd_set`).
pub(super) fn entrypoint(config: &mut ImageConfig, e: &EntrypointCommand, cmd_set: bool) -> String {
    let argv = argv(&config.config, &e.command);
    let text = format!("ENTRYPOINT {}", go_fmt::quoted_list(&argv));
    config.config.entrypoint = Some(argv);
    if !cmd_set {
        config.config.cmd = None;
    }
    text
}

/// `HEALTHCHECK`.
pub(super) fn healthcheck(config: &mut ImageConfig, h: &HealthcheckCommand) -> String {
    let check = crate::config::healthcheck(h);
    let text = format!("HEALTHCHECK {}", check.go_format());
    config.config.healthcheck = Some(check);
    text
}

/// `ONBUILD`: a trigger for images built on this one. It has no history entry (as in
/// BuildKit), but the text still changes the key.
pub(super) fn onbuild(config: &mut ImageConfig, o: &OnbuildCommand) -> String {
    (config.config.on_build.get_or_insert_with(Vec::new)).push(o.expression.clone());
    format!("ONBUILD {}", o.expression)
}

/// A command line as the argv it runs: exec form as is, shell form through the image's
/// `SHELL` (default `/bin/sh -c`).
pub(super) fn argv(config: &RunConfig, cmd: &CommandLine) -> Vec<String> {
    match cmd {
        CommandLine::Exec(argv) => words(argv),
        CommandLine::Shell(text) => {
            let mut argv = shell_of(config);
            argv.push(text.value.clone());
            argv
        }
    }
}

/// The image's `SHELL`, or `/bin/sh -c`.
pub(super) fn shell_of(config: &RunConfig) -> Vec<String> {
    (config.shell.clone()).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

fn words(list: &[Word]) -> Vec<String> {
    list.iter().map(|w| w.value.clone()).collect()
}

/// `k=v k2=v2` as BuildKit writes ENV and LABEL pairs (values unquoted, as expanded).
fn pairs(list: &[KeyValue]) -> String {
    list.iter()
        .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
        .collect::<Vec<_>>()
        .join(" ")
}

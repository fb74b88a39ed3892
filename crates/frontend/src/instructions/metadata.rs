//! The instructions that change only the image config or the stage's variables:
//! ENV, ARG, LABEL, EXPOSE, USER, WORKDIR, VOLUME, SHELL, STOPSIGNAL, MAINTAINER, CMD, ENTRYPOINT.

use super::flags::Flags;
use super::request::Request;
use super::run::CommandLine;
use super::words::{sub_word, Expander};
use crate::ast::Word;
use crate::diagnostics::{suggest, Diagnostic};
use crate::shell::{Env, Lexer};

/// One `key=value` of ENV or LABEL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key (unexpanded until [`super::Command::expand`]).
    pub key: Word,
    /// The value (quotes kept until expanded).
    pub value: Word,
    /// True for the legacy `ENV key value` form (no `=`), which BuildKit's linter flags.
    pub legacy: bool,
}

/// `ENV key=value …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvCommand {
    /// The pairs, in order. All values are expanded with the environment *before* the
    /// instruction (`ENV a=1 b=$a` sees the old `a`).
    pub vars: Vec<KeyValue>,
}

/// `LABEL key=value …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelCommand {
    /// The pairs, in order.
    pub labels: Vec<KeyValue>,
}

/// One name of an ARG instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    /// The variable name (never expanded).
    pub name: Word,
    /// The default after `=`, unexpanded; `None` for a bare `ARG NAME`.
    pub default: Option<Word>,
}

/// `ARG name[=default] …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgCommand {
    /// The declarations, in order.
    pub args: Vec<ArgDecl>,
}

/// `EXPOSE port[/proto] …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposeCommand {
    /// The words as written, sorted as BuildKit sorts them (after
    /// [`super::Command::expand`]: expanded and split again on whitespace). [`ExposeCommand::port_keys`] gives the config keys.
    pub ports: Vec<Word>,
}

/// `USER user[:group]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCommand {
    /// The user, stored in the config as written (after expansion).
    pub user: Word,
}

/// `WORKDIR path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkdirCommand {
    /// The path; relative paths join the current working directory.
    pub path: Word,
}

/// `VOLUME path …` or `VOLUME ["path", …]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeCommand {
    /// The mount points, trimmed.
    pub volumes: Vec<Word>,
}

/// `SHELL ["executable", "arg", …]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellCommand {
    /// The new shell for later shell-form RUN/CMD/ENTRYPOINT.
    pub shell: Vec<Word>,
}

/// `STOPSIGNAL signal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopSignalCommand {
    /// The signal as written (`SIGTERM`, `TERM`, `15`), checked once expanded.
    pub signal: Word,
}

/// `MAINTAINER name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintainerCommand {
    /// The author text.
    pub maintainer: Word,
}

/// `CMD command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdCommand {
    /// The default command of the image.
    pub command: CommandLine,
}

/// `ENTRYPOINT command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrypointCommand {
    /// The entrypoint; [`CommandLine::is_empty`] clears it.
    pub command: CommandLine,
}

fn key_values(req: &Request) -> Result<Vec<KeyValue>, Diagnostic> {
    let args = &req.inst.args;
    if args.is_empty() {
        return Err(req.at_least_one_argument());
    }
    if !args.len().is_multiple_of(3) {
        return Err(req.error(format!("Bad input to {}, too many arguments", req.name())));
    }
    args.chunks(3)
        .map(|t| {
            if t[0].value.is_empty() {
                return Err(Diagnostic::error(
                    format!("{} names can not be blank", req.name()),
                    Some(t[0].span),
                )
                .with_label("empty name")
                .with_hint("write name=value"));
            }
            Ok(KeyValue {
                key: t[0].clone(),
                value: t[1].clone(),
                legacy: t[2].value.is_empty(),
            })
        })
        .collect()
}

fn expand_pairs(pairs: &[KeyValue], ex: &Expander) -> Result<Vec<KeyValue>, Diagnostic> {
    pairs
        .iter()
        .map(|kv| {
            Ok(KeyValue {
                key: ex.word(&kv.key)?,
                value: ex.word(&kv.value)?,
                legacy: kv.legacy,
            })
        })
        .collect()
}

pub(super) fn parse_env(req: &Request) -> Result<EnvCommand, Diagnostic> {
    Flags::parse(req, &[])?;
    Ok(EnvCommand {
        vars: key_values(req)?,
    })
}

pub(super) fn parse_label(req: &Request) -> Result<LabelCommand, Diagnostic> {
    Flags::parse(req, &[])?;
    Ok(LabelCommand {
        labels: key_values(req)?,
    })
}

impl EnvCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<EnvCommand, Diagnostic> {
        Ok(EnvCommand {
            vars: expand_pairs(&self.vars, ex)?,
        })
    }
}

impl LabelCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<LabelCommand, Diagnostic> {
        Ok(LabelCommand {
            labels: expand_pairs(&self.labels, ex)?,
        })
    }
}

pub(super) fn parse_arg(req: &Request) -> Result<ArgCommand, Diagnostic> {
    if req.inst.args.is_empty() {
        return Err(req.at_least_one_argument());
    }
    Flags::parse(req, &[])?;
    let args = req
        .inst
        .args
        .iter()
        .map(|w| {
            let (name_end, default) = match w.value.find('=') {
                Some(eq) => (eq, Some(sub_word(req.source, w, eq + 1..w.value.len()))),
                None => (w.value.len(), None),
            };
            if name_end == 0 {
                return Err(
                    Diagnostic::error("ARG names can not be blank", Some(w.span))
                        .with_label("empty name")
                        .with_hint("write ARG name or ARG name=default"),
                );
            }
            Ok(ArgDecl {
                name: sub_word(req.source, w, 0..name_end),
                default,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ArgCommand { args })
}

impl ArgCommand {
    /// The value each declared name takes in the stage, as BuildKit's `dispatchArg` decides:
    /// the `--build-arg` value if given (the default is then not evaluated), else the default
    /// expanded with `env` (the stage's environment, plus the names declared earlier in this
    /// instruction), else the value of the global ARG of that name (`globals`), else unset (`None`).
    pub fn resolve(
        &self,
        lexer: &Lexer,
        env: &Env,
        build_args: &Env,
        globals: &Env,
    ) -> Result<Vec<(String, Option<String>)>, Diagnostic> {
        let mut env = env.clone();
        let mut out = Vec::with_capacity(self.args.len());
        for decl in &self.args {
            let name = decl.name.value.clone();
            let value = if let Some(v) = build_args.get(&name) {
                Some(v.to_string())
            } else if let Some(default) = &decl.default {
                Some(Expander::new(lexer, &env).word(default)?.value)
            } else {
                globals.get(&name).map(str::to_string)
            };
            if let Some(v) = &value {
                env.set(name.clone(), v.clone());
            }
            out.push((name, value));
        }
        Ok(out)
    }
}

pub(super) fn parse_expose(req: &Request) -> Result<ExposeCommand, Diagnostic> {
    if req.inst.args.is_empty() {
        return Err(req.at_least_one_argument());
    }
    Flags::parse(req, &[])?;
    // Sorted as written, before expansion, as BuildKit's parseExpose (`slices.Sort`): the
    // history text lists the ports in that order (`EXPOSE 80 53/udp` → `[53/udp 80/tcp]`).
    let mut ports = req.inst.args.clone();
    ports.sort_by(|a, b| a.value.as_bytes().cmp(b.value.as_bytes()));
    let cmd = ExposeCommand { ports };
    if req.early() && !cmd.ports.iter().any(|p| p.value.contains('$')) {
        cmd.port_keys()?;
    }
    Ok(cmd)
}

impl ExposeCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<ExposeCommand, Diagnostic> {
        let mut ports = Vec::new();
        for w in &self.ports {
            let expanded = ex.word(w)?;
            ports.extend(expanded.value.split_whitespace().map(|p| Word {
                value: p.to_string(),
                span: w.span,
            }));
        }
        let cmd = ExposeCommand { ports };
        cmd.port_keys()?;
        Ok(cmd)
    }

    /// The `ExposedPorts` keys (`80/tcp`), one per port of a range, in the order of the words
    /// (sorted as written, as BuildKit);
    /// an error names the word that is not `[ip:][hostport:]port[-end][/tcp|udp|sctp]`.
    pub fn port_keys(&self) -> Result<Vec<String>, Diagnostic> {
        let mut keys = Vec::new();
        for w in &self.ports {
            let (spec, proto) = match w.value.rsplit_once('/') {
                Some((s, p)) => (s, p.to_ascii_lowercase()),
                None => (w.value.as_str(), "tcp".to_string()),
            };
            if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                return Err(
                    Diagnostic::error(format!("invalid proto: {proto}"), Some(w.span))
                        .with_label("unknown protocol")
                        .with_hint("use tcp, udp or sctp"),
                );
            }
            let container = spec.rsplit(':').next().unwrap_or(spec);
            let bad = || {
                Diagnostic::error(format!("invalid containerPort: {container}"), Some(w.span))
                    .with_label("not a port")
                    .with_hint("write a port like 80, 80/udp or a range like 8000-8010")
            };
            let (start, end) = match container.split_once('-') {
                Some((a, b)) => (
                    a.parse::<u16>().map_err(|_| bad())?,
                    b.parse::<u16>().map_err(|_| bad())?,
                ),
                None => {
                    let p = container.parse::<u16>().map_err(|_| bad())?;
                    (p, p)
                }
            };
            if end < start {
                return Err(bad());
            }
            keys.extend((start..=end).map(|p| format!("{p}/{proto}")));
        }
        Ok(keys)
    }
}

fn single(req: &Request) -> Result<Word, Diagnostic> {
    if req.inst.args.len() != 1 {
        return Err(req.exactly_one_argument());
    }
    Flags::parse(req, &[])?;
    Ok(req.inst.args[0].clone())
}

pub(super) fn parse_user(req: &Request) -> Result<UserCommand, Diagnostic> {
    Ok(UserCommand { user: single(req)? })
}

pub(super) fn parse_workdir(req: &Request) -> Result<WorkdirCommand, Diagnostic> {
    Ok(WorkdirCommand { path: single(req)? })
}

pub(super) fn parse_maintainer(req: &Request) -> Result<MaintainerCommand, Diagnostic> {
    Ok(MaintainerCommand {
        maintainer: single(req)?,
    })
}

pub(super) fn parse_stopsignal(req: &Request) -> Result<StopSignalCommand, Diagnostic> {
    let signal = single(req)?;
    if req.early() && !signal.value.contains('$') {
        check_signal(&signal)?;
    }
    Ok(StopSignalCommand { signal })
}

impl UserCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<UserCommand, Diagnostic> {
        Ok(UserCommand {
            user: ex.word(&self.user)?,
        })
    }
}

impl WorkdirCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<WorkdirCommand, Diagnostic> {
        Ok(WorkdirCommand {
            path: ex.word(&self.path)?,
        })
    }
}

impl StopSignalCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<StopSignalCommand, Diagnostic> {
        let signal = ex.word(&self.signal)?;
        check_signal(&signal)?;
        Ok(StopSignalCommand { signal })
    }
}

/// Linux signal names, without `SIG` (moby/sys/signal's `SignalMap`).
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "RTMAX", "RTMIN", "SEGV", "STKFLT", "STOP", "SYS",
    "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU",
    "XFSZ",
];

/// moby/sys/signal's `ParseSignal`: a nonzero number, or a name with or without `SIG`.
fn check_signal(w: &Word) -> Result<(), Diagnostic> {
    let v = &w.value;
    if let Ok(n) = v.parse::<i64>() {
        if n != 0 {
            return Ok(());
        }
    }
    let upper = v.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |base: &str, sign: char| {
        name.strip_prefix(base)
            .and_then(|r| r.strip_prefix(sign))
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=14).contains(&n))
    };
    if SIGNALS.contains(&name) || realtime("RTMIN", '+') || realtime("RTMAX", '-') {
        return Ok(());
    }
    let d =
        Diagnostic::error(format!("Invalid signal: {v}"), Some(w.span)).with_label("not a signal");
    Err(match suggest::closest(name, SIGNALS.iter().copied()) {
        Some(best) => d.with_hint(format!("did you mean SIG{best}?")),
        None => d.with_hint("write a signal name like SIGTERM or a number like 15"),
    })
}

pub(super) fn parse_volume(req: &Request) -> Result<VolumeCommand, Diagnostic> {
    if req.inst.args.is_empty() {
        return Err(req.at_least_one_argument());
    }
    Flags::parse(req, &[])?;
    let volumes = req
        .inst
        .args
        .iter()
        .map(|w| {
            let trimmed = w.value.trim();
            if trimmed.is_empty() {
                return Err(Diagnostic::error(
                    "VOLUME specified can not be an empty string",
                    Some(w.span),
                )
                .with_label("empty path"));
            }
            Ok(Word {
                value: trimmed.to_string(),
                span: w.span,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(VolumeCommand { volumes })
}

impl VolumeCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<VolumeCommand, Diagnostic> {
        Ok(VolumeCommand {
            volumes: ex.all(&self.volumes)?,
        })
    }
}

pub(super) fn parse_shell(req: &Request) -> Result<ShellCommand, Diagnostic> {
    Flags::parse(req, &[])?;
    if req.inst.args.is_empty() {
        return Err(req.at_least_one_argument());
    }
    if !req.inst.json {
        return Err(req
            .error("SHELL requires the arguments to be in JSON form")
            .with_label("not a JSON array")
            .with_hint(format!(
                "write SHELL [{}]",
                req.inst
                    .args
                    .iter()
                    .flat_map(|w| w.value.split_whitespace())
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
    }
    Ok(ShellCommand {
        shell: req.inst.args.clone(),
    })
}

pub(super) fn parse_cmd(req: &Request) -> Result<CmdCommand, Diagnostic> {
    Flags::parse(req, &[])?;
    Ok(CmdCommand {
        command: CommandLine::from_args(req, &req.inst.args),
    })
}

pub(super) fn parse_entrypoint(req: &Request) -> Result<EntrypointCommand, Diagnostic> {
    Flags::parse(req, &[])?;
    Ok(EntrypointCommand {
        command: CommandLine::from_args(req, &req.inst.args),
    })
}

//! The rules BuildKit runs as it builds each stage (only the stages the target needs, or every
//! stage for `--check`), with the stage's environment at each instruction: `UndefinedVar`,
//! `SecretsUsedInArgOrEnv`, `LegacyKeyValueFormat`, `WorkdirRelativePath`,
//! `JSONArgsRecommended`, `MultipleInstructionsDisallowed`, `ExposeProtoCasing`,
//! `ExposeInvalidFormat` and `CopyIgnoredFile`.

use super::config::{CheckConfig, Sink};
use super::from_args::{Globals, StageBase};
use super::options::LintOptions;
use super::parse_time::Parsed;
use super::{rules, values};
use crate::ast::{Span, Word};
use crate::diagnostics::Diagnostic;
use crate::instructions::{ArgCommand, Command, CommandLine};
use crate::shell::{Env, Lexer};

/// The `PATH` BuildKit gives a stage whose base sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build args BuildKit never puts in the environment.
const NON_ENV_ARGS: &[&str] = &["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// What a stage carries from instruction to instruction (and hands to stages built on it).
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// The environment words are expanded with: the base's, then ENV and ARG values.
    env: Env,
    /// ARG names declared so far (with or without a value): never "undefined".
    declared: Vec<String>,
    /// A WORKDIR was set in this Dockerfile (here or in a stage this one is built on).
    workdir_set: bool,
    /// A SHELL is set (here, in a parent stage, or in the base image's config).
    shell_set: bool,
}

/// The last CMD, ENTRYPOINT and HEALTHCHECK of the stage, for `MultipleInstructionsDisallowed`.
#[derive(Default)]
struct Seen {
    cmd: Option<(usize, Span)>,
    entrypoint: Option<(usize, Span)>,
    healthcheck: Option<(usize, Span)>,
}

/// What every stage's walk needs.
pub(crate) struct Walk<'a> {
    pub(crate) lexer: &'a Lexer,
    pub(crate) globals: &'a Globals,
    pub(crate) options: &'a LintOptions<'a>,
}

/// The state a stage starts from: its parent stage's end state, or the base image's config.
pub(crate) fn initial_state(
    base: &StageBase,
    parent: Option<&State>,
    options: &LintOptions,
) -> State {
    if let Some(parent) = parent {
        return parent.clone();
    }
    let mut state = State::default();
    if base.name != "scratch" {
        if let Some(image) = options.base_image.and_then(|f| f(&base.name)) {
            for (k, v) in &image.env {
                state.env.set(k.clone(), v.clone());
            }
            state.shell_set = !image.shell.is_empty();
        }
    }
    if state.env.get("PATH").is_none() {
        state.env.set("PATH", DEFAULT_PATH);
    }
    state
}

/// Runs the dispatch-time rules over one stage's instructions; returns its end state.
pub(crate) fn stage(
    walk: &Walk,
    commands: &[Parsed],
    mut state: State,
    sink: &mut Sink,
) -> Result<State, Diagnostic> {
    let mut seen = Seen::default();
    for parsed in commands {
        let config = &parsed.config;
        let at = parsed.at();
        if let Command::Arg(arg) = &parsed.typed.command {
            dispatch_arg(walk, arg, at, config, &mut state, sink)?;
            continue;
        }
        for word in expanded_words(&parsed.typed.command) {
            undefined_vars(walk.lexer, word, &state, at, config, sink)?;
        }
        for content in heredoc_contents(&parsed.typed.command) {
            let mut raw = Lexer::new('\\');
            raw.skip_process_quotes = true;
            undefined_vars(&raw, &content, &state, at, config, sink)?;
        }
        one_instruction(walk, parsed, &mut state, &mut seen, sink)?;
    }
    Ok(state)
}

/// The rules of one instruction other than ARG, and what it changes in the state.
fn one_instruction(
    walk: &Walk,
    parsed: &Parsed,
    state: &mut State,
    seen: &mut Seen,
    sink: &mut Sink,
) -> Result<(), Diagnostic> {
    let config = &parsed.config;
    let at = parsed.at();
    match &parsed.typed.command {
        Command::Env(env) => {
            // BuildKit expands every pair with the environment before the instruction, then
            // checks and sets them in order.
            let mut expanded = Vec::with_capacity(env.vars.len());
            for kv in &env.vars {
                let key = expand(walk.lexer, &kv.key, &state.env)?;
                expanded.push((kv.legacy, key, expand(walk.lexer, &kv.value, &state.env)?));
            }
            for (legacy, key, value) in expanded {
                legacy_format(legacy, "ENV", at, config, sink);
                secret_name("ENV", &key, at, config, sink);
                state.env.set(key, value);
            }
        }
        Command::Label(label) => {
            for kv in &label.labels {
                legacy_format(kv.legacy, "LABEL", at, config, sink);
            }
        }
        Command::Cmd(c) => {
            used_once("CMD", &mut seen.cmd, at, config, sink);
            json_args("CMD", &c.command, state, at, config, sink);
        }
        Command::Entrypoint(c) => {
            used_once("ENTRYPOINT", &mut seen.entrypoint, at, config, sink);
            json_args("ENTRYPOINT", &c.command, state, at, config, sink);
        }
        Command::Healthcheck(_) => {
            used_once("HEALTHCHECK", &mut seen.healthcheck, at, config, sink)
        }
        Command::Shell(s) => state.shell_set = !s.shell.is_empty(),
        Command::Workdir(w) => {
            let path = expand(walk.lexer, &w.path, &state.env)?;
            if !state.workdir_set && !path.starts_with('/') {
                sink.report(
                    config,
                    &rules::WORKDIR_RELATIVE_PATH,
                    (at.0, w.path.span),
                    format!(
                        "Relative workdir {} can have unexpected results if the base image changes",
                        crate::shell::go_quote(&path)
                    ),
                );
            }
            state.workdir_set = true;
        }
        Command::Expose(e) => {
            for word in &e.ports {
                let ports = walk
                    .lexer
                    .process_words(&word.value, &state.env)
                    .map_err(|err| Diagnostic::error(err.message, Some(word.span)))?;
                for port in ports {
                    expose_port(&port, (at.0, word.span), config, sink);
                }
            }
        }
        Command::Copy(c) if c.from.is_none() => {
            ignored_sources(walk, "Copy", &c.paths.sources, state, at, config, sink)?;
        }
        Command::Add(a) => ignored_sources(walk, "Add", &a.paths.sources, state, at, config, sink)?,
        _ => {}
    }
    Ok(())
}

/// One word expanded with the stage's environment (errors point at the word).
fn expand(lexer: &Lexer, word: &Word, env: &Env) -> Result<String, Diagnostic> {
    lexer
        .process_word(&word.value, env)
        .map_err(|e| Diagnostic::error(e.message, Some(word.span)))
}

/// BuildKit's `dispatchArg`: `SecretsUsedInArgOrEnv` per name; a default is expanded (and
/// checked by `UndefinedVar`) only when no build arg gives the value.
fn dispatch_arg(
    walk: &Walk,
    arg: &ArgCommand,
    at: (usize, Span),
    config: &CheckConfig,
    state: &mut State,
    sink: &mut Sink,
) -> Result<(), Diagnostic> {
    for decl in &arg.args {
        let name = decl.name.value.clone();
        secret_name("ARG", &name, at, config, sink);
        let value = if let Some(v) = walk.options.build_args.get(&name) {
            Some(v.to_string())
        } else if let Some(default) = &decl.default {
            undefined_vars(walk.lexer, default, state, at, config, sink)?;
            Some(expand(walk.lexer, default, &state.env)?)
        } else {
            walk.globals.env.get(&name).map(str::to_string)
        };
        if let Some(v) = value {
            if !NON_ENV_ARGS.contains(&name.as_str()) {
                state.env.set(name.clone(), v);
            }
        }
        state.declared.push(name);
    }
    Ok(())
}

/// The words BuildKit expands when it dispatches an instruction (its `Expand` methods).
fn expanded_words(command: &Command) -> Vec<&Word> {
    let mut words: Vec<&Word> = Vec::new();
    match command {
        Command::Env(c) => c
            .vars
            .iter()
            .for_each(|kv| words.extend([&kv.key, &kv.value])),
        Command::Label(c) => c
            .labels
            .iter()
            .for_each(|kv| words.extend([&kv.key, &kv.value])),
        Command::Copy(c) => {
            words.extend(c.chown.iter().chain(c.chmod.iter()));
            words.extend(c.paths.sources.iter().chain([&c.paths.dest]));
        }
        Command::Add(c) => {
            words.extend(
                c.chown
                    .iter()
                    .chain(c.chmod.iter())
                    .chain(c.checksum.iter()),
            );
            words.extend(c.paths.sources.iter().chain([&c.paths.dest]));
        }
        Command::Workdir(c) => words.push(&c.path),
        Command::User(c) => words.push(&c.user),
        Command::Volume(c) => words.extend(c.volumes.iter()),
        Command::StopSignal(c) => words.push(&c.signal),
        Command::Run(c) => {
            for mount in &c.mounts {
                words.extend(mount.fields.iter().filter_map(|f| f.value.as_ref()));
            }
        }
        _ => {}
    }
    words
}

/// Heredoc files of COPY/ADD whose bodies BuildKit expands (`ExpandRaw`), as words.
fn heredoc_contents(command: &Command) -> Vec<Word> {
    let contents = match command {
        Command::Copy(c) => &c.paths.contents,
        Command::Add(c) => &c.paths.contents,
        _ => return Vec::new(),
    };
    contents
        .iter()
        .filter(|c| c.expand)
        .map(|c| Word {
            value: c.data.clone(),
            span: c.span,
        })
        .collect()
}

/// `UndefinedVar`: each name `word` uses that is neither set nor declared by an ARG.
fn undefined_vars(
    lexer: &Lexer,
    word: &Word,
    state: &State,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) -> Result<(), Diagnostic> {
    let expansion = lexer
        .expand(&word.value, &state.env)
        .map_err(|e| Diagnostic::error(e.message, Some(word.span)))?;
    for name in &expansion.unmatched {
        if state.declared.contains(name) || NON_ENV_ARGS.contains(&name.as_str()) {
            continue;
        }
        let mut detail = format!("Usage of undefined variable '${name}'");
        if let Some(s) = values::search(name, state.env.iter().map(|(k, _)| k)) {
            detail += &format!(" (did you mean ${s}?)");
        }
        sink.report(config, &rules::UNDEFINED_VAR, (at.0, word.span), detail);
    }
    Ok(())
}

/// `LegacyKeyValueFormat` for one `key value` pair written without `=`.
fn legacy_format(
    legacy: bool,
    name: &str,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    if legacy {
        sink.report(
            config,
            &rules::LEGACY_KEY_VALUE_FORMAT,
            at,
            format!(
                "\"{name} key=value\" should be used instead of legacy \"{name} key value\" format"
            ),
        );
    }
}

/// `SecretsUsedInArgOrEnv`: a name one of whose `_`-separated words is a secret word
/// (`password`, `token`, `key`, …) and none of whose words is `public`, `file` or `version`
/// (BuildKit's `(?i)(?:_|^)(?:…)(?:_|$)` patterns).
fn secret_name(
    instruction: &str,
    key: &str,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    const DENY: &[&str] = &[
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOW: &[&str] = &["public", "file", "version"];
    let lower = key.to_lowercase();
    let words: Vec<&str> = lower.split('_').collect();
    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    if has(DENY) && !has(ALLOW) {
        sink.report(
            config,
            &rules::SECRETS_USED_IN_ARG_OR_ENV,
            at,
            format!(
                "Do not use ARG or ENV instructions for sensitive data ({instruction} {})",
                crate::shell::go_quote(key)
            ),
        );
    }
}

/// `MultipleInstructionsDisallowed`, reported at the earlier instruction (the one ignored).
fn used_once(
    name: &str,
    last: &mut Option<(usize, Span)>,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    if let Some(previous) = last.replace(at) {
        sink.report(
            config,
            &rules::MULTIPLE_INSTRUCTIONS_DISALLOWED,
            previous,
            format!("Multiple {name} instructions should not be used in the same stage because only the last one will be used"),
        );
    }
}

/// `JSONArgsRecommended`: a shell-form CMD/ENTRYPOINT when no SHELL is set.
fn json_args(
    name: &str,
    command: &CommandLine,
    state: &State,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    if matches!(command, CommandLine::Shell(_)) && !state.shell_set {
        sink.report(
            config,
            &rules::JSON_ARGS_RECOMMENDED,
            at,
            format!("JSON arguments recommended for {name} to prevent unintended behavior related to OS signals"),
        );
    }
}

/// `ExposeProtoCasing` and `ExposeInvalidFormat` for one port as BuildKit splits it
/// (`[ip:][hostPort:]port[/proto]`).
fn expose_port(raw: &str, at: (usize, Span), config: &CheckConfig, sink: &mut Sink) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host_port, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    let known = matches!(proto.to_lowercase().as_str(), "" | "tcp" | "udp" | "sctp");
    if port.is_empty() || !known {
        return;
    }
    if proto != proto.to_lowercase() {
        sink.report(
            config,
            &rules::EXPOSE_PROTO_CASING,
            at,
            format!("Defined protocol '{raw}' in EXPOSE instruction should be lowercase"),
        );
    }
    if !ip.is_empty() || !host_port.is_empty() {
        sink.report(
            config,
            &rules::EXPOSE_INVALID_FORMAT,
            at,
            format!("EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'"),
        );
    }
}

/// `CopyIgnoredFile`: a context source the `.dockerignore` leaves out. As BuildKit, nothing is
/// checked when the file has `!` exceptions, and the context root only when a pattern
/// excludes everything in it.
fn ignored_sources(
    walk: &Walk,
    verb: &str,
    sources: &[Word],
    state: &State,
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) -> Result<(), Diagnostic> {
    let Some(ignore) = &walk.options.ignore else {
        return Ok(());
    };
    if ignore.has_exceptions {
        return Ok(());
    }
    for word in sources {
        let src = expand(walk.lexer, word, &state.env)?;
        if src.contains("://") || src.starts_with("git@") {
            continue;
        }
        let cleaned = clean_path(&src);
        let ignored = if cleaned == "." || cleaned == "/" {
            ignore.excludes_root
        } else {
            (ignore.excludes)(cleaned.trim_start_matches('/'))
        };
        if ignored {
            sink.report(
                config,
                &rules::COPY_IGNORED_FILE,
                (at.0, word.span),
                format!(
                    "Attempting to {verb} file {} that is excluded by .dockerignore",
                    crate::shell::go_quote(&cleaned)
                ),
            );
        }
    }
    Ok(())
}

/// Go's `path.Clean`.
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

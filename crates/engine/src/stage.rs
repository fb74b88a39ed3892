//! Building one stage: its base, then each instruction in order with Docker's semantics.
//!
//! Variables are expanded at dispatch time with the stage's environment (ARG values first,
//! ENV overriding them), exactly when BuildKit does it. Steps that make a layer (RUN, COPY,
//! ADD, WORKDIR) are looked up in the cache by key first; metadata steps only change the
//! config and the key.

use crate::build::Shared;
use crate::cachekey::{KeyBuilder, PROXY_ARGS};
use crate::config::{Healthcheck, History};
use crate::copy::{self, CopyRequest};
use crate::mounts;
use crate::progress::Event;
use crate::rootfs::{with_writable_rootfs, NewLayer};
use crate::run::{self, RunParams};
use crate::state::ImageState;
use crate::time;
use anyhow::{anyhow, Result};
use skiff_frontend::ast::Span;
use skiff_frontend::graph::{Base, PlannedStage};
use skiff_frontend::instructions::{
    heredoc_text, CommandLine, ExpansionScope, HealthcheckCommand, Network, RunCommand,
};
use skiff_frontend::shell::Env;
use skiff_frontend::{Command, Diagnostic, TypedInstruction};
use std::time::Instant;

/// A failure that belongs to a place in the Dockerfile; the CLI renders it with the source.
#[derive(Debug)]
pub struct DockerfileError(pub Diagnostic);

impl std::fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.message)
    }
}

impl std::error::Error for DockerfileError {}

fn at(span: Span, err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<DockerfileError>().is_some() {
        return err;
    }
    DockerfileError(Diagnostic::error(format!("{err:#}"), Some(span))).into()
}

fn diag(d: Diagnostic) -> anyhow::Error {
    DockerfileError(d).into()
}

/// Everything a stage tracks while its instructions run.
pub struct StageBuilder<'a> {
    shared: &'a Shared,
    stage: &'a PlannedStage,
    state: ImageState,
    /// ARGs in scope with their values (`None`: declared without a value).
    args: Vec<(String, Option<String>)>,
    /// Step counter inside the stage, for `[stage i/n]`.
    position: usize,
    total: usize,
    no_cache: bool,
}

impl<'a> StageBuilder<'a> {
    /// Prepares a stage on top of its base (pulled, another stage's result, or scratch).
    pub fn new(shared: &'a Shared, stage: &'a PlannedStage) -> Result<StageBuilder<'a>> {
        let no_cache = shared.options.no_cache
            || stage.name.as_ref().is_some_and(|n| {
                shared
                    .options
                    .no_cache_filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(n))
            });
        let total = stage.instructions.len() + 1;
        let step = shared.next_step();
        let name = format!("[{} 1/{total}] FROM {}", stage.label(), stage.base_name);
        shared.progress.emit(Event::StepStart { step, name });
        let started = Instant::now();
        let state = match &stage.base {
            Base::Scratch => ImageState::scratch(&shared.platform),
            Base::Stage(i) => shared.stage_result(*i)?,
            Base::Image(reference) => shared
                .image_state(reference)
                .map_err(|e| at(stage.from_span, e))?,
        };
        shared.progress.emit(Event::StepDone {
            step,
            seconds: started.elapsed().as_secs_f64(),
        });
        let mut builder = StageBuilder {
            shared,
            stage,
            state,
            args: Vec::new(),
            position: 1,
            total,
            no_cache,
        };
        builder.run_onbuild_triggers()?;
        Ok(builder)
    }

    /// Runs every instruction; returns the stage's final image.
    pub fn build(mut self) -> Result<ImageState> {
        for inst in &self.stage.instructions {
            self.position += 1;
            self.dispatch(inst).map_err(|e| at(inst.keyword_span, e))?;
        }
        Ok(self.state)
    }

    fn run_onbuild_triggers(&mut self) -> Result<()> {
        let triggers = self.state.config.config.on_build.take().unwrap_or_default();
        for trigger in triggers {
            let parsed = skiff_frontend::parse(&trigger).map_err(|d| {
                anyhow!(
                    "ONBUILD trigger of the base image {trigger:?}: {}",
                    d.message
                )
            })?;
            for inst in &parsed.instructions {
                let typed = skiff_frontend::instructions::parse_instruction(inst, &parsed.source)
                    .map_err(|d| anyhow!("ONBUILD trigger {trigger:?}: {}", d.message))?;
                self.dispatch(&typed)
                    .map_err(|e| at(self.stage.from_span, e))?;
            }
        }
        Ok(())
    }

    /// The environment words are expanded with: ARG values, then ENV (which wins).
    fn expansion_env(&self) -> Env {
        let mut env = Env::new();
        for (k, v) in &self.args {
            if let Some(v) = v {
                env.set(k.clone(), v.clone());
            }
        }
        for kv in &self.state.config.config.env {
            if let Some((k, v)) = kv.split_once('=') {
                env.set(k, v);
            }
        }
        env
    }

    fn step_name(&self, inst: &TypedInstruction) -> String {
        let text = inst
            .original
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text = if text.len() > 120 {
            format!("{}…", &text[..text.floor_char_boundary(117)])
        } else {
            text
        };
        format!(
            "[{} {}/{}] {}",
            self.stage.label(),
            self.position,
            self.total,
            text
        )
    }

    fn dispatch(&mut self, inst: &TypedInstruction) -> Result<()> {
        let env = self.expansion_env();
        let command = match inst.command.expansion() {
            ExpansionScope::Stage => inst
                .command
                .expand(&self.shared.lexer, &env)
                .map_err(diag)?,
            _ => inst.command.clone(),
        };
        let created_by = history_text(&command, &inst.original);
        match &command {
            Command::From(_) => unreachable!("the planner splits stages at FROM"),
            Command::Arg(arg) => {
                let resolved = arg
                    .resolve(
                        &self.shared.lexer,
                        &env,
                        &self.shared.build_args,
                        &self.shared.plan.global_env,
                    )
                    .map_err(diag)?;
                for (name, value) in resolved {
                    self.args.retain(|(k, _)| *k != name);
                    self.args.push((name, value));
                }
            }
            Command::Env(e) => {
                for kv in &e.vars {
                    self.state
                        .config
                        .config
                        .env_set(&kv.key.value, &kv.value.value);
                }
                self.meta(&created_by);
            }
            Command::Label(l) => {
                for kv in &l.labels {
                    self.state
                        .config
                        .config
                        .labels
                        .insert(kv.key.value.clone(), kv.value.value.clone());
                }
                self.meta(&created_by);
            }
            Command::Expose(e) => {
                for key in e.port_keys().map_err(diag)? {
                    self.state
                        .config
                        .config
                        .exposed_ports
                        .insert(key, serde_json::json!({}));
                }
                self.meta(&created_by);
            }
            Command::User(u) => {
                self.state.config.config.user = u.user.value.clone();
                self.meta(&created_by);
            }
            Command::Volume(v) => {
                for vol in &v.volumes {
                    self.state
                        .config
                        .config
                        .volumes
                        .insert(vol.value.clone(), serde_json::json!({}));
                }
                self.meta(&created_by);
            }
            Command::StopSignal(s) => {
                self.state.config.config.stop_signal = Some(s.signal.value.clone());
                self.meta(&created_by);
            }
            Command::Shell(s) => {
                self.state.config.config.shell =
                    Some(s.shell.iter().map(|w| w.value.clone()).collect());
                self.meta(&created_by);
            }
            Command::Maintainer(m) => {
                self.state.config.author = Some(m.maintainer.value.clone());
                self.meta(&created_by);
            }
            Command::Cmd(c) => {
                self.state.config.config.cmd = Some(self.argv(&c.command));
                self.meta(&created_by);
            }
            Command::Entrypoint(e) => {
                self.state.config.config.entrypoint = Some(self.argv(&e.command));
                // Docker: ENTRYPOINT resets a CMD inherited from the base or set earlier.
                self.state.config.config.cmd = None;
                self.meta(&created_by);
            }
            Command::Healthcheck(h) => {
                self.state.config.config.healthcheck = Some(match h {
                    HealthcheckCommand::None => Healthcheck {
                        test: vec!["NONE".into()],
                        ..Default::default()
                    },
                    HealthcheckCommand::Check(o) => {
                        let test = match &o.test {
                            CommandLine::Exec(argv) => {
                                let mut t = vec!["CMD".to_string()];
                                t.extend(argv.iter().map(|w| w.value.clone()));
                                t
                            }
                            CommandLine::Shell(w) => vec!["CMD-SHELL".into(), w.value.clone()],
                        };
                        let ns = |d: Option<std::time::Duration>| {
                            d.map(|d| d.as_nanos() as i64).unwrap_or(0)
                        };
                        Healthcheck {
                            test,
                            interval: ns(o.interval),
                            timeout: ns(o.timeout),
                            start_period: ns(o.start_period),
                            start_interval: ns(o.start_interval),
                            retries: o.retries.map(i64::from).unwrap_or(0),
                        }
                    }
                });
                self.meta(&created_by);
            }
            Command::Onbuild(o) => {
                self.state
                    .config
                    .config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.expression.clone());
                self.meta(&created_by);
            }
            Command::Workdir(w) => self.workdir(inst, &w.path.value, &created_by)?,
            Command::Run(r) => self.run(inst, r, &created_by)?,
            Command::Copy(c) => {
                let req = CopyRequest {
                    sources: c.paths.sources.iter().map(|w| w.value.clone()).collect(),
                    contents: c
                        .paths
                        .contents
                        .iter()
                        .map(|s| (s.path.clone(), s.data.clone()))
                        .collect(),
                    dest: c.paths.dest.value.clone(),
                    from: c.from.as_ref().map(|w| w.value.clone()),
                    chown: c.chown.as_ref().map(|w| w.value.clone()),
                    chmod: c.chmod.as_ref().map(|w| w.value.clone()),
                    excludes: c.exclude.iter().map(|w| w.value.clone()).collect(),
                    parents: c.parents,
                    is_add: false,
                    unpack: false,
                };
                self.copy(inst, req, &created_by)?;
            }
            Command::Add(a) => {
                let req = CopyRequest {
                    sources: a.paths.sources.iter().map(|w| w.value.clone()).collect(),
                    contents: a
                        .paths
                        .contents
                        .iter()
                        .map(|s| (s.path.clone(), s.data.clone()))
                        .collect(),
                    dest: a.paths.dest.value.clone(),
                    from: None,
                    chown: a.chown.as_ref().map(|w| w.value.clone()),
                    chmod: a.chmod.as_ref().map(|w| w.value.clone()),
                    excludes: a.exclude.iter().map(|w| w.value.clone()).collect(),
                    parents: false,
                    is_add: true,
                    unpack: a.unpack.unwrap_or(true),
                };
                self.copy(inst, req, &created_by)?;
            }
        }
        Ok(())
    }

    /// A metadata-only step: history entry without a layer, and a new key.
    fn meta(&mut self, created_by: &str) {
        let mut key = KeyBuilder::new(&self.state.key, "meta");
        key.part(created_by);
        self.state.key = key.finish();
        self.push_history(created_by, true);
    }

    fn push_history(&mut self, created_by: &str, empty_layer: bool) {
        self.state.config.history.push(History {
            created: Some(time::created(self.shared.options.layer.source_date_epoch)),
            created_by: Some(created_by.to_string()),
            author: None,
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer,
        });
        self.state.config.created =
            Some(time::created(self.shared.options.layer.source_date_epoch));
    }

    fn argv(&self, cmd: &CommandLine) -> Vec<String> {
        match cmd {
            CommandLine::Exec(argv) => argv.iter().map(|w| w.value.clone()).collect(),
            CommandLine::Shell(text) => {
                let mut argv = self.shell();
                argv.push(text.value.clone());
                argv
            }
        }
    }

    fn shell(&self) -> Vec<String> {
        self.state
            .config
            .config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// Looks the key up; on a miss runs `make` and commits the result under the key.
    fn cached_step(
        &mut self,
        inst: &TypedInstruction,
        key: String,
        created_by: &str,
        make: impl FnOnce(&Self, usize) -> Result<Option<NewLayer>>,
    ) -> Result<()> {
        let shared = self.shared;
        let step = shared.next_step();
        shared.progress.emit(Event::StepStart {
            step,
            name: self.step_name(inst),
        });
        if !self.no_cache {
            if let Some(manifest) = shared.store.cache_get(&key)? {
                if let Ok(mut cached) = ImageState::load(&shared.store, &manifest) {
                    cached.key = key;
                    self.state = cached;
                    shared.progress.emit(Event::StepCached { step });
                    return Ok(());
                }
            }
        }
        let started = Instant::now();
        let result = make(self, step);
        let layer = match result {
            Ok(layer) => layer,
            Err(err) => {
                shared.progress.emit(Event::StepError {
                    step,
                    message: format!("{err:#}"),
                });
                return Err(err);
            }
        };
        let empty = layer.is_none();
        if let Some(layer) = layer {
            self.state.layers.push(layer.descriptor);
            self.state.config.rootfs.diff_ids.push(layer.diff_id);
        }
        self.push_history(created_by, empty);
        self.state.key = key.clone();
        let manifest = self.state.commit(&shared.store)?;
        shared.store.cache_put(&key, manifest.digest())?;
        shared.progress.emit(Event::StepDone {
            step,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    fn workdir(&mut self, inst: &TypedInstruction, path: &str, created_by: &str) -> Result<()> {
        let dir = absolute(&self.state.config.config.working_dir, path);
        self.state.config.config.working_dir = dir.clone();
        let user = self.state.config.config.user.clone();
        let mut key = KeyBuilder::new(&self.state.key, "workdir");
        key.part(&dir).part(&user);
        let key = key.finish();
        let opts = self.shared.options.layer.clone();
        self.cached_step(inst, key, created_by, |this, _| {
            let store = &this.shared.store;
            with_writable_rootfs(store, &this.state.layers, &opts, |root| {
                let target = crate::rootpath::resolve(root, &dir, true)?;
                if target.is_dir() {
                    return Ok(());
                }
                let owner = if user.is_empty() {
                    None
                } else {
                    let u = skiff_sandbox::resolve_user(root, &user)?;
                    Some((u.uid, u.gid))
                };
                copy::mkdir_all(root, &target, owner)
            })
        })
    }

    fn run(&mut self, inst: &TypedInstruction, r: &RunCommand, created_by: &str) -> Result<()> {
        let shared = self.shared;
        let argv = match (&r.command, r.heredocs.as_slice()) {
            (CommandLine::Shell(text), [doc])
                if text.value.trim() == format!("<<{}", doc.name)
                    || text.value.trim() == format!("<<-{}", doc.name) =>
            {
                let body = heredoc_text(doc);
                if body.starts_with("#!") {
                    // A script with its own interpreter: run it as a file.
                    vec![format!("{}{}", mounts::HEREDOC_DIR, doc.name)]
                } else {
                    let mut a = self.shell();
                    a.push(body);
                    a
                }
            }
            (CommandLine::Shell(text), docs) if !docs.is_empty() => {
                let mut script = text.value.clone();
                for doc in docs {
                    script.push('\n');
                    script.push_str(&doc.content);
                    script.push_str(&doc.name);
                }
                let mut a = self.shell();
                a.push(script);
                a
            }
            (cmd, _) => self.argv(cmd),
        };
        if argv.is_empty() {
            return Err(anyhow!("RUN has no command"));
        }
        // Environment: image ENV, plus the ARGs in scope that have a value and are not
        // overridden by ENV. Proxy ARGs are passed but kept out of the key and history.
        let mut env = self.state.config.config.env.clone();
        let mut key_env = env.clone();
        let mut history_args = Vec::new();
        for (k, v) in &self.args {
            let Some(v) = v else { continue };
            if self.state.config.config.env_get(k).is_some() {
                continue;
            }
            env.push(format!("{k}={v}"));
            if !PROXY_ARGS.contains(&k.as_str()) {
                key_env.push(format!("{k}={v}"));
                history_args.push(format!("{k}={v}"));
            }
        }
        let prepared = mounts::prepare(shared, &self.state, &r.mounts, &r.heredocs)?;
        env.extend(prepared.env.iter().cloned());
        let network = match r.network {
            Some(Network::None) => skiff_sandbox::Network::None,
            _ => skiff_sandbox::Network::Host,
        };
        let mut key = KeyBuilder::new(&self.state.key, "run");
        key.list(&argv)
            .list(&key_env)
            .part(&format!("{network:?}"))
            .list(&prepared.key_parts);
        key.part(&self.state.config.config.user)
            .part(&self.state.config.config.working_dir);
        let key = key.finish();
        let created_by = if history_args.is_empty() {
            created_by.to_string()
        } else {
            // BuildKit's form: `RUN |2 A=1 B=2 /bin/sh -c …`.
            let rest = created_by.strip_prefix("RUN ").unwrap_or(created_by);
            format!(
                "RUN |{} {} {rest}",
                history_args.len(),
                history_args.join(" ")
            )
        };
        let params = RunParams {
            argv,
            env,
            cwd: self.state.config.config.working_dir.clone(),
            user: self.state.config.config.user.clone(),
            network,
            mounts: prepared.mounts.clone(),
        };
        let opts = shared.options.layer.clone();
        self.cached_step(inst, key, &created_by, |this, step| {
            let runtime = shared.runtime()?;
            run::execute(
                &shared.store,
                runtime,
                &this.state.layers,
                &params,
                &opts,
                &shared.progress,
                step,
            )
        })?;
        drop(prepared);
        Ok(())
    }

    fn copy(&mut self, inst: &TypedInstruction, req: CopyRequest, created_by: &str) -> Result<()> {
        let shared = self.shared;
        let workdir = self.state.config.config.working_dir.clone();
        let plan = copy::plan(shared, &self.state, &workdir, req)?;
        let mut key = KeyBuilder::new(&self.state.key, "copy");
        key.list(&plan.key_parts);
        let key = key.finish();
        let opts = shared.options.layer.clone();
        self.cached_step(inst, key, created_by, |this, _| {
            with_writable_rootfs(&shared.store, &this.state.layers, &opts, |root| {
                plan.execute(root)
            })
        })
    }
}

/// `path` made absolute against `workdir` (`WORKDIR rel` and relative COPY destinations).
pub fn absolute(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if workdir.is_empty() { "/" } else { workdir };
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// The `created_by` text BuildKit writes into the history for an instruction.
fn history_text(command: &Command, original: &str) -> String {
    let text = original.trim();
    let rest = text
        .split_once(char::is_whitespace)
        .map(|(_, r)| r.trim())
        .unwrap_or("");
    match command {
        Command::Run(r) => {
            let argv = match &r.command {
                CommandLine::Exec(argv) => argv
                    .iter()
                    .map(|w| w.value.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
                CommandLine::Shell(w) => format!("/bin/sh -c {}", w.value),
            };
            format!("RUN {argv} # buildkit")
        }
        Command::Copy(_) | Command::Add(_) => format!("{} {rest} # buildkit", command.name()),
        Command::Cmd(c) => format!("CMD {}", json_or_shell(&c.command)),
        Command::Entrypoint(e) => format!("ENTRYPOINT {}", json_or_shell(&e.command)),
        Command::Env(e) => format!(
            "ENV {}",
            e.vars
                .iter()
                .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Command::Label(l) => format!(
            "LABEL {}",
            l.labels
                .iter()
                .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Command::User(u) => format!("USER {}", u.user.value),
        Command::Workdir(w) => format!("WORKDIR {}", w.path.value),
        _ => format!("{} {rest}", command.name()),
    }
}

fn json_or_shell(cmd: &CommandLine) -> String {
    match cmd {
        CommandLine::Exec(argv) => {
            serde_json::to_string(&argv.iter().map(|w| w.value.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        }
        CommandLine::Shell(w) => format!("[\"/bin/sh\" \"-c\" \"{}\"]", w.value),
    }
}

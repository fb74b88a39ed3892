//! Building one stage: its base, then each instruction in order with Docker's semantics.
//!
//! Variables are expanded at dispatch time with the stage's environment (ARG values first,
//! ENV overriding them), exactly when BuildKit does it. Steps that make a layer (RUN, COPY,
//! ADD, WORKDIR) are looked up in the cache by key first; metadata steps only change the
//! config and the key.

use crate::build::Shared;
use crate::cachekey::{KeyBuilder, PROXY_ARGS};
use crate::config::{go_fmt, Healthcheck, History};
use crate::copy::{self, CopyRequest};
use crate::mounts;
use crate::progress::Event;
use crate::rootfs::{with_writable_rootfs, NewLayer};
use crate::run::{self, RunParams};
use crate::schedule::Cancelled;
use crate::state::ImageState;
use crate::time;
use anyhow::{anyhow, Result};
use skiff_frontend::ast::Span;
use skiff_frontend::graph::{Base, PlannedStage};
use skiff_frontend::instructions::{
    heredoc_text, CommandLine, ExpansionScope, HealthcheckCommand, KeyValue, RunCommand,
    SourcesAndDest,
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
    // A cancelled stage stays cancelled: the scheduler keeps the failure that caused it.
    if err.downcast_ref::<DockerfileError>().is_some() || crate::schedule::is_cancelled(&err) {
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
    /// Every ARG the stage declared, in order (repeats kept), with the value it resolved to
    /// (`None`: unset). BuildKit lists all of them in `RUN`'s history entry.
    args: Vec<(String, Option<String>)>,
    /// ARG values that override the image's `Env` for expansion and `RUN` until an `ENV` of
    /// the same name: in BuildKit the later of ARG and ENV wins.
    arg_env: Vec<(String, String)>,
    /// Whether this stage ran `CMD` (an `ENTRYPOINT` then keeps it; else it clears the CMD).
    cmd_set: bool,
    /// Step counter inside the stage, for `[stage i/n]`.
    position: usize,
    total: usize,
    /// The stage part of step names (`builder`, `stage-1`; none in a one-stage Dockerfile).
    label: Option<String>,
    no_cache: bool,
}

impl<'a> StageBuilder<'a> {
    /// Prepares a stage on top of its base (pulled, another stage's result, or scratch).
    pub fn new(shared: &'a Shared, stage: &'a PlannedStage) -> Result<StageBuilder<'a>> {
        let no_cache = shared.stage_no_cache(stage);
        // Numbered like BuildKit: FROM an image, then each step that makes a layer.
        let label = crate::progress::stage_label(
            stage.name.as_deref(),
            stage.index,
            shared.plan.stages.len() + shared.plan.skipped.len(),
        );
        let from_image = matches!(stage.base, Base::Image(_));
        let total = usize::from(from_image)
            + stage
                .instructions
                .iter()
                .filter(|i| makes_step(&i.command))
                .count();
        let from_step = from_image.then(|| shared.next_step());
        if let Some(step) = from_step {
            let base = skiff_image::reference::Reference::parse(&stage.base_name)
                .map_or_else(|_| stage.base_name.clone(), |r| r.to_string());
            let name =
                crate::progress::step_name(label.as_deref(), 1, total, &format!("FROM {base}"));
            shared.progress.emit(Event::StepStart { step, name });
        }
        let started = Instant::now();
        let state = match &stage.base {
            Base::Scratch => ImageState::scratch(&shared.platform),
            Base::Stage(i) => shared.stage_result(*i)?,
            Base::Image(reference) => match shared.image_state(reference) {
                Ok(state) => state,
                Err(e) => {
                    let e = match from_step {
                        Some(step) => step_failed(shared, step, e),
                        None => e,
                    };
                    return Err(at(stage.from_span, e));
                }
            },
        };
        if let Some(step) = from_step {
            step_done(shared, step, started)?;
        }
        let mut builder = StageBuilder {
            shared,
            stage,
            state,
            args: Vec::new(),
            arg_env: Vec::new(),
            cmd_set: false,
            position: usize::from(from_image),
            total,
            label,
            no_cache,
        };
        builder.run_onbuild_triggers()?;
        Ok(builder)
    }

    /// Runs every instruction; returns the stage's final image. The target stage's history
    /// gets its times filled in as BuildKit's exporter does (see
    /// [`crate::state::fill_history_times`]).
    pub fn build(mut self) -> Result<ImageState> {
        for inst in &self.stage.instructions {
            self.dispatch(inst).map_err(|e| at(inst.keyword_span, e))?;
        }
        if self.stage.index == self.shared.plan.target {
            let now = history_time(self.shared.options.layer.source_date_epoch);
            crate::state::fill_history_times(&mut self.state.config, &now);
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
                // A trigger that makes a layer is a numbered step too.
                self.total += usize::from(makes_step(&typed.command));
                self.dispatch(&typed)
                    .map_err(|e| at(self.stage.from_span, e))?;
            }
        }
        Ok(())
    }

    /// The environment words are expanded with and `RUN` sees: the image's `Env`, with the
    /// ARG values set after the last ENV of their name on top.
    fn expansion_env(&self) -> Env {
        let mut env = Env::new();
        for (k, v) in self.effective_env() {
            env.set(k, v);
        }
        env
    }

    /// The image's `Env` with [`Self::arg_env`] applied, in order (replaced in place, new ones
    /// appended).
    fn effective_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .state
            .config
            .config
            .env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        for (k, v) in &self.arg_env {
            match env.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => env.push((k.clone(), v.clone())),
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
        crate::progress::step_name(self.label.as_deref(), self.position, self.total, &text)
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
        let created_by = self.history_text(&command)?;
        match &command {
            Command::From(_) => unreachable!("the planner splits stages at FROM"),
            Command::Arg(arg) => {
                let lexer = &self.shared.lexer;
                let resolved = arg
                    .resolve(
                        lexer,
                        &env,
                        &self.shared.build_args,
                        &self.shared.plan.global_env,
                    )
                    .map_err(diag)?;
                // The history shows each default as written (expanded), not the value taken.
                let defaults = arg
                    .resolve(lexer, &env, &Env::new(), &Env::new())
                    .map_err(diag)?;
                let declared: Vec<String> = defaults
                    .iter()
                    .map(|(name, default)| match default {
                        Some(d) => format!("{name}={d}"),
                        None => name.clone(),
                    })
                    .collect();
                for (name, value) in resolved {
                    if let Some(v) = &value {
                        self.arg_env.retain(|(k, _)| *k != name);
                        self.arg_env.push((name.clone(), v.clone()));
                    }
                    self.args.push((name, value));
                }
                self.meta(&format!("ARG {}", declared.join(" ")));
            }
            Command::Env(e) => {
                for kv in &e.vars {
                    self.arg_env.retain(|(k, _)| *k != kv.key.value);
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
                self.state.config.config.args_escaped = true;
                self.cmd_set = true;
                self.meta(&created_by);
            }
            Command::Entrypoint(e) => {
                self.state.config.config.entrypoint = Some(self.argv(&e.command));
                // BuildKit: ENTRYPOINT clears the CMD inherited from the base, but keeps one
                // this stage set before it.
                if !self.cmd_set {
                    self.state.config.config.cmd = None;
                }
                self.meta(&created_by);
            }
            Command::Healthcheck(h) => {
                self.state.config.config.healthcheck = Some(healthcheck_config(h));
                self.meta(&created_by);
            }
            Command::Onbuild(o) => {
                self.state
                    .config
                    .config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.expression.clone());
                // No history entry (as in BuildKit), but the config changed: so does the key.
                self.advance_key(&created_by);
            }
            Command::Workdir(w) => self.workdir(inst, &w.path.value)?,
            Command::Run(r) => self.run(inst, r)?,
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
                    link: c.link,
                    ..Default::default()
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
                    unpack: a.unpack,
                    checksum: a.checksum.as_ref().map(|w| w.value.clone()),
                    keep_git_dir: a.keep_git_dir,
                    link: a.link,
                };
                self.copy(inst, req, &created_by)?;
            }
        }
        Ok(())
    }

    /// A metadata-only step: history entry without a layer, and a new key.
    fn meta(&mut self, created_by: &str) {
        self.advance_key(created_by);
        self.push_history(created_by, true);
    }

    /// Folds a metadata change into the cache key, so later steps never reuse a result
    /// built under another config or history.
    fn advance_key(&mut self, change: &str) {
        let mut key = KeyBuilder::new(&self.state.key, "meta");
        key.part(change);
        self.state.key = key.finish();
    }

    /// Appends a history entry. A layer step is stamped now (or `SOURCE_DATE_EPOCH`); a
    /// metadata step only with `SOURCE_DATE_EPOCH`: otherwise it gets its time at the end of
    /// the build, as in BuildKit ([`crate::state::fill_history_times`]).
    fn push_history(&mut self, created_by: &str, empty_layer: bool) {
        let epoch = self.shared.options.layer.source_date_epoch;
        let created = if empty_layer && epoch.is_none() {
            None
        } else {
            Some(history_time(epoch))
        };
        if created.is_some() {
            self.state.config.created = created.clone();
        }
        self.state.config.history.push(History {
            created,
            created_by: Some(created_by.to_string()),
            author: None,
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer,
        });
    }

    /// The `created_by` text BuildKit writes into the history for an instruction, as Go
    /// formats it (`CMD %q`, `VOLUME %v`, …). ARG, WORKDIR and RUN are written where they are
    /// dispatched, since their text depends on the stage's state there; this gives their name.
    fn history_text(&self, command: &Command) -> Result<String> {
        Ok(match command {
            Command::Copy(c) => format!("{} # buildkit", copy_text("COPY", &c.paths)),
            Command::Add(a) => format!("{} # buildkit", copy_text("ADD", &a.paths)),
            Command::Cmd(c) => format!("CMD {}", go_fmt::quoted_list(&self.argv(&c.command))),
            Command::Entrypoint(e) => {
                format!("ENTRYPOINT {}", go_fmt::quoted_list(&self.argv(&e.command)))
            }
            Command::Env(e) => format!("ENV {}", pairs(&e.vars)),
            Command::Label(l) => format!("LABEL {}", pairs(&l.labels)),
            Command::Expose(e) => {
                let ports: std::collections::BTreeSet<String> =
                    e.port_keys().map_err(diag)?.into_iter().collect();
                let map: Vec<String> = ports.iter().map(|p| format!("{p}:{{}}")).collect();
                format!("EXPOSE map[{}]", map.join(" "))
            }
            Command::User(u) => format!("USER {}", u.user.value),
            Command::Volume(v) => format!("VOLUME {}", go_fmt::plain_list(&words(&v.volumes))),
            Command::Shell(s) => format!("SHELL {}", go_fmt::plain_list(&words(&s.shell))),
            Command::StopSignal(s) => format!("STOPSIGNAL {}", s.signal.value),
            Command::Maintainer(m) => format!("MAINTAINER {}", m.maintainer.value),
            Command::Healthcheck(h) => {
                format!("HEALTHCHECK {}", healthcheck_config(h).go_format())
            }
            Command::Onbuild(o) => format!("ONBUILD {}", o.expression),
            Command::Arg(_) | Command::Workdir(_) | Command::Run(_) | Command::From(_) => {
                command.name().to_string()
            }
        })
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
        self.layer_step(inst, key, created_by, |this, step| {
            make(this, step).map(Made::Ran)
        })
    }

    /// [`Self::cached_step`] whose `make` may hand back a layer it found in the cache (a
    /// `COPY --link` layer stacked on a new parent): the step is then reported cached.
    fn layer_step(
        &mut self,
        inst: &TypedInstruction,
        key: String,
        created_by: &str,
        make: impl FnOnce(&Self, usize) -> Result<Made>,
    ) -> Result<()> {
        let shared = self.shared;
        shared.check_cancelled()?;
        if shared.progress.failed() {
            return Err(Cancelled.into());
        }
        let step = shared.next_step();
        self.position += 1;
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
        let (layer, reused) = match result {
            Ok(Made::Ran(layer)) => (layer, false),
            Ok(Made::Reused(layer)) => (Some(layer), true),
            Err(err) => return Err(step_failed(shared, step, err)),
        };
        // BuildKit writes a layer for every RUN/COPY/ADD/WORKDIR: the empty tar when the step
        // changed nothing.
        let layer = match layer {
            Some(layer) => layer,
            None => crate::state::empty_layer(&shared.store, &shared.options.layer)?,
        };
        self.state.layers.push(layer.descriptor);
        self.state.config.rootfs.diff_ids.push(layer.diff_id);
        self.push_history(created_by, false);
        self.state.key = key.clone();
        let manifest = self.state.commit(&shared.store)?;
        shared.store.cache_put(&key, manifest.digest())?;
        if reused {
            shared.progress.emit(Event::StepCached { step });
        } else {
            step_done(shared, step, started)?;
        }
        Ok(())
    }

    fn workdir(&mut self, inst: &TypedInstruction, path: &str) -> Result<()> {
        let dir = clean_path(&absolute(&self.state.config.config.working_dir, path));
        self.state.config.config.working_dir = dir.clone();
        // BuildKit records the resolved directory, not the words written.
        let created_by = format!("WORKDIR {dir}");
        let created_by = created_by.as_str();
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

    fn run(&mut self, inst: &TypedInstruction, r: &RunCommand) -> Result<()> {
        let shared = self.shared;
        let (network, security) = run::confinement(r, shared.options.allow)?;
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
        // Environment: the image's Env with the ARG values on top. Proxy ARGs are passed but
        // kept out of the key and the history (they may hold credentials).
        let effective = self.effective_env();
        let is_proxy_arg =
            |k: &str| PROXY_ARGS.contains(&k) && self.arg_env.iter().any(|(name, _)| name == k);
        let mut env: Vec<String> = effective.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let key_env: Vec<String> = effective
            .iter()
            .filter(|(k, _)| !is_proxy_arg(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // BuildKit's `|N K=V …` prefix: every ARG the stage declared, unset ones with an
        // empty value, each with the value the step sees.
        let history_args: Vec<String> = self
            .args
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, declared)| {
                let seen = effective.iter().find(|(name, _)| name == k).map(|(_, v)| v);
                format!(
                    "{k}={}",
                    seen.or(declared.as_ref()).map_or("", String::as_str)
                )
            })
            .collect();
        let prepared = mounts::prepare(shared, &self.state, &r.mounts, &r.heredocs)?;
        env.extend(prepared.env.iter().cloned());
        env.extend(run::undeclared_proxy_env(
            &shared.options.build_args,
            &effective,
        ));
        let mut key = KeyBuilder::new(&self.state.key, "run");
        key.list(&argv)
            .list(&key_env)
            .part(&format!("{network:?}"))
            .list(&prepared.key_parts);
        if security == skiff_sandbox::Security::Insecure {
            key.part("security=insecure");
        }
        key.part(&self.state.config.config.user)
            .part(&self.state.config.config.working_dir);
        let key = key.finish();
        let created_by = if history_args.is_empty() {
            format!("RUN {} # buildkit", argv.join(" "))
        } else {
            format!(
                "RUN |{} {} {} # buildkit",
                history_args.len(),
                history_args.join(" "),
                argv.join(" ")
            )
        };
        let params = RunParams {
            argv,
            env,
            cwd: self.state.config.config.working_dir.clone(),
            user: self.state.config.config.user.clone(),
            network,
            mounts: prepared.mounts.clone(),
            security,
        };
        let opts = shared.options.layer.clone();
        self.cached_step(inst, key, &created_by, |this, step| {
            let runtime = shared.runtime_for(&this.state.layers)?;
            let (ssh_mounts, _relays) = prepared.start_ssh()?;
            let mut params = params.clone();
            params.mounts.extend(ssh_mounts);
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
        if plan.link {
            return self.copy_link(inst, &plan, created_by);
        }
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

    /// `COPY --link`/`ADD --link` (see `copy/link.rs`): the copy's own layer, found by a key
    /// without the parent's or made in an empty directory, stacked on the parent's layers.
    fn copy_link(
        &mut self,
        inst: &TypedInstruction,
        plan: &copy::CopyPlan,
        created_by: &str,
    ) -> Result<()> {
        let shared = self.shared;
        let opts = &shared.options.layer;
        let depth = self.state.layers.len();
        let layer_key = plan.link_layer_key(opts, depth);
        // The step's key follows the parent's: the steps after it see a different rootfs.
        let mut key = KeyBuilder::new(&self.state.key, "copy --link");
        key.part(&layer_key);
        let key = key.finish();
        let no_cache = self.no_cache;
        self.layer_step(inst, key, created_by, |_, _| {
            if !no_cache {
                if let Some(layer) = copy::cached_link_layer(&shared.store, &layer_key)? {
                    return Ok(Made::Reused(layer));
                }
            }
            let layer = plan.make_link_layer(&shared.store, opts, depth, &layer_key)?;
            Ok(Made::Ran(Some(layer)))
        })
    }
}

/// What the work of a layer step produced.
enum Made {
    /// It ran: its layer, `None` when it changed nothing.
    Ran(Option<NewLayer>),
    /// It found its layer in the cache (a `COPY --link` layer stacked on a new parent).
    Reused(NewLayer),
}

/// Reports a step that finished: DONE, or CANCELED (and [`Cancelled`]) when the build failed
/// meanwhile, as its result is then thrown away.
fn step_done(shared: &Shared, step: usize, started: Instant) -> Result<()> {
    if shared.check_cancelled().is_err() {
        shared.progress.emit(Event::StepCanceled { step });
        return Err(Cancelled.into());
    }
    shared.progress.emit(Event::StepDone {
        step,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(())
}

/// Reports a step that failed and returns what the stage fails with: the step's own error
/// when it is the build's first failure; [`Cancelled`] when the build had failed already (the
/// step was killed, or failed on its own too late), and the step is reported CANCELED.
fn step_failed(shared: &Shared, step: usize, err: anyhow::Error) -> anyhow::Error {
    if shared.check_cancelled().is_err() {
        shared.progress.emit(Event::StepCanceled { step });
        return Cancelled.into();
    }
    if shared.progress.step_failed(step, format!("{err:#}")) {
        err
    } else {
        Cancelled.into()
    }
}

/// Whether the instruction is a numbered step (it may make a layer, so it goes through the
/// cache); metadata instructions only change the config, as in BuildKit's numbering.
fn makes_step(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_) | Command::Copy(_) | Command::Add(_) | Command::Workdir(_)
    )
}

/// An absolute path cleaned as Go's `path.Clean` does (`/a/./b/../c/` → `/a/c`), as BuildKit
/// normalizes a WORKDIR.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `path` made absolute against `workdir` (`WORKDIR rel` and relative COPY destinations).
pub fn absolute(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if workdir.is_empty() { "/" } else { workdir };
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// A history time: `SOURCE_DATE_EPOCH` when given, else now with nanoseconds, written as Go's
/// RFC 3339 with nanoseconds (trailing zeros of the fraction dropped), as BuildKit writes it.
fn history_time(source_date_epoch: Option<i64>) -> String {
    if source_date_epoch.is_some() {
        return time::created(source_date_epoch);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = time::rfc3339(i64::try_from(now.as_secs()).unwrap_or(i64::MAX));
    match now.subsec_nanos() {
        0 => seconds,
        nanos => {
            let fraction = format!("{nanos:09}");
            let whole = seconds.trim_end_matches('Z');
            format!("{whole}.{}Z", fraction.trim_end_matches('0'))
        }
    }
}

/// The `HEALTHCHECK` config entry: `["NONE"]`, or the test with its durations in nanoseconds.
fn healthcheck_config(h: &HealthcheckCommand) -> Healthcheck {
    match h {
        HealthcheckCommand::None => Healthcheck {
            test: vec!["NONE".into()],
            ..Default::default()
        },
        HealthcheckCommand::Check(o) => {
            let test = match &o.test {
                CommandLine::Exec(argv) => {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(words(argv));
                    t
                }
                CommandLine::Shell(w) => vec!["CMD-SHELL".into(), w.value.clone()],
            };
            let ns = |d: Option<std::time::Duration>| {
                d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                    .unwrap_or(0)
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
    }
}

fn words(list: &[skiff_frontend::ast::Word]) -> Vec<String> {
    list.iter().map(|w| w.value.clone()).collect()
}

/// `k=v k2=v2` as BuildKit writes ENV and LABEL pairs (values unquoted, as expanded).
fn pairs(list: &[KeyValue]) -> String {
    list.iter()
        .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `COPY src… <<heredoc… dest`: the flags are not part of BuildKit's history text.
fn copy_text(name: &str, paths: &SourcesAndDest) -> String {
    let mut text = name.to_string();
    for src in &paths.sources {
        text.push(' ');
        text.push_str(&src.value);
    }
    for doc in &paths.contents {
        text.push_str(" <<");
        text.push_str(&doc.path);
    }
    text.push(' ');
    text.push_str(&paths.dest.value);
    text
}

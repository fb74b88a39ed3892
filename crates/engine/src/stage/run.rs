//! `RUN`: the argv (shell form through the image's `SHELL`, heredocs as scripts), the
//! environment it sees, its history text, and the step that runs it in the sandbox.

use super::builder::StageBuilder;
use super::meta::{argv, shell_of};
use crate::cachekey::step_key;
use crate::mounts;
use crate::run::{self, RunParams};
use crate::spec::{EnvVar, LayerFormat, RunSpec, SecurityMode, StepSpec};
use anyhow::{anyhow, Result};
use skiff_frontend::instructions::{heredoc_text, CommandLine, RunCommand};
use skiff_frontend::TypedInstruction;

impl StageBuilder<'_> {
    /// Runs `r` as a cached layer step.
    pub(super) fn run(&mut self, inst: &TypedInstruction, r: &RunCommand) -> Result<()> {
        let workspace = self.workspace;
        let (network_mode, network, security) =
            run::confinement(r, workspace.allow, workspace.network.default)?;
        let argv = self.run_argv(r)?;
        // Environment: the image's Env with the ARG values on top. Proxy ARGs are passed but
        // kept out of the key and the history (they may hold credentials).
        let effective = self.args.effective_env(&self.state.config.config.env);
        let mut env: Vec<String> = effective.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let key_env: Vec<EnvVar> = effective
            .iter()
            .filter(|(k, _)| !self.args.is_proxy_arg(k))
            .map(|(k, v)| EnvVar {
                name: k.clone(),
                value: v.clone(),
            })
            .collect();
        let history_args = self.args.history_args(&effective);
        let planned = mounts::plan(workspace, self.inputs, &self.state, &r.mounts, &r.heredocs)?;
        planned.note_cache_mounts(&workspace.store);
        env.extend(planned.env.iter().cloned());
        env.extend(run::undeclared_proxy_env(&workspace.build_args, &effective));
        let opts = workspace.layer.clone();
        let hostname = (workspace.build_args.iter())
            .find(|(k, v)| k == run::HOSTNAME_ARG && !v.is_empty())
            .map(|(_, v)| v.clone());
        let spec = StepSpec::Run(RunSpec {
            argv: argv.clone(),
            env: key_env,
            user: self.state.config.config.user.clone(),
            workdir: self.state.config.config.working_dir.clone(),
            network: network_mode,
            security: SecurityMode::of(r.security),
            mounts: planned.specs.clone(),
            hostname: hostname.clone(),
            shm_size: workspace.limits.shm_size,
            ulimits: workspace
                .limits
                .ulimits
                .iter()
                .map(|u| u.to_string())
                .collect(),
            extra_hosts: (workspace.network.extra_hosts.iter())
                .map(|h| format!("{}:{}", h.name, h.ip))
                .collect(),
        });
        let key = step_key(Some(&self.state.key), &spec, Some(&LayerFormat::of(&opts)));
        let created_by = history_text(&argv, &history_args);
        let params = RunParams {
            argv,
            env,
            cwd: self.state.config.config.working_dir.clone(),
            user: self.state.config.config.user.clone(),
            network,
            extra_hosts: workspace.network.extra_hosts.clone(),
            mounts: Vec::new(),
            security,
            hostname,
            limits: workspace.limits.clone(),
        };
        self.cached_step(inst, key, &created_by, |this, step| {
            // A foreign architecture runs through QEMU's binfmt_misc handler, or not at all.
            let c = &this.state.config;
            crate::emulation::require(&skiff_image::registry::Platform::new(
                &c.os,
                &c.architecture,
                c.variant.as_deref(),
            ))?;
            let runtime = workspace.runtime_for(&this.state.layers)?;
            // The mounts are set up only now that the step runs: a cached RUN takes no cache
            // lock, copies no bind source, writes no secret and starts no ssh relay.
            let materialized = planned.materialize(&workspace.store)?;
            let mut params = params.clone();
            params.mounts.clone_from(&materialized.mounts);
            run::execute(
                &workspace.store,
                runtime,
                &this.state.layers,
                &params,
                &opts,
                this.steps.progress(),
                step,
            )
        })
    }

    /// The argv of a RUN: a lone heredoc is the script (run as a file when it has a `#!`
    /// line), heredocs after a shell command are appended to it, as BuildKit does.
    fn run_argv(&self, r: &RunCommand) -> Result<Vec<String>> {
        let config = &self.state.config.config;
        let argv = match (&r.command, r.heredocs.as_slice()) {
            (CommandLine::Shell(text), [doc]) if is_lone_heredoc(&text.value, &doc.name) => {
                let body = heredoc_text(doc);
                if body.starts_with("#!") {
                    // A script with its own interpreter: run it as a file.
                    vec![format!("{}{}", mounts::HEREDOC_DIR, doc.name)]
                } else {
                    let mut a = shell_of(config);
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
                let mut a = shell_of(config);
                a.push(script);
                a
            }
            (cmd, _) => argv(config, cmd),
        };
        if argv.is_empty() {
            return Err(anyhow!("RUN has no command"));
        }
        Ok(argv)
    }
}

/// Whether a RUN's whole command is the heredoc `name` (`<<EOF`, `<<-EOF`, `<<"EOF"`,
/// `<<'EOF'`), as BuildKit's `MustParseHeredoc` of the command: its body is then the script,
/// whatever the quoting.
fn is_lone_heredoc(command: &str, name: &str) -> bool {
    let Some(rest) = command.trim().strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| rest.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
        .unwrap_or(rest);
    unquoted == name
}

/// A RUN's history text: BuildKit's `|N K=V …` prefix of the stage's ARGs when it has any.
fn history_text(argv: &[String], history_args: &[String]) -> String {
    if history_args.is_empty() {
        format!("RUN {} # buildkit", argv.join(" "))
    } else {
        format!(
            "RUN |{} {} {} # buildkit",
            history_args.len(),
            history_args.join(" "),
            argv.join(" ")
        )
    }
}

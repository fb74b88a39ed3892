//! A stage's variables: the ARGs it declared and how they merge with the image's `ENV`
//! into the environment words are expanded with and `RUN` sees.

use crate::cachekey::PROXY_ARGS;
use crate::error::diag;
use crate::state::ArgScope;
use anyhow::Result;
use skiff_frontend::instructions::ArgCommand;
use skiff_frontend::shell::{Env, Lexer};

/// The ARG state of a stage.
#[derive(Default)]
pub(super) struct StageArgs {
    /// Every ARG the stage declared, in order (repeats kept), with the value it resolved to
    /// (`None`: unset). BuildKit lists all of them in `RUN`'s history entry.
    declared: Vec<(String, Option<String>)>,
    /// ARG values that override the image's `Env` for expansion and `RUN` until an `ENV` of
    /// the same name: in BuildKit the later of ARG and ENV wins.
    overrides: Vec<(String, String)>,
}

/// What an `ARG` needs besides the stage's environment: the `--build-arg` values and the
/// global ARGs (before the first `FROM`).
pub(super) struct ArgValues<'a> {
    pub lexer: &'a Lexer,
    pub build_args: &'a Env,
    pub global: &'a Env,
}

impl StageArgs {
    /// The ARGs of a stage that starts where `scope` ended: a stage built `FROM` another
    /// stage sees its ARG values without declaring them again (BuildKit copies the base
    /// stage's build args and environment).
    pub fn inherit(scope: &ArgScope) -> StageArgs {
        StageArgs {
            declared: scope.declared.clone(),
            overrides: scope.overrides.clone(),
        }
    }

    /// What a stage built `FROM` this one inherits.
    pub fn scope(&self) -> ArgScope {
        ArgScope {
            declared: self.declared.clone(),
            overrides: self.overrides.clone(),
        }
    }

    /// The image's `Env` (`K=V` strings) with the ARG overrides applied, in order (replaced
    /// in place, new ones appended).
    pub fn effective_env(&self, image_env: &[String]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = image_env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        for (k, v) in &self.overrides {
            match env.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => env.push((k.clone(), v.clone())),
            }
        }
        env
    }

    /// The environment words are expanded with: [`Self::effective_env`] as an [`Env`].
    pub fn expansion_env(&self, image_env: &[String]) -> Env {
        let mut env = Env::new();
        for (k, v) in self.effective_env(image_env) {
            env.set(k, v);
        }
        env
    }

    /// Declares the ARGs of `arg` (expanded with `env`); returns its history text, which
    /// shows each name with the value it takes (`--build-arg`, else the default expanded,
    /// else the global value), or the bare name when unset, as current BuildKit's
    /// `dispatchArg` writes it. A default is not evaluated when `--build-arg` overrides it.
    pub fn declare(&mut self, arg: &ArgCommand, env: &Env, values: &ArgValues) -> Result<String> {
        let resolved = arg
            .resolve(values.lexer, env, values.build_args, values.global)
            .map_err(diag)?;
        let declared: Vec<String> = resolved
            .iter()
            .map(|(name, value)| match value {
                // A proxy value may hold credentials: kept out of the history (§6 of
                // docs/reference-builders.md), as out of RUN's prefix.
                Some(v) if !PROXY_ARGS.contains(&name.as_str()) => format!("{name}={v}"),
                _ => name.clone(),
            })
            .collect();
        for (name, value) in resolved {
            if let Some(v) = &value {
                self.overrides.retain(|(k, _)| *k != name);
                self.overrides.push((name.clone(), v.clone()));
            }
            self.declared.push((name, value));
        }
        Ok(format!("ARG {}", declared.join(" ")))
    }

    /// An `ENV` of `name`: it now wins over an ARG of the same name.
    pub fn env_set(&mut self, name: &str) {
        self.overrides.retain(|(k, _)| k != name);
    }

    /// Whether `name` is a proxy ARG this stage set: passed to RUN, but kept out of the key
    /// and the history (it may hold credentials).
    pub fn is_proxy_arg(&self, name: &str) -> bool {
        PROXY_ARGS.contains(&name) && self.overrides.iter().any(|(k, _)| k == name)
    }

    /// BuildKit's `|N K=V …` prefix of a RUN's history: every ARG the stage declared (but the
    /// proxy ones), once each in the order first declared (current BuildKit's
    /// `runCommandString`), unset ones with an empty value, each with the value the step sees
    /// in `effective`.
    pub fn history_args(&self, effective: &[(String, String)]) -> Vec<String> {
        let mut seen_names = std::collections::HashSet::new();
        self.declared
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .filter(|(k, _)| seen_names.insert(k.as_str()))
            .map(|(k, declared)| {
                let seen = effective.iter().find(|(name, _)| name == k).map(|(_, v)| v);
                format!(
                    "{k}={}",
                    seen.or(declared.as_ref()).map_or("", String::as_str)
                )
            })
            .collect()
    }
}

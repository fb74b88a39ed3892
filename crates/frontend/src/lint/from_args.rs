//! The rules about FROM lines and the global ARGs they are expanded with, as BuildKit runs them
//! before building: `InvalidDefaultArgInFrom` (with the ARG defaults alone),
//! `UndefinedArgInFrom`, `RedundantTargetPlatform` and `FromPlatformFlagConstDisallowed`
//! (with the build's values), and `InvalidBaseImagePlatform` once the base image is known.

use super::config::{CheckConfig, Sink};
use super::options::LintOptions;
use super::parse_time::{ParsedFile, Stage};
use super::{rules, values};
use crate::diagnostics::Diagnostic;
use crate::instructions::Command;
use crate::shell::{go_quote, Env, Lexer};

/// The global ARG values FROM lines are expanded with, and every name that counts as declared.
pub(crate) struct Globals {
    /// Automatic args and global ARGs with their values.
    pub(crate) env: Env,
    /// Every global ARG name (with or without a value) and every automatic arg, sorted.
    pub(crate) declared: Vec<String>,
}

/// What a stage's FROM resolved to.
pub(crate) struct StageBase {
    /// The base name after expansion (`scratch`, a stage name, an image reference).
    pub(crate) name: String,
    /// `--platform` after expansion, when given.
    pub(crate) platform: Option<String>,
}

/// BuildKit's `defaultArgs`: the automatic platform args (a build arg of the same name wins)
/// and `TARGETSTAGE`.
pub(crate) fn default_args(options: &LintOptions, target: &str) -> Env {
    let mut env = Env::new();
    for (prefix, platform) in [
        ("BUILD", options.build_platform.as_str()),
        ("TARGET", options.target_platform.as_str()),
    ] {
        let mut parts = platform.splitn(3, '/');
        let os = parts.next().unwrap_or_default();
        let arch = parts.next().unwrap_or_default();
        let variant = parts.next().unwrap_or_default();
        for (name, value) in [
            ("PLATFORM", platform),
            ("OS", os),
            ("OSVERSION", ""),
            ("ARCH", arch),
            ("VARIANT", variant),
        ] {
            env.set(format!("{prefix}{name}"), value);
        }
    }
    env.set(
        "TARGETSTAGE",
        if target.is_empty() { "default" } else { target },
    );
    let automatic: Vec<String> = env.iter().map(|(k, _)| k.to_string()).collect();
    for name in automatic {
        if let Some(v) = options.build_args.get(&name) {
            env.set(name, v);
        }
    }
    env
}

/// BuildKit's `buildMetaArgs`: the global ARGs in order; a build arg wins over the default,
/// which is expanded with what came before.
pub(crate) fn meta_args(
    lexer: &Lexer,
    defaults: &Env,
    file: &ParsedFile,
    build_args: Option<&Env>,
) -> Result<Globals, Diagnostic> {
    let mut env = defaults.clone();
    let mut declared: Vec<String> = defaults.iter().map(|(k, _)| k.to_string()).collect();
    for parsed in &file.meta_args {
        let Command::Arg(arg) = &parsed.typed.command else {
            continue;
        };
        for decl in &arg.args {
            let name = decl.name.value.clone();
            let value = match (build_args.and_then(|b| b.get(&name)), &decl.default) {
                (Some(v), _) => Some(v.to_string()),
                (None, Some(default)) => Some(
                    lexer
                        .expand(&default.value, &env)
                        .map_err(|e| Diagnostic::error(e.message, Some(default.span)))?
                        .word,
                ),
                (None, None) => None,
            };
            if let Some(v) = value {
                env.set(name.clone(), v);
            }
            declared.push(name);
        }
    }
    declared.sort();
    declared.dedup();
    Ok(Globals { env, declared })
}

/// `InvalidDefaultArgInFrom`: each FROM expanded with the ARG defaults alone (no build args)
/// must still name a valid image. Gives up quietly where expansion fails, as BuildKit does.
pub(crate) fn invalid_default_args(
    lexer: &Lexer,
    defaults: &Env,
    file: &ParsedFile,
    config: &CheckConfig,
    sink: &mut Sink,
) {
    let Ok(globals) = meta_args(lexer, defaults, file, None) else {
        return;
    };
    for stage in &file.stages {
        let Command::From(from) = &stage.from.typed.command else {
            continue;
        };
        let Ok(expanded) = lexer.expand(&from.image.value, &globals.env) else {
            return;
        };
        if !values::is_valid_reference(&expanded.word) {
            sink.report(
                config,
                &rules::INVALID_DEFAULT_ARG_IN_FROM,
                (stage.from.inst.start_line, from.image.span),
                format!(
                    "Default value for ARG {} results in empty or invalid base image name",
                    from.image.value
                ),
            );
        }
    }
}

/// Expands every FROM with the build's global ARGs, running the FROM rules under each FROM's
/// options; stops with BuildKit's error at the first FROM that cannot be resolved.
pub(crate) fn resolve_bases(
    lexer: &Lexer,
    globals: &Globals,
    file: &ParsedFile,
    sink: &mut Sink,
) -> Result<Vec<StageBase>, Diagnostic> {
    let mut bases = Vec::with_capacity(file.stages.len());
    for stage in &file.stages {
        let Command::From(from) = &stage.from.typed.command else {
            continue;
        };
        let at = (stage.from.inst.start_line, from.image.span);
        let config = &stage.from.config;
        let name = lexer.expand(&from.image.value, &globals.env);
        if let Ok(name) = &name {
            undefined_args(&name.unmatched, globals, at, config, sink);
        }
        let name = name.map_err(|e| Diagnostic::error(e.message, Some(from.image.span)))?;
        if name.word.is_empty() {
            return Err(Diagnostic::error(
                format!("base name ({}) should not be blank", from.image.value),
                Some(from.image.span),
            ));
        }
        let platform = match &from.platform {
            Some(p) => Some(resolve_platform(lexer, globals, stage, p, sink)?),
            None => None,
        };
        bases.push(StageBase {
            name: name.word,
            platform,
        });
    }
    Ok(bases)
}

/// `--platform` of one FROM: expanded, checked by `UndefinedArgInFrom`,
/// `RedundantTargetPlatform` and `FromPlatformFlagConstDisallowed`, then parsed.
fn resolve_platform(
    lexer: &Lexer,
    globals: &Globals,
    stage: &Stage,
    word: &crate::ast::Word,
    sink: &mut Sink,
) -> Result<String, Diagnostic> {
    let at = (stage.from.inst.start_line, word.span);
    let config = &stage.from.config;
    let expanded = lexer.expand(&word.value, &globals.env).map_err(|e| {
        Diagnostic::error(
            format!("failed to process arguments for platform: {}", e.message),
            Some(word.span),
        )
    })?;
    undefined_args(&expanded.unmatched, globals, at, config, sink);
    let only_target = expanded.matched.len() == 1
        && expanded.matched.contains("TARGETPLATFORM")
        && expanded.unmatched.is_empty();
    if only_target && globals.env.get("TARGETPLATFORM") == Some(expanded.word.as_str()) {
        sink.report(
            config,
            &rules::REDUNDANT_TARGET_PLATFORM,
            at,
            format!(
                "Setting platform to predefined {} in FROM is redundant as this is the default behavior",
                word.value
            ),
        );
    }
    let constant = expanded.matched.is_empty() && expanded.unmatched.is_empty();
    if let (true, Some((os, arch))) = (constant, values::parse_platform(&expanded.word)) {
        let name = stage.name().unwrap_or_default();
        if !name.contains(&os) && !name.contains(&arch) {
            sink.report(
                config,
                &rules::FROM_PLATFORM_FLAG_CONST_DISALLOWED,
                at,
                format!(
                    "FROM --platform flag should not use constant value {}",
                    go_quote(&expanded.word)
                ),
            );
        }
    }
    if expanded.word.is_empty() {
        let mut message = format!("empty platform value from expression {}", word.value);
        if let Some(s) = suggestion(&expanded.unmatched, &globals.env) {
            message += &format!(" (did you mean {s}?)");
        }
        return Err(Diagnostic::error(message, Some(word.span)));
    }
    if values::parse_platform(&expanded.word).is_none() {
        let mut message = format!("failed to parse platform {}", word.value);
        let bad_part = expanded.word.split('/').skip(1).find(|p| {
            p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        });
        if let Some(part) = bad_part {
            message += &format!(
                ": {} is an invalid component of {}: platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument",
                go_quote(part),
                go_quote(&expanded.word)
            );
        }
        if let Some(s) = suggestion(&expanded.unmatched, &globals.env) {
            message += &format!(" (did you mean {s}?)");
        }
        return Err(Diagnostic::error(message, Some(word.span)));
    }
    Ok(expanded.word)
}

/// The first did-you-mean for any of `names` among the global ARGs (BuildKit's `wrapSuggestAny`).
fn suggestion(names: &std::collections::BTreeSet<String>, env: &Env) -> Option<String> {
    names
        .iter()
        .find_map(|n| values::search(n, env.iter().map(|(k, _)| k)))
        .map(str::to_string)
}

/// `UndefinedArgInFrom` for every name a FROM word used that no global ARG declares.
fn undefined_args(
    unmatched: &std::collections::BTreeSet<String>,
    globals: &Globals,
    at: (usize, crate::ast::Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    for name in unmatched {
        if globals.declared.binary_search(name).is_ok() {
            continue;
        }
        let mut detail = format!("FROM argument '{name}' is not declared");
        if let Some(s) = values::search(name, globals.declared.iter().map(String::as_str)) {
            detail += &format!(" (did you mean {s}?)");
        }
        sink.report(config, &rules::UNDEFINED_ARG_IN_FROM, at, detail);
    }
}

/// `InvalidBaseImagePlatform`: the base image's platform (when the caller knows it) must have
/// the OS and architecture the stage is built for. Runs under the file's options.
pub(crate) fn base_image_platform(
    stage: &Stage,
    base: &StageBase,
    image_platform: &str,
    options: &LintOptions,
    config: &CheckConfig,
    sink: &mut Sink,
) {
    let expected = base
        .platform
        .clone()
        .unwrap_or_else(|| options.target_platform.clone());
    let (Some(want), Some(have)) = (
        values::parse_platform(&expected),
        values::parse_platform(image_platform),
    ) else {
        return;
    };
    if want != have {
        sink.report(
            config,
            &rules::INVALID_BASE_IMAGE_PLATFORM,
            stage.from.at(),
            format!(
                "Base image {} was pulled with platform {}, expected {} for current build",
                base.name,
                go_quote(image_platform),
                go_quote(&expected)
            ),
        );
    }
}

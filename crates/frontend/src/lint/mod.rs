//! BuildKit's build checks (`docker build --check`): the same 22 rules, with BuildKit's rule
//! names, messages and documentation URLs, run where BuildKit runs them.
//!
//! [`check`] takes the Dockerfile text and what the frontend cannot know by itself, in
//! [`LintOptions`]: the build args, the target, the platforms, the `.dockerignore` (as a
//! predicate, [`IgnoreRules`]) and, when the caller has them, the base images' configs
//! ([`BaseImage`]: without them `InvalidBaseImagePlatform` cannot run, and `UndefinedVar` does
//! not know the variables a base image's `ENV` sets). Nothing is pulled or built.
//!
//! As in BuildKit, the parse-time rules look at every stage, and the rules that need a stage's
//! environment only at the stages the target needs (all of them with
//! [`LintOptions::all_stages`], which is what `--check` does). `# check=skip=…;error=true;
//! experimental=…` at the top of the file, or the `BUILDKIT_DOCKERFILE_CHECK` build arg instead
//! of it, chooses the rules; the same directive in the comments right above an instruction adds
//! to that for the instruction ([`CheckConfig`]).

mod comments;
mod config;
mod dispatch;
mod from_args;
mod options;
mod parse_time;
pub mod pitfalls;
pub mod rules;
mod values;

pub use config::{CheckConfig, Finding};
pub use options::{BaseImage, BaseImageLookup, IgnoreRules, LintOptions};
pub use rules::Rule;

use crate::ast::Dockerfile;
use crate::diagnostics::{render_with, Diagnostic, Style};
use crate::instructions::Command;
use crate::shell::Lexer;
use config::Sink;
use parse_time::ParsedFile;

/// The outcome of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LintReport {
    /// What the rules found, in the order they ran.
    pub findings: Vec<Finding>,
    /// Why the Dockerfile could not be checked to the end (what the build would fail with);
    /// the findings before that point are kept, as BuildKit reports them.
    pub error: Option<Diagnostic>,
    /// With `error=true` and findings: BuildKit's `lint violation found for rules: A, B`.
    pub violation: Option<String>,
}

impl LintReport {
    /// True when a build should fail because of this check (`error=true` and a finding, or the
    /// Dockerfile is broken).
    pub fn fails(&self) -> bool {
        self.error.is_some() || self.violation.is_some()
    }

    /// The findings in file order, each rendered as a warning followed by a blank line: what a
    /// build prints after it ends and `--check` prints. `source` is the text the spans index
    /// into (without a byte-order mark), `file_name` how to name the Dockerfile.
    pub fn render_findings(&self, file_name: &str, source: &str, style: Style) -> String {
        let mut findings: Vec<&Finding> = self.findings.iter().collect();
        findings.sort_by_key(|f| (f.span.line, f.span.column));
        findings
            .iter()
            .map(|f| render_with(&f.diagnostic(), file_name, source, style) + "\n")
            .collect()
    }
}

impl Finding {
    /// The finding as a warning for [`crate::diagnostics::render`]: the rule and BuildKit's
    /// text, a caret under the word at fault, the rule's description and its URL as the hint.
    pub fn diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::warning(
            format!("{}: {}", self.rule.name, self.detail),
            Some(self.span),
        )
        .with_label(self.rule.description);
        match (pitfalls::by_name(self.rule.name), self.rule.url) {
            (Some(skiff), _) => d.with_hint(format!(
                "{} (see {} in docs/checks.md)",
                skiff.hint, self.rule.name
            )),
            (None, Some(url)) => d.with_hint(format!("see {url}")),
            (None, None) => d,
        }
    }
}

/// Runs the build checks on Dockerfile text. A Dockerfile that does not parse gives only
/// [`LintReport::error`].
pub fn check(source: &str, options: &LintOptions) -> LintReport {
    match crate::parser::parse(source) {
        Ok(dockerfile) => check_parsed(&dockerfile, options),
        Err(error) => LintReport {
            error: Some(error),
            ..LintReport::default()
        },
    }
}

/// [`check`] on a Dockerfile already parsed.
pub fn check_parsed(dockerfile: &Dockerfile, options: &LintOptions) -> LintReport {
    let global = match file_config(dockerfile, options) {
        Ok(config) => config,
        Err(error) => {
            return LintReport {
                error: Some(error),
                ..LintReport::default()
            }
        }
    };
    let mut sink = Sink::default();
    let error = run(dockerfile, options, &global, &mut sink).err();
    let fired = sink.fired();
    let violation = (error.is_none() && global.error && !fired.is_empty())
        .then(|| format!("lint violation found for rules: {}", fired.join(", ")));
    LintReport {
        findings: sink.findings,
        error,
        violation,
    }
}

/// The file's options: `BUILDKIT_DOCKERFILE_CHECK` when given, else the `check` directive.
fn file_config(dockerfile: &Dockerfile, options: &LintOptions) -> Result<CheckConfig, Diagnostic> {
    if let Some(value) = options.build_args.get("BUILDKIT_DOCKERFILE_CHECK") {
        return CheckConfig::parse(value).map_err(|e| {
            Diagnostic::error(
                format!("failed to parse BUILDKIT_DOCKERFILE_CHECK: {e}"),
                None,
            )
        });
    }
    let Some(directive) = dockerfile.directives.iter().find(|d| d.name == "check") else {
        return Ok(CheckConfig::default());
    };
    CheckConfig::parse(&directive.value).map_err(|e| {
        Diagnostic::error(
            format!("failed to parse check options: {e}"),
            Some(directive.span),
        )
    })
}

/// Every rule, in BuildKit's order; stops where BuildKit's build would stop.
fn run(
    dockerfile: &Dockerfile,
    options: &LintOptions,
    global: &CheckConfig,
    sink: &mut Sink,
) -> Result<(), Diagnostic> {
    let comments = comments::previous_comments(dockerfile);
    let file = parse_time::parse(dockerfile, &comments, global, sink)?;
    let Some(last) = file.stages.last() else {
        return Err(Diagnostic::error(
            "dockerfile contains no stages to build",
            None,
        ));
    };
    parse_time::whole_file(dockerfile, &file, global, sink);
    let lexer = Lexer::new(dockerfile.escape);
    let target_name = options
        .target
        .clone()
        .unwrap_or_else(|| last.name().unwrap_or_default().to_string());
    let defaults = from_args::default_args(options, &target_name);
    from_args::invalid_default_args(&lexer, &defaults, &file, global, sink);
    let globals = from_args::meta_args(&lexer, &defaults, &file, Some(&options.build_args))?;
    let bases = from_args::resolve_bases(&lexer, &globals, &file, sink)?;
    let target = find_target(&file, options.target.as_deref())?;
    if options.skiff_rules {
        pitfalls::check(&file, &bases, target, options, sink);
    }
    let needed = needed_stages(&file, &bases, target, options.all_stages);
    for (i, stage) in file.stages.iter().enumerate() {
        let info = match (needed[i], base_stage(&file, &bases[i].name, i)) {
            (true, None) if bases[i].name != "scratch" => {
                options.base_image.and_then(|f| f(&bases[i].name))
            }
            _ => None,
        };
        if let Some(platform) = info.and_then(|i| i.platform) {
            from_args::base_image_platform(stage, &bases[i], &platform, options, global, sink);
        }
    }
    let walk = dispatch::Walk {
        lexer: &lexer,
        globals: &globals,
        options,
    };
    let mut states: Vec<Option<dispatch::State>> = vec![None; file.stages.len()];
    for (i, stage) in file.stages.iter().enumerate() {
        if !needed[i] {
            continue;
        }
        let parent = base_stage(&file, &bases[i].name, i).and_then(|j| states[j].clone());
        let start = dispatch::initial_state(&bases[i], parent.as_ref(), options);
        states[i] = Some(dispatch::stage(&walk, &stage.commands, start, sink)?);
    }
    Ok(())
}

/// The stage a base name refers to (an earlier stage's name), if any.
fn base_stage(file: &ParsedFile, base: &str, index: usize) -> Option<usize> {
    let lower = base.to_lowercase();
    file.stages[..index]
        .iter()
        .rposition(|s| s.name() == Some(lower.as_str()))
}

/// The `--target` stage (matched case-insensitively), else the last one.
fn find_target(file: &ParsedFile, target: Option<&str>) -> Result<usize, Diagnostic> {
    let Some(target) = target else {
        return Ok(file.stages.len() - 1);
    };
    let lower = target.to_lowercase();
    file.stages
        .iter()
        .rposition(|s| s.name() == Some(lower.as_str()))
        .ok_or_else(|| {
            Diagnostic::error(
                format!(
                    "target stage {} could not be found",
                    crate::shell::go_quote(target)
                ),
                None,
            )
        })
}

/// Which stages get the stage rules: those the target needs through `FROM <stage>`,
/// `COPY --from` and `RUN --mount=from=`, or all of them.
fn needed_stages(
    file: &ParsedFile,
    bases: &[from_args::StageBase],
    target: usize,
    all: bool,
) -> Vec<bool> {
    if all {
        return vec![true; file.stages.len()];
    }
    let mut needed = vec![false; file.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut needed[i], true) {
            continue;
        }
        let mut refs: Vec<&str> = vec![bases[i].name.as_str()];
        for parsed in &file.stages[i].commands {
            match &parsed.typed.command {
                Command::Copy(c) => refs.extend(c.from.iter().map(|w| w.value.as_str())),
                Command::Run(r) => refs.extend(
                    r.mounts
                        .iter()
                        .filter_map(|m| m.from.as_ref())
                        .map(|w| w.value.as_str()),
                ),
                _ => {}
            }
        }
        for reference in refs {
            let by_index = reference.parse::<usize>().ok().filter(|&j| j < i);
            todo.extend(by_index.or_else(|| base_stage(file, reference, i)));
        }
    }
    needed
}

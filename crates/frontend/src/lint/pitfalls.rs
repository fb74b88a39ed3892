//! skiff's own build checks: the ways a multi-stage build goes wrong that BuildKit's style
//! rules do not see (a dependency download whose cache every edit throws away, a base image
//! that moves under the build, a final image that runs as root or ships its compiler).
//! They run beside BuildKit's rules, under the same `# check=skip=…;error=true` controls,
//! when [`super::LintOptions::skiff_rules`] is set (skiff's CLI sets it; BuildKit's
//! conformance cases run without it).

use super::config::Sink;
use super::from_args::StageBase;
use super::options::LintOptions;
use super::parse_time::{Parsed, ParsedFile};
use super::rules::Rule;
use crate::instructions::{Command, CommandLine};

/// How serious a finding of a skiff rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The image works but the build or the image has a cost worth fixing.
    Warning,
}

/// One of skiff's own rules: the rule as findings name it, its level and how to fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkiffRule {
    /// Name, description and documentation (`docs/checks.md`).
    pub rule: Rule,
    /// How serious a finding is.
    pub level: Level,
    /// What to change, shown under every finding.
    pub hint: &'static str,
}

/// `CopyAllBeforeDependencies`: the whole context is copied before a dependency download.
pub const COPY_ALL_BEFORE_DEPENDENCIES: SkiffRule = SkiffRule {
    rule: Rule {
        name: "CopyAllBeforeDependencies",
        description: "Copying the whole context before downloading dependencies re-downloads them on every edit",
        url: None,
        experimental: false,
    },
    level: Level::Warning,
    hint: "copy the dependency manifests first (`COPY go.mod go.sum ./`), download, then `COPY . .`",
};

/// `UnpinnedBaseImage`: a base image without a tag, or with `latest`.
pub const UNPINNED_BASE_IMAGE: SkiffRule = SkiffRule {
    rule: Rule {
        name: "UnpinnedBaseImage",
        description: "Base images should be pinned to a version tag or a digest",
        url: None,
        experimental: false,
    },
    level: Level::Warning,
    hint: "name a version (`alpine:3.19`) or a digest (`alpine@sha256:…`)",
};

/// `FinalStageRunsAsRoot`: the image's process runs as root.
pub const FINAL_STAGE_RUNS_AS_ROOT: SkiffRule = SkiffRule {
    rule: Rule {
        name: "FinalStageRunsAsRoot",
        description: "The final image should not run as root",
        url: None,
        experimental: false,
    },
    level: Level::Warning,
    hint: "create a user in the final stage and switch to it with `USER`",
};

/// `FinalStageToolchain`: the final stage is built on a compiler image.
pub const FINAL_STAGE_TOOLCHAIN: SkiffRule = SkiffRule {
    rule: Rule {
        name: "FinalStageToolchain",
        description: "The final image should not be a toolchain image",
        url: None,
        experimental: false,
    },
    level: Level::Warning,
    hint: "build in a stage of its own and `COPY --from=` its output into a small runtime image",
};

/// Every skiff rule.
pub const ALL: &[SkiffRule] = &[
    COPY_ALL_BEFORE_DEPENDENCIES,
    UNPINNED_BASE_IMAGE,
    FINAL_STAGE_RUNS_AS_ROOT,
    FINAL_STAGE_TOOLCHAIN,
];

/// The skiff rule named `name`, for its level and hint.
pub fn by_name(name: &str) -> Option<&'static SkiffRule> {
    ALL.iter().find(|r| r.rule.name == name)
}

/// Images that are compilers: in the final stage they ship the toolchain.
const TOOLCHAINS: &[&str] = &["golang", "rust", "gcc", "maven", "gradle", "openjdk"];

/// Runs skiff's rules on the file; `bases` are the stages' bases after expansion, `target`
/// the final stage.
pub(crate) fn check(
    file: &ParsedFile,
    bases: &[StageBase],
    target: usize,
    options: &LintOptions,
    sink: &mut Sink,
) {
    for (i, stage) in file.stages.iter().enumerate() {
        let base = &bases[i].name;
        if image_base(file, options, base, i) && unpinned(base) {
            sink.report(
                &stage.from.config,
                &UNPINNED_BASE_IMAGE.rule,
                stage.from.at(),
                format!("Base image {base} is not pinned: it is whatever `latest` is on the day of the build"),
            );
        }
        copy_all_before_dependencies(&stage.commands, sink);
    }
    final_stage(file, bases, target, options, sink);
}

/// Whether a base is an image from a registry (not `scratch`, a stage or a named context).
fn image_base(file: &ParsedFile, options: &LintOptions, base: &str, index: usize) -> bool {
    let lower = base.to_lowercase();
    lower != "scratch"
        && !file.stages[..index]
            .iter()
            .any(|s| s.name() == Some(lower.as_str()))
        && !options.named_contexts.iter().any(|n| n == base)
}

/// No tag (and no digest), or the `latest` tag.
fn unpinned(reference: &str) -> bool {
    if reference.contains('@') {
        return false;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// The image's repository name without registry, path or tag (`golang`).
fn repository(reference: &str) -> &str {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// `FinalStageRunsAsRoot` and `FinalStageToolchain` on the target stage, following `FROM
/// <stage>` to the image it starts from.
fn final_stage(
    file: &ParsedFile,
    bases: &[StageBase],
    target: usize,
    options: &LintOptions,
    sink: &mut Sink,
) {
    let last = &file.stages[target];
    let mut user = None;
    let mut index = target;
    loop {
        let stage = &file.stages[index];
        if user.is_none() {
            user = stage
                .commands
                .iter()
                .rev()
                .find_map(|p| match &p.typed.command {
                    Command::User(u) => Some((p, u.user.value.clone())),
                    _ => None,
                });
        }
        let base = &bases[index].name;
        if image_base(file, options, base, index) || base.eq_ignore_ascii_case("scratch") {
            break;
        }
        match earlier_stage(file, base, index) {
            Some(parent) => index = parent,
            None => break,
        }
    }
    let base = bases[index].name.as_str();
    let from_image = image_base(file, options, base, index);
    match user {
        Some((parsed, user)) if is_root(&user) => {
            report_root(sink, parsed, format!("The final stage runs as {user}"))
        }
        None if from_image && !base.contains("nonroot") => report_root(
            sink,
            &last.from,
            "The final stage runs as root: it has no USER instruction".to_string(),
        ),
        _ => {}
    }
    let name = repository(base);
    let tag = base.rsplit('/').next().unwrap_or(base);
    let node_full = name == "node" && !tag.contains("slim") && !tag.contains("alpine");
    if from_image && (TOOLCHAINS.contains(&name) || node_full) {
        sink.report(
            &last.from.config,
            &FINAL_STAGE_TOOLCHAIN.rule,
            last.from.at(),
            format!(
                "The final stage is built on {base}: the compiler and its tools ship in the image"
            ),
        );
    }
}

fn report_root(sink: &mut Sink, at: &Parsed, detail: String) {
    sink.report(&at.config, &FINAL_STAGE_RUNS_AS_ROOT.rule, at.at(), detail);
}

/// `root` or uid 0, with or without a group; a value with a variable is not judged.
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user);
    name == "root" || name == "0"
}

/// The stage a base name refers to, if any.
fn earlier_stage(file: &ParsedFile, base: &str, index: usize) -> Option<usize> {
    let lower = base.to_lowercase();
    file.stages[..index]
        .iter()
        .rposition(|s| s.name() == Some(lower.as_str()))
}

/// `CopyAllBeforeDependencies` in one stage: a `COPY . …` from the context, then a RUN that
/// downloads dependencies.
fn copy_all_before_dependencies(commands: &[Parsed], sink: &mut Sink) {
    let mut copied_all: Option<&Parsed> = None;
    for parsed in commands {
        match &parsed.typed.command {
            Command::Copy(c) if c.from.is_none() && copies_whole_context(&c.paths.sources) => {
                copied_all = copied_all.or(Some(parsed));
            }
            Command::Add(a) if copies_whole_context(&a.paths.sources) => {
                copied_all = copied_all.or(Some(parsed));
            }
            Command::Run(run) => {
                let Some(copy) = copied_all else { continue };
                let text = match &run.command {
                    CommandLine::Shell(word) => word.value.clone(),
                    CommandLine::Exec(words) => (words.iter())
                        .map(|w| w.value.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                if let Some(download) = dependency_download(&text) {
                    sink.report(
                        &copy.config,
                        &COPY_ALL_BEFORE_DEPENDENCIES.rule,
                        copy.at(),
                        format!(
                            "The whole context is copied before `{download}` (line {}): every edit of any file downloads the dependencies again",
                            parsed.inst.start_line
                        ),
                    );
                    return;
                }
            }
            _ => {}
        }
    }
}

/// A source list that names the context root (`.`, `./`, `*`, `./*`, `/`).
fn copies_whole_context(sources: &[crate::ast::Word]) -> bool {
    sources
        .iter()
        .any(|w| matches!(w.value.as_str(), "." | "./" | "*" | "./*" | "/" | "./."))
}

/// The dependency-download command in a RUN's text, if there is one.
pub(crate) fn dependency_download(text: &str) -> Option<String> {
    let separators = ['&', '|', ';', '\n', '(', ')'];
    text.split(separators).find_map(|simple| {
        let words: Vec<&str> = simple
            .split_whitespace()
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .collect();
        is_download(&words).then(|| words.join(" "))
    })
}

/// Whether one simple command (assignments skipped) downloads dependencies from manifests.
fn is_download(words: &[&str]) -> bool {
    let program = words.first().map(|w| w.rsplit('/').next().unwrap_or(w));
    let args = words.get(1..).unwrap_or_default();
    let sub = args.first().copied();
    let only_flags = || args.iter().skip(1).all(|a| a.starts_with('-'));
    match program {
        Some("go") => args.starts_with(&["mod", "download"]),
        Some("npm") => sub == Some("ci") || (matches!(sub, Some("install" | "i")) && only_flags()),
        Some("yarn") => sub.is_none() || (sub == Some("install")),
        Some("pnpm") => sub == Some("install") && only_flags(),
        Some("pip" | "pip3") => {
            sub == Some("install")
                && args
                    .iter()
                    .any(|a| *a == "-r" || a.starts_with("--requirement"))
        }
        Some("poetry" | "pipenv" | "bundle" | "composer") => sub == Some("install"),
        Some("cargo") => sub == Some("fetch"),
        Some("dotnet") => sub == Some("restore"),
        Some("mvn" | "mvnw" | "./mvnw") => args.iter().any(|a| a.starts_with("dependency:")),
        _ => false,
    }
}

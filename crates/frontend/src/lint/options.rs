//! What a check needs besides the Dockerfile text: the build's values and what the caller
//! knows about the context and the base images.

use crate::shell::Env;

/// What the caller knows about a base image (from its config), for the rules that need it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseImage {
    /// The image's platform, `os/arch[/variant]`, for `InvalidBaseImagePlatform`.
    pub platform: Option<String>,
    /// The image's `Env`, which a stage's words may use without declaring.
    pub env: Vec<(String, String)>,
    /// The image's `Shell`: when set, shell-form CMD/ENTRYPOINT are not flagged.
    pub shell: Vec<String>,
}

/// Looks up what the caller knows about a base image, by reference as written after expansion.
pub type BaseImageLookup<'a> = &'a dyn Fn(&str) -> Option<BaseImage>;

/// The `.dockerignore` as `CopyIgnoredFile` needs it.
pub struct IgnoreRules<'a> {
    /// Whether a context path (relative, `/`-separated, cleaned) is left out of the context.
    pub excludes: &'a dyn Fn(&str) -> bool,
    /// The file has `!` exceptions: BuildKit then checks nothing (an excluded directory may
    /// have files taken back, which cannot be judged without the context).
    pub has_exceptions: bool,
    /// A pattern leaves out everything at the context root (`*`, `**`, `**/*`), so `COPY . .`
    /// copies nothing.
    pub excludes_root: bool,
}

impl<'a> IgnoreRules<'a> {
    /// The rules for a `.dockerignore` whose patterns (one per line, as written) are
    /// `patterns`, judged by `excludes`.
    pub fn new(patterns: &str, excludes: &'a dyn Fn(&str) -> bool) -> Self {
        let lines: Vec<&str> = patterns
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        IgnoreRules {
            excludes,
            has_exceptions: lines.iter().any(|l| l.starts_with('!')),
            excludes_root: lines
                .iter()
                .any(|l| matches!(l.trim_start_matches('/'), "*" | "**" | "**/*")),
        }
    }
}

/// What a check needs besides the Dockerfile text.
pub struct LintOptions<'a> {
    /// `--build-arg` values (including `BUILDKIT_DOCKERFILE_CHECK`).
    pub build_args: Env,
    /// `--target`; the last stage when `None`.
    pub target: Option<String>,
    /// Run the stage rules on every stage, not only those the target needs (`--check`).
    pub all_stages: bool,
    /// The platform the build runs on (`os/arch[/variant]`).
    pub build_platform: String,
    /// The platform the build produces.
    pub target_platform: String,
    /// The `.dockerignore`, if the context has one.
    pub ignore: Option<IgnoreRules<'a>>,
    /// Base image configs by reference as written after expansion (`alpine:3.20`), if known.
    pub base_image: Option<BaseImageLookup<'a>>,
    /// Run skiff's own rules ([`super::pitfalls`]) besides BuildKit's.
    pub skiff_rules: bool,
    /// `--build-context` names: a `FROM` naming one is not an image from a registry.
    pub named_contexts: Vec<String>,
}

impl Default for LintOptions<'_> {
    fn default() -> Self {
        LintOptions {
            build_args: Env::new(),
            target: None,
            all_stages: false,
            build_platform: "linux/amd64".into(),
            target_platform: "linux/amd64".into(),
            ignore: None,
            base_image: None,
            skiff_rules: false,
            named_contexts: Vec::new(),
        }
    }
}

//! The `check` options: `# check=skip=…;error=true;experimental=…` at the top of the file,
//! the `BUILDKIT_DOCKERFILE_CHECK` build arg that replaces it, and the same directive in the
//! comments right above one instruction, which adds to the file's options for that instruction
//! only (BuildKit's `linter.ParseLintOptions` and `WithMergedConfigFromComments`).

use super::rules::Rule;
use crate::ast::Span;

/// Which rules run and whether a finding fails the build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// `skip=all`: no rule runs (experimental ones that are enabled still do, as in BuildKit).
    pub skip_all: bool,
    /// `skip=A,B`: these rules do not run.
    pub skip: Vec<String>,
    /// `experimental=all`: every experimental rule runs.
    pub experimental_all: bool,
    /// `experimental=A,B`: these experimental rules run.
    pub experimental: Vec<String>,
    /// `error=true`: a finding fails the build (`lint violation found for rules: …`).
    pub error: bool,
}

impl CheckConfig {
    /// Parses the value of a `check` directive or of `BUILDKIT_DOCKERFILE_CHECK`, with
    /// BuildKit's error texts (`invalid check option "x"`).
    pub fn parse(text: &str) -> Result<CheckConfig, String> {
        let text = text.trim();
        let mut config = CheckConfig::default();
        if text.is_empty() {
            return Ok(config);
        }
        for part in text.splitn(3, ';') {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!(
                    "invalid check option {}",
                    crate::shell::go_quote(part)
                ));
            };
            let value = value.trim();
            match key.trim() {
                "skip" if value == "all" => config.skip_all = true,
                "skip" => config.skip = split_list(value),
                "experimental" if value == "all" => config.experimental_all = true,
                "experimental" => config.experimental = split_list(value),
                "error" => {
                    config.error = go_parse_bool(value).ok_or_else(|| {
                        format!(
                            "failed to parse check option {}: strconv.ParseBool: parsing {}: invalid syntax",
                            crate::shell::go_quote(part),
                            crate::shell::go_quote(value)
                        )
                    })?;
                }
                other => {
                    return Err(format!(
                        "invalid check option {}",
                        crate::shell::go_quote(other)
                    ))
                }
            }
        }
        Ok(config)
    }

    /// These options with `other`'s added (BuildKit's `WithMergedConfig`: a comment can skip
    /// or enable more rules, never fewer; `error` is not taken from comments).
    pub fn merged(&self, other: &CheckConfig) -> CheckConfig {
        let mut merged = self.clone();
        merged.skip_all |= other.skip_all;
        merged.experimental_all |= other.experimental_all;
        merged.skip.extend(other.skip.iter().cloned());
        merged
            .experimental
            .extend(other.experimental.iter().cloned());
        merged
    }

    /// The options for one instruction: the first `check=…` among the comments right above it
    /// is merged in (only the text up to its first space counts, so `# check=skip=X // why`
    /// works); a comment that does not parse changes nothing.
    pub fn with_comments(&self, comments: &[String]) -> CheckConfig {
        for comment in comments {
            let Some(value) = check_comment_value(comment) else {
                continue;
            };
            let value = value.split(' ').next().unwrap_or_default();
            return match CheckConfig::parse(value) {
                Ok(other) => self.merged(&other),
                Err(_) => self.clone(),
            };
        }
        self.clone()
    }

    /// Whether `rule` runs under these options.
    pub fn runs(&self, rule: &Rule) -> bool {
        if rule.experimental {
            self.experimental_all || self.experimental.iter().any(|r| r == rule.name)
        } else {
            !(self.skip_all || self.skip.iter().any(|r| r == rule.name))
        }
    }
}

/// BuildKit's `strings.Split(v, ",")` with each entry trimmed.
fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(|r| r.trim().to_string()).collect()
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The value of a comment that reads as a `check` directive (`check = skip=X`), matched with
/// BuildKit's directive pattern `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn check_comment_value(comment: &str) -> Option<&str> {
    let line = comment.trim_start();
    let key_end = line
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(line.len());
    let key = &line[..key_end];
    if !key.eq_ignore_ascii_case("check") {
        return None;
    }
    let value = line[key_end..].trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some(value)
}

/// One finding of a rule (BuildKit's lint warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that found it.
    pub rule: &'static Rule,
    /// What was found, in BuildKit's words (`Stage name 'Foo' should be lowercase`).
    pub detail: String,
    /// The line BuildKit reports: where the instruction starts (for `NoEmptyContinuation`,
    /// where it ends; for `MultipleInstructionsDisallowed`, the earlier instruction).
    pub line: usize,
    /// What to point at when showing it (the word at fault where there is one).
    pub span: Span,
}

/// Collects findings under the options in force, and which rules fired (for `error=true`).
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) findings: Vec<Finding>,
    fired: Vec<&'static str>,
}

impl Sink {
    /// Records a finding of `rule` when `config` lets it run.
    pub(crate) fn report(
        &mut self,
        config: &CheckConfig,
        rule: &'static Rule,
        at: (usize, Span),
        detail: String,
    ) {
        if !config.runs(rule) {
            return;
        }
        if !self.fired.contains(&rule.name) {
            self.fired.push(rule.name);
        }
        self.findings.push(Finding {
            rule,
            detail,
            line: at.0,
            span: at.1,
        });
    }

    /// The names of the rules that fired, sorted.
    pub(crate) fn fired(&self) -> Vec<&'static str> {
        let mut names = self.fired.clone();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildkit_options() {
        let c = CheckConfig::parse("skip=A, B;error=true;experimental=all").unwrap();
        assert_eq!(c.skip, vec!["A", "B"]);
        assert!(c.error && c.experimental_all && !c.skip_all);
        assert_eq!(
            CheckConfig::parse("skip").unwrap_err(),
            "invalid check option \"skip\""
        );
        assert_eq!(
            CheckConfig::parse("bogus=1").unwrap_err(),
            "invalid check option \"bogus\""
        );
        assert!(CheckConfig::parse("error=maybe").is_err());
    }

    #[test]
    fn comments_add_to_the_file_options() {
        let base = CheckConfig::parse("skip=A").unwrap();
        let c = base.with_comments(&["check=skip=B // because".to_string()]);
        assert_eq!(c.skip, vec!["A", "B"]);
        let unchanged = base.with_comments(&["a comment".to_string()]);
        assert_eq!(unchanged, base);
    }
}

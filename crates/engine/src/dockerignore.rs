//! `.dockerignore`: which paths of the build context are left out, with Docker's exact rules.
//!
//! Reading follows moby/patternmatcher's `ignorefile.ReadAll` (comments, blank lines, `!`
//! exceptions, cleaning, a leading `/` dropped); each pattern is checked and compiled as
//! `patternmatcher.New` does (`*`, `?`, `[…]`, `\` escapes, `**` across directories), and a
//! path is judged the way BuildKit's context sender (tonistiigi/fsutil) walks the context:
//!
//! * patterns apply in order and the last one that matches decides; `!pattern` takes paths back;
//! * a pattern that matches a directory matches everything below it (`docs` excludes
//!   `docs/a/b`), and an exception that matches a directory takes back what is below it;
//! * an excluded directory is not descended into unless an exception could match inside it:
//!   when every exception is a plain path (no `*?[]^\` once a trailing `/**` or `/*` is
//!   removed), only directories on the way to an exception are searched; once any exception
//!   has a wildcard, every excluded directory is searched. A path below a directory that is
//!   not searched is excluded whatever the later patterns say.
//!
//! `Dockerfile` and `.dockerignore` get no special treatment: with BuildKit, a context file
//! that matches is not in the context, so `COPY` cannot read it (the builder reads both files
//! by itself). Matching does not depend on whether a path is a file or a directory (`foo/` is
//! cleaned to `foo`).

mod goregex;
mod pattern;
mod read;
mod validate;

use pattern::Pattern;
use std::fmt;

/// Why a `.dockerignore` (or a pattern list) cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A line of 64 KiB or more, which Docker cannot read either.
    LineTooLong {
        /// 1-based line number.
        line: usize,
    },
    /// A `!` with no pattern after it.
    LoneExclamation {
        /// 1-based line number (or position in a pattern list).
        line: usize,
    },
    /// A pattern Docker rejects (an unclosed `[`, a trailing `\`, a bad range…).
    BadPattern {
        /// 1-based line number (or position in a pattern list).
        line: usize,
        /// The pattern as cleaned.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LineTooLong { line } => write!(
                f,
                ".dockerignore line {line} is 64 KiB or longer, which Docker cannot read; \
                 split it into several patterns"
            ),
            Error::LoneExclamation { line } => write!(
                f,
                ".dockerignore line {line}: illegal exclusion pattern \"!\"; write the path to \
                 keep after the \"!\" (e.g. \"!README.md\") or remove the line"
            ),
            Error::BadPattern {
                line,
                pattern,
                reason,
            } => write!(
                f,
                ".dockerignore line {line}: invalid pattern \"{pattern}\": {reason}; close every \
                 \"[\" with \"]\" and write a literal [, ], *, ? or \\ as \\[, \\], \\*, \\? or \\\\"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// One rule: a compiled pattern, and whether it is an exception (`!`).
#[derive(Clone, Debug)]
struct Rule {
    pattern: Pattern,
    exception: bool,
}

/// The parsed rules of a `.dockerignore`, answering which context paths are left out.
#[derive(Clone, Debug)]
pub struct Matcher {
    rules: Vec<Rule>,
    /// Whether an excluded directory is only searched when an exception lies below it
    /// (fsutil's `onlyPrefixExcludeExceptions`).
    prune_by_prefix: bool,
}

/// Which rules matched a directory (patternmatcher's `MatchInfo`), passed down to its entries.
type ParentMatches = Vec<bool>;

impl Matcher {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Matcher, Error> {
        let lines = read::read_patterns(text).map_err(|line| Error::LineTooLong { line })?;
        Self::build(lines.iter().map(|l| (l.number, l.pattern.as_str())))
    }

    /// Builds a matcher from patterns already split into a list (what `patternmatcher.New`
    /// takes, e.g. the values of `COPY --exclude`); errors name the 1-based position.
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, Error> {
        Self::build(
            patterns
                .iter()
                .enumerate()
                .map(|(i, p)| (i + 1, p.as_ref())),
        )
    }

    fn build<'a>(patterns: impl Iterator<Item = (usize, &'a str)>) -> Result<Matcher, Error> {
        let mut rules = Vec::new();
        for (line, raw) in patterns {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = read::clean(trimmed);
            let (exception, text) = match cleaned.strip_prefix('!') {
                Some("") => return Err(Error::LoneExclamation { line }),
                Some(rest) => (true, rest),
                None => (false, cleaned.as_str()),
            };
            let bad = |reason: String| Error::BadPattern {
                line,
                pattern: text.to_string(),
                reason,
            };
            if !validate::is_valid_glob(text) {
                return Err(bad("syntax error in pattern".into()));
            }
            let pattern = Pattern::compile(text).map_err(bad)?;
            rules.push(Rule { pattern, exception });
        }
        let prune_by_prefix = !rules.iter().any(|r| {
            r.exception && without_trailing_glob(r.pattern.text()).contains(PATTERN_CHARS)
        });
        Ok(Matcher {
            rules,
            prune_by_prefix,
        })
    }

    /// Whether `rel_path` (relative to the context root, `/`-separated) is left out of the
    /// context. An excluded directory may still contain paths that are not excluded; ask
    /// [`Matcher::may_include_under`] before skipping its contents. The second argument
    /// (whether the path is a directory) does not change the answer: Docker's patterns cannot
    /// tell files from directories; walkers pass it for clarity.
    pub fn is_excluded(&self, rel_path: &str, _is_dir: bool) -> bool {
        let parts = components(rel_path);
        let Some((_, ancestors)) = parts.split_last() else {
            return false;
        };
        match self.ancestors_state(ancestors) {
            Walk::Pruned => true,
            Walk::Searched(parent) => self.matches(&parts.join("/"), parent.as_deref()).0,
        }
    }

    /// Whether any path below directory `dir` could be in the context: `false` only when
    /// `dir` or one of its parents is excluded and Docker would not search inside it, so a
    /// walker can skip the whole subtree.
    pub fn may_include_under(&self, dir: &str) -> bool {
        matches!(self.ancestors_state(&components(dir)), Walk::Searched(_))
    }

    /// Walks `dirs` from the root as fsutil does: each directory's rule matches feed its
    /// entries, and an excluded directory that is not searched stops the walk.
    fn ancestors_state(&self, dirs: &[&str]) -> Walk {
        let mut parent: Option<ParentMatches> = None;
        for depth in 1..=dirs.len() {
            let dir = dirs[..depth].join("/");
            let (excluded, matched) = self.matches(&dir, parent.as_deref());
            if excluded && !self.searches_excluded_dir(&dir) {
                return Walk::Pruned;
            }
            parent = Some(matched);
        }
        Walk::Searched(parent)
    }

    /// patternmatcher's `MatchesUsingParentResults`: whether `path` is excluded, and which
    /// rules matched it (or a parent) for its own entries. Without parent results the parent
    /// directories are checked one by one, as for a path at the top of a walk.
    fn matches(&self, path: &str, parent: Option<&[bool]>) -> (bool, ParentMatches) {
        let mut excluded = false;
        let mut matched = vec![false; self.rules.len()];
        for (i, rule) in self.rules.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p[i]);
            if !hit {
                // Only a rule that could change the answer is evaluated.
                if rule.exception != excluded {
                    continue;
                }
                hit = rule.pattern.matches(path)
                    || (parent.is_none() && parent_dirs(path).any(|d| rule.pattern.matches(d)));
            }
            matched[i] = hit;
            if hit {
                excluded = !rule.exception;
            }
        }
        (excluded, matched)
    }

    /// fsutil's rule for an excluded directory: search it when an exception pattern lies
    /// below it, or always when some exception has a wildcard.
    fn searches_excluded_dir(&self, dir: &str) -> bool {
        if !self.prune_by_prefix {
            return true;
        }
        let dir_slash = format!("{dir}/");
        self.rules.iter().any(|r| {
            r.exception
                && format!("{}/", without_trailing_glob(r.pattern.text())).starts_with(&dir_slash)
        })
    }
}

/// Where a walk from the root to a directory ends up.
enum Walk {
    /// An excluded directory on the way is not searched: nothing below it is sent.
    Pruned,
    /// Every directory on the way is searched; the last one's rule matches (none at the root).
    Searched(Option<ParentMatches>),
}

/// fsutil's `patternChars` on Linux: an exception containing one may match anywhere.
const PATTERN_CHARS: &[char] = &['*', '[', ']', '?', '^', '\\'];

/// fsutil's `patternWithoutTrailingGlob`.
fn without_trailing_glob(pattern: &str) -> &str {
    let pattern = pattern.strip_suffix("/**").unwrap_or(pattern);
    pattern.strip_suffix("/*").unwrap_or(pattern)
}

/// The non-empty, non-`.` components of a relative path.
fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// `a`, `a/b` for `a/b/c` (Go's `filepath.Dir` split into its prefixes).
fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests;

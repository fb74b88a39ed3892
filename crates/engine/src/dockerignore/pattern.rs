//! One compiled pattern, as moby/patternmatcher's `Pattern.compile` builds it: a plain path
//! is compared exactly, `dir/**` is a prefix test, a pattern starting with `**` and otherwise
//! literal is a suffix test, and anything else becomes a Go regular expression in which `*`
//! and `?` never cross a `/` and `**` crosses any number of directories.

use super::goregex::GoRegex;

/// How a pattern is tested against a path.
#[derive(Clone, Debug)]
enum Test {
    Exact,
    Prefix,
    Suffix,
    Regex(GoRegex),
}

/// A cleaned pattern (without its `!`) ready to match slash-separated relative paths.
#[derive(Clone, Debug)]
pub(super) struct Pattern {
    text: String,
    test: Test,
}

/// Characters that mean something to Go's regexp but nothing to `filepath.Match`.
const REGEX_ONLY: &str = ".+()|{}$";

impl Pattern {
    /// Compiles a cleaned pattern; the error is the regular-expression problem.
    pub(super) fn compile(text: &str) -> Result<Self, String> {
        let (kind, expr) = translate(text);
        let test = match kind {
            Kind::Exact => Test::Exact,
            Kind::Prefix => Test::Prefix,
            Kind::Suffix => Test::Suffix,
            Kind::Regex => Test::Regex(GoRegex::new(&expr)?),
        };
        Ok(Pattern {
            text: text.to_string(),
            test,
        })
    }

    /// The cleaned pattern text.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Whether `path` (relative, `/`-separated) matches this pattern itself (parents aside).
    pub(super) fn matches(&self, path: &str) -> bool {
        match &self.test {
            Test::Exact => path == self.text,
            // Strip the trailing `**`.
            Test::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Test::Suffix => {
                // Strip the leading `**`; `**/foo` also matches `foo` itself. In bytes, as Go
                // does: a pattern that starts with a byte order mark (which the translation
                // skips) has the mark's last byte there, and Go's slice of it matches nothing.
                let suffix = &self.text.as_bytes()[2..];
                let path = path.as_bytes();
                path.ends_with(suffix) || suffix.strip_prefix(b"/") == Some(path)
            }
            Test::Regex(re) => re.is_match(path),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

/// patternmatcher's `compile` (with `/` as separator): the match kind and, for
/// [`Kind::Regex`], the Go expression (for the other kinds the expression is unused).
pub(super) fn translate(pattern: &str) -> (Kind, String) {
    let mut expr = String::from("^");
    let mut kind = Kind::Exact;
    // Go reads the pattern with text/scanner, which skips a leading byte order mark.
    let pattern = pattern.strip_prefix('\u{feff}').unwrap_or(pattern);
    let mut chars = pattern.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` is treated as `**`.
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    // A trailing `**` matches everything below, like .gitignore.
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        expr.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    expr.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                expr.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                expr.push_str("[^/]");
                kind = Kind::Regex;
            }
            c if REGEX_ONLY.contains(c) => {
                expr.push('\\');
                expr.push(c);
            }
            '\\' => {
                // Escapes the next character; a trailing `\` stays (the glob check refuses it).
                expr.push('\\');
                if let Some(next) = chars.next() {
                    expr.push(next);
                    kind = Kind::Regex;
                }
            }
            '[' | ']' => {
                expr.push(c);
                kind = Kind::Regex;
            }
            c => expr.push(c),
        }
        first = false;
    }
    if kind == Kind::Regex {
        expr.push('$');
    }
    (kind, expr)
}

#[cfg(test)]
mod tests {
    use super::{translate, Kind};

    /// patternmatcher's `compileTests` (slash separator).
    #[test]
    fn compiles_like_patternmatcher() {
        let cases = [
            ("*", Kind::Regex, "^[^/]*$"),
            ("file*", Kind::Regex, "^file[^/]*$"),
            ("*file", Kind::Regex, "^[^/]*file$"),
            ("a*/b", Kind::Regex, "^a[^/]*/b$"),
            ("**", Kind::Suffix, ""),
            ("**/**", Kind::Regex, "^(.*/)?.*$"),
            ("dir/**", Kind::Prefix, ""),
            ("**/dir", Kind::Suffix, ""),
            ("**/dir2/*", Kind::Regex, "^(.*/)?dir2/[^/]*$"),
            ("**/dir2/**", Kind::Regex, "^(.*/)?dir2/.*$"),
            ("**file", Kind::Suffix, ""),
            ("**/file*txt", Kind::Regex, "^(.*/)?file[^/]*txt$"),
            ("**/**/*.txt", Kind::Regex, "^(.*/)?(.*/)?[^/]*\\.txt$"),
            ("a[b-d]e", Kind::Regex, "^a[b-d]e$"),
            (".*", Kind::Regex, "^\\.[^/]*$"),
            ("abc.def", Kind::Exact, ""),
            ("abc?def", Kind::Regex, "^abc[^/]def$"),
            ("**/foo/bar", Kind::Suffix, ""),
            ("a(b)c/def", Kind::Exact, ""),
            ("a.|)$(}+{bc", Kind::Exact, ""),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                Kind::Exact,
                "",
            ),
        ];
        for (pattern, kind, expr) in cases {
            let (got_kind, got_expr) = translate(pattern);
            assert_eq!(got_kind, kind, "{pattern:?}");
            if kind == Kind::Regex {
                assert_eq!(got_expr, expr, "{pattern:?}");
            }
        }
    }
}

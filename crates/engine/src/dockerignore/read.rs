//! Reading a `.dockerignore` file into patterns, as moby/patternmatcher's
//! `ignorefile.ReadAll` does: a UTF-8 BOM is dropped, lines starting with `#` are comments,
//! blank lines are skipped, each pattern is trimmed and cleaned (`./a//b/` → `a/b`), a leading
//! `/` is dropped (`/a` → `a`), and `!` marks an exception (`! /a` → `!a`).

/// Docker reads the file with Go's `bufio.Scanner`, which fails on a line of 64 KiB or more.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// One pattern and the 1-based line it came from.
pub(super) struct Line {
    pub(super) number: usize,
    pub(super) pattern: String,
}

/// The patterns of an ignore file, or the number of the first line that is too long.
pub(super) fn read_patterns(text: &str) -> Result<Vec<Line>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text.split('\n').collect();
    // A final newline does not start another line.
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut out = Vec::new();
    for (index, raw) in lines.into_iter().enumerate() {
        let number = index + 1;
        if raw.len() >= MAX_LINE {
            return Err(number);
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let exception = pattern.starts_with('!');
        if exception {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = if pattern.is_empty() {
            String::new()
        } else {
            clean(pattern)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        if exception {
            cleaned.insert(0, '!');
        }
        out.push(Line {
            number,
            pattern: cleaned,
        });
    }
    Ok(out)
}

/// Go's `path.Clean` (`filepath.Clean` on Linux): the shortest equivalent path, resolving
/// `.` and `..` lexically; `""` becomes `.`.
pub(super) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::{clean, read_patterns};

    fn patterns(text: &str) -> Vec<String> {
        read_patterns(text)
            .unwrap()
            .into_iter()
            .map(|l| l.pattern)
            .collect()
    }

    #[test]
    fn reads_like_ignorefile_read_all() {
        // patternmatcher's ignorefile_test.go
        let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert_eq!(
            patterns(content),
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!"
            ]
        );
        assert!(patterns("").is_empty());
    }

    #[test]
    fn bom_crlf_comments_and_cleaning() {
        assert_eq!(
            patterns("\u{feff}a\r\n  # not a comment\r\n./b//c/\n/\n!./d/../e\n"),
            ["a", "# not a comment", "b/c", "/", "!e"]
        );
        let lines = read_patterns("\n\nx\n").unwrap();
        assert_eq!(lines[0].number, 3);
    }

    #[test]
    fn too_long_lines_are_refused() {
        let ok = "a".repeat(super::MAX_LINE - 1);
        assert!(read_patterns(&ok).is_ok());
        let long = format!("x\n{}\n", "a".repeat(super::MAX_LINE));
        assert_eq!(read_patterns(&long).err(), Some(2));
    }

    #[test]
    fn clean_is_go_path_clean() {
        for (input, expected) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def/", "abc/def"),
            ("a//b", "a/b"),
            ("./a/./b", "a/b"),
            ("a/../..", ".."),
            ("../../a", "../../a"),
            ("/../a", "/a"),
            ("/", "/"),
            ("a/b/../../c/..", "."),
            ("!a/../b", "b"),
        ] {
            assert_eq!(clean(input), expected, "{input:?}");
        }
    }
}

//! Splitting an instruction line into keyword, leading `--flags` and the rest, as
//! BuildKit's `splitCommand`/`extractBuilderFlags` do.

use super::go_text::{ceil_char_boundary, is_byte_space, is_separator, trim_space_range};

/// A value cut out of a line: its text and the byte range it was written at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// An instruction line taken apart. All ranges are byte offsets into the line.
#[derive(Debug)]
pub(super) struct SplitCommand {
    /// The keyword as written.
    pub keyword: Piece,
    /// Leading `--flags`, quotes and `\` escapes removed.
    pub flags: Vec<Piece>,
    /// The arguments after the flags, trimmed.
    pub args: (usize, usize),
}

/// Splits `line` into keyword, flags and arguments.
pub(super) fn split_command(line: &str) -> SplitCommand {
    let (start, end) = trim_space_range(line);
    let trimmed = &line[start..end];
    let Some(keyword_len) = trimmed.find(is_separator) else {
        return SplitCommand {
            keyword: piece(line, start, end),
            flags: Vec::new(),
            args: (end, end),
        };
    };
    let after = &trimmed[keyword_len..];
    let rest_start =
        start + keyword_len + (after.len() - after.trim_start_matches(is_separator).len());
    let (args_offset, flags) = extract_flags(&line[rest_start..end]);
    let flags = flags
        .into_iter()
        .map(|p| Piece {
            value: p.value,
            start: rest_start + p.start,
            end: rest_start + p.end,
        })
        .collect();
    let args_from = rest_start + args_offset;
    let (a, b) = trim_space_range(&line[args_from..end]);
    SplitCommand {
        keyword: piece(line, start, start + keyword_len),
        flags,
        args: (args_from + a, args_from + b),
    }
}

fn piece(line: &str, start: usize, end: usize) -> Piece {
    Piece {
        value: line[start..end].to_string(),
        start,
        end,
    }
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// BuildKit's `extractBuilderFlags`: consumes words starting with `--` (a bare `--` ends
/// the flags). It walks bytes, not characters, exactly like the Go code (each byte is
/// taken as the character of the same number), so its quirks with non-ASCII text match.
/// Returns where the rest of the line starts and the flags.
fn extract_flags(line: &str) -> (usize, Vec<Piece>) {
    let bytes = line.as_bytes();
    let len = bytes.len();
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut word_start = 0;
    let mut pos = 0;
    while pos <= len {
        let ch = bytes.get(pos).copied().unwrap_or(0);
        if phase == Phase::Spaces {
            if pos == len {
                break;
            }
            if is_byte_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == len || bytes[pos + 1] != b'-' {
                return (ceil_char_boundary(line, pos), flags);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if pos == len {
            if word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(Piece {
                    value: word,
                    start: word_start,
                    end: len,
                });
            }
            break;
        }
        let mut ch = ch;
        if phase == Phase::Word {
            if is_byte_space(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (ceil_char_boundary(line, pos), flags);
                }
                if blank_ok || !word.is_empty() {
                    flags.push(Piece {
                        value: std::mem::take(&mut word),
                        start: word_start,
                        end: ceil_char_boundary(line, pos),
                    });
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
        } else if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == b'\\' {
            if pos + 1 == len {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = bytes[pos];
        }
        word.push(char::from(ch));
        pos += 1;
    }
    (len, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_and_args(line: &str) -> (Vec<String>, String) {
        let split = split_command(line);
        (
            split.flags.into_iter().map(|f| f.value).collect(),
            line[split.args.0..split.args.1].to_string(),
        )
    }

    #[test]
    fn keyword_flags_and_args() {
        let split = split_command("  COPY --from=a  --chown=\"x y\" src dst ");
        assert_eq!(split.keyword.value, "COPY");
        assert_eq!((split.keyword.start, split.keyword.end), (2, 6));
        let flags: Vec<_> = split
            .flags
            .iter()
            .map(|f| (f.value.as_str(), f.start, f.end))
            .collect();
        assert_eq!(flags, [("--from=a", 7, 15), ("--chown=x y", 17, 30)]);
        assert_eq!(split.args, (31, 38));
    }

    #[test]
    fn double_dash_ends_flags() {
        assert_eq!(
            flags_and_args("COPY -- foo /tmp/"),
            (vec![], "foo /tmp/".to_string())
        );
        assert_eq!(
            flags_and_args("CMD --doit"),
            (vec!["--doit".to_string()], String::new())
        );
        assert_eq!(flags_and_args("RUN --"), (vec![], String::new()));
        assert_eq!(flags_and_args("RUN -x --y"), (vec![], "-x --y".to_string()));
    }

    #[test]
    fn escapes_and_bytes_like_go() {
        assert_eq!(flags_and_args(r"RUN --a=\x\ y z").0, ["--a=x y"]);
        assert_eq!(flags_and_args("RUN --a=é z").0, ["--a=Ã©"]);
        assert_eq!(flags_and_args("RUN --a='' z").0, ["--a="]);
    }

    #[test]
    fn keyword_alone() {
        let split = split_command("HEALTHCHECK");
        assert_eq!(split.keyword.value, "HEALTHCHECK");
        assert_eq!(split.args, (11, 11));
    }
}

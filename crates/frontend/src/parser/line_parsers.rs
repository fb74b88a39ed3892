//! BuildKit's per-instruction line parsers (`line_parsers.go`): they turn the text after
//! the keyword and flags into the instruction's argument values.

use super::go_text::{ceil_char_boundary, is_byte_space, is_separator, is_space, to_lower};
use super::json::{parse_json_array, JsonForm};
use super::split_command::{split_command, Piece};
use crate::dump::go_quote;

/// An error of a line parser: BuildKit's message and the byte range of the line it is about.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LineError {
    pub message: String,
    pub range: (usize, usize),
    /// How to fix it.
    pub hint: &'static str,
}

impl LineError {
    fn new(message: String, range: (usize, usize), hint: &'static str) -> Self {
        LineError {
            message,
            range,
            hint,
        }
    }

    fn shifted(self, by: usize) -> Self {
        LineError {
            range: (self.range.0 + by, self.range.1 + by),
            ..self
        }
    }
}

/// One instruction as the line parsers leave it (BuildKit's node). Ranges are byte
/// offsets into the line given to [`parse_instruction_line`].
#[derive(Debug)]
pub(super) struct ParsedNode {
    /// The keyword, lowercased.
    pub keyword: String,
    pub keyword_range: (usize, usize),
    pub flags: Vec<Piece>,
    pub args: Vec<Piece>,
    pub json: bool,
    /// The text this node was parsed from (BuildKit's `Original`) and where it starts.
    pub original: (usize, usize),
    /// `ONBUILD`'s nested instruction.
    pub onbuild: Option<Box<ParsedNode>>,
}

/// The arguments one line parser produced.
#[derive(Default)]
struct Args {
    values: Vec<Piece>,
    json: bool,
}

/// Parses one logical line into a node (BuildKit's `newNodeFromLine`). `ONBUILD` chains
/// are handled in a loop, so deeply nested input cannot exhaust the stack.
pub(super) fn parse_instruction_line(line: &str, escape: char) -> Result<ParsedNode, LineError> {
    // The ONBUILD levels above the innermost instruction, outermost first.
    let mut outer: Vec<ParsedNode> = Vec::new();
    let (mut from, mut to) = (0, line.len());
    let innermost = loop {
        let split = split_command(&line[from..to]);
        let keyword = to_lower(&split.keyword.value);
        let keyword_range = (from + split.keyword.start, from + split.keyword.end);
        let flags: Vec<Piece> = split.flags.into_iter().map(|f| shift(f, from)).collect();
        let (a, b) = (from + split.args.0, from + split.args.1);
        let mut node = ParsedNode {
            keyword,
            keyword_range,
            flags,
            args: Vec::new(),
            json: false,
            original: (from, to),
            onbuild: None,
        };
        if node.keyword == "onbuild" && a < b {
            outer.push(node);
            (from, to) = (a, b);
            continue;
        }
        let args = dispatch(&node.keyword, &line[a..b], a, escape)?;
        node.args = args.values;
        node.json = args.json;
        break node;
    };
    Ok(outer
        .into_iter()
        .rev()
        .fold(innermost, |inner, mut parent| {
            parent.onbuild = Some(Box::new(inner));
            parent
        }))
}

fn shift(piece: Piece, by: usize) -> Piece {
    Piece {
        value: piece.value,
        start: piece.start + by,
        end: piece.end + by,
    }
}

/// BuildKit's dispatch table: which line parser reads which instruction.
fn dispatch(keyword: &str, rest: &str, base: usize, escape: char) -> Result<Args, LineError> {
    let args = dispatch_unshifted(keyword, rest, escape).map_err(|e| e.shifted(base))?;
    Ok(Args {
        values: args.values.into_iter().map(|p| shift(p, base)).collect(),
        json: args.json,
    })
}

/// [`dispatch`] with ranges relative to `rest`.
fn dispatch_unshifted(keyword: &str, rest: &str, escape: char) -> Result<Args, LineError> {
    Ok(match keyword {
        "add" | "copy" | "volume" => maybe_json_to_list(rest)?,
        "arg" => name_or_name_val(rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest)?,
        "env" => name_val(rest, "ENV", escape)?,
        "label" => name_val(rest, "LABEL", escape)?,
        "expose" | "from" => whitespace_delimited(rest),
        "healthcheck" => health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => whole_string(rest),
        // `onbuild` with no arguments: nothing to nest.
        "onbuild" => Args::default(),
        // Unknown instructions keep one empty value (BuildKit's `parseIgnore`).
        _ => Args {
            values: vec![Piece {
                value: String::new(),
                start: 0,
                end: rest.len(),
            }],
            json: false,
        },
    })
}

/// `parseString`: the whole text as one value.
fn whole_string(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    Args {
        values: vec![Piece {
            value: rest.to_string(),
            start: 0,
            end: rest.len(),
        }],
        json: false,
    }
}

/// `parseStringsWhitespaceDelimited`: split on `[\t\v\f\r ]+`.
fn whitespace_delimited(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    let mut values = Vec::new();
    let mut start = 0;
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_separator(c) {
            continue;
        }
        let mut end_of_run = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if !is_separator(d) {
                break;
            }
            end_of_run = j + d.len_utf8();
            chars.next();
        }
        values.push(Piece {
            value: rest[start..i].to_string(),
            start,
            end: i,
        });
        start = end_of_run;
    }
    values.push(Piece {
        value: rest[start..].to_string(),
        start,
        end: rest.len(),
    });
    Args {
        values,
        json: false,
    }
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// `parseJSON` for the `maybe` parsers: `Ok(Some)` for a string array, `Ok(None)` for shell form.
fn json_form(rest: &str) -> Result<Option<Args>, LineError> {
    match parse_json_array(rest) {
        JsonForm::Strings(values) => Ok(Some(Args { values, json: true })),
        JsonForm::NotStrings => Err(LineError::new(
            NOT_STRING_ARRAY.to_string(),
            (0, rest.len()),
            "quote every element of the array, e.g. [\"sleep\", \"10\"]",
        )),
        JsonForm::NotJson => Ok(None),
    }
}

/// `parseMaybeJSON`: a JSON string array, or else the whole text as one value.
fn maybe_json(rest: &str) -> Result<Args, LineError> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    Ok(json_form(rest)?.unwrap_or_else(|| whole_string(rest)))
}

/// `parseMaybeJSONToList`: a JSON string array, or else whitespace-separated values.
fn maybe_json_to_list(rest: &str) -> Result<Args, LineError> {
    Ok(json_form(rest)?.unwrap_or_else(|| whitespace_delimited(rest)))
}

/// `parseHealthConfig`: the type word (`CMD`, `NONE`, …) then `parseMaybeJSON` of the rest.
/// Like the Go code it looks for the first space byte by byte.
fn health_config(rest: &str) -> Result<Args, LineError> {
    let bytes = rest.as_bytes();
    let sep = bytes
        .iter()
        .position(|&b| is_byte_space(b))
        .unwrap_or(bytes.len());
    if sep == 0 {
        return Ok(Args::default());
    }
    let next = bytes[sep..]
        .iter()
        .position(|&b| !is_byte_space(b))
        .map_or(bytes.len(), |i| sep + i);
    let next = ceil_char_boundary(rest, next);
    let type_end = ceil_char_boundary(rest, sep);
    let mut values = vec![Piece {
        value: String::from_utf8_lossy(&bytes[..sep]).into_owned(),
        start: 0,
        end: type_end,
    }];
    let command = maybe_json(&rest[next..]).map_err(|e| e.shifted(next))?;
    values.extend(command.values.into_iter().map(|p| shift(p, next)));
    Ok(Args {
        values,
        json: command.json,
    })
}

/// `parseNameOrNameVal` (ARG): every word is a value, quotes kept, not split on `=`.
fn name_or_name_val(rest: &str, escape: char) -> Args {
    Args {
        values: parse_words(rest, escape),
        json: false,
    }
}

/// `parseNameVal` (ENV, LABEL): `key value sep` triples, in the legacy `KEY value` form
/// or the `key=value …` form.
fn name_val(rest: &str, key: &str, escape: char) -> Result<Args, LineError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::default());
    };
    if !first.value.contains('=') {
        let Some(split_at) = rest.find(is_separator) else {
            return Err(LineError::new(
                format!("{key} must have two arguments"),
                (0, rest.len()),
                "give it a value, e.g. `name=value`",
            ));
        };
        let value_start = split_at
            + (rest.len() - split_at - rest[split_at..].trim_start_matches(is_separator).len());
        let values = vec![
            Piece {
                value: rest[..split_at].to_string(),
                start: 0,
                end: split_at,
            },
            Piece {
                value: rest[value_start..].to_string(),
                start: value_start,
                end: rest.len(),
            },
            Piece {
                value: String::new(),
                start: rest.len(),
                end: rest.len(),
            },
        ];
        return Ok(Args {
            values,
            json: false,
        });
    }
    let mut values = Vec::with_capacity(words.len() * 3);
    for word in words {
        let Some(eq) = word.value.find('=') else {
            return Err(LineError::new(
                format!(
                    "Syntax error - can't find = in {}. Must be of the form: name=value",
                    go_quote(&word.value)
                ),
                (word.start, word.end),
                "write every pair as name=value, quoting values with spaces: name=\"a b\"",
            ));
        };
        let at = word.start + eq;
        values.push(Piece {
            value: word.value[..eq].to_string(),
            start: word.start,
            end: at,
        });
        values.push(Piece {
            value: word.value[eq + 1..].to_string(),
            start: at + 1,
            end: word.end.max(at + 1),
        });
        values.push(Piece {
            value: "=".to_string(),
            start: at,
            end: at + 1,
        });
    }
    Ok(Args {
        values,
        json: false,
    })
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// BuildKit's `parseWords`: splits on spaces outside quotes; quotes and escapes stay in
/// the words verbatim (an escape at the very end is dropped).
fn parse_words(rest: &str, escape: char) -> Vec<Piece> {
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut word_start = 0;
    let mut i = 0;
    while i <= n {
        let (pos, ch) = chars.get(i).copied().unwrap_or((rest.len(), '\0'));
        if phase == Phase::Spaces {
            if i == n {
                break;
            }
            if is_space(ch) {
                i += 1;
                continue;
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if i == n {
            if blank_ok || !word.is_empty() {
                words.push(Piece {
                    value: std::mem::take(&mut word),
                    start: word_start,
                    end: rest.len(),
                });
            }
            break;
        }
        let mut ch = ch;
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(Piece {
                        value: std::mem::take(&mut word),
                        start: word_start,
                        end: pos,
                    });
                }
                word.clear();
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if i + 1 == n {
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
                ch = chars[i].1;
            }
        } else {
            if ch == quote {
                phase = Phase::Word;
            }
            if ch == escape && quote != '\'' {
                if i + 1 == n {
                    phase = Phase::Word;
                    i += 1;
                    continue;
                }
                i += 1;
                word.push(ch);
                ch = chars[i].1;
            }
        }
        word.push(ch);
        i += 1;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(keyword_line: &str) -> Vec<String> {
        parse_instruction_line(keyword_line, '\\')
            .unwrap()
            .args
            .into_iter()
            .map(|p| p.value)
            .collect()
    }

    fn error(keyword_line: &str) -> String {
        parse_instruction_line(keyword_line, '\\')
            .unwrap_err()
            .message
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        let words: Vec<_> = parse_words(r#"a="b c" d\ e 'f\' "#, '\\')
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(words, [r#"a="b c""#, r"d\ e", r"'f\'"]);
    }

    #[test]
    fn env_forms() {
        assert_eq!(values("ENV a b  c"), ["a", "b  c", ""]);
        assert_eq!(
            values("ENV a=1 b=\"x y\""),
            ["a", "1", "=", "b", "\"x y\"", "="]
        );
        assert_eq!(values("ENV"), Vec::<String>::new());
        assert_eq!(error("ENV PATH"), "ENV must have two arguments");
        assert_eq!(error("LABEL x"), "LABEL must have two arguments");
        assert_eq!(
            error("ENV a=1 b"),
            "Syntax error - can't find = in \"b\". Must be of the form: name=value"
        );
    }

    #[test]
    fn json_and_shell_forms() {
        assert_eq!(values(r#"CMD ["a", "b"]"#), ["a", "b"]);
        assert_eq!(values("CMD ['a']"), ["['a']"]);
        assert_eq!(values("COPY a  b"), ["a", "b"]);
        assert_eq!(values("HEALTHCHECK CMD [\"x\"]"), ["CMD", "x"]);
        assert_eq!(values("FOO bar baz"), [""]);
        assert_eq!(
            error(r#"CMD ["a", 1]"#),
            "when using JSON array syntax, arrays must be comprised of strings only"
        );
    }

    #[test]
    fn onbuild_nests() {
        let node = parse_instruction_line("ONBUILD ONBUILD RUN [\"x\"]", '\\').unwrap();
        let inner = node.onbuild.unwrap().onbuild.unwrap();
        assert_eq!(
            (inner.keyword.as_str(), inner.json, inner.keyword_range),
            ("run", true, (16, 19))
        );
        assert_eq!((inner.args[0].start, inner.args[0].end), (21, 24));
    }

    #[test]
    fn ranges_point_into_the_line() {
        let node = parse_instruction_line("ENV  a=1 b=22", '\\').unwrap();
        let ranges: Vec<_> = node.args.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            ranges,
            [(5, 6), (7, 8), (6, 7), (9, 10), (11, 13), (10, 11)]
        );
    }
}

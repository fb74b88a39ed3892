//! Dockerfile text → [`Dockerfile`] syntax tree, exactly as BuildKit's `parser.Parse` reads it.
//!
//! The stages follow BuildKit's code: physical lines (`source`), parser directives at the
//! top (`directives`), continuation lines joined with the escape character, the keyword
//! and `--flags` split off (`split_command`), the per-instruction argument parsers
//! (`line_parsers`, with `json` for the exec form) and here-documents (`heredoc`). On top
//! of BuildKit's node tree every piece keeps a [`Span`].

mod directives;
mod go_text;
mod heredoc;
mod heredoc_words;
mod json;
mod line_parsers;
mod source;
mod split_command;

use crate::ast::{Directive, Dockerfile, Heredoc, Instruction, ParseWarning, Span, Word};
use crate::diagnostics::Diagnostic;
use directives::{escape_token, DirectiveParser};
use go_text::{is_space, leading_space_len};
use heredoc::heredocs_from_line;
use line_parsers::{parse_instruction_line, ParsedNode};
use source::{scan_lines, JoinedLine, PhysicalLine, SourceMap, MAX_LINE_BYTES};
use split_command::Piece;

/// Parses a Dockerfile. Errors carry BuildKit's message and the span where it applies;
/// non-fatal findings (empty continuation lines) are in [`Dockerfile::warnings`].
pub fn parse(input: &str) -> Result<Dockerfile, Diagnostic> {
    let (source, bom_len) = match input.strip_prefix('\u{feff}') {
        Some(rest) => (rest, '\u{feff}'.len_utf8()),
        None => (input, 0),
    };
    let scanned = scan_lines(source, bom_len);
    let mut parser = Parser {
        source,
        map: SourceMap::new(source),
        lines: &scanned.lines,
        next_line: 0,
        escape: '\\',
        directive_parser: DirectiveParser::default(),
        directives: Vec::new(),
        instructions: Vec::new(),
        warnings: Vec::new(),
    };
    while parser.next_line < parser.lines.len() {
        parser.read_instruction()?;
    }
    if parser.instructions.is_empty() {
        return Err(Diagnostic::error("file with no instructions", None)
            .with_hint("a Dockerfile needs at least one instruction, e.g. `FROM alpine`"));
    }
    if let Some(line) = scanned.too_long {
        return Err(Diagnostic::error(
            format!("dockerfile line greater than max allowed size of {MAX_LINE_BYTES}"),
            Some(parser.map.span(line.start, line.content_end)),
        )
        .with_hint("split the line with a line continuation or move the text into a file"));
    }
    Ok(Dockerfile {
        source: source.to_string(),
        escape: parser.escape,
        directives: parser.directives,
        instructions: parser.instructions,
        warnings: parser.warnings,
    })
}

/// The state of one parse: where the scan is and what was found so far.
struct Parser<'a> {
    source: &'a str,
    map: SourceMap<'a>,
    lines: &'a [PhysicalLine],
    /// Index of the next physical line to read (= the number of lines read so far).
    next_line: usize,
    escape: char,
    directive_parser: DirectiveParser,
    directives: Vec<Directive>,
    instructions: Vec<Instruction>,
    warnings: Vec<ParseWarning>,
}

/// A line starting (after spaces) with `#`.
fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

/// BuildKit's continuation check: the escape character as the last non-blank character,
/// not itself escaped (`([^\\])\\[ \t]*$|^\\[ \t]*$`). Returns the line without it and
/// whether the instruction ends on this line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    if before.is_empty() {
        return ("", false);
    }
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

impl Parser<'_> {
    /// Reads the next physical line and, if an instruction starts there, all of it:
    /// continuation lines and heredoc bodies.
    fn read_instruction(&mut self) -> Result<(), Diagnostic> {
        let line = self.lines[self.next_line];
        let content = line.content(self.source);
        let lead = leading_space_len(content);
        let token = &content[lead..];
        let token_start = line.start + lead;
        self.directive(token, token_start, line.content_end)?;
        self.next_line += 1;
        let start_line = self.next_line;

        let first = if is_comment(token) { "" } else { token };
        let (piece, ends) = trim_continuation(first, self.escape);
        if ends && piece.is_empty() {
            return Ok(());
        }
        let mut joined = JoinedLine::default();
        joined.push(piece, token_start);
        let mut end = line.content_end;
        let mut has_empty_continuation = false;
        if !ends {
            (end, has_empty_continuation) = self.join_continuation_lines(&mut joined, end);
        }

        let node = parse_instruction_line(&joined.text, self.escape).map_err(|e| {
            let span = self.joined_span(&joined, e.range.0, e.range.1);
            Diagnostic::error(e.message, Some(span)).with_hint(e.hint)
        })?;
        let keyword_start = joined
            .source_range(node.keyword_range.0, node.keyword_range.1)
            .0;
        let written = self.map.span(keyword_start, end);
        if has_empty_continuation {
            self.warnings.push(ParseWarning {
                message: format!("Empty continuation line found in: {}", joined.text),
                span: written,
            });
        }
        let mut heredocs = Vec::new();
        if can_contain_heredoc(&node) && joined.text.contains("<<") {
            heredocs = self.read_heredocs(&joined, written)?;
            if !heredocs.is_empty() {
                end = self.lines[self.next_line - 1].content_end;
            }
        }
        let lines = (start_line, self.next_line);
        let mut instruction = self.instruction(node, &joined, end, lines);
        // BuildKit attaches the heredocs of `ONBUILD RUN <<EOF` to the ONBUILD node; the
        // nested instruction gets them too, so it is complete on its own.
        if let Some(inner) = instruction.onbuild.as_deref_mut() {
            inner.heredocs = heredocs.clone();
        }
        instruction.heredocs = heredocs;
        self.instructions.push(instruction);
        Ok(())
    }

    /// Appends continuation lines to `joined` until a line does not end in the escape
    /// character (or the input ends). Comment lines are skipped; blank lines are skipped
    /// and reported. Returns where the last appended line ends and whether a blank line
    /// was skipped.
    fn join_continuation_lines(
        &mut self,
        joined: &mut JoinedLine,
        mut end: usize,
    ) -> (usize, bool) {
        let mut has_empty_continuation = false;
        while self.next_line < self.lines.len() {
            let next = self.lines[self.next_line];
            self.next_line += 1;
            let text = next.content(self.source);
            if is_comment(text) {
                continue;
            }
            if text.trim_start_matches(is_space).is_empty() {
                has_empty_continuation = true;
                continue;
            }
            let (piece, ends) = trim_continuation(text, self.escape);
            joined.push(piece, next.start);
            end = next.content_end;
            if ends {
                break;
            }
        }
        (end, has_empty_continuation)
    }

    /// Feeds a line to the directive parser and records what it finds.
    fn directive(
        &mut self,
        token: &str,
        token_start: usize,
        line_end: usize,
    ) -> Result<(), Diagnostic> {
        let found = self.directive_parser.parse_line(token).map_err(|e| {
            let span = self
                .map
                .span(token_start + e.range.0, token_start + e.range.1);
            Diagnostic::error(e.message, Some(span))
                .with_hint("parser directives may appear only once, at the top of the Dockerfile")
        })?;
        let Some(found) = found else {
            return Ok(());
        };
        if found.name == "escape" {
            self.escape = escape_token(&found.value).map_err(|message| {
                let (a, b) = found.value_range;
                Diagnostic::error(
                    message,
                    Some(self.map.span(token_start + a, token_start + b)),
                )
                .with_hint("use `# escape=\\` (the default) or `# escape=``")
            })?;
        }
        self.directives.push(Directive {
            name: found.name,
            value: found.value,
            span: self.map.span(token_start, line_end),
        });
        Ok(())
    }

    /// Reads the bodies of the heredocs announced on the instruction line (`written` is
    /// the instruction so far, where errors of the delimiter words point).
    fn read_heredocs(
        &mut self,
        joined: &JoinedLine,
        written: Span,
    ) -> Result<Vec<Heredoc>, Diagnostic> {
        let starts = heredocs_from_line(&joined.text)
            .map_err(|message| Diagnostic::error(message, Some(written)))?;
        let mut heredocs = Vec::with_capacity(starts.len());
        for start in starts {
            let span = self.joined_span(joined, start.range.0, start.range.1);
            let mut content = String::new();
            let mut terminated = false;
            while self.next_line < self.lines.len() {
                let line = self.lines[self.next_line];
                self.next_line += 1;
                let text = line.content(self.source);
                let candidate = if start.chomp {
                    text.trim_start_matches('\t')
                } else {
                    text
                };
                if candidate == start.name {
                    terminated = true;
                    break;
                }
                content.push_str(line.raw(self.source));
            }
            if !terminated {
                return Err(
                    Diagnostic::error("unterminated heredoc", Some(span)).with_hint(format!(
                        "end the here-document with a line containing only `{}`",
                        start.name
                    )),
                );
            }
            heredocs.push(Heredoc {
                name: start.name,
                content,
                expand: start.expand,
                chomp: start.chomp,
                file_descriptor: start.file_descriptor,
                span,
            });
        }
        Ok(heredocs)
    }

    fn joined_span(&self, joined: &JoinedLine, start: usize, end: usize) -> Span {
        let (a, b) = joined.source_range(start, end);
        self.map.span(a, b)
    }

    fn word(&self, joined: &JoinedLine, piece: Piece) -> Word {
        Word {
            span: self.joined_span(joined, piece.start, piece.end),
            value: piece.value,
        }
    }

    /// Turns a parsed node into an [`Instruction`] with spans; `end` is the source offset
    /// where the instruction ends, `lines` its first and last physical line.
    fn instruction(
        &self,
        mut node: ParsedNode,
        joined: &JoinedLine,
        end: usize,
        lines: (usize, usize),
    ) -> Instruction {
        // ONBUILD chains are converted innermost first, without recursion.
        let mut parents = Vec::new();
        while let Some(inner) = node.onbuild.take() {
            parents.push(node);
            node = *inner;
        }
        let mut built = self.single_instruction(node, joined, end, lines);
        while let Some(parent) = parents.pop() {
            let mut outer = self.single_instruction(parent, joined, end, lines);
            outer.onbuild = Some(Box::new(built));
            built = outer;
        }
        built
    }

    /// One level of [`Parser::instruction`], without its nested ONBUILD instruction.
    fn single_instruction(
        &self,
        node: ParsedNode,
        joined: &JoinedLine,
        end: usize,
        lines: (usize, usize),
    ) -> Instruction {
        let keyword_span = self.joined_span(joined, node.keyword_range.0, node.keyword_range.1);
        Instruction {
            keyword: node.keyword,
            keyword_span,
            flags: node
                .flags
                .into_iter()
                .map(|p| self.word(joined, p))
                .collect(),
            args: node
                .args
                .into_iter()
                .map(|p| self.word(joined, p))
                .collect(),
            onbuild: None,
            json: node.json,
            original: joined.text[node.original.0..node.original.1].to_string(),
            heredocs: Vec::new(),
            span: self
                .map
                .span(keyword_span.start, end.max(keyword_span.start)),
            start_line: lines.0,
            end_line: lines.1,
        }
    }
}

/// BuildKit's `canContainHeredoc`: RUN, COPY and ADD in shell form, also under ONBUILD.
fn can_contain_heredoc(node: &ParsedNode) -> bool {
    let target = match (&node.keyword[..], &node.onbuild) {
        ("onbuild", Some(inner)) => inner,
        _ => node,
    };
    matches!(&target.keyword[..], "run" | "copy" | "add") && !target.json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_rules() {
        assert_eq!(trim_continuation("echo a \\  ", '\\'), ("echo a ", false));
        assert_eq!(trim_continuation("\\ ", '\\'), ("", false));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", true));
        assert_eq!(trim_continuation("a `", '`'), ("a ", false));
        assert_eq!(trim_continuation("a \\", '`'), ("a \\", true));
    }
}

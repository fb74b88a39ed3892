//! The source text as BuildKit's line scanner reads it: physical lines, the line-length
//! limit, joined logical lines, and the mapping from joined text back to [`Span`]s.

use crate::ast::Span;

/// BuildKit reads lines with Go's `bufio.Scanner`, whose token limit is 64 KiB: a physical
/// line of this many bytes or more (without its `\n`) stops the scan.
pub(super) const MAX_LINE_BYTES: usize = 65535;

/// One physical line of the source.
#[derive(Clone, Copy, Debug)]
pub(super) struct PhysicalLine {
    /// Byte offset of the first byte.
    pub start: usize,
    /// End of the content: trailing `\r` and `\n` removed (Go's `TrimRight(line, "\r\n")`).
    pub content_end: usize,
    /// Byte offset just past the line's `\n` (or the end of the source).
    pub end: usize,
}

impl PhysicalLine {
    /// The line with its line ending, as BuildKit stores heredoc bodies.
    pub fn raw<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start..self.end]
    }

    /// The line without its line ending.
    pub fn content<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start..self.content_end]
    }
}

/// The lines BuildKit's scanner hands out, and where it stopped if a line was too long.
pub(super) struct ScannedLines {
    /// Lines before the first over-long one.
    pub lines: Vec<PhysicalLine>,
    /// The first line of [`MAX_LINE_BYTES`] + 1 bytes or more, if any (the scan ends there).
    pub too_long: Option<PhysicalLine>,
}

/// Splits `source` into physical lines like BuildKit's `scanLines`. `bom_len` is the length
/// of the byte-order mark removed from the first line (the scanner still counted it).
pub(super) fn scan_lines(source: &str, bom_len: usize) -> ScannedLines {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < source.len() {
        let newline = source[start..].find('\n').map(|i| start + i);
        let end = newline.map_or(source.len(), |n| n + 1);
        let without_newline = newline.unwrap_or(source.len()) - start;
        let counted = without_newline + if start == 0 { bom_len } else { 0 };
        let content_end = start + source[start..end].trim_end_matches(['\r', '\n']).len();
        let line = PhysicalLine {
            start,
            content_end,
            end,
        };
        if counted > MAX_LINE_BYTES {
            return ScannedLines {
                lines,
                too_long: Some(line),
            };
        }
        lines.push(line);
        start = end;
    }
    ScannedLines {
        lines,
        too_long: None,
    }
}

/// Turns byte offsets of the source into [`Span`]s with line and column.
pub(super) struct SourceMap<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
    /// Per line: whether it is pure ASCII (then columns are byte distances).
    ascii_lines: Vec<bool>,
}

impl<'a> SourceMap<'a> {
    /// Indexes the line starts of `source`.
    pub fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let ascii_lines = line_starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = line_starts.get(i + 1).copied().unwrap_or(source.len());
                source.as_bytes()[start..end].is_ascii()
            })
            .collect();
        SourceMap {
            source,
            line_starts,
            ascii_lines,
        }
    }

    /// The span of the source bytes `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        let line_index = self.line_starts.partition_point(|&s| s <= start) - 1;
        let line_start = self.line_starts[line_index];
        let before = &self.source.as_bytes()[line_start..start];
        let chars = if self.ascii_lines[line_index] {
            before.len()
        } else {
            // Count UTF-8 lead bytes (every byte that is not a continuation byte).
            before.iter().filter(|&&b| b & 0xc0 != 0x80).count()
        };
        Span {
            start,
            end,
            line: line_index + 1,
            column: chars + 1,
        }
    }
}

/// A logical line: physical pieces concatenated (BuildKit joins continuation lines with no
/// separator), remembering for every byte where in the source it was written.
#[derive(Default)]
pub(super) struct JoinedLine {
    /// The joined text (BuildKit's `line`).
    pub text: String,
    offsets: Vec<usize>,
    /// Where the first piece started, so even an empty line has a place in the source.
    origin: usize,
}

impl JoinedLine {
    /// Appends `piece`, which starts at source offset `source_start`.
    pub fn push(&mut self, piece: &str, source_start: usize) {
        if self.offsets.is_empty() && self.text.is_empty() {
            self.origin = source_start;
        }
        self.text.push_str(piece);
        self.offsets
            .extend((0..piece.len()).map(|i| source_start + i));
    }

    /// The source byte range written for the joined-text range `start..end`.
    /// For a value assembled across lines this covers everything in between.
    pub fn source_range(&self, start: usize, end: usize) -> (usize, usize) {
        if start < end {
            return (self.offsets[start], self.offsets[end - 1] + 1);
        }
        let at = match self.offsets.get(start) {
            Some(&offset) => offset,
            None => self.offsets.last().map_or(self.origin, |&last| last + 1),
        };
        (at, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_endings_and_trim_them_for_content() {
        let src = "a\r\nbb\n\nc";
        let scanned = scan_lines(src, 0);
        let contents: Vec<_> = scanned.lines.iter().map(|l| l.content(src)).collect();
        assert_eq!(contents, ["a", "bb", "", "c"]);
        assert_eq!(scanned.lines[0].raw(src), "a\r\n");
        assert!(scanned.too_long.is_none());
    }

    #[test]
    fn the_line_limit_counts_the_bom() {
        let src = "a".repeat(MAX_LINE_BYTES);
        assert!(scan_lines(&src, 0).too_long.is_none());
        assert!(scan_lines(&src, 3).too_long.is_some());
    }

    #[test]
    fn spans_count_columns_in_characters() {
        let map = SourceMap::new("ab\nü x");
        let span = map.span(6, 7);
        assert_eq!((span.line, span.column), (2, 3));
    }

    #[test]
    fn joined_ranges_cover_the_written_text() {
        let mut joined = JoinedLine::default();
        joined.push("RUN a", 0);
        joined.push(" b", 10);
        assert_eq!(joined.source_range(4, 7), (4, 12));
        assert_eq!(joined.source_range(7, 7), (12, 12));
    }
}

//! The last lines of a step's output, kept for error messages.

use std::collections::VecDeque;

/// How many lines `RunOutcome::tail` keeps.
pub(crate) const TAIL_LINES: usize = 20;
/// Longest line kept (longer ones are cut), so a binary blast cannot eat memory.
const MAX_LINE: usize = 4096;

/// Collects the last [`TAIL_LINES`] lines of a byte stream fed in arbitrary chunks.
#[derive(Default)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    /// Adds a chunk of output.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if byte == b'\n' {
                self.end_line();
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
    }

    /// The kept lines, including an unterminated last one.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.end_line();
        }
        self.lines.into()
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        self.lines.push_back(line.trim_end_matches('\r').to_owned());
        self.partial.clear();
        if self.lines.len() > TAIL_LINES {
            self.lines.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_lines_across_chunks() {
        let mut tail = Tail::default();
        for i in 0..30 {
            tail.push(format!("line {i}\r\n").as_bytes());
        }
        tail.push(b"par");
        tail.push(b"tial");
        let lines = tail.finish();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 11");
        assert_eq!(lines.last().unwrap(), "partial");
    }
}

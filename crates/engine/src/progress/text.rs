//! How the views write numbers and step output: sizes, safe lines.

/// `4.1 MB`: sizes as Docker prints them (decimal units).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// A line of step output made safe to print: carriage-return progress keeps its last frame,
/// other control characters are dropped.
pub(super) fn clean_line(line: &str) -> String {
    let last = line
        .trim_end_matches('\r')
        .rsplit('\r')
        .next()
        .unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// The first line of a message (the rest is shown by the final error).
pub(super) fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

//! The syntax check patternmatcher makes with Go's `filepath.Match(pattern, ".")`: a
//! pattern is split into chunks at `*`, and every chunk must have well-formed `[…]` classes
//! and no trailing `\`.

/// Whether Go's `filepath.Match` accepts the syntax of `pattern`.
pub(super) fn is_valid_glob(pattern: &str) -> bool {
    let mut rest: Vec<char> = pattern.chars().collect();
    while !rest.is_empty() {
        let (chunk, after) = scan_chunk(&rest);
        if !chunk_is_valid(chunk) {
            return false;
        }
        rest = after.to_vec();
    }
    true
}

/// Go's `scanChunk`: leading stars dropped, then up to the next `*` outside `[…]`.
fn scan_chunk(pattern: &[char]) -> (&[char], &[char]) {
    let start = pattern.iter().take_while(|&&c| c == '*').count();
    let pattern = &pattern[start..];
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' if i + 1 < pattern.len() => i += 1,
            '[' => in_range = true,
            ']' => in_range = false,
            '*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    pattern.split_at(i)
}

/// The syntax part of Go's `matchChunk`.
fn chunk_is_valid(chunk: &[char]) -> bool {
    let mut i = 0;
    while i < chunk.len() {
        match chunk[i] {
            '[' => {
                i += 1;
                if chunk.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if chunk.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    if !class_char(chunk, &mut i) {
                        return false;
                    }
                    if chunk[i] == '-' {
                        i += 1;
                        if !class_char(chunk, &mut i) {
                            return false;
                        }
                    }
                    ranges += 1;
                }
            }
            '\\' => {
                if i + 1 == chunk.len() {
                    return false;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    true
}

/// Go's `getEsc`: one (possibly escaped) class character that must be followed by more.
fn class_char(chunk: &[char], i: &mut usize) -> bool {
    match chunk.get(*i) {
        None | Some('-') | Some(']') => return false,
        Some('\\') => {
            *i += 1;
            if *i == chunk.len() {
                return false;
            }
        }
        Some(_) => {}
    }
    *i += 1;
    *i < chunk.len()
}

#[cfg(test)]
mod tests {
    use super::is_valid_glob;

    #[test]
    fn accepts_and_rejects_like_filepath_match() {
        for good in [
            "abc",
            "*",
            "a*/b",
            "ab[c]",
            "ab[^b-d]",
            "a\\*b",
            "[\\]a]",
            "[\\-]",
            "[x\\-]",
            "[\\-x]",
            "[a-ζ]*",
            "**/x",
            "[Local-Only]/",
            "[*]",
        ] {
            assert!(is_valid_glob(good), "{good:?} should be valid");
        }
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "a*\\", "*[",
            "a*b[",
        ] {
            assert!(!is_valid_glob(bad), "{bad:?} should be rejected");
        }
    }
}

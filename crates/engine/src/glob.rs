//! Go's `filepath.Match` for one path component, which is what Docker uses for COPY/ADD
//! source wildcards (`*`, `?`, `[a-z]`, `[^…]`, `\` escapes; `*` never crosses a `/`).

/// Whether `pattern` contains a wildcard character (so the source must be expanded).
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Whether `name` (one path component) matches `pattern` (one component).
/// A malformed pattern (an unclosed `[`) matches nothing, as Go reports `ErrBadPattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n).unwrap_or(false)
}

fn match_from(p: &[char], n: &[char]) -> Option<bool> {
    if p.is_empty() {
        return Some(n.is_empty());
    }
    match p[0] {
        '*' => {
            for skip in 0..=n.len() {
                if match_from(&p[1..], &n[skip..])? {
                    return Some(true);
                }
                if n.get(skip) == Some(&'/') {
                    break;
                }
            }
            Some(false)
        }
        '?' => Some(!n.is_empty() && match_from(&p[1..], &n[1..])?),
        '[' => {
            let (ok, used) = class(&p[1..], n.first().copied())?;
            Some(ok && match_from(&p[1 + used..], &n[1..])?)
        }
        '\\' if p.len() > 1 => Some(n.first() == Some(&p[1]) && match_from(&p[2..], &n[1..])?),
        c => Some(n.first() == Some(&c) && match_from(&p[1..], &n[1..])?),
    }
}

/// Matches a `[...]` class (after the `[`); returns whether `c` is in it and how many
/// pattern chars the class used (including the closing `]`).
fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = p.first() == Some(&'^');
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let (lo, step) = if lo == '\\' {
            (*p.get(i + 1)?, 2)
        } else {
            (lo, 1)
        };
        i += step;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&h| h != ']') {
            let h = p[i + 1];
            let (h, step) = if h == '\\' {
                (*p.get(i + 2)?, 3)
            } else {
                (h, 2)
            };
            hi = h;
            i += step;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                found = true;
            }
        }
    }
    c?;
    Some((found != negate, i))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn go_filepath_match_cases() {
        // From Go's path/filepath match_test.go.
        let cases = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*/b", "abc/b", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("*.go", "main.go", true),
            ("*.go", "main.rs", false),
            ("[", "a", false),
            ("a[", "a", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(matches(p, n), want, "pattern {p:?} name {n:?}");
        }
    }
}

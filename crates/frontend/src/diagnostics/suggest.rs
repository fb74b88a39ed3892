//! Did-you-mean: the closest known name to a misspelled one.
//!
//! BuildKit's `suggest` package accepts candidates within Levenshtein distance 2. skiff counts
//! a swap of two neighbouring letters as one edit (`FORM` → `FROM`) and also accepts a word
//! that is a near-miss of a longer name's beginning (`bulid` → `builder`), which catches the
//! typos that matter for stage names without suggesting unrelated words.

/// The candidate closest to `word` (compared case-insensitively), if any is close enough.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    if word.is_empty() {
        return None;
    }
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        let lower = cand.to_lowercase();
        if lower == word {
            return Some(cand);
        }
        let Some(score) = score(&word, &lower) else {
            continue;
        };
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// How far `word` is from `cand` when it is close enough to suggest, else `None`.
fn score(word: &str, cand: &str) -> Option<usize> {
    let w: Vec<char> = word.chars().collect();
    let c: Vec<char> = cand.chars().collect();
    let whole = distance(&w, &c);
    let limit = if w.len().min(c.len()) <= 2 { 1 } else { 2 };
    if whole <= limit {
        return Some(whole);
    }
    // A near-miss of the candidate's beginning: `bulid` ~ `build`er.
    if w.len() >= 4 && c.len() > w.len() && distance(&w, &c[..w.len()]) <= 1 {
        return Some(whole);
    }
    None
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbouring characters each cost 1.
fn distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos() {
        assert_eq!(closest("form", ["from", "run"]), Some("from"));
        assert_eq!(closest("chwon", ["chown", "chmod", "from"]), Some("chown"));
        assert_eq!(closest("bulid", ["builder", "final"]), Some("builder"));
        assert_eq!(closest("Builder", ["builder"]), Some("builder"));
        assert_eq!(closest("targt", ["target", "type"]), Some("target"));
    }

    #[test]
    fn ignores_unrelated_words() {
        assert_eq!(closest("alpine", ["alpha", "builder"]), None);
        assert_eq!(closest("golang", ["builder"]), None);
        assert_eq!(closest("x", ["from"]), None);
        assert_eq!(closest("", ["a"]), None);
    }
}

//! Finding here-documents on a RUN/COPY/ADD line, as BuildKit's `heredocsFromLine` and
//! `ParseHeredoc` do: lex the line keeping quotes and escapes, then every word shaped like
//! `[fd]<<[-]NAME` whose NAME lexes to one word starts a heredoc.

use super::go_text::is_regex_space;
use super::heredoc_words::{lex_words, LexMode};
use crate::dump::go_quote;

/// A heredoc announced on an instruction line (its body is read afterwards).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct HeredocStart {
    /// The terminator, quotes removed.
    pub name: String,
    /// False when part of the delimiter was quoted.
    pub expand: bool,
    /// `<<-`.
    pub chomp: bool,
    /// The `3` of `3<<EOF`.
    pub file_descriptor: Option<u32>,
    /// Byte range of the `<<EOF` word in the line.
    pub range: (usize, usize),
}

/// The heredocs announced on `line`, in order. Lexing errors of the line mean "no heredoc"
/// (as in BuildKit); errors while reading a delimiter word are returned.
pub(super) fn heredocs_from_line(line: &str) -> Result<Vec<HeredocStart>, String> {
    let raw = LexMode {
        raw_quotes: true,
        raw_escapes: true,
    };
    let words = lex_words(line, raw).unwrap_or_default();
    let mut found = Vec::new();
    for word in words {
        if let Some(mut heredoc) = parse_heredoc_word(&word.text)? {
            heredoc.range = (word.start, word.end);
            found.push(heredoc);
        }
    }
    Ok(found)
}

/// BuildKit's `ParseHeredoc`: matches `^(\d*)<<(-?)\s*([^<]*)$` and reads the name.
fn parse_heredoc_word(word: &str) -> Result<Option<HeredocStart>, String> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let chomp = after.starts_with('-');
    let rest = after
        .strip_prefix('-')
        .unwrap_or(after)
        .trim_start_matches(is_regex_space);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let cooked = LexMode {
        raw_quotes: false,
        raw_escapes: false,
    };
    let failed = |e: String| format!("failed to process {}: {e}", go_quote(rest));
    let words = lex_words(rest, cooked).map_err(failed)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let quoted = LexMode {
        raw_quotes: true,
        raw_escapes: false,
    };
    let raw_words = lex_words(rest, quoted).map_err(failed)?;
    let [raw_name] = raw_words.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let file_descriptor = (digits > 0).then(|| {
        word[..digits]
            .parse::<u64>()
            .map_or(u32::MAX, |fd| u32::try_from(fd).unwrap_or(u32::MAX))
    });
    Ok(Some(HeredocStart {
        name: name.text.clone(),
        expand: quotes(&name.text) == quotes(&raw_name.text),
        chomp,
        file_descriptor,
        range: (0, word.len()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool, Option<u32>)> {
        heredocs_from_line(line)
            .unwrap()
            .into_iter()
            .map(|h| (h.name, h.expand, h.chomp, h.file_descriptor))
            .collect()
    }

    #[test]
    fn finds_heredoc_words() {
        assert_eq!(names("RUN <<EOF"), [("EOF".into(), true, false, None)]);
        assert_eq!(
            names("RUN <<-'EOF' cat"),
            [("EOF".into(), false, true, None)]
        );
        assert_eq!(
            names("RUN 3<<E\"O\"F"),
            [("EOF".into(), false, false, Some(3))]
        );
        assert_eq!(
            names("COPY <<A <<\"B\" /dst/"),
            [
                ("A".into(), true, false, None),
                ("B".into(), false, false, None)
            ]
        );
        assert_eq!(names("RUN <<$EOF"), [("$EOF".into(), true, false, None)]);
    }

    #[test]
    fn not_heredocs() {
        assert!(names("RUN echo << EOF").is_empty());
        assert!(names("RUN a <<<b").is_empty());
        assert!(names("RUN <<EOF 'unterminated").is_empty());
        assert!(names("RUN x<<EOF").is_empty());
    }

    /// BuildKit's `TestParseHeredocHelpers`.
    #[test]
    fn delimiter_words() {
        for word in [
            "<<EOF",
            "<<'EOF'",
            "<<\"EOF\"",
            "<<-EOF",
            "<<-'EOF'",
            "<<-\"EOF\"",
        ] {
            let heredoc = parse_heredoc_word(word).unwrap().expect(word);
            assert_eq!(heredoc.name, "EOF");
        }
        for word in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF"] {
            assert_eq!(parse_heredoc_word(word), Ok(None), "{word}");
        }
        assert_eq!(
            parse_heredoc_word("<<'EOF").unwrap_err(),
            "failed to process \"'EOF\": unexpected end of statement while looking for matching single-quote"
        );
        for word in ["<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc_word(word).is_err(), "{word}");
        }
    }

    #[test]
    fn range_is_the_word() {
        let found = heredocs_from_line("RUN  cat <<EOF").unwrap();
        assert_eq!(found[0].range, (9, 14));
    }
}

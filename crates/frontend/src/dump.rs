//! BuildKit's AST dump format (`Node.Dump()`), used to check the parser against BuildKit's corpus.
//!
//! Every instruction prints as `(keyword ["--flag" …] "arg" …)`, one per line, with Go's
//! `strconv.Quote` quoting; `ONBUILD` prints its nested instruction in parentheses.

use crate::ast::{Dockerfile, Instruction};

/// The dump of a whole Dockerfile, byte for byte what BuildKit's `result` files hold
/// (BuildKit's `Dump()` plus the final newline its test appends).
pub fn dump(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    for instruction in &dockerfile.instructions {
        out.push('(');
        out.push_str(&dump_instruction(instruction));
        out.push_str(")\n");
    }
    out
}

/// The dump of one instruction, without the surrounding parentheses
/// (e.g. `copy ["--from=a"] "x" "/y"`).
pub fn dump_instruction(instruction: &Instruction) -> String {
    // ONBUILD chains are walked in a loop: nesting depth is only bounded by the input size.
    let mut chain = vec![instruction];
    while let Some(inner) = chain.last().and_then(|i| i.onbuild.as_deref()) {
        chain.push(inner);
    }
    let mut out = String::new();
    for (depth, node) in chain.iter().enumerate() {
        if depth > 0 {
            out.push_str(" (");
        }
        out.push_str(&node.keyword);
        if !node.flags.is_empty() {
            let quoted: Vec<String> = node.flags.iter().map(|f| go_quote(&f.value)).collect();
            out.push_str(" [");
            out.push_str(&quoted.join(" "));
            out.push(']');
        }
        for arg in &node.args {
            out.push(' ');
            out.push_str(&go_quote(&arg.value));
        }
    }
    out.push_str(&")".repeat(chain.len() - 1));
    out.trim_matches(char::is_whitespace).to_string()
}

/// Go's `strconv.Quote`, which BuildKit uses in its dump and in several error messages:
/// printable characters (Go's `unicode.IsPrint`) stay as they are, `"` and `\` are
/// escaped, controls become `\n`, `\x00`, `\u2028`, `\U000e0001` and so on.
pub fn go_quote(s: &str) -> String {
    crate::shell::go_quote::go_quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a \"b\" \\ 'c'"), r#""a \"b\" \\ 'c'""#);
        assert_eq!(
            go_quote("\u{7}\u{8}\u{c}\n\r\t\u{b}\0\u{1b}\u{7f}"),
            r#""\a\b\f\n\r\t\v\x00\x1b\x7f""#
        );
        assert_eq!(go_quote("♥ ☃ 한국어 é"), "\"♥ ☃ 한국어 é\"");
        assert_eq!(
            go_quote("\u{a0}\u{2028}\u{feff}\u{e0001}"),
            r#""\u00a0\u2028\ufeff\U000e0001""#
        );
    }
}

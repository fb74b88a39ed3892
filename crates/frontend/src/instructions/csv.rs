//! Go's `encoding/csv` for one record, as BuildKit reads `--mount` and `--device` values:
//! fields split on `,`, `"…"` quoting with `""` for a quote; each field is `key[=value]`.

use super::words::sub_span;
use crate::ast::{Span, Word};
use crate::diagnostics::Diagnostic;

/// One `key=value` (or bare `key`) field of a CSV flag value (`--mount`, `--device`), as written.
///
/// It lives with the CSV reader because both flags share it; the name predates `--device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountField {
    /// The key, lowercased.
    pub key: String,
    /// The raw value, `None` for a bare key (`ro`, `required`).
    pub value: Option<Word>,
    /// The whole field.
    pub span: Span,
}

/// Go's `encoding/csv` reading one record: fields split on `,`, `"…"` quoting with `""`.
/// `what` names the flag's values in errors (`mounts`, `devices`).
pub(super) fn split_fields(
    source: &str,
    value: &Word,
    what: &str,
) -> Result<Vec<MountField>, Diagnostic> {
    let text = &value.value;
    if text.is_empty() {
        return Err(Diagnostic::error(
            format!("failed to parse csv {what}: EOF"),
            Some(value.span),
        )
        .with_label("empty value")
        .with_hint("give the flag a value"));
    }
    let mut fields = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    loop {
        let (content, end) = if bytes.get(start) == Some(&b'"') {
            let mut out = String::new();
            let mut i = start + 1;
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(Diagnostic::error(
                            format!(
                                "failed to parse csv {what}: parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                text.len() + 1
                            ),
                            Some(value.span),
                        )
                        .with_label("unterminated quote")
                        .with_hint("close the quoted field with \""))
                    }
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        out.push('"');
                        i += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => {
                        let c = text[i..].chars().next().unwrap_or_default();
                        out.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            (out, i + 1)
        } else {
            let end = text[start..].find(',').map_or(text.len(), |i| start + i);
            let raw = &text[start..end];
            if let Some(q) = raw.find('"') {
                return Err(Diagnostic::error(
                    format!(
                        "failed to parse csv {what}: parse error on line 1, column {}: bare \" in non-quoted-field",
                        start + q + 1
                    ),
                    Some(sub_span(source, value, start..end)),
                )
                .with_label("quote inside a field")
                .with_hint("quote the whole field: \"key=va,lue\""));
            }
            (raw.to_string(), end)
        };
        let quoted = bytes.get(start) == Some(&b'"');
        let field_span = sub_span(source, value, start..end.min(text.len()));
        let (key, val) = match content.find('=') {
            Some(i) => {
                let v_span = if quoted {
                    field_span
                } else {
                    sub_span(source, value, start + i + 1..end)
                };
                (
                    content[..i].to_ascii_lowercase(),
                    Some(Word {
                        value: content[i + 1..].to_string(),
                        span: v_span,
                    }),
                )
            }
            None => (content.to_ascii_lowercase(), None),
        };
        fields.push(MountField {
            key,
            value: val,
            span: field_span,
        });
        match bytes.get(end) {
            Some(b',') => start = end + 1,
            Some(_) => {
                return Err(Diagnostic::error(
                    format!(
                        "failed to parse csv {what}: parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                        end + 1
                    ),
                    Some(value.span),
                )
                .with_label("text after a closing quote")
                .with_hint("put a comma after the quoted field"))
            }
            None => break,
        }
    }
    Ok(fields)
}

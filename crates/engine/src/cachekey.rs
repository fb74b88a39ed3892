//! Cache keys, format version [`KEY_FORMAT_VERSION`] (specified in `docs/cache-keys.md`).
//!
//! A step's key is `sha256:` + the hex SHA-256 of one canonical JSON document:
//!
//! ```json
//! {"format":"skiff.cache-key","layer":{…}|null,"parent":"…"|null,"step":{"kind":"run",…},"version":3}
//! ```
//!
//! `step` is the step's [`StepSpec`], `parent` the key (or manifest digest) it builds on,
//! `layer` how a layer step writes its layers. Canonical means: object keys sorted by their
//! UTF-8 bytes, no whitespace, strings escaped as `serde_json` escapes them, integers in
//! decimal. No `Debug` output and no host path ever enters a key, so a key is the same on
//! every machine (the registry-shared cache ships keys between machines).

use crate::spec::{LayerFormat, StepSpec};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The key format's version: bumped whenever a key would stand for something else (a field
/// added, removed or renamed in a spec, a new canonical form, a change of what a step's
/// result depends on), so that entries of an older format are never reused.
/// v2: layer mtimes clamped to a logical clock, stage results keyed by content.
/// v3: typed specs in canonical JSON; compression and `SOURCE_DATE_EPOCH` keyed.
pub const KEY_FORMAT_VERSION: u32 = 3;

/// The `format` field of every key document.
pub const KEY_FORMAT_NAME: &str = "skiff.cache-key";

/// The document a key is the hash of.
#[derive(Serialize)]
struct KeyDocument<'a> {
    format: &'static str,
    version: u32,
    parent: Option<&'a str>,
    step: &'a StepSpec,
    layer: Option<&'a LayerFormat>,
}

/// The key of `step` on top of `parent` (none: a key that does not follow a parent, like a
/// `--link` layer's), whose layers are written as `layer` (none: a step that writes none).
pub fn step_key(parent: Option<&str>, step: &StepSpec, layer: Option<&LayerFormat>) -> String {
    let text = key_document(parent, step, layer);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// The canonical document [`step_key`] hashes (exposed for tests and for debugging a miss).
pub fn key_document(parent: Option<&str>, step: &StepSpec, layer: Option<&LayerFormat>) -> String {
    canonical_json(&KeyDocument {
        format: KEY_FORMAT_NAME,
        version: KEY_FORMAT_VERSION,
        parent,
        step,
        layer,
    })
}

/// `value` as canonical JSON: objects with their keys sorted, no whitespace.
pub fn canonical_json(value: &impl Serialize) -> String {
    // Specs hold only strings, integers, booleans, null, lists and maps: they always convert.
    let value = serde_json::to_value(value).expect("a spec serializes to JSON");
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// ARGs Docker passes to RUN but keeps out of the cache key (and the image history).
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{MetaSpec, WorkdirSpec};

    fn meta(change: &str) -> StepSpec {
        StepSpec::Meta(MetaSpec {
            instruction: "ENV".into(),
            change: change.into(),
        })
    }

    #[test]
    fn keys_are_sorted_and_compact() {
        let doc = key_document(Some("scratch"), &meta("ENV A=1"), None);
        assert_eq!(
            doc,
            r#"{"format":"skiff.cache-key","layer":null,"parent":"scratch","step":{"change":"ENV A=1","instruction":"ENV","kind":"meta"},"version":3}"#
        );
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = step_key(Some("p"), &meta("ENV A=1"), None);
        assert_ne!(base, step_key(Some("q"), &meta("ENV A=1"), None));
        assert_ne!(base, step_key(None, &meta("ENV A=1"), None));
        assert_ne!(base, step_key(Some("p"), &meta("ENV A=2"), None));
        let wd = |user: &str| {
            StepSpec::Workdir(WorkdirSpec {
                path: "/app".into(),
                user: user.into(),
            })
        };
        assert_ne!(
            step_key(Some("p"), &wd(""), None),
            step_key(Some("p"), &wd("1"), None)
        );
        assert!(base.starts_with("sha256:") && base.len() == 71);
    }

    #[test]
    fn strings_are_escaped_not_spliced() {
        // A value holding JSON syntax cannot pose as another field.
        let a = key_document(Some("p"), &meta(r#"x","instruction":"LABEL"#), None);
        assert!(
            a.contains(r#""change":"x\",\"instruction\":\"LABEL""#),
            "{a}"
        );
    }
}

#[cfg(test)]
mod golden;

//! `RUN --device=name[,required]`: a CDI device for the step (BuildKit's `ParseDevice`).

use super::csv::{split_fields, MountField};
use crate::ast::Word;
use crate::diagnostics::{suggest, Diagnostic};

/// One `--device` of a RUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The CDI device name (`vendor.com/class=name`).
    pub name: Word,
    /// Fail when the device is not available (otherwise the step runs without it).
    pub required: bool,
}

/// Parses one `--device` value.
pub(super) fn parse(source: &str, value: &Word) -> Result<Device, Diagnostic> {
    let mut name: Option<Word> = None;
    let mut required = false;
    for f in split_fields(source, value, "devices")? {
        let whole = || Word {
            value: field_text(&f),
            span: f.span,
        };
        match (f.key.as_str(), &f.value) {
            ("required", None) => required = true,
            ("required", Some(v)) => {
                required = match v.value.as_str() {
                    "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
                    "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
                    _ => {
                        return Err(Diagnostic::error(
                            format!("invalid value for required: {}", v.value),
                            Some(v.span),
                        )
                        .with_label("not a boolean")
                        .with_hint("use true or false"))
                    }
                }
            }
            ("name", Some(v)) => {
                if let Some(n) = &name {
                    return Err(Diagnostic::error(
                        format!("device name already set to {}", n.value),
                        Some(f.span),
                    )
                    .with_label("second name")
                    .with_hint("give one device per --device flag"));
                }
                name = Some(v.clone());
            }
            _ if name.is_none() => name = Some(whole()),
            (key, None) => {
                return Err(Diagnostic::error(
                    format!("invalid field '{key}' must be a key=value pair"),
                    Some(f.span),
                )
                .with_label("value missing")
                .with_hint("the device name comes first: --device=<name>,required"))
            }
            (key, Some(_)) => {
                let d = Diagnostic::error(
                    format!("unexpected key '{key}' in '{}'", field_text(&f)),
                    Some(f.span),
                )
                .with_label("unknown --device option");
                return Err(match suggest::closest(key, ["name", "required"]) {
                    Some(best) => d.with_hint(format!("did you mean \"{best}\"?")),
                    None => d.with_hint("--device options are name and required"),
                });
            }
        }
    }
    let name = name.ok_or_else(|| {
        Diagnostic::error("device name is required", Some(value.span))
            .with_label("no device name")
            .with_hint("write --device=<name>[,required]")
    })?;
    Ok(Device { name, required })
}

fn field_text(f: &MountField) -> String {
    match &f.value {
        Some(v) => format!("{}={}", f.key, v.value),
        None => f.key.clone(),
    }
}

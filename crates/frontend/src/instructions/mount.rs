//! `RUN --mount=type=…,key=value,…`, parsed as BuildKit's `parseMount`
//! (`commands_runmount.go`): CSV fields, case-insensitive keys, BuildKit's defaults and checks.

use super::csv::{split_fields, MountField};
use super::request::{Checks, Request};
use super::words::{bad_choice, Expander};
use crate::ast::{Span, Word};
use crate::diagnostics::{suggest, Diagnostic};

/// What a `--mount` mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountType {
    /// A directory of the context, a stage or an image (the default type); read-only by default.
    Bind,
    /// A persistent cache directory kept by the builder, never part of the image.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A secret file (`--secret`), at `/run/secrets/<id>` unless `target`/`env` says otherwise.
    Secret,
    /// The forwarded SSH agent socket (`--ssh`).
    Ssh,
}

impl MountType {
    /// The name as written in `type=`.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share one cache mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Everyone uses the same directory at once (the default).
    Shared,
    /// A busy cache makes a new, private copy.
    Private,
    /// A busy cache makes the step wait.
    Locked,
}

/// One `--mount` of a RUN, with BuildKit's defaults applied.
///
/// Before [`super::Command::expand`], options whose value uses a variable are not applied yet
/// (their fields keep the defaults) and `pending` is true; after it, every option is applied
/// and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// `type` (default [`MountType::Bind`]).
    pub kind: MountType,
    /// `target`/`dst`/`destination`: where it appears in the RUN container.
    pub target: Option<Word>,
    /// `source`/`src`: the path inside `from` (bind, cache) or the secret's id source.
    pub source: Option<Word>,
    /// `from`: a stage name or image the mount takes its files from (never expanded).
    pub from: Option<Word>,
    /// Read-only: `ro`/`readonly`/`rw`/`readwrite`; default true for bind, secret and ssh.
    pub readonly: bool,
    /// `id`: the cache id, secret id or ssh id.
    pub id: Option<Word>,
    /// `sharing` (cache mounts only; default [`Sharing::Shared`]).
    pub sharing: Sharing,
    /// `mode`, octal (cache, secret, ssh).
    pub mode: Option<u32>,
    /// `uid` (cache, secret, ssh).
    pub uid: Option<u32>,
    /// `gid` (cache, secret, ssh).
    pub gid: Option<u32>,
    /// `size` in bytes (tmpfs only).
    pub size: Option<u64>,
    /// `required` (secret and ssh only): fail when the secret or agent is missing.
    pub required: bool,
    /// `env` (secret only): expose the secret as this environment variable.
    pub env: Option<Word>,
    /// The fields as written, in order (what [`super::Command::expand`] works from).
    pub fields: Vec<MountField>,
    /// The whole `--mount=…` flag.
    pub span: Span,
    /// True while some option waits for variable expansion.
    pub pending: bool,
}

/// Every key BuildKit accepts, for did-you-mean hints.
const KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

const TYPES: &[&str] = &["bind", "cache", "tmpfs", "secret", "ssh"];

/// Parses one `--mount` value (`value` is the text after `--mount=`, `flag` the whole flag).
///
/// BuildKit only splits the fields and refuses a variable in `from=` when it parses the file;
/// it checks keys and values when it builds the RUN. With [`Checks::Early`] skiff checks
/// everything now (values without variables); with [`Checks::ParseTime`] a mount that fails
/// those checks keeps only its `from` and stays `pending`, to fail at [`Mount::expand`].
pub(super) fn parse(req: &Request, value: &Word, flag: Span) -> Result<Mount, Diagnostic> {
    let fields = split_fields(req.source, value, "mounts")?;
    for f in &fields {
        if f.key == "from" {
            if let Some(v) = &f.value {
                if has_variable(&v.value) {
                    return Err(Diagnostic::error(
                        "'from' doesn't support variable expansion, define alias stage instead",
                        Some(v.span),
                    )
                    .with_label("variable in from=")
                    .with_hint(
                        "add `FROM ${VAR} AS alias` (with a global ARG) and mount from=alias",
                    ));
                }
            }
        }
    }
    let checked = fields
        .iter()
        .find(|f| !KEYS.contains(&f.key.as_str()))
        .map_or_else(
            || resolve(fields.clone(), flag, &literal_or_defer),
            |f| Err(unknown_key(f)),
        );
    match checked {
        Ok(m) => Ok(m),
        Err(e) if req.checks == Checks::Early => Err(e),
        Err(_) => {
            let from_only = fields.iter().filter(|f| f.key == "from").cloned().collect();
            let mut m = resolve(from_only, flag, &literal_or_defer)?;
            m.fields = fields;
            m.pending = true;
            Ok(m)
        }
    }
}

/// At parse time a value is used as written, unless it has a variable: then it waits.
fn literal_or_defer(w: &Word) -> Result<Option<Word>, Diagnostic> {
    Ok(if has_variable(&w.value) {
        None
    } else {
        Some(w.clone())
    })
}

impl Mount {
    /// The mount with every option's value expanded and every check applied.
    pub(super) fn expand(&self, ex: &Expander) -> Result<Mount, Diagnostic> {
        resolve(self.fields.clone(), self.span, &|w| ex.word(w).map(Some))
    }
}

/// BuildKit's `\$.`: a `$` followed by anything is a variable for `from`, and a deferred value.
fn has_variable(value: &str) -> bool {
    value
        .char_indices()
        .any(|(i, c)| c == '$' && value[i + 1..].chars().next().is_some())
}

type ValueFn<'a> = dyn Fn(&Word) -> Result<Option<Word>, Diagnostic> + 'a;

/// What the fields said about defaults: whether `ro`/`rw` was given and `sharing` was set.
struct Explicit {
    /// No `ro`/`rw` field: the type's default applies.
    ro_auto: bool,
    /// A `sharing` field was given.
    sharing_set: bool,
}

/// Applies the fields in order; `value` gives a field's value or `None` to defer it.
fn resolve(fields: Vec<MountField>, span: Span, value: &ValueFn) -> Result<Mount, Diagnostic> {
    let mut m = Mount {
        kind: MountType::Bind,
        target: None,
        source: None,
        from: None,
        readonly: false,
        id: None,
        sharing: Sharing::Shared,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: false,
        env: None,
        fields: Vec::new(),
        span,
        pending: false,
    };
    let mut explicit = Explicit {
        ro_auto: true,
        sharing_set: false,
    };
    for f in &fields {
        let Some(raw) = &f.value else {
            apply_bare_key(&mut m, f, &mut explicit)?;
            continue;
        };
        match value(raw)? {
            Some(v) => apply_value(&mut m, f, v, &mut explicit)?,
            None => m.pending = true,
        }
    }
    m.fields = fields;
    if !m.pending {
        validate(&mut m, explicit.ro_auto, explicit.sharing_set)?;
    }
    Ok(m)
}

/// A field without `=`: only the boolean keys may be written bare.
fn apply_bare_key(
    m: &mut Mount,
    f: &MountField,
    explicit: &mut Explicit,
) -> Result<(), Diagnostic> {
    match f.key.as_str() {
        "readonly" | "ro" => {
            m.readonly = true;
            explicit.ro_auto = false;
        }
        "readwrite" | "rw" => {
            m.readonly = false;
            explicit.ro_auto = false;
        }
        "required" => {
            check_type_allows(m, f, &[MountType::Secret, MountType::Ssh])?;
            m.required = true;
        }
        _ => {
            let text = source_text(f);
            return Err(Diagnostic::error(
                format!("invalid field '{text}' must be a key=value pair"),
                Some(f.span),
            )
            .with_label("value missing")
            .with_hint(format!("write {}=<value>", f.key)));
        }
    }
    Ok(())
}

/// A `key=value` field whose value is known (expanded, or written without variables).
fn apply_value(
    m: &mut Mount,
    f: &MountField,
    v: Word,
    explicit: &mut Explicit,
) -> Result<(), Diagnostic> {
    let bad_value = |message: String, hint: &str| {
        Diagnostic::error(message, Some(v.span))
            .with_label("invalid value")
            .with_hint(hint.to_string())
    };
    let bad_bool = || {
        bad_value(
            format!("invalid value for {}: {}", f.key, v.value),
            "use true or false",
        )
    };
    match f.key.as_str() {
        "type" => m.kind = parse_type(&v)?,
        "from" => m.from = Some(v),
        "source" | "src" => m.source = Some(v),
        "target" | "dst" | "destination" => m.target = Some(v),
        "readonly" | "ro" | "readwrite" | "rw" => {
            let b = parse_go_bool(&v.value).ok_or_else(bad_bool)?;
            m.readonly = if matches!(f.key.as_str(), "readonly" | "ro") {
                b
            } else {
                !b
            };
            explicit.ro_auto = false;
        }
        "required" => {
            check_type_allows(m, f, &[MountType::Secret, MountType::Ssh])?;
            m.required = parse_go_bool(&v.value).ok_or_else(bad_bool)?;
        }
        "size" => {
            check_type_allows(m, f, &[MountType::Tmpfs])?;
            m.size = Some(parse_ram_in_bytes(&v.value).ok_or_else(|| {
                bad_value(
                    format!("invalid value for {}: {}", f.key, v.value),
                    "write a size like 64m, 1g or 1048576",
                )
            })?);
        }
        "id" => m.id = Some(v),
        "sharing" => {
            m.sharing = parse_sharing(&v)?;
            explicit.sharing_set = true;
        }
        "mode" => {
            m.mode = Some(u32::from_str_radix(&v.value, 8).map_err(|_| {
                bad_value(
                    format!("invalid value {} for mode", v.value),
                    "write an octal mode like 0755",
                )
            })?)
        }
        "uid" | "gid" => {
            let n = v.value.parse::<u32>().map_err(|_| {
                bad_value(
                    format!("invalid value {} for {}", v.value, f.key),
                    "write a number like 1000",
                )
            })?;
            if f.key == "uid" {
                m.uid = Some(n)
            } else {
                m.gid = Some(n)
            }
        }
        "env" => m.env = Some(v),
        _ => return Err(unknown_key(f)),
    }
    Ok(())
}

/// `type=`: one of the mount types BuildKit knows.
fn parse_type(v: &Word) -> Result<MountType, Diagnostic> {
    Ok(match v.value.to_ascii_lowercase().as_str() {
        "bind" => MountType::Bind,
        "cache" => MountType::Cache,
        "tmpfs" => MountType::Tmpfs,
        "secret" => MountType::Secret,
        "ssh" => MountType::Ssh,
        _ => {
            return Err(bad_choice(
                format!(
                    "unsupported mount type {}",
                    crate::shell::go_quote(&v.value)
                ),
                v,
                TYPES,
            ))
        }
    })
}

/// `sharing=`: how concurrent builds share a cache mount.
fn parse_sharing(v: &Word) -> Result<Sharing, Diagnostic> {
    Ok(match v.value.to_ascii_lowercase().as_str() {
        "shared" => Sharing::Shared,
        "private" => Sharing::Private,
        "locked" => Sharing::Locked,
        _ => {
            return Err(bad_choice(
                format!(
                    "unsupported sharing value {}",
                    crate::shell::go_quote(&v.value)
                ),
                v,
                &["shared", "private", "locked"],
            ))
        }
    })
}

/// BuildKit's `validateMount`, plus the default read-only setting.
fn validate(m: &mut Mount, ro_auto: bool, sharing_set: bool) -> Result<(), Diagnostic> {
    let err = |message: String, hint: &str| {
        Diagnostic::error(message, Some(m.span))
            .with_label("in this mount")
            .with_hint(hint.to_string())
    };
    let file_info_allowed = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info_allowed {
        for (name, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(err(
                    format!("{name} not allowed for \"{}\" type mounts", m.kind.as_str()),
                    "mode, uid and gid apply to cache, secret and ssh mounts only",
                ));
            }
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(err(
                "secret mount should not have a from".into(),
                "remove from=; secrets come from --secret",
            ));
        }
        if sharing_set {
            return Err(err(
                "secret mount should not define sharing".into(),
                "remove sharing=",
            ));
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
            return Err(err(
                "invalid secret mount. one of source, target required".into(),
                "add id=<secret id> (and target= or env= to choose where it appears)",
            ));
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(err(
                "both source and id can't be set".into(),
                "keep only id=",
            ));
        }
    }
    if sharing_set && m.kind != MountType::Cache {
        return Err(err(
            format!("invalid cache sharing set for {} mount", m.kind.as_str()),
            "sharing= applies to type=cache only",
        ));
    }
    Ok(())
}

fn check_type_allows(m: &Mount, f: &MountField, types: &[MountType]) -> Result<(), Diagnostic> {
    if types.contains(&m.kind) {
        return Ok(());
    }
    let names: Vec<_> = types
        .iter()
        .map(|t| format!("type={}", t.as_str()))
        .collect();
    Err(Diagnostic::error(
        format!(
            "unexpected key '{}' for mount type '{}'",
            f.key,
            m.kind.as_str()
        ),
        Some(f.span),
    )
    .with_label(format!("not an option of type={}", m.kind.as_str()))
    .with_hint(format!(
        "{} applies to {} (give type= before it)",
        f.key,
        names.join(" and ")
    )))
}

fn unknown_key(f: &MountField) -> Diagnostic {
    let d = Diagnostic::error(
        format!("unexpected key '{}' in '{}'", f.key, source_text(f)),
        Some(Span {
            end: f.span.start + f.key.len().min(f.span.end - f.span.start),
            ..f.span
        }),
    )
    .with_label("unknown --mount option");
    match suggest::closest(&f.key, KEYS.iter().copied()) {
        Some(best) => d.with_hint(format!("did you mean \"{best}\"?")),
        None => d.with_hint(format!("--mount options are {}", KEYS.join(", "))),
    }
}

/// The field as written (`key=value` or `key`).
fn source_text(f: &MountField) -> String {
    match &f.value {
        Some(v) => format!("{}={}", f.key, v.value),
        None => f.key.clone(),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// docker/go-units' `RAMInBytes`: `64m`, `1.5GiB`, `100` (binary multiples).
fn parse_ram_in_bytes(s: &str) -> Option<u64> {
    let s = s.trim_end_matches(['b', 'B']);
    let s = s.strip_suffix(['i', 'I']).unwrap_or(s);
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (s[..i].trim_end(), Some(c)),
        _ => (s, None),
    };
    let shift = match unit.map(|c| c.to_ascii_lowercase()) {
        None => 0,
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some('p') => 50,
        Some(_) => return None,
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let n: f64 = number.parse().ok()?;
    Some((n * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::{parse, parse_go_bool, parse_ram_in_bytes};
    use crate::ast::{Span, Word};

    fn mount(text: &str) -> Result<super::Mount, crate::Diagnostic> {
        let word = Word {
            value: text.to_string(),
            span: Span::default(),
        };
        let inst = crate::ast::Instruction {
            keyword: "run".into(),
            keyword_span: Span::default(),
            flags: Vec::new(),
            args: Vec::new(),
            onbuild: None,
            json: false,
            original: String::new(),
            heredocs: Vec::new(),
            span: Span::default(),
            start_line: 1,
            end_line: 1,
        };
        let req = crate::instructions::Request {
            inst: &inst,
            source: "",
            checks: crate::instructions::Checks::Early,
        };
        parse(&req, &word, Span::default())
    }

    #[test]
    fn csv_quoting_follows_go_encoding_csv() {
        let m = mount("type=bind,\"target=/a,b\",\"src=x\"\"y\"").expect("parses");
        assert_eq!(m.target.unwrap().value, "/a,b");
        assert_eq!(m.source.unwrap().value, "x\"y");
        let e = mount("type=bind,tar\"get=/x").expect_err("bare quote");
        assert_eq!(
            e.message,
            "failed to parse csv mounts: parse error on line 1, column 14: bare \" in non-quoted-field"
        );
        let e = mount("\"type=bind").expect_err("unterminated");
        assert!(e
            .message
            .contains("extraneous or missing \" in quoted-field"));
        let e = mount("\"type=bind\"x").expect_err("text after quote");
        assert!(e
            .message
            .contains("extraneous or missing \" in quoted-field"));
        assert_eq!(
            mount("").unwrap_err().message,
            "failed to parse csv mounts: EOF"
        );
    }

    #[test]
    fn ram_sizes_follow_go_units() {
        assert_eq!(parse_ram_in_bytes("100"), Some(100));
        assert_eq!(parse_ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_ram_in_bytes("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_ram_in_bytes("2 kb"), Some(2048));
        assert_eq!(parse_ram_in_bytes("x"), None);
        assert_eq!(parse_ram_in_bytes("5q"), None);
    }

    #[test]
    fn booleans_follow_go_strconv() {
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}

//! `COPY` and `ADD`: sources, destination, inline heredoc files and their flags.

use super::flags::{Flags, Kind};
use super::request::{heredoc_text, Request};
use super::words::Expander;
use crate::ast::{Heredoc, Span, Word};
use crate::diagnostics::Diagnostic;

/// The paths of a COPY/ADD: what to copy and where (BuildKit's `SourcesAndDest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcesAndDest {
    /// Source paths (context paths, URLs for ADD, paths in `--from`), in order.
    pub sources: Vec<Word>,
    /// Heredoc sources (`COPY <<EOF /dest`): each becomes a file named after its delimiter.
    pub contents: Vec<SourceContent>,
    /// The destination.
    pub dest: Word,
}

/// An inline file given as a heredoc source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceContent {
    /// The file name: the heredoc's delimiter.
    pub path: String,
    /// The body, tabs already removed for `<<-`; expanded by [`super::Command::expand`] when
    /// `expand` is true.
    pub data: String,
    /// False when the delimiter was quoted: the body is used as written.
    pub expand: bool,
    /// The `<<EOF` word.
    pub span: Span,
}

/// A `--chmod` value, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// An octal mode up to `07777`.
    Octal(u32),
    /// A symbolic mode (`u+x,go-w`), applied to each file's current mode.
    Symbolic(String),
}

/// `COPY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyCommand {
    /// Sources, inline files and destination.
    pub paths: SourcesAndDest,
    /// `--from`: a stage name, a stage index or an image (never expanded).
    pub from: Option<Word>,
    /// `--chown=user[:group]`.
    pub chown: Option<Word>,
    /// `--chmod`, raw; [`parse_chmod`] gives its value (checked at parse time when it has no
    /// variable, and again by [`super::Command::expand`]).
    pub chmod: Option<Word>,
    /// `--link`.
    pub link: bool,
    /// `--parents`: keep the source's parent directories below `/./`.
    pub parents: bool,
    /// `--exclude` patterns, in order (never expanded).
    pub exclude: Vec<Word>,
    /// Here-documents of the instruction, as parsed.
    pub heredocs: Vec<Heredoc>,
}

/// `ADD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCommand {
    /// Sources (paths, URLs, git refs), inline files and destination.
    pub paths: SourcesAndDest,
    /// `--chown=user[:group]`.
    pub chown: Option<Word>,
    /// `--chmod`, raw (see [`CopyCommand::chmod`]).
    pub chmod: Option<Word>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir`: keep `.git` of a git source.
    pub keep_git_dir: bool,
    /// `--checksum`: the expected digest of a remote source.
    pub checksum: Option<Word>,
    /// `--unpack`: `Some(true)` unpacks remote archives too, `Some(false)` never unpacks;
    /// `None` unpacks local archives only.
    pub unpack: Option<bool>,
    /// `--exclude` patterns, in order (never expanded).
    pub exclude: Vec<Word>,
    /// Here-documents of the instruction, as parsed.
    pub heredocs: Vec<Heredoc>,
}

/// Checks a `--chmod` value as BuildKit's COPY/ADD dispatch does.
pub fn parse_chmod(word: &Word) -> Result<FileMode, Diagnostic> {
    let v = &word.value;
    let bad = || {
        Diagnostic::error(
            format!(
                "invalid chmod parameter: '{v}'. it should be octal string and between 0 and 07777"
            ),
            Some(word.span),
        )
        .with_label("not a file mode")
        .with_hint("write an octal mode like 0644 or 755, or a symbolic one like u+x,go-w")
    };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return match u32::from_str_radix(v, 8) {
            Ok(mode) if mode <= 0o7777 => Ok(FileMode::Octal(mode)),
            _ => Err(bad()),
        };
    }
    if is_symbolic_mode(v) {
        Ok(FileMode::Symbolic(v.clone()))
    } else {
        Err(bad())
    }
}

/// `[ugoa]*[-+=]([rwxXst]*|[ugo])`, comma separated.
fn is_symbolic_mode(v: &str) -> bool {
    !v.is_empty()
        && v.split(',').all(|clause| {
            let Some(at) = clause.find(['+', '-', '=']) else {
                return false;
            };
            let (who, rest) = clause.split_at(at);
            who.chars().all(|c| "ugoa".contains(c))
                && rest.chars().all(|c| "+-=rwxXstugo".contains(c))
        })
}

/// The `--chmod` check done before dispatch, when the value has no variable.
fn check_chmod_early(req: &Request, chmod: &Option<Word>) -> Result<(), Diagnostic> {
    match chmod {
        Some(w) if req.early() && !w.value.contains('$') => parse_chmod(w).map(|_| ()),
        _ => Ok(()),
    }
}

/// ADD `--checksum` takes exactly one source.
fn check_checksum(checksum: &Option<Word>, paths: &SourcesAndDest) -> Result<(), Diagnostic> {
    match checksum {
        Some(c) if paths.sources.len() + paths.contents.len() != 1 => Err(Diagnostic::error(
            "checksum can't be specified for multiple sources",
            Some(c.span),
        )
        .with_label("--checksum with several sources")
        .with_hint("split the ADD: one remote source per instruction")),
        _ => Ok(()),
    }
}

/// BuildKit's arity check, done before the flags are looked at.
fn require_destination(req: &Request) -> Result<(), Diagnostic> {
    if req.inst.args.len() >= 2 {
        return Ok(());
    }
    Err(req
        .error(format!(
            "{} requires at least two arguments, but only one was provided. Destination could not be determined",
            req.name()
        ))
        .with_label("destination missing")
        .with_hint(format!("write {} <source>… <destination>", req.name())))
}

/// BuildKit's `parseSourcesAndDest` (after [`require_destination`]).
fn sources_and_dest(req: &Request) -> Result<SourcesAndDest, Diagnostic> {
    let Some((dest, srcs)) = req.inst.args.split_last() else {
        return Err(require_destination(req).expect_err("no arguments"));
    };
    if heredoc_name(&dest.value).is_some() {
        return Err(Diagnostic::error(
            format!("{} cannot accept a heredoc as a destination", req.name()),
            Some(dest.span),
        )
        .with_label("heredoc as destination")
        .with_hint("put the heredoc before the destination path"));
    }
    let mut sources = Vec::new();
    let mut contents = Vec::new();
    for src in srcs {
        match heredoc_name(&src.value) {
            Some(name) => {
                let doc = req.inst.heredocs.iter().find(|h| h.name == name);
                contents.push(SourceContent {
                    path: name,
                    data: doc.map(heredoc_text).unwrap_or_default(),
                    expand: doc.is_some_and(|h| h.expand),
                    span: src.span,
                });
            }
            None => sources.push(src.clone()),
        }
    }
    Ok(SourcesAndDest {
        sources,
        contents,
        dest: dest.clone(),
    })
}

/// The delimiter of a heredoc word (`<<EOF`, `<<-"EOF"`, `3<<EOF`), quotes removed.
fn heredoc_name(word: &str) -> Option<String> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    Some(rest.chars().filter(|c| *c != '"' && *c != '\'').collect())
}

impl SourcesAndDest {
    fn expand(&self, ex: &Expander) -> Result<SourcesAndDest, Diagnostic> {
        let contents = self
            .contents
            .iter()
            .map(|c| {
                if !c.expand {
                    return Ok(c.clone());
                }
                let data = ex.raw_word(&Word {
                    value: c.data.clone(),
                    span: c.span,
                })?;
                Ok(SourceContent {
                    data: data.value,
                    ..c.clone()
                })
            })
            .collect::<Result<_, Diagnostic>>()?;
        Ok(SourcesAndDest {
            sources: ex.all(&self.sources)?,
            contents,
            dest: ex.word(&self.dest)?,
        })
    }
}

pub(super) fn parse_copy(req: &Request) -> Result<CopyCommand, Diagnostic> {
    require_destination(req)?;
    let flags = Flags::parse(
        req,
        &[
            ("chown", Kind::String),
            ("from", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("parents", Kind::Bool),
            ("exclude", Kind::Strings),
        ],
    )?;
    let paths = sources_and_dest(req)?;
    let from = flags.string("from");
    if let Some(f) = &from {
        if f.value.contains('$') {
            return Err(Diagnostic::error(
                "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
                Some(f.span),
            )
            .with_label("variable in --from")
            .with_hint("add `ARG NAME=…` before the first FROM, `FROM ${NAME} AS src`, then COPY --from=src"));
        }
    }
    let chmod = flags.string("chmod");
    check_chmod_early(req, &chmod)?;
    Ok(CopyCommand {
        paths,
        from,
        chown: flags.string("chown"),
        chmod,
        link: flags.bool("link").unwrap_or(false),
        parents: flags.bool("parents").unwrap_or(false),
        exclude: flags
            .strings("exclude")
            .into_iter()
            .map(|(w, _)| w)
            .collect(),
        heredocs: req.inst.heredocs.clone(),
    })
}

pub(super) fn parse_add(req: &Request) -> Result<AddCommand, Diagnostic> {
    require_destination(req)?;
    let flags = Flags::parse(
        req,
        &[
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::String),
            ("unpack", Kind::Bool),
            ("exclude", Kind::Strings),
        ],
    )?;
    let paths = sources_and_dest(req)?;
    let chmod = flags.string("chmod");
    check_chmod_early(req, &chmod)?;
    let checksum = flags.string("checksum");
    if req.early() {
        check_checksum(&checksum, &paths)?;
    }
    Ok(AddCommand {
        paths,
        chown: flags.string("chown"),
        chmod,
        link: flags.bool("link").unwrap_or(false),
        keep_git_dir: flags.bool("keep-git-dir").unwrap_or(false),
        checksum,
        unpack: flags.bool("unpack"),
        exclude: flags
            .strings("exclude")
            .into_iter()
            .map(|(w, _)| w)
            .collect(),
        heredocs: req.inst.heredocs.clone(),
    })
}

impl CopyCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<CopyCommand, Diagnostic> {
        let chmod = ex.opt(&self.chmod)?;
        if let Some(c) = &chmod {
            parse_chmod(c)?;
        }
        Ok(CopyCommand {
            paths: self.paths.expand(ex)?,
            chown: ex.opt(&self.chown)?,
            chmod,
            ..self.clone()
        })
    }
}

impl AddCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<AddCommand, Diagnostic> {
        let chmod = ex.opt(&self.chmod)?;
        if let Some(c) = &chmod {
            parse_chmod(c)?;
        }
        check_checksum(&self.checksum, &self.paths)?;
        Ok(AddCommand {
            paths: self.paths.expand(ex)?,
            chown: ex.opt(&self.chown)?,
            chmod,
            checksum: ex.opt(&self.checksum)?,
            ..self.clone()
        })
    }
}

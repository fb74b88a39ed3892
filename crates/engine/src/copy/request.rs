//! The request a `COPY` or `ADD` makes, built once from the typed (expanded) instruction,
//! with the history text BuildKit writes for it.

use crate::destination::Chmod;
use skiff_frontend::instructions::{AddCommand, CopyCommand, SourcesAndDest};
use skiff_frontend::Diagnostic;

/// A COPY/ADD with its words expanded.
#[derive(Clone, Debug, Default)]
pub struct CopyRequest {
    /// Source paths or patterns (for ADD also URLs and git repositories).
    pub sources: Vec<String>,
    /// Heredoc sources: (file name, contents).
    pub contents: Vec<(String, String)>,
    /// Destination (relative to WORKDIR unless absolute).
    pub dest: String,
    /// `--from`.
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`, checked.
    pub chmod: Option<Chmod>,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--parents`: keep the sources' directories (below a `/./` pivot when there is one).
    pub parents: bool,
    /// ADD rather than COPY.
    pub is_add: bool,
    /// ADD `--unpack`: `None` extracts local archives only, `Some(true)` remote ones too,
    /// `Some(false)` none.
    pub unpack: Option<bool>,
    /// ADD `--checksum` of a remote source.
    pub checksum: Option<String>,
    /// ADD `--keep-git-dir`.
    pub keep_git_dir: bool,
    /// `--link`.
    pub link: bool,
}

impl CopyRequest {
    /// `COPY` or `ADD`, as messages name the instruction.
    pub fn name(&self) -> &'static str {
        if self.is_add {
            "ADD"
        } else {
            "COPY"
        }
    }

    /// The history's `created_by`: `COPY [--parents] [--chown=…] [--chmod=…] src… <<heredoc…
    /// dest # buildkit`, as current BuildKit's `dispatchCopy` writes it (the other flags left
    /// out; dockerd 20.10's BuildKit left them all out).
    pub fn history_text(&self) -> String {
        let mut text = self.name().to_string();
        if self.parents {
            text.push_str(" --parents");
        }
        if let Some(chown) = self.chown.as_ref().filter(|c| !c.is_empty()) {
            text.push_str(" --chown=");
            text.push_str(chown);
        }
        if let Some(chmod) = &self.chmod {
            text.push_str(" --chmod=");
            text.push_str(chmod.written());
        }
        for src in &self.sources {
            text.push(' ');
            text.push_str(src);
        }
        for (name, _) in &self.contents {
            text.push_str(" <<");
            text.push_str(name);
        }
        text.push(' ');
        text.push_str(&self.dest);
        text.push_str(" # buildkit");
        text
    }

    /// The request's sources, heredocs and destination, common to both instructions.
    fn paths(paths: &SourcesAndDest) -> CopyRequest {
        CopyRequest {
            sources: paths.sources.iter().map(|w| w.value.clone()).collect(),
            contents: (paths.contents.iter())
                .map(|s| (s.path.clone(), s.data.clone()))
                .collect(),
            dest: paths.dest.value.clone(),
            ..Default::default()
        }
    }
}

impl TryFrom<&CopyCommand> for CopyRequest {
    type Error = Diagnostic;

    fn try_from(c: &CopyCommand) -> Result<CopyRequest, Diagnostic> {
        Ok(CopyRequest {
            from: c.from.as_ref().map(|w| w.value.clone()),
            chown: c.chown.as_ref().map(|w| w.value.clone()),
            chmod: c.chmod.as_ref().map(Chmod::from_word).transpose()?,
            excludes: c.exclude.iter().map(|w| w.value.clone()).collect(),
            parents: c.parents,
            is_add: false,
            link: c.link,
            ..CopyRequest::paths(&c.paths)
        })
    }
}

impl TryFrom<&AddCommand> for CopyRequest {
    type Error = Diagnostic;

    fn try_from(a: &AddCommand) -> Result<CopyRequest, Diagnostic> {
        Ok(CopyRequest {
            chown: a.chown.as_ref().map(|w| w.value.clone()),
            chmod: a.chmod.as_ref().map(Chmod::from_word).transpose()?,
            excludes: a.exclude.iter().map(|w| w.value.clone()).collect(),
            is_add: true,
            unpack: a.unpack,
            checksum: a.checksum.as_ref().map(|w| w.value.clone()),
            keep_git_dir: a.keep_git_dir,
            link: a.link,
            ..CopyRequest::paths(&a.paths)
        })
    }
}

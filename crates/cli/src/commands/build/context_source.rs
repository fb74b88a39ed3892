//! Where the build context comes from, as `docker buildx build` reads its `PATH | URL | -`
//! argument: a local directory; `-` (a tar archive on standard input, plain or compressed, or
//! else a Dockerfile with an empty context); a Git repository (`https://host/repo.git#ref:dir`,
//! `git@host:repo.git`, `git://…`, `github.com/…`), cloned with the `git` command; or an
//! `http(s)://` URL of a tar archive (or of a Dockerfile). Remote and stdin contexts are
//! materialised in a temporary directory that lives as long as the build.

use anyhow::{anyhow, bail, Context as _, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The context argument, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum ContextSource {
    /// A directory on this machine.
    Dir(PathBuf),
    /// `-`: standard input.
    Stdin,
    /// A Git repository, with the `#ref:subdir` fragment split off.
    Git {
        url: String,
        reference: Option<String>,
        subdir: Option<String>,
    },
    /// An `http(s)://` URL of a tarball (or a Dockerfile).
    Url(String),
}

impl ContextSource {
    /// Classifies the context argument as buildx does (its `urlutil.IsGitURL` rules).
    pub fn parse(arg: &Path) -> ContextSource {
        let text = arg.to_string_lossy();
        if text == "-" {
            return ContextSource::Stdin;
        }
        let is_http = text.starts_with("https://") || text.starts_with("http://");
        let (base, fragment) = match text.split_once('#') {
            Some((base, fragment)) => (base, Some(fragment)),
            None => (text.as_ref(), None),
        };
        let is_git = text.starts_with("git://")
            || text.starts_with("git@")
            || text.starts_with("github.com/")
            || (is_http && base.ends_with(".git"));
        if is_git {
            let (reference, subdir) = match fragment {
                Some(f) => match f.split_once(':') {
                    Some((r, d)) => (Some(r.to_string()), Some(d.to_string())),
                    None => (Some(f.to_string()), None),
                },
                None => (None, None),
            };
            let url = match base.strip_prefix("github.com/") {
                Some(rest) => format!("https://github.com/{rest}"),
                None => base.to_string(),
            };
            let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
            return ContextSource::Git {
                url,
                reference: non_empty(reference),
                subdir: non_empty(subdir),
            };
        }
        if is_http {
            return ContextSource::Url(text.into_owned());
        }
        ContextSource::Dir(arg.to_path_buf())
    }
}

/// A context ready to build from: its directory, and the Dockerfile's text when the input
/// was a Dockerfile rather than a context (`-` or a URL not holding an archive).
#[derive(Debug)]
pub struct Materialized {
    /// The context directory.
    pub dir: PathBuf,
    /// The Dockerfile read in place of a context.
    pub dockerfile: Option<String>,
    /// Whether `-f` names a file inside the context (remote and stdin contexts) rather than
    /// a path on this machine.
    pub remote: bool,
    /// The temporary directory holding a remote or stdin context, removed when dropped.
    pub temp: Option<TempDir>,
}

impl Materialized {
    fn local(dir: PathBuf) -> Materialized {
        Materialized {
            dir,
            dockerfile: None,
            remote: false,
            temp: None,
        }
    }
}

/// Fetches or unpacks the context; a local directory is returned as it is (checked by the
/// caller).
pub fn materialize(source: ContextSource) -> Result<Materialized> {
    let (temp, dockerfile) = match source {
        ContextSource::Dir(dir) => return Ok(Materialized::local(dir)),
        ContextSource::Stdin => {
            archive_or_dockerfile(std::io::stdin().lock(), "standard input (-)")?
        }
        ContextSource::Url(url) => archive_or_dockerfile(download(&url)?, &url)?,
        ContextSource::Git {
            url,
            reference,
            subdir,
        } => {
            let temp = temp_dir()?;
            clone(&url, reference.as_deref(), temp.path())?;
            if let Some(subdir) = subdir {
                let dir = crate::commands::build::inputs::context_dir(&temp.path().join(&subdir))
                    .with_context(|| format!("the directory {subdir} of {url}"))?;
                if !dir.starts_with(temp.path().canonicalize()?) {
                    bail!("the directory {subdir} of {url} is outside the repository");
                }
                return Ok(Materialized {
                    dir,
                    dockerfile: None,
                    remote: true,
                    temp: Some(temp),
                });
            }
            (temp, None)
        }
    };
    Ok(Materialized {
        dir: temp.path().to_path_buf(),
        dockerfile,
        remote: true,
        temp: Some(temp),
    })
}

fn temp_dir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("skiff-context-")
        .tempdir()
        .context("creating a directory for the build context")
}

/// A tar archive (plain, gzip, bzip2, xz or zstd) unpacked into a new directory by the
/// engine's ADD extractor; anything else is a Dockerfile with an empty context. The input is
/// spooled to a temporary file first (a context can be large; the extractor reads it twice).
fn archive_or_dockerfile(mut input: impl Read, from: &str) -> Result<(TempDir, Option<String>)> {
    let temp = temp_dir()?;
    let mut spool = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    std::io::copy(&mut input, &mut spool).with_context(|| format!("reading {from}"))?;
    if skiff_engine::extract_archive(spool.path(), temp.path())
        .with_context(|| format!("unpacking the build context from {from}"))?
    {
        return Ok((temp, None));
    }
    let text = String::from_utf8(std::fs::read(spool.path())?).map_err(|_| {
        anyhow!("{from} is neither a tar archive nor a Dockerfile (not UTF-8 text)")
    })?;
    Ok((temp, Some(text)))
}

fn download(url: &str) -> Result<reqwest::blocking::Response> {
    let response = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()?
        .get(url)
        .send()
        .with_context(|| format!("downloading the build context {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("downloading the build context {url}: the server answered {status}");
    }
    Ok(response)
}

/// Clones `url` at `reference` (a branch, a tag or a commit; the default branch when `None`)
/// into `dir`, with submodules, and removes `.git` (BuildKit leaves it out of the context).
fn clone(url: &str, reference: Option<&str>, dir: &Path) -> Result<()> {
    let shallow = match reference {
        Some(r) => git(
            &["clone", "--quiet", "--depth", "1", "--branch", r, url, "."],
            dir,
        ),
        None => git(&["clone", "--quiet", "--depth", "1", url, "."], dir),
    };
    if shallow.is_err() {
        // A commit, or a server without shallow clones (Git's "dumb" HTTP): a full clone.
        std::fs::remove_dir_all(dir).and_then(|()| std::fs::create_dir(dir))?;
        git(&["clone", "--quiet", url, "."], dir)?;
        if let Some(r) = reference {
            git(&["checkout", "--quiet", r], dir)
                .map_err(|e| anyhow!("{url} has no branch, tag or commit named {r:?}: {e:#}"))?;
        }
    }
    if dir.join(".gitmodules").exists() {
        git(
            &["submodule", "update", "--quiet", "--init", "--recursive"],
            dir,
        )?;
    }
    std::fs::remove_dir_all(dir.join(".git")).context("removing .git from the context")?;
    Ok(())
}

fn git(args: &[&str], dir: &Path) -> Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| anyhow!("running git for a Git build context ({e}): install git"))?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ContextSource;
    use std::path::Path;

    #[test]
    fn the_argument_is_classified_as_buildx_does() {
        let parse = |s: &str| ContextSource::parse(Path::new(s));
        assert_eq!(parse("-"), ContextSource::Stdin);
        assert_eq!(parse("."), ContextSource::Dir(".".into()));
        assert_eq!(
            parse("https://example.com/app.git#v1:src"),
            ContextSource::Git {
                url: "https://example.com/app.git".into(),
                reference: Some("v1".into()),
                subdir: Some("src".into()),
            }
        );
        assert_eq!(
            parse("github.com/moby/buildkit#:frontend"),
            ContextSource::Git {
                url: "https://github.com/moby/buildkit".into(),
                reference: None,
                subdir: Some("frontend".into()),
            }
        );
        assert_eq!(
            parse("https://example.com/ctx.tar.gz"),
            ContextSource::Url("https://example.com/ctx.tar.gz".into())
        );
    }
}

//! Where the build context comes from, as `docker buildx build` reads its `PATH | URL | -`
//! argument: a local directory; `-` (a tar archive on standard input, plain or compressed, or
//! else a Dockerfile with an empty context); or a URL — a Git repository
//! (`https://host/repo.git#ref:dir`, `git@host:repo.git`, `git://…`, `github.com/…`) or the
//! download of a tar archive (or of a Dockerfile). URLs are fetched by the engine as ADD fetches
//! them (`skiff_engine::fetch_context`), archives unpacked by ADD's extractor
//! (`skiff_engine::extract_archive`); the result lives in a temporary directory as long as the
//! build.

use anyhow::{anyhow, Context as _, Result};
use skiff_image::Store;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The context argument, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum ContextSource {
    /// A directory on this machine.
    Dir(PathBuf),
    /// `-`: standard input.
    Stdin,
    /// A Git repository or a download (`#ref:dir` fragment included).
    Url(String),
}

impl ContextSource {
    /// Classifies the context argument as buildx does (`urlutil.IsURL`/`IsGitURL`).
    pub fn parse(arg: &Path) -> ContextSource {
        let text = arg.to_string_lossy();
        if text == "-" {
            return ContextSource::Stdin;
        }
        let remote = [
            "https://",
            "http://",
            "git://",
            "git@",
            "ssh://",
            "github.com/",
        ];
        if remote.iter().any(|prefix| text.starts_with(prefix)) {
            return ContextSource::Url(text.into_owned());
        }
        ContextSource::Dir(arg.to_path_buf())
    }
}

/// The temporary directory a stdin or URL context lives in, removed when dropped (held only
/// for that: nothing reads it).
#[derive(Debug)]
#[allow(dead_code)]
pub enum Kept {
    /// Unpacked from standard input or a download.
    Unpacked(tempfile::TempDir),
    /// A Git checkout in the store's temporary directory.
    Checkout(skiff_image::store::TempDir),
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
    /// The temporary directory holding a remote or stdin context.
    pub temp: Option<Kept>,
}

/// Fetches or unpacks the context (a URL through the store at `store_root`); a local directory
/// is returned as it is (checked by the caller).
pub fn materialize(source: ContextSource, store_root: &Path) -> Result<Materialized> {
    let (dir, temp, dockerfile) = match source {
        ContextSource::Dir(dir) => {
            return Ok(Materialized {
                dir,
                dockerfile: None,
                remote: false,
                temp: None,
            })
        }
        ContextSource::Stdin => {
            let mut spool = tempfile::NamedTempFile::new().context("creating a temporary file")?;
            std::io::copy(&mut std::io::stdin().lock(), &mut spool)
                .context("reading the build context from standard input (-)")?;
            unpacked_or_dockerfile(spool.path(), "standard input (-)")?
        }
        ContextSource::Url(url) => {
            let store = Store::open(store_root)?;
            let (fetched, path) = skiff_engine::fetch_context(&url, &store)
                .with_context(|| format!("fetching the build context {url}"))?;
            if path.is_dir() {
                (path, Some(Kept::Checkout(fetched)), None)
            } else {
                unpacked_or_dockerfile(&path, &url)?
            }
        }
    };
    Ok(Materialized {
        dir,
        dockerfile,
        remote: true,
        temp,
    })
}

/// `file` unpacked into a new directory when it is a tar archive (plain, gzip, bzip2, xz or
/// zstd); anything else is a Dockerfile with an empty context.
fn unpacked_or_dockerfile(
    file: &Path,
    from: &str,
) -> Result<(PathBuf, Option<Kept>, Option<String>)> {
    let temp = tempfile::Builder::new()
        .prefix("skiff-context-")
        .tempdir()
        .context("creating a directory for the build context")?;
    let dir = temp.path().to_path_buf();
    let kept = Some(Kept::Unpacked(temp));
    if skiff_engine::extract_archive(file, &dir)
        .with_context(|| format!("unpacking the build context from {from}"))?
    {
        return Ok((dir, kept, None));
    }
    let mut text = String::new();
    std::fs::File::open(file)?
        .read_to_string(&mut text)
        .map_err(|_| {
            anyhow!("{from} is neither a tar archive nor a Dockerfile (not UTF-8 text)")
        })?;
    Ok((dir, kept, Some(text)))
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
        assert_eq!(parse("./https"), ContextSource::Dir("./https".into()));
        for url in [
            "https://example.com/app.git#v1:src",
            "github.com/moby/buildkit#:frontend",
            "git@github.com:moby/buildkit.git",
            "https://example.com/ctx.tar.gz",
        ] {
            assert_eq!(parse(url), ContextSource::Url(url.into()));
        }
    }
}

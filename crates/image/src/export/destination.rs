//! Writing a stream to its [`Destination`] so that a failure never leaves a
//! half-written file behind: bytes go to a temp file in the target's directory,
//! which is fsync'd and renamed over the target only when everything succeeded.

use super::output::Destination;
use anyhow::{Context, Result};
use std::io::{BufWriter, IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

impl Destination {
    /// Runs `produce` with a writer for this destination and commits the result.
    pub(crate) fn write_with(
        &self,
        produce: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        match self {
            Destination::Stdout => {
                let stdout = std::io::stdout();
                if stdout.is_terminal() {
                    anyhow::bail!(
                        "refusing to write an archive to the terminal: redirect standard output \
                         (dest=- > out.tar) or give dest=FILE"
                    );
                }
                let mut out = BufWriter::new(stdout.lock());
                produce(&mut out)?;
                out.flush().context("writing to standard output")
            }
            Destination::File(path) => write_file_atomically(path, produce),
        }
    }

    /// A directory for scratch files that belong with this destination (the
    /// target's own directory, created if missing, so the space used is on the
    /// filesystem the user chose).
    pub(crate) fn scratch_dir(&self) -> Result<PathBuf> {
        match self {
            Destination::Stdout => Ok(std::env::temp_dir()),
            Destination::File(path) => {
                let dir = parent_dir(path);
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating directory {}", dir.display()))?;
                Ok(dir.to_path_buf())
            }
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn write_file_atomically(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating directory {}", dir.display()))?;
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    let mut out = BufWriter::new(tmp);
    produce(&mut out).with_context(|| format!("writing {}", path.display()))?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    // Temp files are private (0600); an exported archive is an ordinary file.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the temp file to {}", path.display()))?;
    Ok(())
}

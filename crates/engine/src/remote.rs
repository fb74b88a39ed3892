//! Remote ADD sources: an HTTP(S) URL (downloaded, `--checksum` verified, never extracted
//! unless `--unpack`) or a git repository (checked out with the `git` command).
//!
//! Both are fetched when the step is planned, because what they hold is part of the cache
//! key (the download's SHA-256, the commit checked out), as in BuildKit. The fetched files
//! live in a temporary directory that the plan keeps until the step has run.

use crate::spec::SourceSpec;
use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use skiff_image::model::timestamp::days_from_civil;
use skiff_image::store::TempDir;
use skiff_image::Store;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// A remote source fetched into a local directory, ready to be copied like a local one.
pub struct Fetched {
    /// Holds the download or the checkout (removed on drop).
    pub dir: TempDir,
    /// What to copy, relative to `dir`: the downloaded file, or the checkout (or its subdir).
    pub path: String,
    /// What the cache key covers of it (the URL and the download's digest, or the commit).
    pub source: SourceSpec,
}

/// Whether an ADD source is a git repository, as BuildKit's `ParseGitRef` tells: `git@…`,
/// `git://…`, `ssh://…`, or an HTTP(S) URL whose path ends in `.git`.
pub fn is_git(src: &str) -> bool {
    if src.starts_with("git@") || src.starts_with("git://") || src.starts_with("ssh://") {
        return true;
    }
    if !is_url(src) {
        return false;
    }
    let without_fragment = src.split('#').next().unwrap_or(src);
    let path = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    path.trim_end_matches('/').ends_with(".git")
}

/// Whether an ADD source is a plain HTTP(S) download.
pub fn is_http(src: &str) -> bool {
    is_url(src) && !is_git(src)
}

fn is_url(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://")
}

/// The file name BuildKit gives a download: the last element of the URL's path, or
/// `__unnamed__` when there is none.
pub fn url_file_name(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or("");
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." && name != ".." => name.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

/// Downloads `url` into a new temp directory of the store: the file is named as BuildKit names it,
/// mode 0600, mtime from `Last-Modified` (the epoch when absent). With `checksum`
/// (`sha256:…`) the content must match.
pub fn download(url: &str, checksum: Option<&str>, store: &Store) -> Result<Fetched> {
    let expected = checksum.map(parse_checksum).transpose()?;
    // No overall timeout (the blocking client's default is 30 s): big downloads take longer.
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .context("setting up the HTTP client")?;
    let mut resp = client
        .get(url)
        .send()
        .with_context(|| format!("downloading {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("downloading {url}: the server answered {status}; check the URL");
    }
    let last_modified = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or(0);
    let dir = store.temp_dir("add-url")?;
    let name = url_file_name(url);
    let path = dir.path().join(&name);
    let mut file = fs::File::create(&path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = resp
            .read(&mut buf)
            .with_context(|| format!("downloading {url}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
    }
    drop(file);
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(expected) = expected {
        if digest != expected {
            bail!(
                "digest mismatch for {url}: the download is {digest} but --checksum expects \
                 {expected}; fix --checksum or the URL"
            );
        }
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    crate::destination::set_mtime(&path, (last_modified, 0))?;
    Ok(Fetched {
        source: SourceSpec::Url {
            url: url.to_string(),
            name: name.clone(),
            digest,
            last_modified,
        },
        path: name,
        dir,
    })
}

fn parse_checksum(s: &str) -> Result<String> {
    match s.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
        }
        _ => bail!("invalid --checksum \"{s}\": expected sha256: followed by 64 hex digits"),
    }
}

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 and asctime forms too)
/// into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let words: Vec<&str> = s.split([' ', ',', '-']).filter(|w| !w.is_empty()).collect();
    // IMF-fixdate / RFC 850: [weekday, day, month, year, time, GMT];
    // asctime: [weekday, month, day, time, year].
    let (day, month, year, time) = match words.as_slice() {
        [_, d, m, y, t, "GMT"] => (*d, *m, *y, *t),
        [_, m, d, t, y] => (*d, *m, *y, *t),
        _ => return None,
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as i64
        + 1;
    let mut year: i64 = year.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = hms.as_slice() else {
        return None;
    };
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + mi * 60 + sec)
}

/// A git source split into remote, ref and subdirectory (`URL#ref:subdir`).
#[derive(Debug, PartialEq, Eq)]
pub struct GitRef {
    /// What `git fetch` is given.
    pub remote: String,
    /// Branch, tag or commit (`None`: the remote's HEAD).
    pub reference: Option<String>,
    /// Only this directory of the checkout is copied.
    pub subdir: Option<String>,
}

/// Splits `URL#ref:subdir`.
pub fn parse_git(src: &str) -> GitRef {
    let (remote, fragment) = match src.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (src, None),
    };
    let (reference, subdir) = match fragment {
        None => (None, None),
        Some(f) => match f.split_once(':') {
            Some((r, s)) => (Some(r), Some(s)),
            None => (Some(f), None),
        },
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    GitRef {
        remote: remote.to_string(),
        reference: reference.and_then(nonempty),
        subdir: subdir.map(|s| s.trim_matches('/')).and_then(nonempty),
    }
}

/// Checks a git source out into a new temp directory of the store with the `git` command (a
/// shallow fetch when the server allows it). `.git` is removed unless `keep_git_dir`;
/// with `checksum`, the commit must start with it.
pub fn git_checkout(
    src: &str,
    keep_git_dir: bool,
    checksum: Option<&str>,
    store: &Store,
) -> Result<Fetched> {
    let r = parse_git(src);
    let dir = store.temp_dir("add-git")?;
    let repo = dir.path().join("repo");
    fs::create_dir(&repo)?;
    let wanted = r.reference.clone().unwrap_or_else(|| "HEAD".to_string());
    git(&repo, &["init", "-q"])?;
    git(&repo, &["remote", "add", "origin", &r.remote])?;
    let shallow = git(
        &repo,
        &["fetch", "-q", "--depth=1", "--no-tags", "origin", &wanted],
    );
    if shallow.is_err() {
        // Dumb HTTP servers cannot do shallow fetches, and a commit id may not be fetchable
        // by name: fetch everything, then look the ref up.
        git(
            &repo,
            &[
                "fetch",
                "-q",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
        )
        .with_context(|| format!("fetching the git repository {}", r.remote))?;
        let target = if wanted == "HEAD" {
            git_output(&repo, &["ls-remote", "--symref", "origin", "HEAD"])
                .ok()
                .and_then(|out| {
                    out.lines()
                        .find_map(|l| l.strip_prefix("ref: refs/heads/"))
                        .and_then(|l| l.split_whitespace().next())
                        .map(|b| format!("origin/{b}"))
                })
                .unwrap_or_else(|| "origin/HEAD".to_string())
        } else {
            wanted.clone()
        };
        let resolved = [
            format!("origin/{target}"),
            target.clone(),
            format!("refs/tags/{target}"),
        ]
        .into_iter()
        .find(|c| {
            git(
                &repo,
                &["rev-parse", "-q", "--verify", &format!("{c}^{{commit}}")],
            )
            .is_ok()
        })
        .with_context(|| {
            format!(
                "git ref \"{wanted}\" not found in {}: check the branch, tag or commit after #",
                r.remote
            )
        })?;
        git(&repo, &["checkout", "-q", "--detach", &resolved])?;
    } else {
        git(&repo, &["checkout", "-q", "--detach", "FETCH_HEAD"])?;
    }
    let commit = git_output(&repo, &["rev-parse", "HEAD"])?
        .trim()
        .to_string();
    if let Some(sum) = checksum {
        if !commit.starts_with(sum) {
            bail!(
                "checksum mismatch for {}: the commit is {commit}, --checksum expects {sum}",
                r.remote
            );
        }
    }
    if !keep_git_dir {
        fs::remove_dir_all(repo.join(".git"))?;
    }
    let path = match &r.subdir {
        Some(s) => format!("repo/{s}"),
        None => "repo".to_string(),
    };
    if !dir.path().join(&path).is_dir() {
        bail!(
            "\"{}\" is not a directory in {} at {commit}",
            r.subdir.unwrap_or_default(),
            r.remote
        );
    }
    Ok(Fetched {
        source: SourceSpec::Git {
            remote: r.remote.clone(),
            commit,
            subdir: r.subdir.clone(),
            keep_git_dir,
        },
        path,
        dir,
    })
}

fn git_command(repo: &PathBuf, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repo);
    cmd
}

fn git(repo: &PathBuf, args: &[&str]) -> Result<()> {
    git_output(repo, args).map(|_| ())
}

fn git_output(repo: &PathBuf, args: &[&str]) -> Result<String> {
    let out = git_command(repo, args).output().map_err(|e| {
        anyhow::anyhow!(
            "running git ({e}): ADD of a git repository needs the git command installed"
        )
    })?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A build context given as a URL (`docker build URL`): a Git repository (`URL.git#ref:dir`,
/// `git@…`, checked out as ADD checks one out, `.git` left out) or a download. The directory
/// holding it (removed on drop) and the path to use: the checkout (or its subdirectory), or the
/// downloaded file, which the caller unpacks or reads as a Dockerfile.
pub fn fetch_context(url: &str, store: &Store) -> Result<(TempDir, PathBuf)> {
    let fetched = if is_git(url) || url.starts_with("github.com/") {
        let url = match url.strip_prefix("github.com/") {
            Some(rest) => format!("https://github.com/{rest}"),
            None => url.to_string(),
        };
        git_checkout(&url, false, None, store)?
    } else {
        download(url, None, store)?
    };
    let path = fetched.dir.path().join(&fetched.path);
    Ok((fetched.dir, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_apart_as_buildkit_does() {
        assert!(is_git("https://github.com/moby/buildkit.git#v0.1:docs"));
        assert!(is_git("git@github.com:moby/buildkit.git"));
        assert!(is_git("git://127.0.0.1/repo"));
        assert!(is_http("https://example.com/file.tar.gz"));
        assert!(!is_http("file.txt"));
        assert_eq!(url_file_name("http://h:1/a/b/tool.sh?x=1"), "tool.sh");
        assert_eq!(url_file_name("http://h:1/"), "__unnamed__");
        assert_eq!(url_file_name("http://h:1"), "__unnamed__");
    }

    #[test]
    fn git_fragments() {
        assert_eq!(
            parse_git("https://h/r.git#main:sub/dir/"),
            GitRef {
                remote: "https://h/r.git".into(),
                reference: Some("main".into()),
                subdir: Some("sub/dir".into()),
            }
        );
        assert_eq!(parse_git("git://h/r").reference, None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784111777));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}

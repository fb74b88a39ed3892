//! Image references, normalised exactly as Docker does (`github.com/distribution/reference`,
//! `ParseNormalizedNamed` + `TagNameOnly`), so that `golang:1.22-alpine`, `library/golang:1.22-alpine`
//! and `docker.io/library/golang:1.22-alpine` all name the same image in the store and on the wire.

use anyhow::{anyhow, bail, Result};
use std::fmt;
use std::str::FromStr;

/// Docker Hub's canonical domain, the default when a reference names no registry.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, rewritten to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The repository namespace Docker Hub's official images live in.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference gets when it names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the length of a full name (domain + path).
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A fully normalised image reference: registry domain, repository path, and a tag and/or digest.
///
/// Parsing adds what Docker adds: the `docker.io` domain, the `library/` namespace for
/// single-component Docker Hub names, and the `latest` tag when neither tag nor digest is given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises a reference the way `docker pull` does.
    pub fn parse(input: &str) -> Result<Reference> {
        if is_hex(input) && input.len() == 64 {
            bail!(
                "invalid reference {input:?}: a 64-hex-digit string is an image ID, not a name \
                 (write it as NAME@sha256:{input})"
            );
        }
        let (name_part, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                validate_digest(input, digest)?;
                (name, Some(digest.to_string()))
            }
            None => (input, None),
        };
        // A tag is the part after the last ':' unless that ':' belongs to the domain's port
        // (i.e. a '/' follows it).
        let (name, tag) = match name_part.rfind(':') {
            Some(i) if !name_part[i + 1..].contains('/') => {
                (&name_part[..i], Some(name_part[i + 1..].to_string()))
            }
            _ => (name_part, None),
        };
        if let Some(tag) = &tag {
            validate_tag(input, tag)?;
        }
        let (domain, path) = split_domain(name);
        if path.to_ascii_lowercase() != path {
            bail!("invalid reference {input:?}: repository name must be lowercase");
        }
        validate_domain(input, &domain)?;
        validate_path(input, &path)?;
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            bail!("invalid reference {input:?}: repository name must not be longer than {NAME_TOTAL_LENGTH_MAX} characters");
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            _ => tag,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry domain, with its port if any (`docker.io`, `127.0.0.1:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/golang`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if the reference has one (always `Some` unless it was given by digest only).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one (`sha256:…`).
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository's full name without tag or digest (`docker.io/library/golang`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The same repository with another tag and no digest (for pushing under a tag).
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        validate_tag(tag, tag)?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to a digest, keeping the tag (`name:tag@digest`).
    pub fn with_digest(&self, digest: &str) -> Result<Reference> {
        validate_digest(digest, digest)?;
        Ok(Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// Docker's short form for display: `golang:1.22-alpine` rather than `docker.io/library/golang:1.22-alpine`.
    pub fn familiar(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_REPO_PREFIX)
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        };
        push_tag_and_digest(&mut name, self.tag(), self.digest());
        name
    }

    /// Whether Docker would talk to this registry over plain HTTP without configuration:
    /// `localhost`, the IPv4 loopback network `127.0.0.0/8` and `[::1]`, with any port.
    pub fn is_loopback_registry(&self) -> bool {
        let host = match self.domain.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => self.domain.split(':').next().unwrap_or(&self.domain),
        };
        host == "localhost"
            || host == "::1"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    /// The full normalised form: `docker.io/library/golang:1.22-alpine`, `host:5000/app@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        push_tag_and_digest(&mut s, self.tag(), self.digest());
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

fn push_tag_and_digest(s: &mut String, tag: Option<&str>, digest: Option<&str>) {
    if let Some(tag) = tag {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = digest {
        s.push('@');
        s.push_str(digest);
    }
}

/// Docker's `splitDockerDomain`: the first component is a domain only if it contains a `.`
/// or a `:`, is `localhost`, or has upper-case letters; otherwise the name is on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `[\w][\w.-]{0,127}`
fn validate_tag(input: &str, tag: &str) -> Result<()> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-');
    if !ok {
        bail!(
            "invalid reference {input:?}: tag {tag:?} must be 1-128 characters of letters, digits, \
             '_', '.' and '-', not starting with '.' or '-'"
        );
    }
    Ok(())
}

/// `ALGORITHM:HEX`, with sha256 digests exactly 64 lower-case hex digits.
fn validate_digest(input: &str, digest: &str) -> Result<()> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        bail!(
            "invalid reference {input:?}: digest {digest:?} must look like sha256:<64 hex digits>"
        );
    };
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|c| {
        c.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let hex_ok = match algorithm {
        "sha256" => hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "sha512" => hex.len() == 128 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        _ => hex.len() >= 32 && is_hex(hex),
    };
    if !algorithm_ok || !hex_ok {
        bail!("invalid reference {input:?}: digest {digest:?} must look like sha256:<64 lower-case hex digits>");
    }
    Ok(())
}

/// A host name (dot-separated labels of letters, digits and inner '-'), or an IPv6 address in
/// brackets, followed by an optional `:port`.
fn validate_domain(input: &str, domain: &str) -> Result<()> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let bad = || anyhow!("invalid reference {input:?}: bad IPv6 registry address {domain:?}");
        let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(bad());
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
        };
        (None, port)
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        };
        if !host.split('.').all(label_ok) {
            bail!("invalid reference {input:?}: {domain:?} is not a valid registry host");
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            bail!("invalid reference {input:?}: registry port in {domain:?} must be a number");
        }
    }
    Ok(())
}

/// Path components `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*` joined by `/`.
fn validate_path(input: &str, path: &str) -> Result<()> {
    for component in path.split('/') {
        if !path_component_ok(component) {
            bail!(
                "invalid reference {input:?}: repository path component {component:?} must be \
                 lower-case letters and digits, separated by '.', '_', '__' or dashes"
            );
        }
    }
    Ok(())
}

fn path_component_ok(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or one or more '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_names_get_domain_library_and_latest() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("golang:1.22-alpine"),
            "docker.io/library/golang:1.22-alpine"
        );
        assert_eq!(norm("library/golang:1.22"), "docker.io/library/golang:1.22");
        assert_eq!(norm("foo/bar"), "docker.io/foo/bar:latest");
        assert_eq!(norm("index.docker.io/foo"), "docker.io/library/foo:latest");
        assert_eq!(norm("docker.io/foo/bar/baz:1"), "docker.io/foo/bar/baz:1");
    }

    #[test]
    fn hosts_with_ports_or_dots_or_localhost_are_kept() {
        assert_eq!(norm("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(norm("localhost/x:2"), "localhost/x:2");
        assert_eq!(norm("ghcr.io/a/b"), "ghcr.io/a/b:latest");
        assert_eq!(norm("[::1]:5000/a/b:t"), "[::1]:5000/a/b:t");
        let r = Reference::parse("127.0.0.1:5000/x").unwrap();
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.path(), "x");
    }

    #[test]
    fn digests_pin_and_suppress_the_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
        let r = Reference::parse(&format!("host:1/a:v1@{d}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.familiar(), format!("host:1/a:v1@{d}"));
    }

    #[test]
    fn familiar_form_strips_what_docker_adds() {
        let r = Reference::parse("docker.io/library/golang:1.22-alpine").unwrap();
        assert_eq!(r.familiar(), "golang:1.22-alpine");
        assert_eq!(
            Reference::parse("foo/bar").unwrap().familiar(),
            "foo/bar:latest"
        );
    }

    #[test]
    fn invalid_references_are_refused_with_the_reason() {
        for (bad, why) in [
            ("Busybox", "lowercase"),
            ("busybox:", "tag"),
            ("busybox:-x", "tag"),
            ("busybox@sha256:abc", "digest"),
            ("a//b", "component"),
            ("a/b-", "component"),
            ("a/b..c", "component"),
            ("host:port/x", "port"),
            (&"a".repeat(64), "image ID"),
            ("", "component"),
        ] {
            let err = Reference::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(Reference::parse("a__b/c-d---e.f_g").is_ok());
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for (r, want) in [
            ("127.0.0.1:5000/x", true),
            ("127.1.2.3/x", true),
            ("localhost:5000/x", true),
            ("[::1]:5000/x", true),
            ("example.com/x", false),
            ("busybox", false),
        ] {
            assert_eq!(
                Reference::parse(r).unwrap().is_loopback_registry(),
                want,
                "{r}"
            );
        }
    }
}

//! Platforms (`os/arch[/variant]`) and choosing one manifest from a multi-platform index,
//! with containerd's normalisation (`aarch64` = `arm64`, `arm64/v8` = `arm64`, `arm` = `arm/v7`).

use anyhow::{bail, Result};
use oci_spec::image::Descriptor;
use std::fmt;
use std::str::FromStr;

/// A target platform, as `--platform` and image indexes spell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// GOARCH names: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`.
    pub architecture: String,
    /// `v7` for arm, `v8` for arm64 (normalised away), …
    pub variant: Option<String>,
}

impl Platform {
    /// The platform skiff runs on: images it pulls by default and builds for.
    pub fn host() -> Platform {
        Platform::new("linux", std::env::consts::ARCH, None)
    }

    /// A normalised platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let (architecture, variant) = normalize_arch(architecture, variant);
        Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        }
    }

    /// Whether an index entry's platform is this one.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let other = Platform::new(os, architecture, variant);
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }

    /// The manifest for this platform among an index's entries, if any: an exact variant
    /// match wins over an entry without a variant.
    pub fn select<'a>(&self, manifests: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let candidates: Vec<&Descriptor> = manifests
            .iter()
            .filter(|d| {
                d.platform().as_ref().is_some_and(|p| {
                    self.matches(
                        &p.os().to_string(),
                        &p.architecture().to_string(),
                        p.variant().as_deref(),
                    )
                })
            })
            .collect();
        candidates
            .iter()
            .find(|d| {
                let p = d.platform().as_ref().expect("filtered on platform");
                normalize_arch(&p.architecture().to_string(), p.variant().as_deref()).1
                    == self.variant
            })
            .or(candidates.first())
            .copied()
    }
}

impl Platform {
    /// A platform as `FROM --platform` may spell it: `os/arch[/variant]`, or one word alone,
    /// an OS (with the host's architecture) or an architecture (on linux), as containerd's
    /// `platforms.Parse` takes it.
    pub fn parse_lenient(s: &str) -> Result<Platform> {
        const KNOWN_OS: [&str; 7] = [
            "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris",
        ];
        if s.contains('/') || s.is_empty() {
            return s.parse();
        }
        if KNOWN_OS.contains(&s.to_ascii_lowercase().as_str()) {
            return Ok(Platform::new(s, &Platform::host().architecture, None));
        }
        Ok(Platform::new("linux", s, None))
    }
}

impl FromStr for Platform {
    type Err = anyhow::Error;

    /// Parses `os/arch[/variant]` (e.g. `linux/arm64`, `linux/arm/v7`).
    fn from_str(s: &str) -> Result<Platform> {
        if s.contains(',') {
            bail!(
                "{s:?} is a list of platforms, where one platform (os/arch[/variant]) is expected"
            );
        }
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform::new(os, arch, Some(variant)))
            }
            _ => bail!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// containerd's `normalizeArch`.
fn normalize_arch(architecture: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = architecture.to_ascii_lowercase();
    let variant = variant.map(str::to_ascii_lowercase);
    let (arch, variant) = match arch.as_str() {
        "i386" | "x86" => ("386".to_string(), None),
        "x86_64" | "x86-64" | "amd64" => ("amd64".to_string(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => (
            "arm64".to_string(),
            variant.filter(|v| v != "8" && v != "v8"),
        ),
        "armhf" => ("arm".to_string(), Some("v7".to_string())),
        "armel" => ("arm".to_string(), Some("v6".to_string())),
        "arm" => {
            let variant = match variant {
                None => "v7".to_string(),
                Some(v) if v.starts_with('v') => v,
                Some(v) => format!("v{v}"),
            };
            ("arm".to_string(), Some(variant))
        }
        "powerpc64" | "ppc64el" => ("ppc64le".to_string(), variant),
        _ => (arch, variant),
    };
    (arch, variant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{Arch, MediaType, Os, PlatformBuilder};

    fn entry(arch: &str, variant: Option<&str>, digest_byte: char) -> Descriptor {
        let digest = format!("sha256:{}", digest_byte.to_string().repeat(64));
        let mut d = Descriptor::new(
            MediaType::ImageManifest,
            1,
            digest.parse::<oci_spec::image::Digest>().unwrap(),
        );
        let mut p = PlatformBuilder::default()
            .os(Os::Linux)
            .architecture(Arch::from(arch));
        if let Some(v) = variant {
            p = p.variant(v.to_string());
        }
        d.set_platform(Some(p.build().unwrap()));
        d
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            "linux/aarch64/v8".parse::<Platform>().unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            "linux/arm".parse::<Platform>().unwrap().to_string(),
            "linux/arm/v7"
        );
        assert!("linux"
            .parse::<Platform>()
            .unwrap_err()
            .to_string()
            .contains("os/arch"));
        assert!("linux/amd64,linux/arm64"
            .parse::<Platform>()
            .unwrap_err()
            .to_string()
            .contains("list of platforms"));
        assert!("a/b/c/d".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
    }

    #[test]
    fn selects_the_matching_index_entry() {
        let entries = [
            entry("amd64", None, 'a'),
            entry("arm", Some("v6"), 'b'),
            entry("arm", Some("v7"), 'c'),
            entry("arm64", Some("v8"), 'd'),
        ];
        let pick = |p: &str| {
            p.parse::<Platform>()
                .unwrap()
                .select(&entries)
                .map(|d| d.digest().to_string().chars().last().unwrap())
        };
        assert_eq!(pick("linux/amd64"), Some('a'));
        assert_eq!(pick("linux/arm/v6"), Some('b'));
        assert_eq!(pick("linux/arm"), Some('c'));
        assert_eq!(pick("linux/arm64"), Some('d'));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("windows/amd64"), None);
    }
}

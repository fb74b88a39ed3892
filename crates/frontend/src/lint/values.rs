//! The value checks BuildKit's rules lean on, ported from the Go packages it uses:
//! `util/suggest.Search` (did-you-mean), `containerd/platforms.Parse` (the parts the rules
//! read) and `distribution/reference.ParseNormalizedNamed` (is a base image name valid).

use std::sync::OnceLock;

/// BuildKit's `suggest.Search`: the first option within Levenshtein distance 2 of `value`
/// (a closer one replaces it); `None` when nothing is that close or `value` is itself an option.
pub(crate) fn search<'a>(
    value: &str,
    options: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best = None;
    let mut min_distance = 3;
    for option in options {
        if option == value {
            return None;
        }
        let d = levenshtein(value, option);
        if d < min_distance {
            best = Some(option);
            min_distance = d;
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The OS and architecture of a platform string, normalized as containerd does
/// (`linux/x86_64` → `linux`, `amd64`); `None` when containerd would reject it.
pub(crate) fn parse_platform(text: &str) -> Option<(String, String)> {
    if text.contains('*') {
        return None;
    }
    let parts: Vec<&str> = text.splitn(4, '/').collect();
    let os_re = regex(
        &OS_RE,
        r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$",
    );
    let part_re = regex(&PART_RE, r"^[A-Za-z0-9_.-]+$");
    let os = os_re
        .captures(parts[0])?
        .get(1)?
        .as_str()
        .to_ascii_lowercase();
    let os = if os == "macos" { "darwin".into() } else { os };
    if parts[1..].iter().any(|p| !part_re.is_match(p)) {
        return None;
    }
    match parts.len() {
        1 if KNOWN_OS.contains(&os.as_str()) => Some((os, "amd64".into())),
        1 => {
            let arch = normalize_arch(parts[0]);
            KNOWN_ARCH
                .contains(&arch.as_str())
                .then(|| ("linux".into(), arch))
        }
        2 | 3 => Some((os, normalize_arch(parts[1]))),
        _ => None,
    }
}

static OS_RE: OnceLock<regex::Regex> = OnceLock::new();
static PART_RE: OnceLock<regex::Regex> = OnceLock::new();
static REFERENCE_RE: OnceLock<regex::Regex> = OnceLock::new();

fn regex(cell: &'static OnceLock<regex::Regex>, pattern: &str) -> &'static regex::Regex {
    cell.get_or_init(|| regex::Regex::new(pattern).expect("a valid pattern"))
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// containerd's `normalizeArch`, architecture only.
fn normalize_arch(arch: &str) -> String {
    let arch = arch.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => "386".into(),
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "armhf" | "armel" => "arm".into(),
        _ => arch,
    }
}

/// Whether `name` is a valid image reference for `FROM` (`ParseNormalizedNamed` succeeds):
/// not empty, not a 64-hex id, a lowercase repository, a valid tag and digest.
pub(crate) fn is_valid_reference(name: &str) -> bool {
    let is_hex_id =
        name.len() == 64 && name.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'));
    if name.is_empty() || is_hex_id {
        return false;
    }
    let (domain, remainder) = split_domain(name);
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return false;
    }
    let full = format!("{domain}/{remainder}");
    // Go's `\w` is ASCII: spelled out, which also keeps the compiled regex small (a Unicode
    // `\w` repeated 128 times took ~60 ms to compile, on every build).
    let pattern = {
        let component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain =
            format!(r"(?:{component}(?:\.{component})*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?");
        let path = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        format!(
            r"^((?:{domain}/)?{path}(?:/{path})*)(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}})?$"
        )
    };
    let re = regex(&REFERENCE_RE, &pattern);
    re.captures(&full)
        .and_then(|c| c.get(1))
        .is_some_and(|n| n.as_str().len() <= 255)
}

/// distribution's `splitDockerDomain`.
fn split_domain(name: &str) -> (&str, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return ("docker.io", format!("library/{name}"));
    };
    let is_domain =
        first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first;
    match (is_domain, first) {
        (true, "index.docker.io") => ("docker.io", rest.to_string()),
        (true, _) => (first, rest.to_string()),
        (false, _) => ("docker.io", name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_is_buildkits() {
        assert_eq!(search("PAHT", ["HOME", "PATH"]), Some("PATH"));
        assert_eq!(
            search("DIR_ASSET", ["DIR_ASSETS", "DIR_CONFIG"]),
            Some("DIR_ASSETS")
        );
        assert_eq!(search("PATH", ["PATH", "PATHS"]), None);
        assert_eq!(search("version", ["tag"]), None);
    }

    #[test]
    fn platforms_and_references() {
        assert_eq!(
            parse_platform("linux/x86_64"),
            Some(("linux".into(), "amd64".into()))
        );
        assert_eq!(parse_platform("linux/"), None);
        assert_eq!(parse_platform("bogus"), None);
        assert!(is_valid_reference("busybox:stable"));
        assert!(is_valid_reference(
            "localhost:5000/a/b@sha256:0123456789abcdef0123456789abcdef"
        ));
        assert!(is_valid_reference("scratch"));
        assert!(!is_valid_reference("busybox:"));
        assert!(!is_valid_reference(""));
        assert!(!is_valid_reference("Busybox"));
    }
}

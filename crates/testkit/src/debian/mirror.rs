//! Which Debian mirror the machine's apt uses, read from its sources lists (one-line and
//! deb822 formats), so that debootstrap fetches from the same place.

use anyhow::{bail, Result};
use std::fs;
use std::path::PathBuf;

/// The mirror URI the machine's apt uses for `suite` (plain `deb` entries only), read from
/// `/etc/apt/sources.list` and then `/etc/apt/sources.list.d/*.list` / `*.sources` in name order.
pub fn apt_mirror(suite: &str) -> Result<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let found = match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => mirror_in_deb822(&text, suite),
            _ if file.ends_with("sources.list") || file.extension() == Some("list".as_ref()) => {
                mirror_in_one_line_format(&text, suite)
            }
            _ => None,
        };
        if let Some(uri) = found {
            return Ok(uri);
        }
    }
    bail!(
        "no apt source for Debian {suite} in /etc/apt/sources.list or /etc/apt/sources.list.d/ \
         (*.list or *.sources): add one, e.g. `deb http://deb.debian.org/debian {suite} main`"
    )
}

/// The first `deb URI SUITE …` line for `suite` in sources.list format.
fn mirror_in_one_line_format(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            return None;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']'))?;
            rest.drain(..=end);
        }
        match rest.as_slice() {
            [uri, s, ..] if *s == suite && usable_uri(uri) => Some(uri.to_string()),
            _ => None,
        }
    })
}

/// The first URI of the first enabled `Types: deb` stanza listing `suite`, in deb822 format.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    let mut stanzas: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            stanzas.push(Vec::new());
        } else if line.starts_with('#') {
            continue;
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = stanzas.last_mut().and_then(|s| s.last_mut()) {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            let stanza = stanzas.last_mut().expect("always one stanza");
            stanza.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    stanzas.iter().find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let enabled = !field("enabled").eq_ignore_ascii_case("no");
        let is_deb = field("types").split_whitespace().any(|t| t == "deb");
        let has_suite = field("suites").split_whitespace().any(|s| s == suite);
        if !(enabled && is_deb && has_suite) {
            return None;
        }
        field("uris")
            .split_whitespace()
            .find(|u| usable_uri(u))
            .map(str::to_string)
    })
}

/// Whether debootstrap can fetch from `uri`.
fn usable_uri(uri: &str) -> bool {
    ["http://", "https://", "file:"]
        .iter()
        .any(|p| uri.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources_skip_other_suites_options_and_comments() {
        let text = "# deb http://old.example/debian bookworm main\n\
                    deb-src http://src.example/debian bookworm main\n\
                    deb http://sec.example/debian-security bookworm-security main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n\
                    deb http://late.example/debian bookworm main\n";
        assert_eq!(
            mirror_in_one_line_format(text, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(mirror_in_one_line_format(text, "trixie"), None);
    }

    #[test]
    fn deb822_sources_pick_the_enabled_deb_stanza_of_the_suite() {
        let text = "Types: deb\n\
                    URIs: http://disabled.example/debian\n\
                    Suites: bookworm\n\
                    Enabled: no\n\
                    \n\
                    Types: deb-src\n\
                    URIs: http://src.example/debian\n\
                    Suites: bookworm\n\
                    \n\
                    Types: deb\n\
                    # a comment inside the stanza\n\
                    URIs: cdrom:[Debian]/ http://deb.example/debian\n\
                    Suites: bookworm\n  bookworm-updates\n\
                    Components: main\n\
                    \n\
                    Types: deb\n\
                    URIs: http://security.example/debian-security\n\
                    Suites: bookworm-security\n";
        assert_eq!(
            mirror_in_deb822(text, "bookworm").as_deref(),
            Some("http://deb.example/debian")
        );
        assert_eq!(
            mirror_in_deb822(text, "bookworm-updates").as_deref(),
            Some("http://deb.example/debian")
        );
        assert_eq!(
            mirror_in_deb822(text, "bookworm-security").as_deref(),
            Some("http://security.example/debian-security")
        );
        assert_eq!(mirror_in_deb822(text, "trixie"), None);
    }
}

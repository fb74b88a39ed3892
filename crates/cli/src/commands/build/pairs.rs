//! The `KEY=VALUE` flags, parsed once into typed pairs: `--build-arg`, `--label`,
//! `--annotation` and `--add-host`. clap
//! calls these parsers, so a malformed value is a usage error that names its flag.

/// One `--build-arg`: a name and its value. `KEY` alone takes the value from skiff's
/// environment, as `docker build` does; when that is unset the argument is left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildArg {
    /// The ARG it sets.
    pub name: String,
    /// Its value; `None` for `KEY` alone with `KEY` unset in the environment.
    pub value: Option<String>,
}

/// One `--label`: a key and its value (`KEY` alone is an empty value, as in Docker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The label's key.
    pub key: String,
    /// The label's value.
    pub value: String,
}

/// Parses `--build-arg KEY=VALUE` or `--build-arg KEY`. The name must be something an `ARG`
/// can declare: not empty, no whitespace or control characters.
pub fn parse_build_arg(raw: &str) -> Result<BuildArg, String> {
    let (name, value) = match raw.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (raw, None),
    };
    if name.is_empty() {
        return Err(
            "the name is empty: expected KEY=VALUE (or KEY to take its value from the \
             environment), e.g. --build-arg VERSION=1.2"
                .to_string(),
        );
    }
    if let Some(bad) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the name {name:?} contains {bad:?}, which no ARG name can hold: expected KEY=VALUE"
        ));
    }
    let value = value.or_else(|| std::env::var(name).ok());
    Ok(BuildArg {
        name: name.to_string(),
        value,
    })
}

/// Parses `--label KEY=VALUE` or `--label KEY`; an empty key is refused.
pub fn parse_label(raw: &str) -> Result<Label, String> {
    let (key, value) = raw.split_once('=').unwrap_or((raw, ""));
    if key.trim().is_empty() {
        return Err(
            "the key is empty: expected KEY=VALUE, e.g. --label org.opencontainers.image.title=app"
                .to_string(),
        );
    }
    Ok(Label {
        key: key.to_string(),
        value: value.to_string(),
    })
}

/// One `--annotation` of the image manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// The annotation's key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// Parses `--annotation KEY=VALUE` or `--annotation manifest:KEY=VALUE` (buildx's spellings
/// for the manifest; its `index:`, `manifest-descriptor:` and `index-descriptor:` places and
/// `[platform]` selectors are refused: skiff writes one manifest and no index).
pub fn parse_annotation(raw: &str) -> Result<Annotation, String> {
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?}: expected KEY=VALUE or manifest:KEY=VALUE"))?;
    let key = match key.split_once(':') {
        Some(("manifest", key)) => key,
        Some((place, _)) if is_buildx_place(place) => {
            return Err(format!(
                "{raw:?}: only manifest annotations are supported (KEY=VALUE or                  manifest:KEY=VALUE); skiff writes a single manifest, not {place:?}"
            ))
        }
        _ => key,
    };
    if key.trim().is_empty() {
        return Err(format!("{raw:?}: the key is empty: expected KEY=VALUE"));
    }
    Ok(Annotation {
        key: key.to_string(),
        value: value.to_string(),
    })
}

/// Whether `place` is one of buildx's annotation places other than `manifest`, possibly
/// Parses `--add-host NAME:IP` (or `NAME=IP`, docker's spelling for IPv6 addresses; the first
/// separator splits, so `NAME:::1` works too; brackets around an IPv6 address are dropped).
pub fn parse_add_host(raw: &str) -> Result<skiff_engine::ExtraHost, String> {
    let (name, ip) = raw
        .split_once('=')
        .or_else(|| raw.split_once(':'))
        .ok_or_else(|| format!("{raw:?}: expected NAME:IP, e.g. --add-host db:192.0.2.10"))?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{name:?} is not a host name: expected NAME:IP, e.g. --add-host db:192.0.2.10"
        ));
    }
    if ip == "host-gateway" {
        return Err(
            "host-gateway is docker's name for its bridge's gateway, which skiff does not have: \
             give the address itself"
                .to_string(),
        );
    }
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    let ip = bare
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address: expected NAME:IP"))?;
    Ok(skiff_engine::ExtraHost {
        name: name.to_string(),
        ip,
    })
}

/// with a platform selector (`index`, `manifest[linux/amd64]`, …).
fn is_buildx_place(place: &str) -> bool {
    let base = place.split_once('[').map_or(place, |(b, _)| b);
    matches!(
        base,
        "index" | "manifest" | "manifest-descriptor" | "index-descriptor"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_take_a_value_or_the_environment() {
        assert_eq!(
            parse_build_arg("V=1=2").unwrap(),
            BuildArg {
                name: "V".into(),
                value: Some("1=2".into())
            }
        );
        assert_eq!(parse_build_arg("E=").unwrap().value.as_deref(), Some(""));
        let path = std::env::var("PATH").ok();
        assert_eq!(parse_build_arg("PATH").unwrap().value, path);
        assert_eq!(
            parse_build_arg("SKIFF_SURELY_UNSET_VARIABLE")
                .unwrap()
                .value,
            None
        );
    }

    #[test]
    fn malformed_build_args_are_refused() {
        for bad in ["", "=x", "A\n B", "A B=1", "\tA=1"] {
            let err = parse_build_arg(bad).unwrap_err();
            assert!(err.contains("KEY=VALUE"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn annotations_are_for_the_manifest() {
        let a = parse_annotation("org.opencontainers.image.source=https://x").unwrap();
        assert_eq!(a.key, "org.opencontainers.image.source");
        assert_eq!(a.value, "https://x");
        assert_eq!(parse_annotation("manifest:k=v").unwrap().key, "k");
        for bad in [
            "index:k=v",
            "manifest[linux/amd64]:k=v",
            "k",
            "=v",
            "manifest:=v",
        ] {
            assert!(parse_annotation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_host_takes_name_and_address() {
        let h = parse_add_host("db:192.0.2.10").unwrap();
        assert_eq!(
            (h.name.as_str(), h.ip.to_string().as_str()),
            ("db", "192.0.2.10")
        );
        assert_eq!(
            parse_add_host("v6=[fd00::1]").unwrap().ip.to_string(),
            "fd00::1"
        );
        assert_eq!(parse_add_host("v6:::1").unwrap().ip.to_string(), "::1");
        for bad in [
            "db",
            ":1.2.3.4",
            "db:nope",
            "db:host-gateway",
            "a b:1.2.3.4",
        ] {
            assert!(parse_add_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_need_a_key() {
        assert_eq!(
            parse_label("empty").unwrap(),
            Label {
                key: "empty".into(),
                value: String::new()
            }
        );
        assert_eq!(parse_label("a=b=c").unwrap().value, "b=c");
        assert!(parse_label("=v").is_err());
        assert!(parse_label(" =v").is_err());
    }
}

//! The image configuration as skiff reads and writes it: the OCI config JSON with Docker's
//! extensions (`Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`) that BuildKit also writes.
//!
//! The fields and their order are BuildKit's: the top-level keys sorted (BuildKit's exporter
//! re-encodes the config through a map), the `config` object in the order of Docker's
//! `ImageConfig` struct, `OnBuild` always present (`null` when empty). Like BuildKit, skiff
//! keeps only the fields it knows when it builds on a base image: a base config's extra fields
//! (`container_config`, `docker_version`, `Hostname`, …) are not carried into the result.

use serde::{Deserialize, Serialize};
use skiff_frontend::instructions::{CommandLine, HealthcheckCommand};
use std::collections::BTreeMap;

/// The whole config blob (`application/vnd.oci.image.config.v1+json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`).
    pub architecture: String,
    /// `MAINTAINER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The runtime configuration.
    #[serde(default)]
    pub config: RunConfig,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per instruction that changed the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Operating system (`linux`).
    pub os: String,
    /// The layers' uncompressed digests.
    pub rootfs: RootFs,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The `config` object: how a container of the image starts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `USER`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `EXPOSE` (`"8080/tcp": {}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// `ENV` as `KEY=VALUE`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `HEALTHCHECK` (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Set (to true) by `CMD`, as BuildKit does on every platform; inherited from the base.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    /// `ONBUILD` triggers (Docker extension); written as `null` when there are none, as
    /// BuildKit does.
    #[serde(default, rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    /// `SHELL` (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// Docker's healthcheck settings (durations in nanoseconds).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    /// `--interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// `--timeout`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// `--start-period`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// `--start-interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// `--retries`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

/// The `HEALTHCHECK` instruction as the config holds it: `["NONE"]`, or the test with its
/// durations in nanoseconds.
impl From<&HealthcheckCommand> for Healthcheck {
    fn from(h: &HealthcheckCommand) -> Healthcheck {
        let HealthcheckCommand::Check(o) = h else {
            return Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            };
        };
        let test = match &o.test {
            CommandLine::Exec(argv) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(argv.iter().map(|w| w.value.clone()));
                t
            }
            CommandLine::Shell(w) => vec!["CMD-SHELL".into(), w.value.clone()],
        };
        let ns = |d: Option<std::time::Duration>| {
            d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        };
        Healthcheck {
            test,
            interval: ns(o.interval),
            timeout: ns(o.timeout),
            start_period: ns(o.start_period),
            start_interval: ns(o.start_interval),
            retries: o.retries.map(i64::from).unwrap_or(0),
        }
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `rootfs`: the layers' diff IDs, lowest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:…` of each uncompressed layer.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry, as BuildKit writes them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    /// When the step ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `RUN /bin/sh -c go build . # buildkit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// `MAINTAINER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `buildkit.dockerfile.v0` for entries skiff writes (as BuildKit does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The default `PATH` BuildKit puts into images built from scratch.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl RunConfig {
    /// Sets (or replaces, keeping its position) an `Env` entry.
    pub fn env_set(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        match self
            .env
            .iter_mut()
            .find(|kv| kv.split_once('=').map(|(k, _)| k) == Some(name))
        {
            Some(slot) => *slot = entry,
            None => self.env.push(entry),
        }
    }
}

impl Healthcheck {
    /// The history text BuildKit writes after `HEALTHCHECK `: Go's `%q` of Docker's
    /// `HealthConfig` (`&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x00'}`). The `--start-interval`
    /// duration appears only when set: Docker 20.10's struct, which this format follows,
    /// has no such field.
    pub fn go_format(&self) -> String {
        let mut parts = vec![go_fmt::quoted_list(&self.test)];
        let mut durations = vec![self.interval, self.timeout, self.start_period];
        if self.start_interval != 0 {
            durations.push(self.start_interval);
        }
        parts.extend(
            durations
                .into_iter()
                .map(|d| format!("\"{}\"", go_fmt::duration(d))),
        );
        parts.push(go_fmt::quote_rune(self.retries));
        format!("&{{{}}}", parts.join(" "))
    }
}

/// Go's `fmt` renderings that BuildKit's history texts are made of.
pub mod go_fmt {
    use std::fmt::Write as _;

    /// `%q` of a `[]string`: `["a" "b c"]`.
    pub fn quoted_list(items: &[String]) -> String {
        let quoted: Vec<String> = items
            .iter()
            .map(|s| skiff_frontend::dump::go_quote(s))
            .collect();
        format!("[{}]", quoted.join(" "))
    }

    /// `%v` of a `[]string`: `[a b c]`.
    pub fn plain_list(items: &[String]) -> String {
        format!("[{}]", items.join(" "))
    }

    /// `%q` of an integer: a Go rune literal (`'\x00'`, `'\a'`, `'A'`).
    pub fn quote_rune(n: i64) -> String {
        let c = u32::try_from(n)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}');
        match c {
            '\'' => "'\\''".to_string(),
            '"' => "'\"'".to_string(),
            c => {
                let quoted = skiff_frontend::dump::go_quote(&c.to_string());
                format!("'{}'", &quoted[1..quoted.len() - 1])
            }
        }
    }

    /// Go's `time.Duration.String()` of a count of nanoseconds: `0s`, `500ms`, `1m30s`,
    /// `1h0m0s`, `1.5s`.
    pub fn duration(nanos: i64) -> String {
        let negative = nanos < 0;
        let n = nanos.unsigned_abs();
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        if n == 0 {
            return "0s".into();
        }
        if n < 1_000_000_000 {
            let (scale, unit) = match n {
                0..=999 => (1, "ns"),
                1_000..=999_999 => (1_000, "µs"),
                _ => (1_000_000, "ms"),
            };
            out.push_str(&fraction(n, scale));
            out.push_str(unit);
            return out;
        }
        let hours = n / 3_600_000_000_000;
        let minutes = n / 60_000_000_000 % 60;
        let seconds = fraction(n % 60_000_000_000, 1_000_000_000);
        if hours > 0 {
            let _ = write!(out, "{hours}h{minutes}m{seconds}s");
        } else if minutes > 0 {
            let _ = write!(out, "{minutes}m{seconds}s");
        } else {
            let _ = write!(out, "{seconds}s");
        }
        out
    }

    /// `n / scale` with the remainder as decimals, trailing zeros dropped (`1500, 1000` → `1.5`).
    fn fraction(n: u64, scale: u64) -> String {
        let whole = n / scale;
        let rest = n % scale;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = scale.ilog10() as usize;
        let decimals = format!("{rest:0digits$}");
        format!("{whole}.{}", decimals.trim_end_matches('0'))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn durations_like_go() {
            assert_eq!(duration(0), "0s");
            assert_eq!(duration(5_000_000_000), "5s");
            assert_eq!(duration(90_000_000_000), "1m30s");
            assert_eq!(duration(3_600_000_000_000), "1h0m0s");
            assert_eq!(duration(1_500_000_000), "1.5s");
            assert_eq!(duration(500_000_000), "500ms");
            assert_eq!(duration(1_500), "1.5µs");
            assert_eq!(duration(7), "7ns");
            assert_eq!(duration(3_723_004_000_000), "1h2m3.004s");
        }

        #[test]
        fn runes_like_go() {
            assert_eq!(quote_rune(0), "'\\x00'");
            assert_eq!(quote_rune(4), "'\\x04'");
            assert_eq!(quote_rune(7), "'\\a'");
            assert_eq!(quote_rune(65), "'A'");
            assert_eq!(quote_rune(39), "'\\''");
            assert_eq!(quote_rune(34), "'\"'");
        }

        #[test]
        fn lists_like_go() {
            let argv = vec!["/bin/sh".to_string(), "-c".into(), "echo \"hi\"".into()];
            assert_eq!(quoted_list(&argv), r#"["/bin/sh" "-c" "echo \"hi\""]"#);
            assert_eq!(plain_list(&argv[..2]), "[/bin/sh -c]");
        }
    }
}

//! The image configuration: the typed config itself is the image model's
//! ([`skiff_image::model::config`], re-exported here under the names the engine uses); what
//! stays here is how BuildKit's history texts render parts of it with Go's `fmt`.

use skiff_frontend::instructions::{CommandLine, HealthcheckCommand};
pub use skiff_image::model::config::{Healthcheck, History, ImageConfig, RunConfig, DEFAULT_PATH};

/// How the history text of a `HEALTHCHECK` renders its settings.
pub trait HealthcheckText {
    /// The history text BuildKit writes after `HEALTHCHECK `: Go's `%q` of Docker's
    /// `HealthConfig` with its four durations, as current BuildKit's struct has them
    /// (`&{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" '\x00'}`: interval, timeout, start period,
    /// start interval). Docker 20.10's struct had no start interval (three durations).
    fn go_format(&self) -> String;
}

impl HealthcheckText for Healthcheck {
    fn go_format(&self) -> String {
        let mut parts = vec![go_fmt::quoted_list(&self.test)];
        let durations = [
            self.interval,
            self.timeout,
            self.start_period,
            self.start_interval,
        ];
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

/// The `HEALTHCHECK` instruction as the config holds it: `["NONE"]`, or the test with its
/// durations in nanoseconds.
pub fn healthcheck(h: &HealthcheckCommand) -> Healthcheck {
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

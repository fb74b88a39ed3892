//! `HEALTHCHECK [--interval=…] [--timeout=…] [--start-period=…] [--start-interval=…]
//! [--retries=…] CMD command` and `HEALTHCHECK NONE`.

use super::flags::{Flags, Kind};
use super::request::Request;
use super::run::CommandLine;
use crate::ast::Word;
use crate::diagnostics::{suggest, Diagnostic};
use std::time::Duration;

/// `HEALTHCHECK`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthcheckCommand {
    /// `HEALTHCHECK NONE`: disable any check inherited from the base (config `Test: ["NONE"]`).
    None,
    /// `HEALTHCHECK … CMD …`.
    Check(HealthcheckOptions),
}

/// A health check. Unset durations and retries are `None` (stored as 0: the runtime applies
/// its defaults of 30s, 30s, 0s, 5s and 3 retries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthcheckOptions {
    /// The check: exec form becomes `["CMD", …]`, shell form `["CMD-SHELL", text]`.
    pub test: CommandLine,
    /// `--interval`.
    pub interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--start-period`.
    pub start_period: Option<Duration>,
    /// `--start-interval`.
    pub start_interval: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
}

pub(super) fn parse(req: &Request) -> Result<HealthcheckCommand, Diagnostic> {
    let Some((kind, rest)) = req.inst.args.split_first() else {
        return Err(req.at_least_one_argument());
    };
    let typ = kind.value.to_ascii_uppercase();
    if typ == "NONE" {
        if let Some(extra) = rest.first() {
            return Err(
                Diagnostic::error("HEALTHCHECK NONE takes no arguments", Some(extra.span))
                    .with_label("unexpected argument")
                    .with_hint("write HEALTHCHECK NONE alone"),
            );
        }
        return Ok(HealthcheckCommand::None);
    }
    let flags = Flags::parse(
        req,
        &[
            ("interval", Kind::String),
            ("timeout", Kind::String),
            ("start-period", Kind::String),
            ("start-interval", Kind::String),
            ("retries", Kind::String),
        ],
    )?;
    if typ != "CMD" {
        let d = Diagnostic::error(
            format!(
                "Unknown type {} in HEALTHCHECK (try CMD)",
                crate::shell::go_quote(&typ)
            ),
            Some(kind.span),
        )
        .with_label("not CMD or NONE");
        return Err(
            match suggest::closest(&typ.to_ascii_lowercase(), ["cmd", "none"]) {
                Some(best) => d.with_hint(format!("did you mean {}?", best.to_ascii_uppercase())),
                None => d.with_hint("write HEALTHCHECK CMD <command> or HEALTHCHECK NONE"),
            },
        );
    }
    let test = CommandLine::from_args(req, rest);
    if test.is_empty() {
        return Err(req
            .error("Missing command after HEALTHCHECK CMD")
            .with_label("command missing")
            .with_hint("write HEALTHCHECK CMD <command>"));
    }
    let retries = match flags.string("retries") {
        None => None,
        Some(w) => Some(parse_retries(&w)?),
    };
    Ok(HealthcheckCommand::Check(HealthcheckOptions {
        test,
        interval: interval(&flags, "interval")?,
        timeout: interval(&flags, "timeout")?,
        start_period: interval(&flags, "start-period")?,
        start_interval: interval(&flags, "start-interval")?,
        retries,
    }))
}

fn parse_retries(w: &Word) -> Result<u32, Diagnostic> {
    let n: i64 = w.value.parse().map_err(|_| {
        Diagnostic::error(
            format!(
                "strconv.ParseInt: parsing {}: invalid syntax",
                crate::shell::go_quote(&w.value)
            ),
            Some(w.span),
        )
        .with_label("not a number")
        .with_hint("write a whole number like --retries=3")
    })?;
    if n < 0 {
        return Err(
            Diagnostic::error(format!("--retries cannot be negative ({n})"), Some(w.span))
                .with_label("negative")
                .with_hint("use 0 or more"),
        );
    }
    u32::try_from(n).map_err(|_| {
        Diagnostic::error(
            format!(
                "strconv.ParseInt: parsing {}: value out of range",
                crate::shell::go_quote(&w.value)
            ),
            Some(w.span),
        )
        .with_label("too large")
    })
}

/// BuildKit's `parseOptInterval`: unset or 0 → `None`; less than 1ms is an error.
fn interval(flags: &Flags, name: &str) -> Result<Option<Duration>, Diagnostic> {
    let Some(w) = flags.string(name) else {
        return Ok(None);
    };
    if w.value.is_empty() {
        return Ok(None);
    }
    let nanos = parse_go_duration(&w.value).ok_or_else(|| {
        Diagnostic::error(
            format!(
                "time: invalid duration {}",
                crate::shell::go_quote(&w.value)
            ),
            Some(w.span),
        )
        .with_label("not a duration")
        .with_hint("write a duration like 30s, 1m30s or 500ms")
    })?;
    if nanos == 0 {
        return Ok(None);
    }
    if nanos < 1_000_000 {
        return Err(Diagnostic::error(
            format!("Interval \"{name}\" cannot be less than 1ms"),
            Some(w.span),
        )
        .with_label("too short")
        .with_hint("use at least 1ms"));
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?unit)+` or `0`.
fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number.parse::<f64>().ok()? * scale;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration;

    #[test]
    fn durations_follow_go() {
        assert_eq!(parse_go_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("500us"), Some(500_000));
        assert_eq!(parse_go_duration("-2s"), Some(-2_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}

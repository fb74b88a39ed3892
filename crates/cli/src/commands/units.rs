//! Sizes and times worded as Docker words them (`go-units`): `7.3MB`, `2 hours ago`,
//! `2026-12-04 20:31:34 +0000 UTC`.

use skiff_image::model::timestamp::parse_rfc3339;
use std::time::{SystemTime, UNIX_EPOCH};

/// Docker's `HumanSizeWithPrecision(size, 3)`: three significant digits, decimal units
/// (`0B`, `6B`, `300kB`, `1.24MB`).
pub fn size(bytes: u64, human: bool) -> String {
    if !human {
        return bytes.to_string();
    }
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{value:.decimals$}");
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    format!("{text}{}", UNITS[unit])
}

/// The seconds since the epoch now.
pub fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Docker's wording (`go-units.HumanDuration` plus " ago"): `About a minute ago`,
/// `3 hours ago`, `13 days ago`, `2 weeks ago`, `25 years ago`.
pub fn ago(seconds: i64) -> String {
    // Go: `int(d.Minutes())`, but hours rounded (`int(d.Hours() + 0.5)`), years not.
    let (minutes, hours) = (seconds / 60, (seconds + 1800) / 3600);
    let text = match () {
        _ if seconds < 1 => "Less than a second".to_string(),
        _ if seconds == 1 => "1 second".to_string(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".to_string(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    };
    format!("{text} ago")
}

/// How long ago an RFC 3339 time was, in Docker's words; `N/A` when it is missing or not
/// RFC 3339 (Docker shows `N/A` for an image without a creation time).
pub fn since(created: Option<&str>, now: i64) -> String {
    match created.and_then(parse_rfc3339) {
        Some(at) => ago(now - at),
        None => "N/A".into(),
    }
}

/// Go's `time.Time.String()` of an RFC 3339 time, in UTC (`2026-12-04 20:31:34 +0000 UTC`),
/// as `docker images --format '{{.CreatedAt}}'` shows it.
pub fn created_at(created: Option<&str>) -> String {
    let seconds = created.and_then(parse_rfc3339).unwrap_or(-62_135_596_800);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} +0000 UTC")
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{ago, created_at, size};

    #[test]
    fn times_read_as_docker_writes_them() {
        assert_eq!(ago(5), "5 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(3 * 3600 + 5), "3 hours ago");
        assert_eq!(ago(3700), "About an hour ago");
        assert_eq!(ago(2 * 3600 - 60), "2 hours ago");
        assert_eq!(ago(59 * 60), "59 minutes ago");
        assert_eq!(ago(13 * 86_400), "13 days ago");
        assert_eq!(ago(15 * 86_400), "2 weeks ago");
        assert_eq!(ago(26 * 365 * 86_400), "26 years ago");
    }

    #[test]
    fn sizes_read_as_docker_writes_them() {
        let sizes = [0, 6, 999, 300_000, 1_240_000, 12_345_678, 7_300_000_000];
        let written = sizes.map(|s| size(s, true));
        assert_eq!(
            written,
            ["0B", "6B", "999B", "300kB", "1.24MB", "12.3MB", "7.3GB"]
        );
        assert_eq!(size(300_000, false), "300000");
    }

    #[test]
    fn created_at_reads_as_go_prints_it() {
        let at = created_at(Some("2026-12-04T20:31:34.123Z"));
        assert_eq!(at, "2026-12-04 20:31:34 +0000 UTC");
        assert_eq!(
            created_at(Some("2000-02-29T23:59:59+01:00")),
            "2000-02-29 22:59:59 +0000 UTC"
        );
        assert_eq!(created_at(None), "0001-01-01 00:00:00 +0000 UTC");
    }
}

//! RFC 3339 timestamps for image configs and history, without a date library:
//! either now or `SOURCE_DATE_EPOCH` (for reproducible builds).

use std::time::{SystemTime, UNIX_EPOCH};

/// `created` for a step: `SOURCE_DATE_EPOCH` when given, else now.
pub fn created(source_date_epoch: Option<i64>) -> String {
    let secs = source_date_epoch.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    rfc3339(secs)
}

/// A history time: `SOURCE_DATE_EPOCH` when given, else now with nanoseconds, written as Go's
/// RFC 3339 with nanoseconds (trailing zeros of the fraction dropped), as BuildKit writes it.
pub fn history_time(source_date_epoch: Option<i64>) -> String {
    if source_date_epoch.is_some() {
        return created(source_date_epoch);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = rfc3339(i64::try_from(now.as_secs()).unwrap_or(i64::MAX));
    match now.subsec_nanos() {
        0 => seconds,
        nanos => {
            let fraction = format!("{nanos:09}");
            let whole = seconds.trim_end_matches('Z');
            format!("{whole}.{}Z", fraction.trim_end_matches('0'))
        }
    }
}

/// The newest mtime a layer may carry; later ones are clamped to it, so a layer is a function
/// of the step's inputs (what its cache key is made of) and not of when it ran.
///
/// With `SOURCE_DATE_EPOCH`: that time, as BuildKit does. Without it: 2000-01-01 plus the
/// number of layers below (`depth`), a logical clock: what a later layer writes is still newer
/// than what an earlier one wrote, so `make` in a later step rebuilds what a later `COPY`
/// changed; 2000 rather than 1970 because zip and wheel tools reject times before 1980.
pub fn layer_mtime_clamp(source_date_epoch: Option<i64>, depth: usize) -> i64 {
    source_date_epoch.unwrap_or(LOGICAL_EPOCH + depth as i64)
}

/// 2000-01-01T00:00:00Z: where the logical layer clock of [`layer_mtime_clamp`] starts.
pub const LOGICAL_EPOCH: i64 = 946_684_800;

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → (year, month, day) for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(super::LOGICAL_EPOCH), "2000-01-01T00:00:00Z");
    }

    #[test]
    fn later_layers_may_be_newer() {
        assert_eq!(super::layer_mtime_clamp(Some(5), 3), 5);
        assert!(super::layer_mtime_clamp(None, 3) < super::layer_mtime_clamp(None, 4));
    }
}

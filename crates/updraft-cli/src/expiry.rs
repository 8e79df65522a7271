//! `--expires`: a duration from now (`90m` minutes, `12h` hours, `30d` days,
//! `2w` weeks) or an RFC 3339 date or time (`2026-12-31` is midnight UTC, and a
//! time without `Z` or an offset is UTC), as epoch milliseconds.

use crate::error::{CliError, CliResult};

/// Epoch milliseconds now (0 if the clock is before 1970; `i64::MAX` past year 292 million).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The latest expiry accepted: the end of year 9999 UTC.
const LATEST: i64 = 253_402_300_799_999;

/// When `text` says the key expires, in epoch milliseconds; it must be in the future.
pub(crate) fn parse(text: &str, now: i64) -> CliResult<i64> {
    let t = text.trim();
    let bad = |why: String| {
        Err(CliError::usage(
            "invalid_expiry",
            format!("--expires {text:?} {why}"),
        ))
    };
    let at = match duration(t) {
        Some(Duration::NotPositive) => return bad("must be more than zero".into()),
        Some(Duration::TooLong) => return bad("is too far in the future".into()),
        Some(Duration::Ms(d)) => now.checked_add(d).unwrap_or(i64::MAX),
        None => match instant_ms(t) {
            Some(at) => at,
            None => return bad("is neither a duration (90m = minutes, 12h, 30d, 2w) nor an RFC 3339 date or time (2026-12-31, 2026-12-31T18:00:00Z)".into()),
        },
    };
    if at > LATEST {
        return bad("is too far in the future".into());
    }
    if at <= now {
        return bad("is in the past".into());
    }
    Ok(at)
}

/// A duration from now, `N` and a unit.
#[derive(Debug, PartialEq, Eq)]
enum Duration {
    Ms(i64),
    NotPositive,
    TooLong,
}

fn duration(t: &str) -> Option<Duration> {
    let unit = t.chars().last()?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    let digits = &t[..t.len() - unit.len_utf8()];
    let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match digits.parse::<i64>() {
        Ok(n) if n <= 0 => Duration::NotPositive,
        Ok(n) => n.checked_mul(ms).map_or(Duration::TooLong, Duration::Ms),
        Err(_) if digits.starts_with('-') => Duration::NotPositive,
        Err(_) => Duration::TooLong,
    })
}

/// `--since`/`--until`: an RFC 3339 date or time, as epoch milliseconds (a
/// clap value parser).
pub(crate) fn parse_instant(text: &str) -> Result<i64, String> {
    instant_ms(text.trim()).ok_or_else(|| {
        format!("{text:?} is not an RFC 3339 date or time (2026-12-31, 2026-12-31T18:00:00Z)")
    })
}

/// An RFC 3339 date-time (with `Z` or an offset), a date-time without one
/// (taken as UTC), or a date (midnight UTC).
fn instant_ms(t: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    let day = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000_000; // 2026-11-30 00:53 UTC

    #[test]
    fn durations_count_from_now() {
        assert_eq!(parse("30d", NOW).unwrap(), NOW + 30 * 86_400_000);
        assert_eq!(parse("12h", NOW).unwrap(), NOW + 12 * 3_600_000);
        assert_eq!(parse("90m", NOW).unwrap(), NOW + 90 * 60_000);
        assert_eq!(parse("2w", NOW).unwrap(), NOW + 14 * 86_400_000);
    }

    #[test]
    fn dates_and_times_are_absolute() {
        assert_eq!(parse("2027-01-01", NOW).unwrap(), 1_798_761_600_000);
        assert_eq!(
            parse("2027-01-01T01:00:00+01:00", NOW).unwrap(),
            1_798_761_600_000
        );
        assert_eq!(
            parse("2027-01-01T00:00:00.5Z", NOW).unwrap(),
            1_798_761_600_500
        );
    }

    #[test]
    fn a_time_without_a_zone_is_utc() {
        assert_eq!(
            parse("2027-01-01T00:00:00", NOW).unwrap(),
            1_798_761_600_000
        );
        assert_eq!(parse("2027-01-01T00:00", NOW).unwrap(), 1_798_761_600_000);
        assert_eq!(
            parse("2027-01-01 00:00:00", NOW).unwrap(),
            1_798_761_600_000
        );
    }

    fn says(text: &str, needle: &str) {
        let e = parse(text, NOW).unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage, "{text}");
        assert!(e.message.contains(needle), "{text}: {}", e.message);
    }

    #[test]
    fn each_mistake_gets_its_own_message() {
        for zero in ["0d", "0m", "-1d", "-99999999999999999999w", "+0h"] {
            says(zero, "must be more than zero");
        }
        for far in ["99999999999999999999d", "999999999999999w", "9999999999h"] {
            says(far, "too far in the future");
        }
        for past in ["2020-01-01", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00"] {
            says(past, "in the past");
        }
        for nonsense in ["30", "d", "1.5d", "30y", "tomorrow", "2026-13-01"] {
            says(nonsense, "90m = minutes");
        }
    }

    #[test]
    fn nonsense_and_the_past_are_usage_errors() {
        for bad in [
            "",
            "30",
            "d",
            "0d",
            "-1d",
            "30y",
            "tomorrow",
            "2020-01-01",
            "2026-13-01",
        ] {
            let e = parse(bad, NOW).unwrap_err();
            assert_eq!(e.exit, crate::error::Exit::Usage, "{bad}");
        }
    }
}

//! `--expires`: a duration from now (`90m`, `12h`, `30d`, `2w`) or an RFC 3339
//! date or time (`2026-12-31` is midnight UTC), as epoch milliseconds.

use crate::error::{CliError, CliResult};

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// When `text` says the key expires, in epoch milliseconds; it must be in the future.
pub fn parse(text: &str, now: i64) -> CliResult<i64> {
    let t = text.trim();
    let at = duration_ms(t)
        .map(|d| now.saturating_add(d))
        .or_else(|| instant_ms(t))
        .ok_or_else(|| {
            CliError::usage(
                "invalid_expiry",
                format!("--expires {text:?} is neither a duration (90m, 12h, 30d, 2w) nor an RFC 3339 date or time (2026-12-31, 2026-12-31T18:00:00Z)"),
            )
        })?;
    if at <= now {
        return Err(CliError::usage(
            "invalid_expiry",
            format!("--expires {text:?} is not in the future"),
        ));
    }
    Ok(at)
}

fn duration_ms(t: &str) -> Option<i64> {
    let unit = t.chars().last()?;
    let n: i64 = t[..t.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(ms)).flatten()
}

fn instant_ms(t: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
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

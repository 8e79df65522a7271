//! Durations and percentages as people write and read them: `90s`, `30m`,
//! `1h`, `2d`, `1w` and `2%`, `0.5%`, each parsed for the command line (as
//! clap value parsers, so a bad value is a usage error) and formatted back.

/// Seconds of a duration such as `90s`, `30m`, `1h`, `2d` or `1w` (one number,
/// one unit). Zero is allowed (`0s`: no minimum).
pub(crate) fn parse_secs(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad =
        || format!("{text:?} is not a duration: a whole number and a unit (90s, 30m, 1h, 2d, 1w)");
    let unit = t.chars().last().ok_or_else(bad)?;
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// A percentage written with its sign (`2%`, `0.5%`) as a share (0.02),
/// from 0 % to 100 %.
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let Some(number) = t.strip_suffix('%') else {
        return Err(format!(
            "{text:?} needs a % sign (2% is a rate of 2 in 100), or `off` for no gate"
        ));
    };
    match number.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("{text:?} is not a percentage from 0% to 100%")),
    }
}

/// A rate gate's flag: its threshold, or `None` for no gate (`off`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GateFlag(pub Option<f64>);

/// A rate gate's flag: a percentage, or `off` for no gate.
pub(crate) fn parse_gate(text: &str) -> Result<GateFlag, String> {
    if matches!(text.trim(), "off" | "none") {
        return Ok(GateFlag(None));
    }
    parse_rate(text).map(|r| GateFlag(Some(r)))
}

/// One step's percentage of devices: a number from 0 to 100 (`%` allowed).
pub(crate) fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t).trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a percentage from 0 to 100")),
    }
}

/// Seconds for people: `45s`, `30m`, `1h`, `1h 30m`, `2d`, `2d 4h`.
pub(crate) fn secs(total: u64) -> String {
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let parts: Vec<String> = if d > 0 {
        vec![format!("{d}d"), format!("{h}h")]
    } else if h > 0 {
        vec![format!("{h}h"), format!("{m}m")]
    } else if m > 0 {
        vec![format!("{m}m"), format!("{s}s")]
    } else {
        vec![format!("{s}s")]
    };
    let mut kept: Vec<String> = parts.into_iter().filter(|p| !p.starts_with('0')).collect();
    if kept.is_empty() {
        kept.push("0s".into());
    }
    kept.join(" ")
}

/// Milliseconds for people: `850ms`, `1.2s`, then as [`secs`] from a minute on.
pub(crate) fn millis(ms: i64) -> String {
    match u64::try_from(ms) {
        Err(_) => "-".into(),
        Ok(ms) if ms < 1000 => format!("{ms}ms"),
        Ok(ms) if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        Ok(ms) => secs(ms / 1000),
    }
}

/// A share (0.0123) as a percentage for people: `1.23%`; whole ones plainly (`100%`).
pub(crate) fn rate(share: f64) -> String {
    percent(share * 100.0)
}

/// A percentage (12.5) for people: `12.5%`, `1%`, `0.25%`.
pub(crate) fn percent(p: f64) -> String {
    let text = format!("{p:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print() {
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("30m"), Ok(1800));
        assert_eq!(parse_secs(" 1h "), Ok(3600));
        assert_eq!(parse_secs("2d"), Ok(172_800));
        assert_eq!(parse_secs("1w"), Ok(604_800));
        assert_eq!(parse_secs("0s"), Ok(0));
        for bad in [
            "",
            "h",
            "1",
            "1.5h",
            "-1h",
            "1y",
            "1 h",
            "99999999999999999999w",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(45), "45s");
        assert_eq!(secs(3600), "1h");
        assert_eq!(secs(5400), "1h 30m");
        assert_eq!(secs(172_800), "2d");
        assert_eq!(secs(187_200), "2d 4h");
        assert_eq!(millis(850), "850ms");
        assert_eq!(millis(1234), "1.2s");
        assert_eq!(millis(7_800_000), "2h 10m");
        assert_eq!(millis(-1), "-");
    }

    #[test]
    fn rates_need_their_percent_sign() {
        assert_eq!(parse_rate("2%"), Ok(0.02));
        assert_eq!(parse_rate("0.5%"), Ok(0.005));
        assert!(parse_rate("2").unwrap_err().contains("% sign"));
        assert!(parse_rate("0.02").is_err());
        assert!(parse_rate("101%").is_err());
        assert!(parse_rate("-1%").is_err());
        assert_eq!(parse_gate("off"), Ok(GateFlag(None)));
        assert_eq!(parse_gate("3%"), Ok(GateFlag(Some(0.03))));
        assert_eq!(rate(0.02), "2%");
        assert_eq!(rate(0.0123), "1.23%");
        assert_eq!(rate(0.005), "0.5%");
        assert_eq!(percent(100.0), "100%");
    }

    #[test]
    fn step_percentages_are_zero_to_a_hundred() {
        assert_eq!(parse_percent("10"), Ok(10.0));
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert!(parse_percent("150").is_err());
        assert!(parse_percent("ten").is_err());
    }
}

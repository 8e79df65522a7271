//! Numbers as gate details show them: counts with thousands separators,
//! rates as percentages, durations in minutes.

/// `1234567` as `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate (0.03) as a percentage with one decimal (`3.0 %`).
pub(crate) fn pct(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

/// Seconds as people read a step's age: `45 s`, `40 min`, `3 h 20 min`.
pub(crate) fn minutes(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..7200 => format!("{} min", secs / 60),
        _ if secs % 3600 < 60 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(pct(0.03), "3.0 %");
        assert_eq!(pct(0.02231), "2.2 %");
        assert_eq!(minutes(45), "45 s");
        assert_eq!(minutes(2_400), "40 min");
        assert_eq!(minutes(7_200), "2 h");
        assert_eq!(minutes(12_000), "3 h 20 min");
    }
}

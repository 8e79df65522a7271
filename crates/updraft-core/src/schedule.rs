//! Scheduled deploys as time sees them: whether a recurring window is open
//! at an instant, when it next opens, whether a schedule is due, the rules a
//! window must follow, and the short form people write
//! (`weekdays 02:00-05:00 Europe/Paris`).
//!
//! A window's days are the days it *opens*; an `end` before `start` runs
//! past midnight into the next day. Local times that do not exist (the hour
//! skipped when clocks go forward) are read as the first instant after, so
//! a window wholly inside that hour does not open that day; local times
//! that occur twice are read as the first.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use updraft_protocol::api::Window;

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A window read and checked: its days, times and zone.
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    days: Vec<Weekday>,
    start: NaiveTime,
    end: NaiveTime,
    tz: Tz,
}

fn time(field: &str, s: &str) -> Result<NaiveTime, String> {
    let ok = s.len() == 5 && s.as_bytes()[2] == b':';
    ok.then(|| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .flatten()
        .ok_or_else(|| format!("window {field} {s:?} is not a time HH:MM (00:00 to 23:59)"))
}

fn parse(w: &Window) -> Result<Parsed, String> {
    if w.days.is_empty() {
        return Err("a window needs at least one day (mon … sun)".into());
    }
    let mut days = Vec::new();
    for d in &w.days {
        let day = DAYS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(d))
            .map(|(_, day)| *day)
            .ok_or_else(|| {
                format!("window day {d:?} is not one of mon, tue, wed, thu, fri, sat, sun")
            })?;
        if days.contains(&day) {
            return Err(format!("window day {d:?} is given twice"));
        }
        days.push(day);
    }
    let start = time("start", &w.start)?;
    let end = time("end", &w.end)?;
    if start == end {
        return Err("a window's start and end are the same minute (it would never be open)".into());
    }
    let tz: Tz = w.time_zone.parse().map_err(|_| {
        format!(
            "window time zone {:?} is not an IANA time zone such as Europe/Paris",
            w.time_zone
        )
    })?;
    Ok(Parsed {
        days,
        start,
        end,
        tz,
    })
}

/// Checks a window: known days, each once; `HH:MM` times that differ; an
/// IANA time zone. The error says which field is wrong.
pub fn validate(w: &Window) -> Result<(), String> {
    parse(w).map(|_| ())
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The first instant at or after `date` `t` local time in `tz`.
fn local(tz: Tz, date: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
    let mut naive = date.and_time(t);
    // A time skipped by a clock change: the first minute that exists.
    for _ in 0..180 {
        if let Some(dt) = tz.from_local_datetime(&naive).earliest() {
            return Some(dt.with_timezone(&Utc));
        }
        naive += Duration::minutes(1);
    }
    None
}

/// The opening and closing instants of the window opening on `date`.
fn span(p: &Parsed, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let open = local(p.tz, date, p.start)?;
    let end_date = if p.end > p.start {
        date
    } else {
        date.succ_opt()?
    };
    let close = local(p.tz, end_date, p.end)?;
    Some((open, close))
}

/// Whether the window is open at `now_ms`. A window that does not parse is
/// never open.
pub fn is_open(w: &Window, now_ms: i64) -> bool {
    next_open(w, now_ms) == Some(now_ms)
}

/// The first instant at or after `after_ms` when the window is open:
/// `after_ms` itself when it is open then; `None` for a window that does not
/// parse.
pub fn next_open(w: &Window, after_ms: i64) -> Option<i64> {
    let p = parse(w).ok()?;
    let after = instant(after_ms);
    let today = after.with_timezone(&p.tz).date_naive();
    // From yesterday (a window past midnight may still be open) over two
    // weeks (a window skipped by a clock change waits a week).
    let mut date = today.pred_opt()?;
    for _ in 0..16 {
        if p.days.contains(&date.weekday()) {
            if let Some((open, close)) = span(&p, date) {
                // A window wholly inside a skipped hour does not open that day.
                if open < close && after < close {
                    return Some(open.max(after).timestamp_millis());
                }
            }
        }
        date = date.succ_opt()?;
    }
    None
}

/// When a schedule not before `at_ms` (if any) and only inside `window` (if
/// any) runs, seen at `now_ms`: the first instant at or after both. `None`
/// only for a window that does not parse.
pub fn next_run(at_ms: Option<i64>, window: Option<&Window>, now_ms: i64) -> Option<i64> {
    let from = at_ms.map_or(now_ms, |at| at.max(now_ms));
    match window {
        None => Some(at_ms.unwrap_or(now_ms)),
        Some(w) => next_open(w, from),
    }
}

/// Whether a schedule not before `at_ms` and only inside `window` is due at
/// `now_ms`.
pub fn is_due(at_ms: Option<i64>, window: Option<&Window>, now_ms: i64) -> bool {
    at_ms.is_none_or(|at| at <= now_ms) && window.is_none_or(|w| is_open(w, now_ms))
}

/// Reads the short form of a window: days, a time range and a zone, as in
/// `weekdays 02:00-05:00 Europe/Paris`, `daily 22:00-06:00 UTC`,
/// `sat,sun 09:00-12:00 America/New_York` or `mon-thu 01:00-04:00 Asia/Tokyo`.
/// Days: `daily`, `weekdays`, `weekends`, names, comma lists and ranges.
pub fn parse_window(text: &str) -> Result<Window, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [days, times, zone] = parts.as_slice() else {
        return Err(format!(
            "a window is DAYS HH:MM-HH:MM ZONE, such as \"weekdays 02:00-05:00 Europe/Paris\", not {text:?}"
        ));
    };
    let (start, end) = times
        .split_once('-')
        .ok_or_else(|| format!("{times:?} is not a time range HH:MM-HH:MM"))?;
    let w = Window {
        days: day_list(days)?,
        start: start.to_string(),
        end: end.to_string(),
        time_zone: (*zone).to_string(),
    };
    validate(&w)?;
    Ok(w)
}

fn day_list(spec: &str) -> Result<Vec<String>, String> {
    let index = |name: &str| {
        DAYS.iter()
            .position(|(d, _)| d.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("{name:?} is not a day (mon … sun, daily, weekdays, weekends)"))
    };
    let mut out: Vec<String> = Vec::new();
    for part in spec.split(',') {
        let range = match part.to_ascii_lowercase().as_str() {
            "daily" => 0..=6,
            "weekdays" => 0..=4,
            "weekends" => 5..=6,
            _ => match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (index(a)?, index(b)?);
                    if a > b {
                        return Err(format!("day range {part:?} runs backwards"));
                    }
                    a..=b
                }
                None => {
                    let i = index(part)?;
                    i..=i
                }
            },
        };
        for i in range {
            let name = DAYS[i].0.to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// A window as people read it: `mon,tue,wed,thu,fri 02:00-05:00 Europe/Paris`.
pub fn describe(w: &Window) -> String {
    format!("{} {}-{} {}", w.days.join(","), w.start, w.end, w.time_zone)
}

#[cfg(test)]
mod tests;

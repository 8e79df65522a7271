//! Unit tests of windows: open or not, the next opening (across midnight,
//! weekends and clock changes), the short form, and the rules.

use super::*;

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn paris_nights() -> Window {
    parse_window("weekdays 02:00-05:00 Europe/Paris").unwrap()
}

#[test]
fn a_weekday_window_in_paris_opens_and_closes_in_local_time() {
    let w = paris_nights();
    // Monday 2026-12-07, winter time (UTC+1): 02:00 Paris is 01:00 UTC.
    assert!(!is_open(&w, ms("2026-12-07T00:59:59Z")));
    assert!(is_open(&w, ms("2026-12-07T01:00:00Z")));
    assert!(is_open(&w, ms("2026-12-07T03:59:59Z")));
    assert!(
        !is_open(&w, ms("2026-12-07T04:00:00Z")),
        "closes before 05:00"
    );
    assert_eq!(
        next_open(&w, ms("2026-12-07T04:00:00Z")),
        Some(ms("2026-12-08T01:00:00Z"))
    );
    // Friday after the window: next is Monday.
    assert_eq!(
        next_open(&w, ms("2026-12-11T12:00:00Z")),
        Some(ms("2026-12-14T01:00:00Z"))
    );
    // Summer time (UTC+2): 02:00 Paris is 00:00 UTC.
    assert!(is_open(&w, ms("2026-07-06T00:00:00Z")));
}

#[test]
fn a_window_past_midnight_belongs_to_the_day_it_opens() {
    let w = parse_window("fri 22:00-02:00 UTC").unwrap();
    assert!(is_open(&w, ms("2026-12-11T23:00:00Z")), "Friday night");
    assert!(is_open(&w, ms("2026-12-12T01:59:00Z")), "into Saturday");
    assert!(!is_open(&w, ms("2026-12-12T02:00:00Z")));
    assert!(
        !is_open(&w, ms("2026-12-12T23:00:00Z")),
        "not Saturday night"
    );
}

#[test]
fn a_skipped_local_time_opens_at_the_first_minute_that_exists() {
    // 2026-03-29: Paris skips 02:00-03:00; the window opens at 03:00 local (01:00 UTC).
    let w = parse_window("sun 02:30-04:00 Europe/Paris").unwrap();
    assert_eq!(
        next_open(&w, ms("2026-03-28T12:00:00Z")),
        Some(ms("2026-03-29T01:00:00Z"))
    );
}

#[test]
fn a_window_inside_the_skipped_hour_waits_a_week_and_a_repeated_hour_opens_at_its_first() {
    let w = parse_window("sun 02:00-02:30 Europe/Paris").unwrap();
    assert_eq!(
        next_open(&w, ms("2026-03-28T12:00:00Z")),
        Some(ms("2026-04-05T00:00:00Z")),
        "2026-03-29 has no 02:00-02:30 in Paris"
    );
    // 2026-10-25: Paris repeats 02:00-03:00; 02:30 is first at 00:30 UTC.
    let w = parse_window("sun 02:30-02:45 Europe/Paris").unwrap();
    assert_eq!(
        next_open(&w, ms("2026-10-24T12:00:00Z")),
        Some(ms("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn a_schedule_is_due_after_its_time_and_inside_its_window() {
    let w = paris_nights();
    let monday_night = ms("2026-12-07T01:30:00Z");
    assert!(is_due(None, None, 0));
    assert!(is_due(Some(10), None, 10));
    assert!(!is_due(Some(11), None, 10));
    assert!(is_due(None, Some(&w), monday_night));
    assert!(!is_due(Some(monday_night + 1), Some(&w), monday_night));
    assert_eq!(
        next_run(
            Some(ms("2026-12-07T03:00:00Z")),
            Some(&w),
            ms("2026-12-06T00:00:00Z")
        ),
        Some(ms("2026-12-07T03:00:00Z")),
        "its time, which falls inside the window"
    );
    assert_eq!(
        next_run(Some(ms("2026-12-07T05:00:00Z")), Some(&w), 0),
        Some(ms("2026-12-08T01:00:00Z")),
        "the window's next opening after its time"
    );
    assert_eq!(
        next_run(Some(5), None, 100),
        Some(5),
        "overdue: runs at the next look"
    );
}

#[test]
fn the_short_form_reads_day_lists_and_ranges() {
    let days = |t: &str| parse_window(t).unwrap().days.join(",");
    assert_eq!(days("daily 01:00-02:00 UTC"), "mon,tue,wed,thu,fri,sat,sun");
    assert_eq!(days("weekends 01:00-02:00 UTC"), "sat,sun");
    assert_eq!(days("mon-wed,fri 01:00-02:00 UTC"), "mon,tue,wed,fri");
    assert_eq!(
        describe(&paris_nights()),
        "mon,tue,wed,thu,fri 02:00-05:00 Europe/Paris"
    );
    for (bad, says) in [
        ("weekdays 02:00-05:00", "DAYS HH:MM-HH:MM ZONE"),
        ("funday 02:00-05:00 UTC", "not a day"),
        ("fri-mon 02:00-05:00 UTC", "backwards"),
        ("mon 2:00-05:00 UTC", "HH:MM"),
        ("mon 02:00-24:00 UTC", "HH:MM"),
        ("mon 02:00-02:00 UTC", "same minute"),
        ("mon 02:00-03:00 Mars/Olympus", "IANA"),
    ] {
        let e = parse_window(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let twice = Window {
        days: vec!["mon".into(), "Mon".into()],
        ..paris_nights()
    };
    assert!(validate(&twice).unwrap_err().contains("twice"));
}

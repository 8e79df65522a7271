//! Targeting rules: whether a device matches a channel's or a rollout step's
//! [`Target`], how a rule reads in `explain`, and the limits a stored rule
//! must keep. A fact the device does not have (no country, no custom id, a
//! native version a range cannot read) matches no rule about it, so `not`
//! of such a rule matches.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use semver::VersionReq;
use updraft_protocol::api::{CustomIdRule, NamedCohort, Target};

use crate::text::{MAX_CUSTOM_ID, MAX_NAME};
use crate::validate::{is_uuid, DeviceRequest, Platform};

/// The most ids (device and custom) one rule may list in all.
pub const MAX_IDS: usize = 10_000;

/// The most nodes (rules, nested ones included) one rule may hold.
pub const MAX_NODES: usize = 200;

/// The deepest a rule may nest (`all` in `any` in `not` …).
pub const MAX_DEPTH: usize = 8;

/// What a rule can ask about a device.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Lower-cased UUID.
    pub device_id: &'a str,
    /// Only where the app allows custom ids.
    pub custom_id: Option<&'a str>,
    /// The device's platform.
    pub platform: Platform,
    /// The native version, already read as semver.
    pub native: &'a semver::Version,
    /// Upper-case ISO 3166-1 alpha-2, when the server knows it.
    pub country: Option<&'a str>,
}

impl<'a> Subject<'a> {
    /// The facts of a validated request; `allow_custom_id` is the app's setting.
    pub fn of(req: &'a DeviceRequest, allow_custom_id: bool) -> Self {
        Self {
            device_id: &req.device_id,
            custom_id: req
                .info
                .custom_id
                .as_deref()
                .filter(|c| allow_custom_id && !c.is_empty()),
            platform: req.platform.unwrap_or(Platform::Ios),
            native: &req.native,
            country: req.country.as_deref(),
        }
    }
}

/// A named cohort as rules read it: its ids in sets (device ids lower-case),
/// so a rule naming it costs one lookup whatever its size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CohortSet {
    device_ids: HashSet<String>,
    custom_ids: HashSet<String>,
}

impl From<&NamedCohort> for CohortSet {
    fn from(c: &NamedCohort) -> Self {
        Self {
            device_ids: c.device_ids.iter().map(|d| d.to_lowercase()).collect(),
            custom_ids: c.custom_ids.iter().cloned().collect(),
        }
    }
}

/// The app's named cohorts by name, as rules read them.
pub type Cohorts = HashMap<String, CohortSet>;

/// The cohorts of `named`, by name, as rules read them.
pub fn cohorts_of(named: &[NamedCohort]) -> Cohorts {
    named
        .iter()
        .map(|c| (c.name.clone(), CohortSet::from(c)))
        .collect()
}

/// Whether `s` matches `rule`; a cohort the app does not have matches nobody.
pub fn matches(rule: &Target, s: &Subject<'_>, cohorts: &Cohorts) -> bool {
    match rule {
        Target::All(rules) => rules.iter().all(|r| matches(r, s, cohorts)),
        Target::Any(rules) => rules.iter().any(|r| matches(r, s, cohorts)),
        Target::Not(r) => !matches(r, s, cohorts),
        Target::Platform(names) => names.iter().any(|n| n == s.platform.as_str()),
        Target::Native(range) => VersionReq::parse(range).is_ok_and(|req| req.matches(s.native)),
        Target::Country(codes) => s
            .country
            .is_some_and(|c| codes.iter().any(|x| x.eq_ignore_ascii_case(c))),
        Target::CustomId(rule) => s.custom_id.is_some_and(|c| match rule {
            CustomIdRule::Equals(x) => c == x,
            CustomIdRule::In(xs) => xs.iter().any(|x| x == c),
            CustomIdRule::Prefix(p) => c.starts_with(p.as_str()),
        }),
        Target::DeviceId(ids) => ids.iter().any(|d| d.eq_ignore_ascii_case(s.device_id)),
        Target::Cohort(name) => cohorts.get(name).is_some_and(|c| {
            c.device_ids.contains(&s.device_id.to_ascii_lowercase())
                || s.custom_id.is_some_and(|id| c.custom_ids.contains(id))
        }),
    }
}

/// The rule as `explain` prints it: `country in FR, DE and native >=2`.
pub fn describe(rule: &Target) -> String {
    let mut out = String::new();
    write_rule(&mut out, rule, false);
    out
}

fn write_rule(out: &mut String, rule: &Target, nested: bool) {
    let list = |xs: &[String]| -> String {
        const SHOWN: usize = 5;
        let mut s = xs
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if xs.len() > SHOWN {
            let _ = write!(s, " and {} more", xs.len() - SHOWN);
        }
        s
    };
    match rule {
        Target::All(rules) | Target::Any(rules) if rules.is_empty() => {
            let none = if matches!(rule, Target::All(_)) {
                "every device"
            } else {
                "no device"
            };
            out.push_str(none);
        }
        Target::All(rules) | Target::Any(rules) => {
            let joint = if matches!(rule, Target::All(_)) {
                " and "
            } else {
                " or "
            };
            let wrap = nested && rules.len() > 1;
            if wrap {
                out.push('(');
            }
            for (i, r) in rules.iter().enumerate() {
                if i > 0 {
                    out.push_str(joint);
                }
                write_rule(out, r, true);
            }
            if wrap {
                out.push(')');
            }
        }
        Target::Not(r) => {
            out.push_str("not ");
            write_rule(out, r, true);
        }
        Target::Platform(names) => {
            let _ = write!(out, "platform in {}", list(names));
        }
        Target::Native(range) => {
            let _ = write!(out, "native {range}");
        }
        Target::Country(codes) => {
            let _ = write!(out, "country in {}", list(codes));
        }
        Target::CustomId(CustomIdRule::Equals(x)) => {
            let _ = write!(out, "custom id {x}");
        }
        Target::CustomId(CustomIdRule::In(xs)) => {
            let _ = write!(out, "custom id in {}", list(xs));
        }
        Target::CustomId(CustomIdRule::Prefix(p)) => {
            let _ = write!(out, "custom id starting with {p}");
        }
        Target::DeviceId(ids) => {
            let _ = write!(out, "device id in {}", list(ids));
        }
        Target::Cohort(name) => {
            let _ = write!(out, "cohort {name}");
        }
    }
}

/// The device's facts a rule reads, for `explain`: `country FR, native 1.2.0`.
pub fn facts(rule: &Target, s: &Subject<'_>) -> String {
    let mut read = [false; 5];
    reads(rule, &mut read);
    let mut parts = Vec::new();
    if read[0] {
        parts.push(format!("platform {}", s.platform.as_str()));
    }
    if read[1] {
        parts.push(format!("native {}", s.native));
    }
    if read[2] {
        parts.push(format!("country {}", s.country.unwrap_or("unknown")));
    }
    if read[3] {
        parts.push(format!("custom id {}", s.custom_id.unwrap_or("none")));
    }
    if read[4] {
        parts.push(format!("device id {}", s.device_id));
    }
    parts.join(", ")
}

fn reads(rule: &Target, read: &mut [bool; 5]) {
    match rule {
        Target::All(rules) | Target::Any(rules) => rules.iter().for_each(|r| reads(r, read)),
        Target::Not(r) => reads(r, read),
        Target::Platform(_) => read[0] = true,
        Target::Native(_) => read[1] = true,
        Target::Country(_) => read[2] = true,
        Target::CustomId(_) => read[3] = true,
        Target::DeviceId(_) => read[4] = true,
        Target::Cohort(_) => {
            read[3] = true;
            read[4] = true;
        }
    }
}

/// The cohorts a rule names, each once, in the order they appear.
pub fn cohorts_named(rule: &Target) -> Vec<&str> {
    let mut out = Vec::new();
    collect_cohorts(rule, &mut out);
    out
}

fn collect_cohorts<'r>(rule: &'r Target, out: &mut Vec<&'r str>) {
    match rule {
        Target::All(rules) | Target::Any(rules) => {
            rules.iter().for_each(|r| collect_cohorts(r, out));
        }
        Target::Not(r) => collect_cohorts(r, out),
        Target::Cohort(name) if !out.contains(&name.as_str()) => out.push(name),
        _ => {}
    }
}

/// Checks a rule before it is stored: known platforms, ranges semver can
/// read, two-letter countries, UUID device ids, custom ids and names as the
/// rest of the API takes them, no empty list a user would not mean, and at
/// most [`MAX_NODES`] rules, [`MAX_DEPTH`] levels and [`MAX_IDS`] ids. The
/// error names where in the rule it is.
pub fn validate(rule: &Target) -> Result<(), String> {
    let mut budget = Budget::default();
    check(rule, 1, &mut budget)
}

#[derive(Default)]
struct Budget {
    nodes: usize,
    ids: usize,
}

fn check(rule: &Target, depth: usize, b: &mut Budget) -> Result<(), String> {
    b.nodes += 1;
    if b.nodes > MAX_NODES {
        return Err(format!("a rule holds at most {MAX_NODES} rules"));
    }
    if depth > MAX_DEPTH {
        return Err(format!("a rule nests at most {MAX_DEPTH} levels"));
    }
    let mut ids = |n: usize| {
        b.ids = b.ids.saturating_add(n);
        if b.ids > MAX_IDS {
            Err(format!("a rule lists at most {MAX_IDS} ids in all"))
        } else {
            Ok(())
        }
    };
    match rule {
        Target::All(rules) | Target::Any(rules) => {
            for r in rules {
                check(r, depth + 1, b)?;
            }
            Ok(())
        }
        Target::Not(r) => check(r, depth + 1, b),
        Target::Platform(names) => {
            non_empty("platform", names)?;
            match names.iter().find(|n| Platform::parse(n).is_none()) {
                Some(bad) => Err(format!("platform: {bad:?} is not ios, android or electron")),
                None => Ok(()),
            }
        }
        Target::Native(range) => {
            crate::text::line("native range", Some(range), MAX_NAME).map_err(|e| e.to_string())?;
            VersionReq::parse(range)
                .map(|_| ())
                .map_err(|e| format!("native: {range:?} is not a semver range ({e})"))
        }
        Target::Country(codes) => {
            non_empty("country", codes)?;
            ids(codes.len())?;
            match codes.iter().find(|c| country_code(c).is_none()) {
                Some(bad) => Err(format!(
                    "country: {bad:?} is not a two-letter ISO 3166-1 code"
                )),
                None => Ok(()),
            }
        }
        Target::CustomId(rule) => {
            let values: Vec<&String> = match rule {
                CustomIdRule::Equals(x) | CustomIdRule::Prefix(x) => vec![x],
                CustomIdRule::In(xs) => {
                    non_empty("custom_id.in", xs)?;
                    xs.iter().collect()
                }
            };
            ids(values.len())?;
            for v in values {
                if v.is_empty() {
                    return Err("custom_id: a custom id is empty".into());
                }
                crate::text::line("custom_id", Some(v), MAX_CUSTOM_ID)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Target::DeviceId(list) => {
            non_empty("device_id", list)?;
            ids(list.len())?;
            match list.iter().find(|d| !is_uuid(d)) {
                Some(bad) => Err(format!("device_id: {bad:?} is not a UUID")),
                None => Ok(()),
            }
        }
        Target::Cohort(name) => cohort_name(name),
    }
}

fn non_empty(field: &str, xs: &[String]) -> Result<(), String> {
    if xs.is_empty() {
        Err(format!(
            "{field}: the list is empty (it would match no device)"
        ))
    } else {
        Ok(())
    }
}

/// A country code as rules and the server take it: two ASCII letters,
/// upper-cased; `XX` (Cloudflare's "unknown") and anything else are none.
pub fn country_code(raw: &str) -> Option<String> {
    let c = raw.trim();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) && !c.eq_ignore_ascii_case("xx"))
        .then(|| c.to_ascii_uppercase())
}

/// A cohort name: 1 to 64 characters of letters, digits, `-`, `_` and `.`
/// (it goes in URL paths).
pub fn cohort_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cohort name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

/// Checks a named cohort's members: UUID device ids, custom ids as the API
/// takes them, at most [`MAX_IDS`] in all.
pub fn validate_members(device_ids: &[String], custom_ids: &[String]) -> Result<(), String> {
    if device_ids.len().saturating_add(custom_ids.len()) > MAX_IDS {
        return Err(format!("a cohort holds at most {MAX_IDS} ids"));
    }
    if let Some(bad) = device_ids.iter().find(|d| !is_uuid(d)) {
        return Err(format!("device id {bad:?} is not a UUID"));
    }
    for id in custom_ids {
        if id.is_empty() {
            return Err("a custom id is empty".into());
        }
        crate::text::line("custom id", Some(id), MAX_CUSTOM_ID).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

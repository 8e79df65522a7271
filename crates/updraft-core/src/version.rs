//! Version handling: Capgo's `fixSemver` coercion of native versions, and the
//! strict semver rule for bundle names.

use semver::Version;

/// Coerces a native `version_build` the way Capgo does (`builtin`/`unknown` →
/// `0.0.0`, `1` → `1.0.0`, `1.2` → `1.2.0`), also accepting a leading `v`.
/// Returns `None` when the value cannot be read as semver.
pub fn coerce_native(raw: &str) -> Option<Version> {
    let s = raw.trim();
    if s == "builtin" || s == "unknown" {
        return Some(Version::new(0, 0, 0));
    }
    let s = s.strip_prefix('v').unwrap_or(s);
    if let Ok(v) = Version::parse(s) {
        return Some(v);
    }
    // Short forms: "1" and "1.2", optionally with a pre-release or build suffix.
    let split_at = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(split_at);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut full = parts.join(".");
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    full.push_str(rest);
    Version::parse(&full).ok()
}

/// Parses a bundle version name: strict semver, without a leading `v`.
pub fn parse_bundle_version(name: &str) -> Option<Version> {
    Version::parse(name).ok()
}

/// Whether a bundle name is one of the reserved, non-semver names.
pub(crate) fn is_reserved_name(name: &str) -> bool {
    name == "builtin" || name == "unknown"
}

/// Plugin version gate: "new" channel semantics (device keeps its channel
/// locally) from 5.34.0 / 6.34.0 / 7.34.0 and any 8.x (ERRATA note F).
/// A missing version counts as new; an unparseable one counts as old.
pub fn plugin_stores_channel_locally(plugin_version: Option<&str>) -> bool {
    let Some(raw) = plugin_version else {
        return true;
    };
    let Some(v) = coerce_native(raw) else {
        return false;
    };
    match v.major {
        5 => v >= Version::new(5, 34, 0),
        6 => v >= Version::new(6, 34, 0),
        7 => v >= Version::new(7, 34, 0),
        _ => true,
    }
}

/// Whether the plugin checks the device `key_id` against the bundle's (Capgo:
/// only plugins newer than 8.40.7).
pub(crate) fn plugin_checks_key_id(plugin_version: &Version) -> bool {
    *plugin_version > Version::new(8, 40, 7)
}

/// Plugin 4.x is refused (`unsupported_plugin_version`), as Capgo does.
pub(crate) fn plugin_is_unsupported(plugin_version: &Version) -> bool {
    plugin_version.major == 4
}

/// Manifest (delta) replies need plugin 5.10.0, 6.25.0, 7.0.35 or later (any
/// 8.x). Capgo's Electron updater reports 0.0.1 and so never gets one.
pub(crate) fn plugin_supports_manifest(plugin_version: &Version) -> bool {
    let v = plugin_version;
    match v.major {
        0..=4 => false,
        5 => *v >= Version::new(5, 10, 0),
        6 => *v >= Version::new(6, 25, 0),
        7 => *v >= Version::new(7, 0, 35),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_like_capgo() {
        let c = |s| coerce_native(s).map(|v| v.to_string());
        assert_eq!(c("builtin").as_deref(), Some("0.0.0"));
        assert_eq!(c("unknown").as_deref(), Some("0.0.0"));
        assert_eq!(c("1").as_deref(), Some("1.0.0"));
        assert_eq!(c("1.2").as_deref(), Some("1.2.0"));
        assert_eq!(c("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(c("v2.0.1").as_deref(), Some("2.0.1"));
        assert_eq!(c("1.2-beta.1").as_deref(), Some("1.2.0-beta.1"));
        assert_eq!(c("1.2.3.4"), None);
        assert_eq!(c("abc"), None);
        assert_eq!(c(""), None);
    }

    #[test]
    fn channel_storage_gate() {
        assert!(plugin_stores_channel_locally(Some("8.0.0")));
        assert!(plugin_stores_channel_locally(Some("7.34.0")));
        assert!(!plugin_stores_channel_locally(Some("7.33.4")));
        assert!(!plugin_stores_channel_locally(Some("6.25.8")));
        assert!(plugin_stores_channel_locally(None));
        assert!(!plugin_stores_channel_locally(Some("garbage")));
        assert!(plugin_stores_channel_locally(Some("0.0.1")));
    }
}

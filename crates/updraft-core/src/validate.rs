//! Normalisation and validation of plugin requests, in Capgo's order
//! (reference/capgo-backend.md §1.0, ERRATA item 17). Every failure here is an
//! HTTP 400 with `{"error","message","moreInfo"}`.

use semver::Version;
use updraft_protocol::device::{InfoObject, StatsEvent};

use crate::text::{self, TextError};

/// Which endpoint a request is for; the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /updates`.
    Updates,
    /// `/channel_self`, any method.
    ChannelSelf,
    /// `POST /stats`.
    Stats,
}

/// A device platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// `ios`.
    Ios,
    /// `android`.
    Android,
    /// `electron` (Capgo's Electron updater).
    Electron,
}

impl Platform {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ios" => Some(Self::Ios),
            "android" => Some(Self::Android),
            "electron" => Some(Self::Electron),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ios => "ios",
            Self::Android => "android",
            Self::Electron => "electron",
        }
    }
}

/// A validation failure: code and message as Capgo sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Capgo's error code, e.g. `missing_device_id`.
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
}

impl Invalid {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A request that passed validation, with every field normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRequest {
    /// The app's reverse-domain id.
    pub app_id: String,
    /// Lower-cased UUID.
    pub device_id: String,
    /// `None` only for `/stats`, where any platform string is accepted.
    pub platform: Option<Platform>,
    /// The `platform` as sent (any string on `/stats`).
    pub platform_raw: String,
    /// The running bundle; `builtin` already replaced by `version_build`.
    pub version_name: String,
    /// The native version, normalised to semver text.
    pub version_build: String,
    /// `version_build` parsed as semver.
    pub native: Version,
    /// The plugin's version as sent (semver on `/updates`).
    pub plugin_version: Option<String>,
    /// `is_emulator`, `false` when absent.
    pub is_emulator: bool,
    /// `is_prod`, `true` when absent.
    pub is_prod: bool,
    /// `None` when absent or empty (an empty `defaultChannel` means "none").
    pub default_channel: Option<String>,
    /// The body as received, with `device_id` lower-cased.
    pub info: InfoObject,
    /// The device's country (upper-case ISO 3166-1 alpha-2): never from the
    /// body; the server sets it from its trusted proxy's header or its geo
    /// database ([`None`] when unknown). Targeting rules read it.
    pub country: Option<String>,
}

impl DeviceRequest {
    /// Whether the device runs its builtin bundle (the plugin then reports its
    /// native version as `version_name`).
    pub(crate) fn on_builtin(&self) -> bool {
        self.version_name == self.version_build
            || self.info.version_build.as_deref() == Some(self.version_name.as_str())
    }

    /// The plugin version as semver, if it parses.
    pub(crate) fn plugin_semver(&self) -> Option<Version> {
        self.plugin_version
            .as_deref()
            .and_then(crate::version::coerce_native)
    }
}

/// Whether `s` is a reverse-domain app id (`/^[a-z0-9]+(\.[\w-]+)+$/i`).
pub fn is_valid_app_id(s: &str) -> bool {
    let mut parts = s.split('.');
    let first = parts.next().unwrap_or("");
    if first.is_empty() || !first.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let mut rest = 0;
    for p in parts {
        if p.is_empty()
            || !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return false;
        }
        rest += 1;
    }
    rest >= 1
}

/// Whether `s` is a UUID in the 8-4-4-4-12 hex form.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl From<TextError> for Invalid {
    fn from(e: TextError) -> Self {
        Invalid::new("invalid_json_body", e.to_string())
    }
}

/// Checks every string of the InfoObject against [`text`]'s rules, before
/// any of them is echoed in an error or used.
fn check_strings(i: &InfoObject, endpoint: Endpoint) -> Result<(), Invalid> {
    use text::*;
    let custom_id_max = if endpoint == Endpoint::Stats {
        MAX_CUSTOM_ID_STATS
    } else {
        MAX_CUSTOM_ID
    };
    let fields: [(&str, &Option<String>, usize); 14] = [
        ("app_id", &i.app_id, MAX_APP_ID),
        ("device_id", &i.device_id, 36),
        ("platform", &i.platform, MAX_NAME),
        ("version_name", &i.version_name, MAX_VERSION),
        ("version_build", &i.version_build, MAX_VERSION),
        ("version_code", &i.version_code, MAX_VERSION),
        ("version_os", &i.version_os, MAX_VERSION),
        ("plugin_version", &i.plugin_version, MAX_VERSION),
        ("custom_id", &i.custom_id, custom_id_max),
        ("install_source", &i.install_source, MAX_INSTALL_SOURCE),
        ("defaultChannel", &i.default_channel, MAX_NAME),
        ("key_id", &i.key_id, MAX_KEY_ID),
        ("channel", &i.channel, MAX_NAME),
        ("action", &i.action, MAX_NAME),
    ];
    for (field, value, max) in fields {
        line(field, value.as_deref(), max)?;
    }
    Ok(())
}

/// Checks the fields a stats event adds to the InfoObject (`old_version_name`,
/// `message`, `metadata`); the InfoObject itself is checked by [`validate`].
pub fn validate_stats_fields(ev: &StatsEvent) -> Result<(), Invalid> {
    text::line(
        "old_version_name",
        ev.old_version_name.as_deref(),
        text::MAX_VERSION,
    )?;
    text::free_text("message", ev.message.as_deref(), text::MAX_MESSAGE)?;
    text::metadata(ev.metadata.as_ref())?;
    Ok(())
}

/// Normalises and validates one request body for `endpoint`.
pub fn validate(mut info: InfoObject, endpoint: Endpoint) -> Result<DeviceRequest, Invalid> {
    if info == InfoObject::default() {
        return Err(Invalid::new("invalid_json_body", "Cannot parse body"));
    }
    check_strings(&info, endpoint)?;
    let device_id = match info.device_id.as_deref() {
        Some(d) if !d.is_empty() => d.to_ascii_lowercase(),
        _ => return Err(Invalid::new("missing_device_id", "Cannot find device_id")),
    };
    info.device_id = Some(device_id.clone());
    let app_id = match info.app_id.as_deref() {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return Err(Invalid::new("missing_app_id", "Cannot find app_id")),
    };
    let raw_build = info.version_build.clone().unwrap_or_default();
    let native = if raw_build.is_empty() {
        if endpoint == Endpoint::Updates {
            return Err(Invalid::new(
                "invalid_json_body",
                "version_build is required",
            ));
        }
        Version::new(0, 0, 0)
    } else {
        crate::version::coerce_native(&raw_build).ok_or_else(|| {
            Invalid::new(
                "semver_error",
                format!("Native version: {raw_build} doesn't follow semver convention, please check https://capgo.app/semver_tester/ to learn more about semver usage in Capgo"),
            )
        })?
    };
    let version_build = native.to_string();
    let is_emulator = info.is_emulator.unwrap_or(false);
    let is_prod = info.is_prod.unwrap_or(true);
    let mut version_name = info.version_name.clone().unwrap_or_default();
    if version_name == "builtin" {
        version_name = version_build.clone();
    }

    if !is_valid_app_id(&app_id) {
        return Err(Invalid::new(
            "invalid_json_body",
            "app_id must be in reverse-domain form, e.g. com.example.app",
        ));
    }
    if !is_uuid(&device_id) {
        return Err(Invalid::new(
            "invalid_json_body",
            "device_id must be a UUID",
        ));
    }
    let platform_raw = info.platform.clone().unwrap_or_default();
    let platform = Platform::parse(&platform_raw);
    if endpoint != Endpoint::Stats && platform.is_none() {
        return Err(Invalid::new(
            "invalid_json_body",
            "platform must be one of: ios, android, electron",
        ));
    }
    if endpoint == Endpoint::Stats && platform_raw.is_empty() {
        return Err(Invalid::new("invalid_json_body", "platform is required"));
    }
    if endpoint == Endpoint::Updates {
        if version_name.is_empty() {
            return Err(Invalid::new(
                "invalid_json_body",
                "version_name is required",
            ));
        }
        match info.plugin_version.as_deref() {
            Some(p) if semver::Version::parse(p).is_ok() => {}
            _ => {
                return Err(Invalid::new(
                    "invalid_json_body",
                    "plugin_version must be a semver version such as 8.0.0",
                ))
            }
        }
    }
    let default_channel = info.default_channel.clone().filter(|c| !c.is_empty());
    Ok(DeviceRequest {
        app_id,
        device_id,
        platform,
        platform_raw,
        version_name,
        version_build,
        native,
        plugin_version: info.plugin_version.clone(),
        is_emulator,
        is_prod,
        default_channel,
        info,
        country: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> InfoObject {
        InfoObject {
            app_id: Some("com.example.app".into()),
            device_id: Some("A1B2C3D4-0000-4000-8000-000000000001".into()),
            platform: Some("ios".into()),
            version_name: Some("builtin".into()),
            version_build: Some("1.2".into()),
            plugin_version: Some("8.51.14".into()),
            ..Default::default()
        }
    }

    #[test]
    fn normalises_like_capgo() {
        let r = validate(base(), Endpoint::Updates).unwrap();
        assert_eq!(r.device_id, "a1b2c3d4-0000-4000-8000-000000000001");
        assert_eq!(r.version_build, "1.2.0");
        assert_eq!(r.version_name, "1.2.0");
        assert!(r.is_prod);
        assert!(!r.is_emulator);
        assert!(r.on_builtin());
    }

    #[test]
    fn rejects_in_capgo_order() {
        let code = |i: InfoObject| validate(i, Endpoint::Updates).unwrap_err().code;
        assert_eq!(code(InfoObject::default()), "invalid_json_body");
        assert_eq!(
            code(InfoObject {
                device_id: None,
                ..base()
            }),
            "missing_device_id"
        );
        assert_eq!(
            code(InfoObject {
                app_id: None,
                ..base()
            }),
            "missing_app_id"
        );
        assert_eq!(
            code(InfoObject {
                version_build: Some("x.y".into()),
                ..base()
            }),
            "semver_error"
        );
        assert_eq!(
            code(InfoObject {
                app_id: Some("nodots".into()),
                ..base()
            }),
            "invalid_json_body"
        );
        assert_eq!(
            code(InfoObject {
                device_id: Some("not-a-uuid".into()),
                ..base()
            }),
            "invalid_json_body"
        );
        assert_eq!(
            code(InfoObject {
                platform: Some("windows".into()),
                ..base()
            }),
            "invalid_json_body"
        );
        assert_eq!(
            code(InfoObject {
                plugin_version: None,
                ..base()
            }),
            "invalid_json_body"
        );
        assert_eq!(
            code(InfoObject {
                key_id: Some("x".repeat(21)),
                ..base()
            }),
            "invalid_json_body"
        );
    }

    #[test]
    fn stats_accepts_any_platform_and_limits_custom_id() {
        let mut i = base();
        i.platform = Some("windows".into());
        assert!(validate(i.clone(), Endpoint::Stats).is_ok());
        i.custom_id = Some("x".repeat(37));
        assert_eq!(
            validate(i, Endpoint::Stats).unwrap_err().code,
            "invalid_json_body"
        );
    }

    #[test]
    fn every_string_field_refuses_nul_and_excess_length() {
        type Setter = fn(&mut InfoObject, String);
        let setters: [(&str, Setter); 10] = [
            ("app_id", |i, v| i.app_id = Some(v)),
            ("device_id", |i, v| i.device_id = Some(v)),
            ("version_name", |i, v| i.version_name = Some(v)),
            ("version_build", |i, v| i.version_build = Some(v)),
            ("version_os", |i, v| i.version_os = Some(v)),
            ("plugin_version", |i, v| i.plugin_version = Some(v)),
            ("custom_id", |i, v| i.custom_id = Some(v)),
            ("defaultChannel", |i, v| i.default_channel = Some(v)),
            ("channel", |i, v| i.channel = Some(v)),
            ("action", |i, v| i.action = Some(v)),
        ];
        for endpoint in [Endpoint::Updates, Endpoint::ChannelSelf, Endpoint::Stats] {
            for (field, set) in setters {
                let mut i = base();
                set(&mut i, "x\u{0}y".into());
                let e = validate(i, endpoint).unwrap_err();
                assert_eq!(e.code, "invalid_json_body", "{field}");
                assert!(e.message.starts_with(field), "{field}: {}", e.message);
                let mut i = base();
                set(&mut i, "1".repeat(300));
                let e = validate(i, endpoint).unwrap_err();
                assert!(e.message.contains("at most"), "{field}: {}", e.message);
            }
        }
        let mut i = base();
        i.custom_id = Some("c".repeat(100));
        assert!(
            validate(i.clone(), Endpoint::Updates).is_ok(),
            "Capgo has no custom_id limit here"
        );
        assert!(validate(i, Endpoint::Stats).is_err(), "but 36 in /stats");
    }

    #[test]
    fn stats_fields_are_checked() {
        let mut ev = StatsEvent {
            info: base(),
            ..Default::default()
        };
        assert!(validate_stats_fields(&ev).is_ok());
        ev.old_version_name = Some("1.0.0\u{0}".into());
        assert!(validate_stats_fields(&ev)
            .unwrap_err()
            .message
            .starts_with("old_version_name"));
        ev.old_version_name = None;
        ev.message = Some("boom\u{0}".into());
        assert!(validate_stats_fields(&ev)
            .unwrap_err()
            .message
            .starts_with("message"));
        ev.message = None;
        ev.metadata = serde_json::json!({"a": "\u{0}"}).as_object().cloned();
        assert!(validate_stats_fields(&ev)
            .unwrap_err()
            .message
            .starts_with("metadata"));
    }

    #[test]
    fn app_id_rule() {
        assert!(is_valid_app_id("com.example.app"));
        assert!(is_valid_app_id("io.ionic.starter_app-2"));
        assert!(!is_valid_app_id("com"));
        assert!(!is_valid_app_id("com..x"));
        assert!(!is_valid_app_id("co_m.x"));
        assert!(!is_valid_app_id("com.ex ample"));
    }
}

//! Character and length rules for every string a device sends. They are
//! checked at the edge, before anything is queued for the database: a NUL is
//! refused by PostgreSQL, and a string without bound grows every row written
//! from it. Limits follow Capgo where it has one (reference/capgo-backend.md
//! §1.0 and its errata) and are generous bounds elsewhere.

use serde_json::{Map, Value};

/// Longest `app_id` (reverse-domain ids are far shorter in practice).
pub const MAX_APP_ID: usize = 128;
/// Longest version-like field (`version_name`, `version_build`, `version_code`,
/// `version_os`, `plugin_version`, `old_version_name`).
pub(crate) const MAX_VERSION: usize = 256;
/// Longest `custom_id` in `/stats` (Capgo's limit).
pub(crate) const MAX_CUSTOM_ID_STATS: usize = 36;
/// Longest `custom_id` on `/updates` and `/channel_self`, where Capgo sets none.
pub(crate) const MAX_CUSTOM_ID: usize = 255;
/// Longest `key_id` (Capgo: the first 20 characters of the public key).
pub(crate) const MAX_KEY_ID: usize = 20;
/// Longest `install_source` (Capgo's limit).
pub(crate) const MAX_INSTALL_SOURCE: usize = 64;
/// Longest `platform`, `defaultChannel`, `channel` and `action`.
pub(crate) const MAX_NAME: usize = 128;
/// Longest free-text `message` of a stats event.
pub(crate) const MAX_MESSAGE: usize = 4096;
/// Largest `metadata` object of a stats event, as JSON text in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Why a string was refused: the field and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Longer than the field allows.
    #[error("{field} must be at most {max} characters")]
    TooLong {
        /// The field's wire name.
        field: String,
        /// Its limit, in characters.
        max: usize,
    },
    /// A control character (NUL, newline, escape, ...) in a one-line field.
    #[error("{field} must not contain control characters (found U+{code:04X})")]
    Control {
        /// The field's wire name.
        field: String,
        /// The first control character found (its code point).
        code: u32,
    },
    /// A NUL character in free text (PostgreSQL refuses it in text columns).
    #[error("{field} must not contain NUL characters")]
    Nul {
        /// The field's wire name.
        field: String,
    },
    /// Event metadata larger than allowed once serialised.
    #[error("metadata must be at most {max} bytes as JSON")]
    MetadataTooLarge {
        /// The limit, in bytes of JSON.
        max: usize,
    },
}

/// A one-line field (identifiers, versions, names): at most `max` characters,
/// no control character at all (NUL, newlines, escapes).
pub fn line(field: &str, value: Option<&str>, max: usize) -> Result<(), TextError> {
    let Some(v) = value else { return Ok(()) };
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(TextError::Control {
            field: field.to_string(),
            code: c as u32,
        });
    }
    if v.chars().count() > max {
        return Err(TextError::TooLong {
            field: field.to_string(),
            max,
        });
    }
    Ok(())
}

/// Free text (a message): at most `max` characters and no NUL; newlines are fine.
pub(crate) fn free_text(field: &str, value: Option<&str>, max: usize) -> Result<(), TextError> {
    let Some(v) = value else { return Ok(()) };
    if v.contains('\0') {
        return Err(TextError::Nul {
            field: field.to_string(),
        });
    }
    if v.chars().count() > max {
        return Err(TextError::TooLong {
            field: field.to_string(),
            max,
        });
    }
    Ok(())
}

/// A metadata object: no NUL in any key or string (however deep), and at most
/// [`MAX_METADATA_BYTES`] once serialised.
pub fn metadata(value: Option<&Map<String, Value>>) -> Result<(), TextError> {
    let Some(m) = value else { return Ok(()) };
    fn walk(path: &str, v: &Value) -> Result<(), TextError> {
        match v {
            Value::String(s) => free_text(path, Some(s), usize::MAX),
            Value::Array(items) => items.iter().try_for_each(|i| walk(path, i)),
            Value::Object(o) => o.iter().try_for_each(|(k, v)| {
                free_text(&format!("{path} key"), Some(k), usize::MAX)?;
                walk(&format!("{path}.{k}"), v)
            }),
            _ => Ok(()),
        }
    }
    for (k, v) in m {
        free_text("metadata key", Some(k), usize::MAX)?;
        walk(&format!("metadata.{}", k.escape_debug()), v)?;
    }
    let size = serde_json::to_string(m)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(TextError::MetadataTooLarge {
            max: MAX_METADATA_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_refuse_control_characters_and_length() {
        assert!(line("x", None, 3).is_ok());
        assert!(line("x", Some("abc"), 3).is_ok());
        assert!(line("x", Some("ééé"), 3).is_ok(), "characters, not bytes");
        assert_eq!(
            line("action", Some("x\u{0}y"), 10).unwrap_err().to_string(),
            "action must not contain control characters (found U+0000)"
        );
        assert!(line("x", Some("a\nb"), 10).is_err());
        assert!(line("x", Some("a\u{7f}"), 10).is_err());
        assert_eq!(
            line("x", Some("abcd"), 3).unwrap_err(),
            TextError::TooLong {
                field: "x".into(),
                max: 3
            }
        );
    }

    #[test]
    fn free_text_allows_newlines_but_not_nul() {
        assert!(free_text("message", Some("line 1\nline 2"), 100).is_ok());
        assert!(free_text("message", Some("a\0"), 100).is_err());
        assert!(free_text("message", Some("abc"), 2).is_err());
    }

    #[test]
    fn metadata_is_walked_and_bounded() {
        let m = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert!(metadata(Some(&m(json!({"a": "b", "n": 1})))).is_ok());
        assert!(metadata(Some(&m(json!({"a": {"b": ["x\u{0}"]}})))).is_err());
        assert!(metadata(Some(&m(json!({"k\u{0}": "v"})))).is_err());
        let big = "x".repeat(MAX_METADATA_BYTES);
        assert_eq!(
            metadata(Some(&m(json!({ "a": big })))).unwrap_err(),
            TextError::MetadataTooLarge {
                max: MAX_METADATA_BYTES
            }
        );
    }
}

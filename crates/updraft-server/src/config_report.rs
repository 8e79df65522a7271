//! What `updraft-server check-config` prints: every setting the server reads,
//! with its effective value and the layer it came from (default, file,
//! environment or flag), secrets redacted. The list is the configuration
//! file's shape ([`Layer`]) taken from the struct itself, so a new setting
//! appears here without a second list to keep.

use std::path::PathBuf;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{Config, Layer, DEFAULT_LOG_FILTER};

/// The layers a configuration is made of, kept apart to say where each
/// setting came from.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    pub file: Option<(PathBuf, Layer)>,
    pub env: Layer,
    pub flags: Layer,
}

impl Layers {
    /// Defaults → file → environment → flags, validated.
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let file = self
            .file
            .as_ref()
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        Layer::default()
            .merge(file)
            .merge(self.env.clone())
            .merge(self.flags.clone())
            .resolve()
    }
}

/// One setting as `check-config` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub name: String,
    /// The effective value (secrets redacted); `null` when not set.
    pub value: Value,
    /// `default`, `file`, `env` or `flag`.
    pub source: &'static str,
    /// The environment variable that sets it.
    pub env: String,
}

/// A JSON object's members in document order (`serde_json::Map` sorts them).
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

fn is_set(layer: &Layer, name: &str) -> anyhow::Result<bool> {
    Ok(!serde_json::to_value(layer)?[name].is_null())
}

/// Every setting of `config`, in the order of [`Layer`]'s fields.
pub fn settings(config: &Config, layers: &Layers) -> anyhow::Result<Vec<Setting>> {
    let Members(members) = serde_json::from_str(&serde_json::to_string(&config.redacted())?)?;
    let file = layers.file.as_ref().map(|(_, l)| l);
    members
        .into_iter()
        .map(|(name, value)| {
            let source = if is_set(&layers.flags, &name)? {
                "flag"
            } else if is_set(&layers.env, &name)? {
                "env"
            } else if file.map(|f| is_set(f, &name)).transpose()? == Some(true) {
                "file"
            } else {
                "default"
            };
            let env = format!("UPDRAFT_{}", name.to_ascii_uppercase());
            Ok(Setting {
                name,
                value,
                source,
                env,
            })
        })
        .collect()
}

/// The log filter in effect (`RUST_LOG` or the default) and where it came from.
fn log_filter(rust_log: Option<&str>) -> (&str, &'static str) {
    match rust_log {
        Some(f) => (f, "env"),
        None => (DEFAULT_LOG_FILTER, "default"),
    }
}

/// The `--json` document.
pub fn to_json(settings: &[Setting], layers: &Layers, rust_log: Option<&str>) -> Value {
    let (filter, source) = log_filter(rust_log);
    json!({
        "valid": true,
        "config_file": layers.file.as_ref().map(|(p, _)| p.display().to_string()),
        "settings": settings,
        "log_filter": {"value": filter, "source": source, "env": "RUST_LOG"},
    })
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "(not set)".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "(none)".into(),
        Value::Array(a) => a.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The text report: one setting a line, `name  value  (where from)`.
pub fn to_text(settings: &[Setting], layers: &Layers, rust_log: Option<&str>) -> String {
    let mut out = String::from("configuration is valid\n");
    match &layers.file {
        Some((p, _)) => out.push_str(&format!("config file: {}\n\n", p.display())),
        None => out.push_str("config file: none (--config or UPDRAFT_CONFIG)\n\n"),
    }
    let width = settings.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in settings {
        let from = match s.source {
            "env" => format!("from {}", s.env),
            "flag" => format!("from --{}", s.name.replace('_', "-")),
            "file" => "from the config file".to_string(),
            _ => "default".to_string(),
        };
        let value = shown(&s.value);
        out.push_str(&format!("  {:<width$}  {value}  ({from})\n", s.name));
    }
    let (filter, source) = log_filter(rust_log);
    let from = if source == "env" {
        "from RUST_LOG"
    } else {
        "the default; set RUST_LOG to change it"
    };
    out.push_str(&format!("\nlog filter: {filter}  ({from})\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Layers {
        Layers {
            file: Some((
                PathBuf::from("/etc/updraft.toml"),
                toml::from_str("event_retention_days = 7\nlisten = \"127.0.0.1:9000\"").unwrap(),
            )),
            env: Layer::from_env(|k| match k {
                "UPDRAFT_LISTEN" => Some("127.0.0.1:9100".into()),
                "UPDRAFT_DATABASE_URL" => Some("postgres://ops:hunter2hunter2@db/updraft".into()),
                "UPDRAFT_BOOTSTRAP_API_KEY" => Some("bootstrap_secret_0123456789abcdef".into()),
                _ => None,
            })
            .unwrap(),
            flags: Layer {
                data_dir: Some("/srv/updraft".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn every_setting_is_shown_with_its_source_and_no_secret() {
        let layers = layers();
        let config = layers.resolve().unwrap();
        let settings = settings(&config, &layers).unwrap();
        let all = serde_json::to_value(Layer::default()).unwrap();
        let names: Vec<&str> = settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), all.as_object().unwrap().len());
        for name in all.as_object().unwrap().keys() {
            assert!(names.contains(&name.as_str()), "{name} is missing");
        }
        assert_eq!(names[0], "listen", "in the struct's order");
        let get = |n: &str| settings.iter().find(|s| s.name == n).unwrap();
        assert_eq!(get("listen").value, "127.0.0.1:9100");
        assert_eq!(
            get("listen").source,
            "env",
            "the environment wins over the file"
        );
        assert_eq!(get("event_retention_days").value, 7);
        assert_eq!(get("event_retention_days").source, "file");
        assert_eq!(get("data_dir").source, "flag");
        assert_eq!(get("write_queue").source, "default");
        assert_eq!(get("write_queue").value, 100_000);
        assert_eq!(get("header_timeout_secs").value, 30);
        assert_eq!(get("public_url").value, Value::Null);
        assert_eq!(get("log_format").value, "text");
        assert_eq!(get("bootstrap_api_key").source, "env");
        let text = to_text(&settings, &layers, None);
        let json = to_json(&settings, &layers, Some("debug")).to_string();
        for out in [&text, &json] {
            assert!(!out.contains("hunter2"), "{out}");
            assert!(!out.contains("bootstrap_secret"), "{out}");
            assert!(out.contains("postgres://ops:***@db/updraft"), "{out}");
        }
        assert!(text.contains("(from UPDRAFT_LISTEN)"), "{text}");
        assert!(text.contains("(from --data-dir)"), "{text}");
        assert!(text.contains("config file: /etc/updraft.toml"), "{text}");
        assert!(text.contains("log filter: info,sqlx=warn"), "{text}");
        assert!(
            json.contains(r#""log_filter":{"env":"RUST_LOG","source":"env","value":"debug"}"#),
            "{json}"
        );
    }
}

//! What `updraft-server check-config` prints: every setting the server reads,
//! by section, with its effective value and where it came from (default, the
//! config file, a variable, a variable's secret file, or a flag), secrets
//! hidden. The list is [`SETTINGS`]; a test keeps it equal to the file's shape.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{Config, Layer, LogFilter, SettingName, SETTINGS};

/// The layers a configuration is made of, kept apart to say where each
/// setting came from.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// The TOML file and its path, when there is one.
    pub file: Option<(PathBuf, Layer)>,
    /// The `UPDRAFT_*` variables.
    pub env: Layer,
    /// The command-line flags.
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

    /// Where `s` came from, and the secret file it was read from, if any.
    fn source(&self, s: &SettingName) -> (&'static str, Option<PathBuf>) {
        if self.flags.is_set(s.section, s.key) {
            return ("flag", None);
        }
        if self.env.is_set(s.section, s.key) {
            return ("env", None);
        }
        if let Some(p) = self.env.secret_file(s) {
            return ("env_file", Some(p));
        }
        match &self.file {
            Some((_, f)) if f.is_set(s.section, s.key) => ("file", None),
            Some((_, f)) if f.secret_file(s).is_some() => ("file", f.secret_file(s)),
            _ => ("default", None),
        }
    }
}

/// One setting as `check-config` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The file's section.
    pub(crate) section: &'static str,
    /// The key in the section.
    pub(crate) name: &'static str,
    /// The effective value (secrets hidden); `null` when not set.
    pub(crate) value: Value,
    /// `default`, `file`, `env`, `env_file` (the variable ending in `_FILE`) or `flag`.
    pub(crate) source: &'static str,
    /// The environment variable that sets it.
    pub(crate) env: &'static str,
    /// The flag that sets it, if any.
    pub(crate) flag: Option<&'static str>,
    /// The file a secret was read from, if it was.
    pub(crate) secret_file: Option<String>,
    /// Something to know about the value (e.g. that it is not used).
    pub(crate) note: Option<&'static str>,
}

/// Every setting of `config`, in the file's order.
pub fn settings(config: &Config, layers: &Layers) -> anyhow::Result<Vec<Setting>> {
    config
        .shown()
        .into_iter()
        .map(|(section, name, value)| {
            let Some(s) = SETTINGS
                .iter()
                .find(|s| s.section == section && s.key == name)
            else {
                anyhow::bail!("[{section}] {name} is missing from SETTINGS");
            };
            let (source, file) = layers.source(s);
            let note =
                (section == "database" && name == "seen_cache" && !config.database.url.is_sqlite())
                    .then_some("not used on PostgreSQL");
            Ok(Setting {
                section,
                name,
                value,
                source,
                env: s.env,
                flag: s.flag,
                secret_file: file.map(|p| p.display().to_string()),
                note,
            })
        })
        .collect()
}

/// The `--json` document.
pub fn to_json(settings: &[Setting], layers: &Layers, log: &LogFilter) -> Value {
    json!({
        "valid": true,
        "config_file": layers.file.as_ref().map(|(p, _)| p.display().to_string()),
        "settings": settings,
        "log_filter": {
            "value": log.value,
            "source": if log.from_env { "env" } else { "default" },
            "env": "RUST_LOG",
        },
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

fn from(s: &Setting) -> String {
    let file = s.secret_file.as_deref().unwrap_or_default();
    let from = match (s.source, s.flag) {
        ("flag", Some(flag)) => format!("from {flag}"),
        ("env", _) => format!("from {}", s.env),
        ("env_file", _) => format!("read from {file}, named by {}_FILE", s.env),
        ("file", _) if s.secret_file.is_some() => {
            format!("read from {file}, named by the config file")
        }
        ("file", _) => "from the config file".into(),
        _ => "default".into(),
    };
    match s.note {
        Some(note) => format!("{from}; {note}"),
        None => from,
    }
}

/// The text report: by section, one setting a line, `name  value  (where from)`.
pub fn to_text(settings: &[Setting], layers: &Layers, log: &LogFilter) -> String {
    let mut out = String::from("configuration is valid\n");
    match &layers.file {
        Some((p, _)) => out.push_str(&format!("config file: {}\n", p.display())),
        None => out.push_str("config file: none (--config or UPDRAFT_CONFIG)\n"),
    }
    let width = settings.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut section = "";
    for s in settings {
        if s.section != section {
            section = s.section;
            out.push_str(&format!("\n[{section}]\n"));
        }
        let value = shown(&s.value);
        out.push_str(&format!("  {:<width$}  {value}  ({})\n", s.name, from(s)));
    }
    let from = if log.from_env {
        "from RUST_LOG"
    } else {
        "the default; set RUST_LOG to change it"
    };
    out.push_str(&format!("\nlog filter: {}  ({from})\n", log.value));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file, the environment (the database URL from a secret file) and a flag.
    fn layers(secret_dir: &std::path::Path) -> Layers {
        let url_file = secret_dir.join("db-url");
        std::fs::write(
            &url_file,
            "postgres://ops:hunter2hunter2@db/updraft?pass%77ord=hunter2\n",
        )
        .unwrap();
        let url_file = url_file.display().to_string();
        Layers {
            file: Some((
                PathBuf::from("/etc/updraft.toml"),
                Layer::from_toml(
                    "[server]\nlisten = \"127.0.0.1:9000\"\n[telemetry]\nevent_retention_days = 7\n",
                    "test",
                )
                .unwrap(),
            )),
            env: Layer::from_env(|k| match k {
                "UPDRAFT_LISTEN" => Some("127.0.0.1:9100".into()),
                "UPDRAFT_DATABASE_URL_FILE" => Some(url_file.clone()),
                "UPDRAFT_BOOTSTRAP_API_KEY" => Some("bootstrap_hunter2_0123456789abcdef".into()),
                "UPDRAFT_METRICS_TOKEN" => Some("metrics_hunter2_0123456789".into()),
                _ => None,
            })
            .unwrap(),
            flags: Layer::from_toml("[storage]\ndata_dir = \"/srv/updraft\"", "flags").unwrap(),
        }
    }

    #[test]
    fn every_setting_is_shown_by_section_with_its_source_and_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let layers = layers(dir.path());
        let config = layers.resolve().unwrap();
        let settings = settings(&config, &layers).unwrap();
        assert_eq!(settings.len(), SETTINGS.len(), "every setting is shown");
        let log = LogFilter::new(Some("debug")).unwrap();
        let tmp = dir.path().display().to_string();
        let text = to_text(&settings, &layers, &log).replace(&tmp, "[tmp]");
        let json = serde_json::to_string_pretty(&to_json(&settings, &layers, &log))
            .unwrap()
            .replace(&tmp, "[tmp]");
        for out in [&text, &json] {
            assert!(!out.contains("hunter2"), "a secret was printed: {out}");
        }
        insta::assert_snapshot!("check_config_text", text);
        insta::assert_snapshot!("check_config_json", json);
    }

    #[test]
    fn seen_cache_says_when_it_is_not_used() {
        let sqlite = Layers::default();
        let c = sqlite.resolve().unwrap();
        let s = settings(&c, &sqlite).unwrap();
        let seen = s.iter().find(|s| s.name == "seen_cache").unwrap();
        assert_eq!(seen.note, None);
        let dir = tempfile::tempdir().unwrap();
        let pg = layers(dir.path());
        let s = settings(&pg.resolve().unwrap(), &pg).unwrap();
        let seen = s.iter().find(|s| s.name == "seen_cache").unwrap();
        assert_eq!(seen.note, Some("not used on PostgreSQL"));
    }
}

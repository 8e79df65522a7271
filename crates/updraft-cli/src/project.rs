//! The Capacitor project: its config (`capacitor.config.json`, `.ts` or `.js`),
//! `package.json`, the key files, and writing the updater block back.
//!
//! JSON configs are edited in place with their key order kept. TypeScript and
//! JavaScript configs are read (appId, appName, webDir) but never rewritten: the
//! CLI prints the exact block to paste instead.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// Private key file name, as Capgo's CLI writes it.
pub(crate) const PRIVATE_KEY_FILE: &str = ".capgo_key_v2";
/// Public key file name, as Capgo's CLI writes it.
pub(crate) const PUBLIC_KEY_FILE: &str = ".capgo_key_v2.pub";

/// A JSON value that keeps the order of object keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(IndexMap<String, Json>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Which kind of config file the project has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigKind {
    Json,
    /// `.ts` or `.js`: read only.
    Script,
}

/// What the project's config says.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub kind: Option<ConfigKind>,
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    pub web_dir: Option<String>,
    /// `plugins.CapacitorUpdater.publicKey`.
    pub public_key: Option<String>,
    /// `plugins.CapacitorUpdater.updateUrl`.
    pub update_url: Option<String>,
    /// `plugins.CapacitorUpdater.statsUrl`.
    pub stats_url: Option<String>,
    /// `plugins.CapacitorUpdater.channelUrl`.
    pub channel_url: Option<String>,
    json: Option<Json>,
}

/// A string value of a `.ts`/`.js` config, read as `updraft-sim` reads it.
fn script_value(text: &str, key: &str) -> Option<String> {
    updraft_core::capacitor::script_string(text, key)
}

impl Project {
    /// Reads the project in `dir`. A directory without a capacitor config is a
    /// project with nothing known (commands that need an app id say so).
    pub(crate) fn load(dir: &Path) -> CliResult<Project> {
        let mut p = Project {
            dir: dir.to_path_buf(),
            config_path: None,
            kind: None,
            app_id: None,
            app_name: None,
            web_dir: None,
            public_key: None,
            update_url: None,
            stats_url: None,
            channel_url: None,
            json: None,
        };
        for (name, kind) in [
            ("capacitor.config.json", ConfigKind::Json),
            ("capacitor.config.ts", ConfigKind::Script),
            ("capacitor.config.js", ConfigKind::Script),
        ] {
            let path = dir.join(name);
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::io("cannot read", &path, &e))?;
            match kind {
                ConfigKind::Json => {
                    let json: Json = serde_json::from_str(&text).map_err(|e| {
                        CliError::fail(
                            "invalid_capacitor_config",
                            format!("{} is not valid JSON: {e}", path.display()),
                        )
                    })?;
                    let updater = json.get("plugins").and_then(|p| p.get("CapacitorUpdater"));
                    let ustr = |k: &str| {
                        updater
                            .and_then(|u| u.get(k))
                            .and_then(Json::str)
                            .map(str::to_string)
                    };
                    p.app_id = ustr("appId")
                        .or_else(|| json.get("appId").and_then(Json::str).map(str::to_string));
                    p.app_name = json.get("appName").and_then(Json::str).map(str::to_string);
                    p.web_dir = json.get("webDir").and_then(Json::str).map(str::to_string);
                    p.public_key = ustr("publicKey").filter(|k| !k.trim().is_empty());
                    p.update_url = ustr("updateUrl");
                    p.stats_url = ustr("statsUrl");
                    p.channel_url = ustr("channelUrl");
                    p.json = Some(json);
                }
                ConfigKind::Script => {
                    p.app_id = script_value(&text, "appId");
                    p.app_name = script_value(&text, "appName");
                    p.web_dir = script_value(&text, "webDir");
                    p.public_key =
                        script_value(&text, "publicKey").filter(|k| !k.trim().is_empty());
                    p.update_url = script_value(&text, "updateUrl");
                    p.stats_url = script_value(&text, "statsUrl");
                    p.channel_url = script_value(&text, "channelUrl");
                }
            }
            p.config_path = Some(path);
            p.kind = Some(kind);
            break;
        }
        Ok(p)
    }

    /// The config file, or an error that says how to get one.
    pub(crate) fn require_config(&self) -> CliResult<&Path> {
        self.config_path.as_deref().ok_or_else(|| {
            CliError::fail(
                "no_capacitor_config",
                format!(
                    "no capacitor.config.json, .ts or .js in {}",
                    self.dir.display()
                ),
            )
            .hint("run this in your Capacitor project, or pass --project DIR (`npx cap init` creates the config)")
        })
    }

    /// The app id: `--app`, else the config's.
    pub(crate) fn app_id(&self, flag: Option<&str>) -> CliResult<String> {
        if let Some(a) = flag {
            return Ok(a.to_string());
        }
        self.app_id.clone().ok_or_else(|| {
            CliError::usage("no_app_id", "which app? no appId found").hint(
                "pass --app APP_ID, or run in a Capacitor project (capacitor.config.* with appId)",
            )
        })
    }

    /// The web build directory: `--path`, else the config's `webDir`.
    pub(crate) fn web_dir(&self, flag: Option<&Path>) -> CliResult<PathBuf> {
        let dir = match flag {
            Some(p) => p.to_path_buf(),
            None => {
                self.require_config()?;
                let w = self.web_dir.as_deref().ok_or_else(|| {
                    CliError::fail("no_web_dir", "the capacitor config has no webDir")
                        .hint("add \"webDir\" to the config, or pass --path DIR")
                })?;
                self.dir.join(w)
            }
        };
        if !dir.is_dir() {
            return Err(CliError::fail(
                "web_dir_missing",
                format!("the web build directory {} does not exist", dir.display()),
            )
            .hint("build your web app first (e.g. `npm run build`), or pass --path DIR"));
        }
        Ok(dir)
    }

    /// `version` from package.json.
    pub(crate) fn package_version(&self) -> Option<String> {
        let pkg = self.package_json()?;
        pkg.get("version").and_then(Json::str).map(str::to_string)
    }

    fn package_json(&self) -> Option<Json> {
        let text = std::fs::read_to_string(self.dir.join("package.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Native packages as Capgo records them: dependencies installed in
    /// node_modules that ship native code (an `android` or `ios` folder, or a
    /// podspec), with their installed version.
    pub(crate) fn native_packages(&self) -> Vec<serde_json::Value> {
        let Some(pkg) = self.package_json() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for section in ["dependencies", "devDependencies"] {
            let Some(Json::Obj(deps)) = pkg.get(section) else {
                continue;
            };
            for (name, declared) in deps {
                let dir = self.dir.join("node_modules").join(name);
                let native = dir.join("android").is_dir()
                    || dir.join("ios").is_dir()
                    || std::fs::read_dir(&dir).is_ok_and(|rd| {
                        rd.flatten()
                            .any(|e| e.file_name().to_string_lossy().ends_with(".podspec"))
                    });
                if !native {
                    continue;
                }
                let installed = std::fs::read_to_string(dir.join("package.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<Json>(&t).ok())
                    .and_then(|j| j.get("version").and_then(Json::str).map(str::to_string));
                let version = installed.unwrap_or_else(|| {
                    declared
                        .str()
                        .unwrap_or("")
                        .trim_start_matches(['^', '~'])
                        .to_string()
                });
                out.push(serde_json::json!({"name": name, "version": version}));
            }
        }
        out
    }

    /// The updater URLs the config sets, by key name (`updateUrl`, `statsUrl`,
    /// `channelUrl`); empty ones (a feature turned off) are left out.
    pub(crate) fn updater_urls(&self) -> Vec<(&'static str, &str)> {
        [
            ("updateUrl", &self.update_url),
            ("statsUrl", &self.stats_url),
            ("channelUrl", &self.channel_url),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        // An empty URL turns that feature off in the plugin.
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    /// Whether the project has an iOS platform (`npx cap add ios` made `ios/`).
    pub(crate) fn has_ios(&self) -> bool {
        self.dir.join("ios").is_dir()
    }

    /// Whether the project has an Android platform (`android/`).
    pub(crate) fn has_android(&self) -> bool {
        self.dir.join("android").is_dir()
    }

    /// The private key file path (default `.capgo_key_v2` in the project).
    pub(crate) fn private_key_path(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.join(PRIVATE_KEY_FILE))
    }

    /// Sets keys of `plugins.CapacitorUpdater`. For a JSON config the file is
    /// rewritten (atomically, key order kept) and `Ok(None)` returned; for a
    /// script config nothing is written and the block to paste is returned.
    pub(crate) fn set_updater(&mut self, entries: &[(&str, String)]) -> CliResult<Option<String>> {
        let path = self.require_config()?.to_path_buf();
        match (&mut self.json, &self.kind) {
            (Some(json), Some(ConfigKind::Json)) => {
                let Json::Obj(root) = json else {
                    return Err(CliError::fail(
                        "invalid_capacitor_config",
                        format!("{} is not a JSON object", path.display()),
                    ));
                };
                let plugins = root
                    .entry("plugins".to_string())
                    .or_insert_with(|| Json::Obj(IndexMap::new()));
                let Json::Obj(plugins) = plugins else {
                    return Err(CliError::fail(
                        "invalid_capacitor_config",
                        "\"plugins\" is not an object",
                    ));
                };
                let updater = plugins
                    .entry("CapacitorUpdater".to_string())
                    .or_insert_with(|| Json::Obj(IndexMap::new()));
                let Json::Obj(updater) = updater else {
                    return Err(CliError::fail(
                        "invalid_capacitor_config",
                        "\"plugins.CapacitorUpdater\" is not an object",
                    ));
                };
                for (k, v) in entries {
                    updater.insert(k.to_string(), Json::Str(v.clone()));
                }
                let mut text = serde_json::to_string_pretty(&*json).expect("json serialises");
                text.push('\n');
                crate::files::write_atomic(&path, text.as_bytes(), None)?;
                for (k, v) in entries {
                    match *k {
                        "publicKey" => self.public_key = Some(v.clone()),
                        "updateUrl" => self.update_url = Some(v.clone()),
                        "statsUrl" => self.stats_url = Some(v.clone()),
                        "channelUrl" => self.channel_url = Some(v.clone()),
                        _ => {}
                    }
                }
                Ok(None)
            }
            _ => {
                let mut block = String::from("plugins: {\n  CapacitorUpdater: {\n");
                for (k, v) in entries {
                    block.push_str(&format!(
                        "    {k}: {},\n",
                        serde_json::to_string(v).expect("string serialises")
                    ));
                }
                block.push_str("  },\n},");
                Ok(Some(block))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_script_configs() {
        let ts = "import type { CapacitorConfig } from '@capacitor/cli';\nconst config: CapacitorConfig = {\n  appId: 'com.example.ts',\n  appName: \"My App\",\n  webDir: `www`,\n};\nexport default config;\n";
        assert_eq!(script_value(ts, "appId").as_deref(), Some("com.example.ts"));
        assert_eq!(script_value(ts, "appName").as_deref(), Some("My App"));
        assert_eq!(script_value(ts, "webDir").as_deref(), Some("www"));
        assert_eq!(script_value(ts, "publicKey"), None);
    }

    #[test]
    fn json_keeps_key_order() {
        let text =
            r#"{"webDir":"dist","appId":"a.b","n":1.5,"x":null,"plugins":{"Z":{},"A":[true]}}"#;
        let j: Json = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), text);
    }
}

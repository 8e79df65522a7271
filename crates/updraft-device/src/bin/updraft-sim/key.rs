//! The public key the simulated devices carry: a file given with
//! `--public-key`, else the Capacitor project's, found as the updraft CLI
//! finds it.

use std::path::Path;

/// A PKCS#1 PEM public key file, checked.
pub(crate) fn read_public_key(path: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check_pem(&pem, &path.display().to_string())
}

fn check_pem(pem: &str, from: &str) -> Result<String, String> {
    updraft_core::crypto::PublicKey::from_pem(pem)
        .map(|_| pem.to_string())
        .map_err(|e| format!("the public key in {from}: {e}"))
}

/// The public key of the Capacitor project in `dir`, and where it came from:
/// `plugins.CapacitorUpdater.publicKey` of its capacitor config (what an app
/// built from it carries), else `.capgo_key_v2.pub`, the file the updraft CLI
/// and Capgo's CLI write next to it. `None` when it has neither.
pub(crate) fn project_public_key(dir: &Path) -> Result<Option<(String, String)>, String> {
    for name in [
        "capacitor.config.json",
        "capacitor.config.ts",
        "capacitor.config.js",
    ] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let key = if name.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
            v["plugins"]["CapacitorUpdater"]["publicKey"]
                .as_str()
                .map(str::to_string)
        } else {
            updraft_core::capacitor::script_string(&text, "publicKey")
        };
        if let Some(pem) = key.filter(|k| !k.trim().is_empty()) {
            let from = format!("{} (publicKey)", path.display());
            return check_pem(&pem, &from).map(|pem| Some((pem, from)));
        }
        break;
    }
    let file = dir.join(".capgo_key_v2.pub");
    if file.is_file() {
        return read_public_key(&file).map(|pem| Some((pem, file.display().to_string())));
    }
    Ok(None)
}

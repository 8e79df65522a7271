//! Where the server URL and API key come from: flags, then `UPDRAFT_SERVER` /
//! `UPDRAFT_API_KEY`, then the file `updraft login` saved (mode 0600) under
//! `$UPDRAFT_CONFIG_DIR`, `$XDG_CONFIG_HOME/updraft` or `~/.config/updraft`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::args::Global;
use crate::error::{CliError, CliResult, Exit};

/// The saved login.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Saved {
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

/// The directory of the user's config.
pub(crate) fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("UPDRAFT_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("updraft"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".config").join("updraft"))
}

/// The login file.
pub(crate) fn login_file() -> CliResult<PathBuf> {
    config_dir().map(|d| d.join("login.toml")).ok_or_else(|| {
        CliError::fail(
            "no_config_dir",
            "cannot tell where to keep the login: set HOME or UPDRAFT_CONFIG_DIR",
        )
    })
}

/// Reads the saved login; a missing file is an empty login.
pub(crate) fn load() -> CliResult<Saved> {
    let path = login_file()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            CliError::fail(
                "bad_login_file",
                format!("{} is not a valid login file: {e}", path.display()),
            )
            .hint("run `updraft logout` then `updraft login` again")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(CliError::io("cannot read", &path, &e)),
    }
}

/// Writes the login atomically with mode 0600 (a temporary file renamed over it).
pub(crate) fn save(saved: &Saved) -> CliResult<PathBuf> {
    let path = login_file()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| CliError::io("cannot create", dir, &e))?;
    let text = toml::to_string(saved).expect("login serialises");
    crate::files::write_atomic(&path, text.as_bytes(), Some(0o600))?;
    Ok(path)
}

/// Removes the saved login; true when there was one.
pub(crate) fn forget() -> CliResult<bool> {
    let path = login_file()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::io("cannot remove", &path, &e)),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The server URL and API key to use, with where each came from.
pub(crate) struct Resolved {
    pub server: String,
    pub api_key: String,
}

/// Resolves the server and key: flag > environment > saved login.
pub(crate) fn resolve(g: &Global) -> CliResult<Resolved> {
    let saved = load()?;
    let server = g
        .server
        .clone()
        .or_else(|| env("UPDRAFT_SERVER"))
        .or(saved.server)
        .ok_or_else(|| {
            CliError::usage("no_server", "no server given")
                .hint("run `updraft login --server URL`, or pass --server / set UPDRAFT_SERVER")
        })?;
    check_server_url(&server)?;
    let api_key = g
        .api_key
        .clone()
        .or_else(|| env("UPDRAFT_API_KEY"))
        .or(saved.api_key)
        .ok_or_else(|| {
            CliError::new(Exit::Auth, "no_api_key", "no API key given").hint(
                "run `updraft login`, or pass --api-key / set UPDRAFT_API_KEY (updraft-server prints an admin key at its first start)",
            )
        })?;
    Ok(Resolved { server, api_key })
}

/// A server URL must be absolute http(s).
pub(crate) fn check_server_url(url: &str) -> CliResult<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(CliError::usage(
            "invalid_server_url",
            format!("server URL {url:?} must start with http:// or https://"),
        ))
    }
}

//! What [`crate::Device::open`] repairs before the device runs: a state file
//! that cannot be read (moved aside as `*.corrupt`, the device starts on
//! builtin), and bundle records whose folder is gone (a missing current bundle
//! falls back to builtin, a missing next one is dropped, the record removed).
//! Each repair is logged and returned, so nothing goes unnoticed.

use std::path::{Path, PathBuf};

use crate::store::{BundleStatus, State, BUILTIN};

/// One thing found wrong on disk at open, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A state or stats file could not be read or parsed. It was renamed to
    /// `kept` (`None` if even that failed) and the device started afresh.
    Corrupt {
        /// The file that could not be used.
        file: PathBuf,
        /// Why.
        reason: String,
        /// Where it was moved to.
        kept: Option<PathBuf>,
    },
    /// The current bundle's folder (or its `index.html`) is gone: back on builtin.
    CurrentMissing {
        /// The bundle's folder name under `bundles/`.
        id: String,
        /// Its version name.
        version: String,
    },
    /// The bundle queued as next is gone: nothing is queued any more.
    NextMissing {
        /// The bundle's folder name under `bundles/`.
        id: String,
        /// Its version name.
        version: String,
    },
    /// A bundle record whose folder is gone was removed.
    RecordRemoved {
        /// The bundle's folder name under `bundles/`.
        id: String,
        /// Its version name.
        version: String,
    },
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Corrupt { file, reason, kept } => {
                write!(f, "{} is unreadable ({reason}); ", file.display())?;
                match kept {
                    Some(k) => write!(f, "kept as {}", k.display()),
                    None => write!(f, "could not be moved aside"),
                }
            }
            Self::CurrentMissing { id, version } => write!(
                f,
                "the current bundle {id} ({version}) has no folder on disk; back to builtin"
            ),
            Self::NextMissing { id, version } => write!(
                f,
                "the next bundle {id} ({version}) has no folder on disk; dropped"
            ),
            Self::RecordRemoved { id, version } => write!(
                f,
                "bundle {id} ({version}) has no folder on disk; record removed"
            ),
        }
    }
}

/// Renames an unreadable file to `<name>.<epoch ms>.corrupt` next to it.
pub(crate) fn move_aside(file: &Path, reason: String) -> Repair {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let mut target = file.with_file_name(format!("{name}.{ms}.corrupt"));
    for n in 1..100 {
        if std::fs::symlink_metadata(&target).is_err() {
            break;
        }
        target = file.with_file_name(format!("{name}.{ms}-{n}.corrupt"));
    }
    let kept = std::fs::rename(file, &target).ok().map(|()| target);
    let repair = Repair::Corrupt {
        file: file.to_path_buf(),
        reason,
        kept,
    };
    tracing::warn!("{repair}");
    repair
}

/// The device id in a state file too damaged to parse, if one can be found
/// (so a device keeps its identity on the server).
pub(crate) fn salvage_device_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let at = text.find("\"device_id\"")? + "\"device_id\"".len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let id = rest.get(..36)?;
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// Drops every reference to a bundle whose folder is not whole on disk.
/// `is_whole(id)` says whether `bundles/<id>/index.html` exists.
pub(crate) fn reconcile(state: &mut State, is_whole: impl Fn(&str) -> bool) -> Vec<Repair> {
    let mut repairs = Vec::new();
    let gone: Vec<String> = state
        .bundles
        .iter()
        .filter(|(k, b)| **k != b.id || (b.status != BundleStatus::Deleted && !is_whole(k)))
        .map(|(k, _)| k.clone())
        .collect();
    let version_of = |state: &State, id: &str| {
        state
            .bundles
            .get(id)
            .map(|b| b.version.clone())
            .unwrap_or_else(|| "unknown".into())
    };
    let usable = |state: &State, id: &str| {
        id == BUILTIN
            || state
                .bundles
                .get(id)
                .is_some_and(|b| b.status != BundleStatus::Deleted && !gone.iter().any(|g| g == id))
    };
    if !usable(state, &state.current) {
        let id = std::mem::replace(&mut state.current, BUILTIN.into());
        state.ready_deadline = None;
        repairs.push(Repair::CurrentMissing {
            version: version_of(state, &id),
            id,
        });
    }
    if let Some(next) = state.next.clone() {
        if !usable(state, &next) {
            state.next = None;
            repairs.push(Repair::NextMissing {
                version: version_of(state, &next),
                id: next,
            });
        }
    }
    if !usable(state, &state.fallback) {
        state.fallback = BUILTIN.into();
    }
    for id in gone {
        if let Some(b) = state.bundles.remove(&id) {
            let reported = repairs.iter().any(|r| {
                matches!(r, Repair::CurrentMissing { id: i, .. } | Repair::NextMissing { id: i, .. } if *i == id)
            });
            if !reported {
                repairs.push(Repair::RecordRemoved {
                    id,
                    version: b.version,
                });
            }
        }
    }
    for r in &repairs {
        tracing::warn!("{r}");
    }
    repairs
}

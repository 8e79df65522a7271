//! The decision cases in `cases/decide/` (one JSON file per rule, see its
//! README): each case is an app state, the plugin's `/updates` body, the exact
//! reply and what the device does with it. This module reads a case and turns
//! its state into what [`decide`](crate::decide::decide) sees; the three runners
//! (core, the server over HTTP, the device core) share it and have no per-rule
//! code. Reading the files is left to the runners: this crate does no I/O.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use updraft_protocol::api::{
    App, AppPatch, Arm, Bundle, BundleStorage, Channel, ChannelPatch, DisableAutoUpdate,
    ManifestEntry, NamedCohort, SetOverride,
};

pub use rollouts::RolloutSpec;
use updraft_protocol::device::InfoObject;

use crate::decide::{AppView, Forced};
use crate::validate::{validate, DeviceRequest, Endpoint};

mod rollouts;

/// The folder of the decision cases.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cases/decide");

/// Stands for the server's public URL (no trailing slash) in expected replies.
pub const BASE: &str = "{base}";

/// One file of cases: the cases of one rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the rule is, in a sentence or two.
    pub about: String,
    /// The rule's cases, each run by every runner.
    pub cases: Vec<Case>,
}

/// One decision case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique in its file; says what the case shows.
    pub name: String,
    /// The app's state before the request; empty when absent.
    #[serde(default)]
    pub state: State,
    /// The plugin's JSON body, as sent to `/updates`.
    pub request: Value,
    /// The device's country as the server's trusted proxy reports it (the
    /// server runner sends it in the configured header); unknown when absent.
    #[serde(default)]
    pub country: Option<String>,
    /// The server's clock when the request arrives (epoch ms; 0 when absent):
    /// where the state's rollouts and their ramps stand.
    #[serde(default)]
    pub now_ms: i64,
    /// The reply body, exactly; `{base}` stands for the server's public URL.
    pub reply: Value,
    /// What the device core makes of the reply.
    pub device_action: DeviceAction,
    /// The channel the device resolves to (`null`: none); not checked when absent.
    #[serde(default, deserialize_with = "present")]
    pub channel: Option<Option<String>>,
    /// The device's arm in the resolved channel's rollout (`null`: no rollout
    /// decided, such as for a pinned device); not checked when absent.
    #[serde(default, deserialize_with = "present_arm")]
    pub arm: Option<Option<Arm>>,
    /// Lines the explain trace must contain, in this order (others may come between).
    #[serde(default)]
    pub trace: Vec<String>,
    /// Why the store cannot hold this state (a dangling reference only a race
    /// can leave in a snapshot): then only the core and device runners run it.
    #[serde(default)]
    pub core_only: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(de).map(Some)
}

fn present_arm<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Option<Arm>>, D::Error> {
    Option::<Arm>::deserialize(de).map(Some)
}

/// The app's state before the request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// App settings (`expose_metadata`, `public_key`, …), as the management API takes them.
    #[serde(default)]
    pub app: AppPatch,
    /// The app's bundles, stored before its channels.
    #[serde(default)]
    pub bundles: Vec<BundleSpec>,
    /// As the management API creates them (`bundle` by version; defaults as a new channel's).
    #[serde(default)]
    pub channels: Vec<ChannelPatch>,
    /// Rollouts on the channels (active or ended).
    #[serde(default)]
    pub rollouts: Vec<RolloutSpec>,
    /// The app's named cohorts, which targeting rules name.
    #[serde(default)]
    pub cohorts: Vec<CohortSpec>,
    /// The requesting device's override or pin and rollback blocks.
    #[serde(default)]
    pub device: DeviceState,
}

/// A bundle as stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    /// Version name, unique in the case.
    pub version: String,
    /// What devices verify (see [`updraft_protocol::api::Bundle::checksum`]).
    pub checksum: String,
    /// `base64(iv):base64(rsa(key))`; empty for a plain bundle.
    #[serde(default)]
    pub session_key: String,
    /// The signing key's id, for an encrypted bundle.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The checksum Capgo's Electron updater verifies, when the server has it.
    #[serde(default)]
    pub electron_checksum: Option<String>,
    /// `stored` (the default) or `external`.
    #[serde(default = "stored")]
    pub storage: BundleStorage,
    /// SHA-256 of the stored bytes (a stored bundle's file name).
    #[serde(default)]
    pub blob_sha256: Option<String>,
    /// Where devices download an external bundle.
    #[serde(default)]
    pub external_url: Option<String>,
    /// Per-file manifest (delta updates).
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
    /// The lowest native version the bundle runs on (`version_number` policy).
    #[serde(default)]
    pub min_update_version: Option<String>,
    /// Link sent to devices when the app exposes metadata.
    #[serde(default)]
    pub link: Option<String>,
    /// Comment sent to devices when the app exposes metadata.
    #[serde(default)]
    pub comment: Option<String>,
    /// Revoked (after the rest of the state is seeded: the server runner
    /// revokes it through the store, which moves channels off it).
    #[serde(default)]
    pub revoked: bool,
}

fn stored() -> BundleStorage {
    BundleStorage::Stored
}

/// The requesting device's server-side state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceState {
    /// `{"channel": name}` or `{"bundle": version}`, as an admin sets it.
    #[serde(default, rename = "override")]
    pub forced: Option<SetOverride>,
    /// Versions this device rolled back (`update_fail`).
    #[serde(default)]
    pub failed: Vec<String>,
}

/// One of the app's named cohorts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortSpec {
    /// Its name.
    pub name: String,
    /// Device ids (UUIDs).
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Custom ids.
    #[serde(default)]
    pub custom_ids: Vec<String>,
}

/// What the device core does with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// Downloads the bundle offered.
    Update,
    /// Goes back to its builtin bundle.
    Revert,
    /// Nothing to do.
    UpToDate,
    /// Nothing to do: the server will not give this device an update.
    Blocked,
    /// A failed check (the plugin reports `download_fail`).
    Failed,
}

/// A case's state as the decision sees it.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The app as the decision sees it.
    pub view: AppView,
    /// The device's override or pin, resolved to ids.
    pub forced: Option<Forced>,
    /// Bundle ids the device rolled back.
    pub failed: Vec<i64>,
    /// The server's clock at the request (the case's `now_ms`).
    pub now_ms: i64,
}

/// Parses one case file, checking what the runners rely on.
pub fn parse(text: &str) -> Result<CaseFile, String> {
    let file: CaseFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut names = HashSet::new();
    for case in &file.cases {
        if !names.insert(case.name.as_str()) {
            return Err(format!("two cases are named {:?}", case.name));
        }
        case.device_request()
            .map_err(|e| format!("{}: {e}", case.name))?;
        case.seeded().map_err(|e| format!("{}: {e}", case.name))?;
    }
    Ok(file)
}

/// Replaces `{base}` with `base` in every string of `v`.
pub(crate) fn with_base(v: &Value, base: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(BASE, base)),
        Value::Array(a) => Value::Array(a.iter().map(|x| with_base(x, base)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), with_base(x, base)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Checks that `expected` lines appear in `trace` in order.
pub fn trace_has(trace: &[String], expected: &[String]) -> Result<(), String> {
    let mut rest = trace.iter();
    for want in expected {
        if !rest.any(|line| line == want) {
            return Err(format!(
                "the trace lacks {want:?} (in order); it is:\n  {}",
                trace.join("\n  ")
            ));
        }
    }
    Ok(())
}

impl Case {
    /// The request validated as `/updates` validates it; a case's request must pass.
    pub fn device_request(&self) -> Result<DeviceRequest, String> {
        let info: InfoObject =
            serde_json::from_value(self.request.clone()).map_err(|e| format!("request: {e}"))?;
        let mut req = validate(info, Endpoint::Updates)
            .map_err(|e| format!("request: {}: {}", e.code, e.message))?;
        req.country = self.country.clone();
        Ok(req)
    }

    /// The expected reply with `{base}` replaced.
    pub fn expected_reply(&self, base: &str) -> Value {
        with_base(&self.reply, base)
    }

    /// The app id of the request.
    fn app_id(&self) -> String {
        self.request["app_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The state as the decision sees it. Bundles get ids 1, 2, … in order,
    /// channels 1, 2, …; a name the state does not hold becomes an id nothing
    /// has (allowed only in a `core_only` case).
    pub fn seeded(&self) -> Result<Seeded, String> {
        let s = &self.state;
        let app_id = self.app_id();
        let dangling = |what: String| -> Result<i64, String> {
            if self.core_only.is_some() {
                Ok(-1)
            } else {
                Err(format!(
                    "{what} is not in the state (only a core_only case may hold a dangling reference)"
                ))
            }
        };
        let mut bundles = HashMap::new();
        let mut ids = HashMap::new();
        for (id, b) in (1_i64..).zip(&s.bundles) {
            if ids.insert(b.version.clone(), id).is_some() {
                return Err(format!("two bundles are named {}", b.version));
            }
            bundles.insert(id, bundle(id, &app_id, b));
        }
        let mut channels = Vec::new();
        for (id, p) in (1_i64..).zip(&s.channels) {
            let name = p.name.clone().ok_or("a channel needs a name")?;
            let bundle_id = match p.bundle.clone().flatten().as_deref() {
                None | Some("") | Some("builtin") | Some("unknown") => None,
                Some(v) => Some(match ids.get(v) {
                    Some(id) => *id,
                    None => dangling(format!("bundle {v} of channel {name}"))?,
                }),
            };
            channels.push(channel(id, &app_id, name, p, bundle_id, &bundles));
        }
        for (i, a) in channels.iter().enumerate() {
            if channels.iter().take(i).any(|b| b.name == a.name) {
                return Err(format!("two channels are named {}", a.name));
            }
            let clash = channels.iter().take(i).find(|b| {
                a.public
                    && b.public
                    && a.target.is_none()
                    && b.target.is_none()
                    && ((a.ios && b.ios) || (a.android && b.android) || (a.electron && b.electron))
            });
            if let Some(b) = clash {
                return Err(format!(
                    "channels {} and {} are both public on one platform (the store keeps one)",
                    b.name, a.name
                ));
            }
        }
        channels.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let forced = match &s.device.forced {
            None => None,
            Some(SetOverride {
                channel: Some(name),
                bundle: None,
            }) => Some(Forced::Channel(
                match channels.iter().find(|c| &c.name == name) {
                    Some(c) => c.id,
                    None => dangling(format!("override channel {name}"))?,
                },
            )),
            Some(SetOverride {
                channel: None,
                bundle: Some(v),
            }) => Some(Forced::Bundle(match ids.get(v) {
                Some(id) => *id,
                None => dangling(format!("pinned bundle {v}"))?,
            })),
            Some(_) => return Err("an override has exactly one of channel or bundle".into()),
        };
        let failed = s
            .device
            .failed
            .iter()
            .map(|v| {
                ids.get(v)
                    .copied()
                    .ok_or_else(|| format!("failed bundle {v} is not in the state"))
            })
            .collect::<Result<_, _>>()?;
        let rollouts =
            rollouts::seeded(&s.rollouts, &app_id, &channels, &bundles, &ids, &dangling)?;
        let app = App {
            app_id: app_id.clone(),
            name: app_id,
            expose_metadata: s.app.expose_metadata.unwrap_or(false),
            allow_device_custom_id: s.app.allow_device_custom_id.unwrap_or(true),
            public_key: s.app.public_key.clone().filter(|k| !k.is_empty()),
            created_at: 0,
        };
        Ok(Seeded {
            view: AppView {
                app,
                channels,
                bundles,
                rollouts,
                cohorts: crate::target::cohorts_of(
                    &s.cohorts
                        .iter()
                        .map(|c| NamedCohort {
                            name: c.name.clone(),
                            device_ids: c.device_ids.clone(),
                            custom_ids: c.custom_ids.clone(),
                            updated_at: 0,
                        })
                        .collect::<Vec<_>>(),
                ),
            },
            forced,
            failed,
            now_ms: self.now_ms,
        })
    }
}

fn bundle(id: i64, app_id: &str, b: &BundleSpec) -> Bundle {
    Bundle {
        id,
        app_id: app_id.to_string(),
        version: b.version.clone(),
        checksum: b.checksum.clone(),
        session_key: b.session_key.clone(),
        key_id: b.key_id.clone(),
        electron_checksum: b.electron_checksum.clone(),
        storage: b.storage,
        blob_sha256: b.blob_sha256.clone(),
        size: None,
        external_url: b.external_url.clone(),
        manifest: b.manifest.clone(),
        min_update_version: b.min_update_version.clone(),
        native_packages: Value::Null,
        link: b.link.clone(),
        comment: b.comment.clone(),
        deleted: false,
        created_at: 0,
        revoked_at: b.revoked.then_some(0),
        revoked_reason: b.revoked.then(|| "revoked by the case".to_string()),
    }
}

/// A channel created with `p`: the store's defaults for what `p` leaves out.
fn channel(
    id: i64,
    app_id: &str,
    name: String,
    p: &ChannelPatch,
    bundle_id: Option<i64>,
    bundles: &HashMap<i64, Bundle>,
) -> Channel {
    Channel {
        id,
        app_id: app_id.to_string(),
        name,
        bundle_id,
        bundle_version: bundle_id
            .and_then(|id| bundles.get(&id))
            .map_or_else(|| "builtin".to_string(), |b| b.version.clone()),
        public: p.public.unwrap_or(false),
        ios: p.ios.unwrap_or(true),
        android: p.android.unwrap_or(true),
        electron: p.electron.unwrap_or(true),
        allow_device_self_set: p.allow_device_self_set.unwrap_or(false),
        allow_emulator: p.allow_emulator.unwrap_or(true),
        allow_device: p.allow_device.unwrap_or(true),
        allow_dev: p.allow_dev.unwrap_or(true),
        allow_prod: p.allow_prod.unwrap_or(true),
        disable_auto_update: p.disable_auto_update.unwrap_or(DisableAutoUpdate::Major),
        disable_auto_update_under_native: p.disable_auto_update_under_native.unwrap_or(true),
        target: p.target.clone().flatten(),
        critical: p.critical.unwrap_or(false),
        created_at: 0,
        updated_at: 0,
    }
}

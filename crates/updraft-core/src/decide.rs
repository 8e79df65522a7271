//! The update decision: `(app snapshot, device request) -> decision`.
//!
//! Follows Capgo's order (reference/capgo-backend.md §1.1 steps 12–21, ERRATA
//! items 19–22) with the deliberate differences of DESIGN.md: an ineligible
//! `defaultChannel` falls back to the public channel, a builtin target yields the
//! bare revert reply, a pinned bundle beats every channel, and a bundle the device
//! rolled back is not offered to it again. Every rule evaluated is written to the
//! trace, which the explain API returns.

use std::collections::HashMap;

use semver::Version;
use serde_json::{Map, Value};
use updraft_protocol::api::{App, Bundle, Channel, DisableAutoUpdate};
use updraft_protocol::device::ReplyKind;

use crate::validate::{DeviceRequest, Platform};
use crate::version::{is_reserved_name, parse_bundle_version, plugin_checks_key_id};

/// What one app looks like to the decision: its settings, channels and the
/// bundles they (or device pins) point at.
#[derive(Debug, Clone)]
pub struct AppView {
    pub app: App,
    /// Ordered by `name, id`.
    pub channels: Vec<Channel>,
    pub bundles: HashMap<i64, Bundle>,
}

/// What an admin forced on the device, resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    Channel(i64),
    Bundle(i64),
}

/// Per-device state the decision needs.
#[derive(Debug, Clone, Default)]
pub struct DeviceFacts<'a> {
    pub forced: Option<Forced>,
    /// Bundle ids this device rolled back from.
    pub failed: &'a [i64],
    /// Record every rule evaluated (the explain API); off on the hot path.
    pub explain: bool,
}

/// The result of a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Offer this bundle.
    Update { bundle_id: i64 },
    /// Reply a bare `{"version":"builtin"}`.
    RevertToBuiltin,
    /// Reply `{"error","message","kind",…extra}` at HTTP 200.
    NoUpdate {
        code: &'static str,
        message: String,
        kind: ReplyKind,
        extra: Map<String, Value>,
    },
}

/// An outcome plus the channel it came from and the rules evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub channel: Option<String>,
    pub trace: Vec<String>,
}

/// The `kind` of a soft error code (Capgo's `getUpdateResponseKind`).
pub fn kind_of(code: &str) -> ReplyKind {
    match code {
        "no_new_version_available" | "already_on_builtin" => ReplyKind::UpToDate,
        "cannot_update_via_private_channel"
        | "disabled_platform_ios"
        | "disabled_platform_android"
        | "disabled_platform_electron"
        | "disable_auto_update_to_major"
        | "disable_auto_update_to_minor"
        | "disable_auto_update_to_patch"
        | "disable_auto_update_to_metadata"
        | "disable_auto_update_under_native"
        | "disable_prod_build"
        | "disable_dev_build"
        | "disable_device"
        | "disable_emulator"
        | "key_id_mismatch"
        | "bundle_failed_on_device" => ReplyKind::Blocked,
        _ => ReplyKind::Failed,
    }
}

/// Adds a line to the trace, formatting it only when a trace is wanted.
macro_rules! note {
    ($cx:expr, $($arg:tt)*) => {
        if $cx.explain {
            $cx.trace.push(format!($($arg)*));
        }
    };
}

struct Ctx {
    explain: bool,
    trace: Vec<String>,
    channel: Option<String>,
}

impl Ctx {
    fn note(&mut self, s: impl Into<String>) {
        if self.explain {
            self.trace.push(s.into());
        }
    }

    fn no(
        mut self,
        code: &'static str,
        message: impl Into<String>,
        extra: &[(&str, Value)],
    ) -> Decision {
        let message = message.into();
        if self.explain {
            self.note(format!("answer {code}: {message}"));
        }
        Decision {
            outcome: Outcome::NoUpdate {
                code,
                message,
                kind: kind_of(code),
                extra: extra
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            },
            channel: self.channel,
            trace: self.trace,
        }
    }

    fn done(mut self, outcome: Outcome) -> Decision {
        match &outcome {
            Outcome::Update { bundle_id } => {
                self.note(format!("answer update to bundle #{bundle_id}"))
            }
            Outcome::RevertToBuiltin => self.note("answer revert to builtin"),
            Outcome::NoUpdate { .. } => {}
        }
        Decision {
            outcome,
            channel: self.channel,
            trace: self.trace,
        }
    }
}

fn platform_allowed(c: &Channel, p: Platform) -> bool {
    match p {
        Platform::Ios => c.ios,
        Platform::Android => c.android,
        Platform::Electron => c.electron,
    }
}

/// Decides what `req` should run.
pub fn decide(view: &AppView, req: &DeviceRequest, facts: &DeviceFacts<'_>) -> Decision {
    let mut cx = Ctx {
        explain: facts.explain,
        trace: Vec::new(),
        channel: None,
    };
    let platform = req.platform.unwrap_or(Platform::Ios);
    note!(
        cx,
        "device {} on {} native {} running {}",
        req.device_id,
        platform.as_str(),
        req.version_build,
        req.version_name
    );

    // 1. A bundle pinned by an admin beats every channel and every policy.
    if let Some(Forced::Bundle(id)) = facts.forced {
        match view.bundles.get(&id) {
            Some(b) => {
                note!(cx, "device is pinned to bundle {}", b.version);
                return finish_target(cx, req, facts, Some(b), None);
            }
            None => note!(
                cx,
                "device is pinned to a bundle that no longer exists; ignoring the pin"
            ),
        }
    }

    // 2. Channel resolution: override > defaultChannel > public.
    let mut is_override = false;
    let mut channel: Option<&Channel> = None;
    if let Some(Forced::Channel(id)) = facts.forced {
        match view.channels.iter().find(|c| c.id == id) {
            Some(c) => {
                note!(cx, "device override puts it on channel {}", c.name);
                channel = Some(c);
                is_override = true;
            }
            None => note!(
                cx,
                "device override names a channel that no longer exists; ignoring it"
            ),
        }
    }
    if channel.is_none() {
        if let Some(name) = &req.default_channel {
            match view.channels.iter().find(|c| &c.name == name) {
                Some(c) if !(c.public || c.allow_device_self_set) => note!(cx,
                    "defaultChannel {name} is neither public nor self-assignable; falling back to the public channel"
                ),
                Some(c) if !platform_allowed(c, platform) => note!(cx,
                    "defaultChannel {name} is disabled for {}; falling back to the public channel",
                    platform.as_str()
                ),
                Some(c) => {
                    note!(cx, "defaultChannel {name} is eligible");
                    channel = Some(c);
                }
                None => note!(cx,
                    "defaultChannel {name} does not exist; falling back to the public channel"
                ),
            }
        }
    }
    if channel.is_none() {
        channel = view
            .channels
            .iter()
            .find(|c| c.public && platform_allowed(c, platform));
        match channel {
            Some(c) => note!(cx, "public channel for {} is {}", platform.as_str(), c.name),
            None => note!(cx, "no public channel for {}", platform.as_str()),
        }
    }
    let Some(channel) = channel else {
        return cx.no("no_channel", "no default channel or override", &[]);
    };
    cx.channel = Some(channel.name.clone());

    let bundle = match channel.bundle_id {
        None => None,
        Some(id) => match view.bundles.get(&id) {
            Some(b) => Some(b),
            None => {
                return cx.no("no_bundle", "Cannot get bundle", &[]);
            }
        },
    };
    note!(
        cx,
        "channel {} points at {}",
        channel.name,
        bundle.map_or("builtin", |b| b.version.as_str())
    );
    finish_target(cx, req, facts, bundle, Some((channel, is_override)))
}

/// Key check, "already on latest", channel policies, builtin, failed-bundle
/// block, then the update.
fn finish_target(
    mut cx: Ctx,
    req: &DeviceRequest,
    facts: &DeviceFacts<'_>,
    bundle: Option<&Bundle>,
    channel: Option<(&Channel, bool)>,
) -> Decision {
    let target_name = bundle.map_or("builtin", |b| b.version.as_str());

    // Encryption key mismatch (plugins newer than 8.40.7 only).
    if let (Some(b), Some(dev_key)) = (bundle, req.info.key_id.as_deref()) {
        if let Some(bundle_key) = b.key_id.as_deref() {
            let gated = req
                .plugin_semver()
                .is_some_and(|v| plugin_checks_key_id(&v));
            if gated && !dev_key.is_empty() && dev_key != bundle_key {
                return cx.no(
                    "key_id_mismatch",
                    "The device's public key does not match the key this bundle was encrypted with",
                    &[
                        ("deviceKeyId", dev_key.into()),
                        ("bundleKeyId", bundle_key.into()),
                    ],
                );
            }
        }
    }

    // Already on latest: plain string equality, as the plugin compares.
    if bundle.is_some() && req.version_name == target_name {
        return cx.no("no_new_version_available", "No new version available", &[]);
    }

    if let Some((c, is_override)) = channel {
        if let Some(d) = policies(&mut cx, req, c, is_override, bundle) {
            return d(cx);
        }
    }

    let Some(bundle) = bundle else {
        if req.on_builtin() {
            return cx.no(
                "already_on_builtin",
                "Already on builtin",
                &[("version", "builtin".into())],
            );
        }
        return cx.done(Outcome::RevertToBuiltin);
    };

    if facts.failed.contains(&bundle.id) {
        return cx.no(
            "bundle_failed_on_device",
            format!(
                "This device rolled back bundle {} and is not offered it again until the channel moves on",
                bundle.version
            ),
            &[("version", bundle.version.clone().into())],
        );
    }
    cx.done(Outcome::Update {
        bundle_id: bundle.id,
    })
}

type Deny = Box<dyn FnOnce(Ctx) -> Decision>;

fn deny(code: &'static str, message: String, extra: Vec<(&'static str, Value)>) -> Option<Deny> {
    Some(Box::new(move |cx: Ctx| cx.no(code, message, &extra)))
}

/// The channel policy checks in Capgo's order (ERRATA item 20), against the
/// native `version_build`. Returns the denial, if any.
fn policies(
    cx: &mut Ctx,
    req: &DeviceRequest,
    c: &Channel,
    is_override: bool,
    bundle: Option<&Bundle>,
) -> Option<Deny> {
    let platform = req.platform.unwrap_or(Platform::Ios);
    let target = bundle.map_or("builtin", |b| b.version.as_str());
    if !platform_allowed(c, platform) {
        let code = match platform {
            Platform::Ios => "disabled_platform_ios",
            Platform::Android => "disabled_platform_android",
            Platform::Electron => "disabled_platform_electron",
        };
        return deny(
            code,
            format!("Channel {} is disabled for {}", c.name, platform.as_str()),
            vec![
                ("version", target.into()),
                ("old", req.version_name.clone().into()),
            ],
        );
    }
    note!(cx, "platform {} allowed", platform.as_str());

    let native = &req.native;
    let semver_target: Option<Version> = match bundle {
        Some(b) if !is_reserved_name(&b.version) => match parse_bundle_version(&b.version) {
            Some(v) => Some(v),
            None => {
                return deny(
                    "semver_error",
                    format!("Bundle {} is not a semver version", b.version),
                    vec![],
                )
            }
        },
        _ => None,
    };
    let old: Value = req.version_build.clone().into();
    if let Some(v) = &semver_target {
        if c.disable_auto_update == DisableAutoUpdate::Major && v.major > native.major {
            return deny(
                "disable_auto_update_to_major",
                format!("Cannot upgrade major version from {native} to {v}"),
                vec![
                    ("major", true.into()),
                    ("version", target.into()),
                    ("old", old),
                ],
            );
        }
    }
    if !c.public && !c.allow_device_self_set && !is_override {
        return deny(
            "cannot_update_via_private_channel",
            format!("Cannot update via private channel {}", c.name),
            vec![],
        );
    }
    if let Some(v) = &semver_target {
        match c.disable_auto_update {
            DisableAutoUpdate::Minor if v.major != native.major || v.minor != native.minor => {
                return deny(
                    "disable_auto_update_to_minor",
                    format!("Cannot upgrade minor version from {native} to {v}"),
                    vec![
                        ("major", true.into()),
                        ("version", target.into()),
                        ("old", old),
                    ],
                );
            }
            DisableAutoUpdate::Patch
                if v.major != native.major
                    || v.minor != native.minor
                    || v.patch != native.patch =>
            {
                return deny(
                    "disable_auto_update_to_patch",
                    format!("Cannot upgrade patch version from {native} to {v}"),
                    vec![("version", target.into()), ("old", old)],
                );
            }
            DisableAutoUpdate::VersionNumber => {
                let min = bundle.and_then(|b| b.min_update_version.as_deref());
                let Some(min) = min else {
                    return deny(
                        "misconfigured_channel",
                        format!(
                            "Channel {} uses version_number but bundle {target} has no min_update_version",
                            c.name
                        ),
                        vec![],
                    );
                };
                match crate::version::coerce_native(min) {
                    Some(m) if m > *native => {
                        return deny(
                            "disable_auto_update_to_metadata",
                            format!("Bundle {target} needs native version {m} or later; device has {native}"),
                            vec![("version", target.into()), ("old", old)],
                        );
                    }
                    Some(_) => {}
                    None => {
                        return deny(
                            "misconfigured_channel",
                            format!("Bundle {target} has an invalid min_update_version {min}"),
                            vec![],
                        )
                    }
                }
            }
            _ => {}
        }
        note!(
            cx,
            "version policy {} passes",
            c.disable_auto_update.as_str()
        );
        if c.disable_auto_update_under_native && *v < *native {
            return deny(
                "disable_auto_update_under_native",
                format!("Bundle {v} is older than the native version {native}"),
                vec![
                    ("version", target.into()),
                    ("old", req.version_name.clone().into()),
                ],
            );
        }
    }
    if !c.allow_prod && req.is_prod {
        return deny(
            "disable_prod_build",
            format!("Channel {} does not allow prod builds", c.name),
            vec![],
        );
    }
    if !c.allow_dev && !req.is_prod {
        return deny(
            "disable_dev_build",
            format!("Channel {} does not allow dev builds", c.name),
            vec![],
        );
    }
    if !c.allow_device && !req.is_emulator {
        return deny(
            "disable_device",
            format!("Channel {} does not allow physical devices", c.name),
            vec![],
        );
    }
    if !c.allow_emulator && req.is_emulator {
        return deny(
            "disable_emulator",
            format!("Channel {} does not allow emulators", c.name),
            vec![],
        );
    }
    note!(cx, "build and device flags pass");
    None
}

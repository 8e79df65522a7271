//! The update decision: `(app snapshot, device request) -> the whole /updates
//! reply`, with the bundle offered, the channel and the explain trace.
//!
//! Follows Capgo's order (reference/capgo-backend.md §1.1 steps 12–21, ERRATA
//! items 19–22) with the deliberate differences of DESIGN.md: an ineligible
//! `defaultChannel` falls back to the public channel, a builtin target yields the
//! bare revert reply, a pinned bundle beats every channel, and a bundle the device
//! rolled back is not offered to it again. The rules, in order: plugin version,
//! pin, channel ([`crate::channel`], with its targeting rules from
//! [`crate::target`]), the channel's rollout ([`crate::rollout`]:
//! the candidate bundle instead of the channel's for devices in its candidate
//! arm), key id, already on latest, channel policies
//! (`policy`), builtin, rollback block, then the offer itself
//! (`offer`: manifest gating, Electron checksum, metadata; a critical deploy
//! of the channel's bundle is marked). A candidate one of
//! the rules after the arm refuses (anything but "already on latest") sends
//! the device through them again with the stable bundle, on the stable arm,
//! so it still gets the channel's fixes. A revoked bundle is never offered:
//! a pin to one is ignored, a revoked candidate gives the stable arm. Every rule
//! evaluated is written to the trace, which the explain API returns; `/updates`
//! and explain call this same function. The cases in `cases/decide/` drive it.

use std::collections::HashMap;

use serde_json::{Map, Value};
use updraft_protocol::api::{App, Arm, Bundle, Channel, Rollout};
use updraft_protocol::device::{NoUpdate, ReplyKind, RevertToBuiltin, UpdatesReply};

use crate::channel::{self, Source};
use crate::target::Subject;
use crate::trace::{note, Trace};
use crate::validate::{DeviceRequest, Platform};
use crate::version::{plugin_checks_key_id, plugin_is_unsupported};

/// What one app looks like to the decision: its settings, channels and the
/// bundles they (or device pins) point at.
#[derive(Debug, Clone)]
pub struct AppView {
    /// The app's settings (`expose_metadata`, `public_key`, ...).
    pub app: App,
    /// Ordered by `name, id`.
    pub channels: Vec<Channel>,
    /// Every bundle a channel, a rollout or a device pin points at, by id.
    pub bundles: HashMap<i64, Bundle>,
    /// The app's active (running or paused) rollouts, at most one per
    /// channel; others are ignored.
    pub rollouts: Vec<Rollout>,
    /// The app's named cohorts, by name (targeting rules name them).
    pub cohorts: crate::target::Cohorts,
}

/// What an admin forced on the device, resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// Put on this channel (by id).
    Channel(i64),
    /// Pinned to this bundle (by id).
    Bundle(i64),
}

/// Per-device state the decision needs.
#[derive(Debug, Clone, Default)]
pub struct DeviceFacts<'a> {
    /// What an admin forced on this device, if anything.
    pub forced: Option<Forced>,
    /// Bundle ids this device rolled back from.
    pub failed: &'a [i64],
    /// Record every rule evaluated (the explain API); off on the hot path.
    pub explain: bool,
    /// The server's clock (epoch ms): where rollout ramps stand.
    pub now_ms: i64,
}

/// The whole answer to one device: the reply exactly as it goes on the wire,
/// the bundle offered, the channel it came from and the rules evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The `/updates` reply, exactly as sent.
    pub reply: UpdatesReply,
    /// The bundle offered (only with an update reply): the server counts offers.
    pub offered: Option<i64>,
    /// The channel the device resolved to, if any.
    pub channel: Option<String>,
    /// The resolved channel's active rollout and the device's arm in it (the
    /// arm whose bundle the decision went on with: the stable one when the
    /// candidate was refused); `None` without a rollout or for a pinned device.
    pub rollout: Option<(i64, Arm)>,
    /// Empty unless [`DeviceFacts::explain`].
    pub trace: Vec<String>,
}

/// Every soft error code the decision answers, with its `kind` (Capgo's
/// `getUpdateResponseKind`, plus Updraft's own codes).
pub const CODES: &[(&str, ReplyKind)] = &[
    ("unsupported_plugin_version", ReplyKind::Failed),
    ("no_channel", ReplyKind::Failed),
    ("no_bundle", ReplyKind::Failed),
    ("key_id_mismatch", ReplyKind::Blocked),
    ("no_new_version_available", ReplyKind::UpToDate),
    ("disabled_platform_ios", ReplyKind::Blocked),
    ("disabled_platform_android", ReplyKind::Blocked),
    ("disabled_platform_electron", ReplyKind::Blocked),
    ("semver_error", ReplyKind::Failed),
    ("disable_auto_update_to_major", ReplyKind::Blocked),
    ("cannot_update_via_private_channel", ReplyKind::Blocked),
    ("disable_auto_update_to_minor", ReplyKind::Blocked),
    ("disable_auto_update_to_patch", ReplyKind::Blocked),
    ("misconfigured_channel", ReplyKind::Failed),
    ("disable_auto_update_to_metadata", ReplyKind::Blocked),
    ("disable_auto_update_under_native", ReplyKind::Blocked),
    ("disable_prod_build", ReplyKind::Blocked),
    ("disable_dev_build", ReplyKind::Blocked),
    ("disable_device", ReplyKind::Blocked),
    ("disable_emulator", ReplyKind::Blocked),
    ("already_on_builtin", ReplyKind::UpToDate),
    ("bundle_failed_on_device", ReplyKind::Blocked),
    ("manifest_not_supported", ReplyKind::Blocked),
    ("electron_checksum_unavailable", ReplyKind::Blocked),
];

/// The `kind` of a soft error code: from [`CODES`], `failed` for any other.
pub(crate) fn kind_of(code: &str) -> ReplyKind {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(ReplyKind::Failed, |(_, k)| *k)
}

/// A "no update" answer: a soft error code, its message and extra fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Denial {
    code: &'static str,
    message: String,
    extra: Map<String, Value>,
}

impl Denial {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            CODES.iter().any(|(c, _)| *c == code),
            "{code} is missing from CODES"
        );
        Self {
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a field spread flat into the reply (Capgo's `moreInfo`).
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
}

struct Ctx {
    trace: Trace,
    channel: Option<String>,
    rollout: Option<(i64, Arm)>,
}

/// What the rules after the arm make of one target bundle: the reply and the
/// bundle offered, or the rule that refused it.
type Judged = Result<(UpdatesReply, Option<i64>), Denial>;

impl Ctx {
    fn answer(self, judged: Judged) -> Decision {
        match judged {
            Ok((reply, offered)) => self.done(reply, offered),
            Err(d) => self.no(d),
        }
    }

    fn no(mut self, d: Denial) -> Decision {
        note!(self.trace, "answer {}: {}", d.code, d.message);
        Decision {
            reply: UpdatesReply::NoUpdate(NoUpdate {
                error: d.code.to_string(),
                message: d.message,
                kind: kind_of(d.code),
                extra: d.extra,
            }),
            offered: None,
            channel: self.channel,
            rollout: self.rollout,
            trace: self.trace.into_lines(),
        }
    }

    fn done(self, reply: UpdatesReply, offered: Option<i64>) -> Decision {
        Decision {
            reply,
            offered,
            channel: self.channel,
            rollout: self.rollout,
            trace: self.trace.into_lines(),
        }
    }
}

/// Decides what the device of `req` is answered. `base_url` gives the server's
/// public URL (no trailing slash) for links to its own files; it is called
/// only when the reply holds one.
pub fn decide(
    view: &AppView,
    req: &DeviceRequest,
    facts: &DeviceFacts<'_>,
    base_url: &dyn Fn() -> String,
) -> Decision {
    let mut cx = Ctx {
        trace: if facts.explain {
            Trace::on()
        } else {
            Trace::off()
        },
        channel: None,
        rollout: None,
    };
    let platform = req.platform.unwrap_or(Platform::Ios);
    let plugin = req.plugin_version.as_deref().unwrap_or("unknown");
    note!(
        cx.trace,
        "device {} on {} native {} running {} with plugin {plugin}",
        req.device_id,
        platform.as_str(),
        req.version_build,
        req.version_name
    );

    // 1. Plugins too old to be served at all.
    if req
        .plugin_semver()
        .is_some_and(|v| plugin_is_unsupported(&v))
    {
        return cx.no(Denial::new(
            "unsupported_plugin_version",
            "Plugin version 4 is no longer supported; upgrade @capgo/capacitor-updater",
        ));
    }
    note!(cx.trace, "plugin {plugin} is supported");
    if facts.explain {
        if let Some(b) = running_revoked(view, req) {
            note!(
                cx.trace,
                "the device runs bundle {}, which was revoked ({})",
                b.version,
                b.revoked_reason.as_deref().unwrap_or("no reason given")
            );
        }
    }

    // 2. A bundle pinned by an admin beats every channel and every policy.
    if let Some(Forced::Bundle(id)) = facts.forced {
        match view.bundles.get(&id) {
            Some(b) if b.is_revoked() => note!(
                cx.trace,
                "device is pinned to bundle {}, which was revoked; ignoring the pin",
                b.version
            ),
            Some(b) => {
                note!(cx.trace, "device is pinned to bundle {}", b.version);
                let judged = judge(&mut cx, view, req, facts, Some(b), None, base_url);
                let judged = off_revoked(&mut cx, view, req, judged);
                return cx.answer(judged);
            }
            None => note!(
                cx.trace,
                "device is pinned to a bundle that no longer exists; ignoring the pin"
            ),
        }
    }

    // 3. Channel resolution: override > defaultChannel > public.
    let subject = Subject::of(req, view.app.allow_device_custom_id);
    let Some(resolved) = channel::resolve(
        &view.channels,
        facts.forced,
        req.default_channel.as_deref(),
        &subject,
        &view.cohorts,
        &mut cx.trace,
    ) else {
        return cx.no(Denial::new("no_channel", "no default channel or override"));
    };
    let channel = resolved.channel;
    cx.channel = Some(channel.name.clone());

    // A revoked bundle is never offered: a channel only points at one in the
    // moment between the revocation's commit and this node's reload.
    let stable = channel
        .bundle_id
        .map(|id| view.bundles.get(&id).filter(|b| !b.is_revoked()).ok_or(id));
    note!(
        cx.trace,
        "channel {} points at {}",
        channel.name,
        match stable {
            None => "builtin",
            Some(Ok(b)) => b.version.as_str(),
            Some(Err(_)) => "a bundle that no longer exists or was revoked",
        }
    );

    let on = Some((channel, resolved.source == Source::Override));

    // 4. The channel's rollout: the candidate for devices in its candidate
    // arm, unless a rule refuses it; then the stable bundle, on the stable arm.
    if let Some(candidate) = rollout_candidate(&mut cx, view, req, facts, channel) {
        match judge(&mut cx, view, req, facts, Some(candidate), on, base_url) {
            Err(d) if d.code != "no_new_version_available" => {
                note!(
                    cx.trace,
                    "candidate {} refused: {}; the device gets the stable bundle",
                    candidate.version,
                    d.code
                );
                if let Some((_, arm)) = &mut cx.rollout {
                    *arm = Arm::Stable;
                }
            }
            judged => {
                let judged = off_revoked(&mut cx, view, req, judged);
                return cx.answer(judged);
            }
        }
    }
    let bundle = match stable {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => return cx.no(Denial::new("no_bundle", "Cannot get bundle")),
    };
    let judged = judge(&mut cx, view, req, facts, bundle, on, base_url);
    let judged = off_revoked(&mut cx, view, req, judged);
    cx.answer(judged)
}

/// The revoked bundle the device runs, if it runs one.
fn running_revoked<'v>(view: &'v AppView, req: &DeviceRequest) -> Option<&'v Bundle> {
    view.bundles
        .values()
        .find(|b| b.is_revoked() && b.version == req.version_name)
}

/// A device must not stay on a revoked bundle: when the rules refuse it the
/// bundle it should move to (a channel policy, a rollback block, a key
/// mismatch), it reverts to builtin instead. Other answers stand.
fn off_revoked(cx: &mut Ctx, view: &AppView, req: &DeviceRequest, judged: Judged) -> Judged {
    let Err(d) = &judged else { return judged };
    if d.code == "no_new_version_available" || d.code == "already_on_builtin" {
        return judged;
    }
    let Some(b) = running_revoked(view, req) else {
        return judged;
    };
    note!(
        cx.trace,
        "its move is refused ({}) and it runs revoked bundle {}: answer revert to builtin",
        d.code,
        b.version
    );
    Ok((
        UpdatesReply::RevertToBuiltin(RevertToBuiltin {
            version: "builtin".into(),
        }),
        None,
    ))
}

/// The candidate bundle of `channel`'s active rollout when the device is in
/// its candidate arm (recording the rollout and arm in `cx`); `None` for the
/// stable arm, or when there is no rollout. A candidate missing from the
/// snapshot (only a race leaves that) gives the stable arm.
fn rollout_candidate<'v>(
    cx: &mut Ctx,
    view: &'v AppView,
    req: &DeviceRequest,
    facts: &DeviceFacts<'_>,
    channel: &Channel,
) -> Option<&'v Bundle> {
    let r = view
        .rollouts
        .iter()
        .find(|r| r.channel_id == channel.id && r.state.is_active())?;
    let arm = crate::rollout::arm(
        r,
        &Subject::of(req, view.app.allow_device_custom_id),
        &view.cohorts,
        &req.version_name,
        facts.now_ms,
        &mut cx.trace,
    );
    let candidate = match arm {
        Arm::Stable => None,
        Arm::Candidate => {
            let b = view
                .bundles
                .get(&r.candidate_id)
                .filter(|b| !b.is_revoked());
            if b.is_none() {
                note!(
                    cx.trace,
                    "the candidate {} no longer exists or was revoked; the device gets the stable bundle",
                    r.candidate_version
                );
            }
            b
        }
    };
    cx.rollout = Some((
        r.id,
        if candidate.is_some() {
            Arm::Candidate
        } else {
            Arm::Stable
        },
    ));
    candidate
}

/// Key check, "already on latest", channel policies, builtin, rollback block,
/// then the offer, for one target (`None`: builtin) reached through `channel`
/// (and whether by an override), or through a pin when `None`.
fn judge(
    cx: &mut Ctx,
    view: &AppView,
    req: &DeviceRequest,
    facts: &DeviceFacts<'_>,
    bundle: Option<&Bundle>,
    channel: Option<(&Channel, bool)>,
    base_url: &dyn Fn() -> String,
) -> Judged {
    let target_name = bundle.map_or("builtin", |b| b.version.as_str());

    // Encryption key mismatch (plugins newer than 8.40.7 only).
    if let (Some(b), Some(dev_key)) = (bundle, req.info.key_id.as_deref()) {
        if let Some(bundle_key) = b.key_id.as_deref() {
            let gated = req
                .plugin_semver()
                .is_some_and(|v| plugin_checks_key_id(&v));
            if gated && !dev_key.is_empty() && dev_key != bundle_key {
                return Err(Denial::new(
                    "key_id_mismatch",
                    "The device's public key does not match the key this bundle was encrypted with",
                )
                .with("deviceKeyId", dev_key)
                .with("bundleKeyId", bundle_key));
            }
            note!(cx.trace, "key id check passes");
        }
    }

    // Already on latest: plain string equality, as the plugin compares.
    if bundle.is_some() && req.version_name == target_name {
        return Err(Denial::new(
            "no_new_version_available",
            "No new version available",
        ));
    }

    if let Some((c, is_override)) = channel {
        crate::policy::check(&mut cx.trace, req, c, is_override, bundle)?;
    }

    let Some(bundle) = bundle else {
        if req.on_builtin() {
            return Err(
                Denial::new("already_on_builtin", "Already on builtin").with("version", "builtin")
            );
        }
        note!(cx.trace, "answer revert to builtin");
        return Ok((
            UpdatesReply::RevertToBuiltin(RevertToBuiltin {
                version: "builtin".into(),
            }),
            None,
        ));
    };

    if facts.failed.contains(&bundle.id) {
        return Err(
            Denial::new(
                "bundle_failed_on_device",
                format!(
                    "This device rolled back bundle {} and is not offered it again until the channel moves on",
                    bundle.version
                ),
            )
            .with("version", bundle.version.as_str()),
        );
    }
    let mut reply = crate::offer::offer(bundle, req, &view.app, base_url, &mut cx.trace)?;
    if channel.is_some_and(|(c, _)| c.critical && c.bundle_id == Some(bundle.id)) {
        note!(
            cx.trace,
            "the channel's deploy of {} is critical: the reply says so",
            bundle.version
        );
        reply.critical = Some(true);
    }
    note!(cx.trace, "answer update to bundle {}", bundle.version);
    Ok((UpdatesReply::Update(reply), Some(bundle.id)))
}

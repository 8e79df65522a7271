//! Which channel serves a device: its override (set by an admin, or by an old
//! plugin for itself) > its `defaultChannel` (only if public or
//! self-assignable, and allowed for its platform) > the public channel for its
//! platform. Unlike Capgo, an ineligible `defaultChannel` falls back to the
//! public channel instead of answering `no_channel`. A channel with a
//! targeting rule ([`crate::target`]) serves through `defaultChannel` or as a
//! public channel only the devices the rule matches; several public channels
//! with rules may share a platform (geographic channels): the first by name
//! whose rule matches wins, then the platform's public channel without one.
//! An admin's override ignores rules. The update decision and the
//! `/channel_self` handlers both ask this module.

use updraft_protocol::api::Channel;

use crate::decide::Forced;
use crate::target::{self, Cohorts, Subject};
use crate::trace::{note, Trace};
use crate::validate::Platform;

/// Where the resolved channel came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The device's override (an admin's, or an old plugin's own choice).
    Override,
    /// The device's own `defaultChannel`.
    DefaultChannel,
    /// The public channel for the device's platform.
    Public,
}

/// The channel a device is served from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The channel serving the device.
    pub channel: &'a Channel,
    /// Why this channel: which rule picked it.
    pub source: Source,
}

/// Whether `c` serves devices of platform `p`.
pub fn allows_platform(c: &Channel, p: Platform) -> bool {
    match p {
        Platform::Ios => c.ios,
        Platform::Android => c.android,
        Platform::Electron => c.electron,
    }
}

/// Whether `c`'s targeting rule (if any) takes the device, noting a rule's
/// verdict in `trace` as `{what} {name}` (`defaultChannel x`, `public channel x`).
fn targets(
    c: &Channel,
    what: &str,
    subject: &Subject<'_>,
    cohorts: &Cohorts,
    trace: &mut Trace,
) -> bool {
    let Some(rule) = &c.target else { return true };
    let hit = target::matches(rule, subject, cohorts);
    note!(
        trace,
        "{what} {} is for {}: the device ({}) {}",
        c.name,
        target::describe(rule),
        target::facts(rule, subject),
        if hit { "matches" } else { "does not match" }
    );
    hit
}

/// Resolves the channel of the device `subject` with `forced` (only a
/// channel override counts here; a bundle pin is the decision's business) and
/// `default_channel`, with the app's named `cohorts` for targeting rules,
/// noting each step in `trace`. `None`: no channel at all.
pub fn resolve<'a>(
    channels: &'a [Channel],
    forced: Option<Forced>,
    default_channel: Option<&str>,
    subject: &Subject<'_>,
    cohorts: &Cohorts,
    trace: &mut Trace,
) -> Option<Resolved<'a>> {
    let platform = subject.platform;
    if let Some(Forced::Channel(id)) = forced {
        match channels.iter().find(|c| c.id == id) {
            Some(c) => {
                note!(trace, "device override puts it on channel {}", c.name);
                if c.target.is_some() {
                    note!(
                        trace,
                        "an override is not bound by the channel's targeting rule"
                    );
                }
                return Some(Resolved {
                    channel: c,
                    source: Source::Override,
                });
            }
            None => note!(
                trace,
                "device override names a channel that no longer exists; ignoring it"
            ),
        }
    }
    if let Some(name) = default_channel.filter(|n| !n.is_empty()) {
        match channels.iter().find(|c| c.name == name) {
            Some(c) if !(c.public || c.allow_device_self_set) => note!(trace,
                "defaultChannel {name} is neither public nor self-assignable; falling back to the public channel"
            ),
            Some(c) if !allows_platform(c, platform) => note!(trace,
                "defaultChannel {name} is disabled for {}; falling back to the public channel",
                platform.as_str()
            ),
            Some(c) if !targets(c, "defaultChannel", subject, cohorts, trace) => {
                note!(trace, "falling back to the public channel");
            }
            Some(c) => {
                note!(trace, "defaultChannel {name} is eligible");
                return Some(Resolved {
                    channel: c,
                    source: Source::DefaultChannel,
                });
            }
            None => note!(
                trace,
                "defaultChannel {name} does not exist; falling back to the public channel"
            ),
        }
    }
    let mut publics = channels
        .iter()
        .filter(|c| c.public && allows_platform(c, platform));
    let public = publics
        .clone()
        .filter(|c| c.target.is_some())
        .find(|c| targets(c, "public channel", subject, cohorts, trace))
        .or_else(|| publics.find(|c| c.target.is_none()));
    match public {
        Some(c) => note!(
            trace,
            "public channel for {} is {}",
            platform.as_str(),
            c.name
        ),
        None => note!(trace, "no public channel for {}", platform.as_str()),
    }
    public.map(|c| Resolved {
        channel: c,
        source: Source::Public,
    })
}

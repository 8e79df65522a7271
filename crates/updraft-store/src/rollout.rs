//! [`RolloutStore`]: rollouts on channels, their gate evaluations, and the
//! per-device release rows ([`ReleaseSignal`]) that health gates and release
//! metrics are counted from.

use async_trait::async_trait;
use updraft_protocol::api::{
    Arm, ArmHealth, NewRollout, ReleaseMetrics, Rollout, RolloutCheck, RolloutState, Signal,
};

use crate::{Stamp, StoreResult};

/// One release signal of one device, queued as a telemetry write
/// ([`crate::Write::Release`]). The store keeps one row per app, bundle and
/// device holding the first time of each signal; a signal for a bundle the
/// app does not have is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseSignal {
    /// The app.
    pub app_id: String,
    /// The device.
    pub device_id: String,
    /// The bundle the signal is about, by version name.
    pub version: String,
    /// What happened.
    pub signal: Signal,
    /// When (epoch ms).
    pub at: i64,
    /// A duration the signal carries (`Ready`: the launch time), in ms.
    pub value_ms: Option<i64>,
    /// The rollout and arm the server resolved for this device, when the
    /// bundle is that arm's bundle; the latest one given is kept.
    pub rollout: Option<(i64, Arm)>,
}

/// A change of a rollout's state or step.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Running -> paused.
    Pause,
    /// Paused -> running; the current step's clock restarts.
    Resume,
    /// To the next step (running); `Conflict` at the last step.
    Advance,
    /// The candidate becomes the channel's bundle (a deploy in its history); ended.
    Promote,
    /// Every device goes back to the stable bundle; ended.
    Revert,
}

impl Transition {
    /// The change kind recorded: `rollout.paused`, `rollout.resumed`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pause => "rollout.paused",
            Self::Resume => "rollout.resumed",
            Self::Advance => "rollout.advanced",
            Self::Promote => "rollout.promoted",
            Self::Revert => "rollout.reverted",
        }
    }

    /// The state after it.
    pub fn target(&self) -> RolloutState {
        match self {
            Self::Pause => RolloutState::Paused,
            Self::Resume | Self::Advance => RolloutState::Running,
            Self::Promote => RolloutState::Promoted,
            Self::Revert => RolloutState::Reverted,
        }
    }
}

/// Rollouts and release rows. Each method is one transaction; each write
/// appends its change (`rollout.started`, the [`Transition::kind`]s,
/// `rollout.alert`) and raises the app's revision, so every node's snapshot
/// follows.
#[async_trait]
pub trait RolloutStore: Send + Sync {
    /// Starts a rollout of `new.bundle` on the channel with `new.plan` (the
    /// caller fills the default plan). `NotFound` when the app, channel or
    /// bundle does not exist (or the bundle is deleted); `Conflict` when the
    /// channel has an active rollout; `Invalid` when the bundle is the
    /// channel's current one.
    async fn start_rollout(
        &self,
        app_id: &str,
        channel: &str,
        new: &NewRollout,
        stamp: &Stamp,
    ) -> StoreResult<Rollout>;
    /// The channel's latest rollout (active or ended); `None` when it never had one.
    async fn get_rollout(&self, app_id: &str, channel: &str) -> StoreResult<Option<Rollout>>;
    /// The app's rollouts, newest first (at most 100).
    async fn list_rollouts(&self, app_id: &str) -> StoreResult<Vec<Rollout>>;
    /// Every active (running or paused) rollout of every app: the gate runner's work.
    async fn active_rollouts(&self) -> StoreResult<Vec<Rollout>>;
    /// Applies `transition` to the rollout `id` of the app, if its revision
    /// is still `expected` (when given), with `reason` kept on the rollout and
    /// in the change. `NotFound` when there is no such rollout; `Conflict`
    /// when the revision moved on or the state does not allow it (an ended
    /// rollout, resume when running, advance past the last step).
    async fn transition_rollout(
        &self,
        app_id: &str,
        id: i64,
        transition: Transition,
        expected: Option<i64>,
        reason: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Rollout>;
    /// Records an alert change (`rollout.alert`) for the rollout, with `detail`.
    async fn alert_rollout(
        &self,
        app_id: &str,
        id: i64,
        detail: &str,
        stamp: &Stamp,
    ) -> StoreResult<()>;
    /// Claims the right to evaluate the rollout's gates at `now_ms`: true for
    /// exactly one caller across nodes per `interval_ms` (the rollout is
    /// active and was not claimed within the interval).
    async fn claim_rollout_check(
        &self,
        id: i64,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreResult<bool>;
    /// Stores one gate evaluation (its `id` is assigned); returns it.
    async fn record_rollout_check(
        &self,
        rollout_id: i64,
        check: &RolloutCheck,
    ) -> StoreResult<RolloutCheck>;
    /// The rollout's latest evaluations, newest first, at most `limit`.
    async fn list_rollout_checks(
        &self,
        rollout_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<RolloutCheck>>;
    /// The health of each arm: `(candidate, stable)`, counted over the
    /// release rows attributed to the rollout.
    async fn arm_health(&self, rollout_id: i64) -> StoreResult<(ArmHealth, ArmHealth)>;
    /// Deletes at most `limit` release rows whose first signal is before
    /// `before` (epoch ms), oldest first, except those of an active rollout,
    /// in one short transaction; returns how many went. Retention calls it
    /// batch by batch with the events' cutoff: made-up devices cannot grow
    /// the table for ever.
    async fn prune_release(&self, before: i64, limit: i64) -> StoreResult<u64>;
    /// A bundle's release metrics over `[since, until)` (devices whose first
    /// signal for it falls in the window). `NotFound` when the app has no
    /// such bundle.
    async fn release_metrics(
        &self,
        app_id: &str,
        version: &str,
        since: i64,
        until: i64,
    ) -> StoreResult<ReleaseMetrics>;
}

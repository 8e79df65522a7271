//! Conformance cases for what rollouts do to the rest of the store: the
//! changes each rollout write appends, gate-check claims and records, the
//! snapshot's active rollouts, and deletes of channels, bundles and apps.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::rollouts::{is_conflict, released, trial};
use crate::{chan, new_bundle, APP};

/// Asserts the one change after `after` is `kind` with the rollout's payload
/// and a raised revision; returns its id and the app's new revision.
async fn one_rollout_change(
    s: &dyn Store,
    (after, revision): (i64, i64),
    kind: &str,
    step: u32,
    reason: Option<&str>,
) -> (i64, i64) {
    let new = s.list_changes(Some(APP), after, 100).await.unwrap();
    let kinds: Vec<&str> = new.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, [kind]);
    let c = &new[0];
    assert_eq!(c.payload["channel"], "production", "{kind}");
    assert_eq!(c.payload["candidate"], "2.0.0", "{kind}");
    assert_eq!(c.payload["step"], step, "{kind}");
    assert_eq!(c.payload["reason"], serde_json::json!(reason), "{kind}");
    assert_eq!(c.actor, "key:3");
    let now = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    assert!(now > revision, "{kind} raises the app's revision");
    assert_eq!(c.revision, Some(now));
    (c.id, now)
}

/// Each rollout write appends its change (with channel, candidate, step and
/// reason) and raises the app's revision.
pub async fn rollout_writes_append_their_changes(s: &dyn Store) {
    released(s).await;
    let start = s.last_change_id().await.unwrap();
    let mut at = (start, s.load_snapshot(APP).await.unwrap().unwrap().revision);
    let by = Stamp::new(7, Actor::Key { id: 3 });
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &by)
        .await
        .unwrap();
    at = one_rollout_change(s, at, "rollout.started", 0, None).await;
    let t = |t: Transition, reason: Option<&'static str>| {
        s.transition_rollout(APP, r.id, t, None, reason, &by)
    };
    t(Transition::Pause, Some("error rate")).await.unwrap();
    at = one_rollout_change(s, at, "rollout.paused", 0, Some("error rate")).await;
    t(Transition::Resume, None).await.unwrap();
    at = one_rollout_change(s, at, "rollout.resumed", 0, None).await;
    t(Transition::Advance, None).await.unwrap();
    at = one_rollout_change(s, at, "rollout.advanced", 1, None).await;
    s.alert_rollout(APP, r.id, "launch time p90 x1.4", &by)
        .await
        .unwrap();
    at = one_rollout_change(s, at, "rollout.alert", 1, Some("launch time p90 x1.4")).await;
    t(Transition::Promote, Some("done")).await.unwrap();
    at = one_rollout_change(s, at, "rollout.promoted", 1, Some("done")).await;
    let missing = s.alert_rollout(APP, r.id + 1, "x", &by).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let again = s
        .start_rollout(APP, "production", &trial("1.0.0"), &by)
        .await
        .unwrap();
    assert!(
        is_conflict(&t(Transition::Revert, None).await),
        "the first one ended"
    );
    s.transition_rollout(APP, again.id, Transition::Revert, None, Some("no"), &by)
        .await
        .unwrap();
    let kinds: Vec<String> = s
        .list_changes(Some(APP), at.0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(kinds, ["rollout.started", "rollout.reverted"]);
}

/// A rollout's gate check is claimed by one caller per interval, only while
/// it is active; recorded checks read back newest first.
pub async fn rollout_checks_are_claimed_once_per_interval(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    let changes = s.last_change_id().await.unwrap();
    assert!(s.claim_rollout_check(r.id, 1_000, 60_000).await.unwrap());
    assert!(
        !s.claim_rollout_check(r.id, 1_000, 60_000).await.unwrap(),
        "claimed already"
    );
    assert!(
        !s.claim_rollout_check(r.id, 60_999, 60_000).await.unwrap(),
        "within the interval"
    );
    assert!(
        s.claim_rollout_check(r.id, 61_000, 60_000).await.unwrap(),
        "the next interval"
    );
    assert!(
        !s.claim_rollout_check(r.id + 1, 500_000, 60_000)
            .await
            .unwrap(),
        "no such rollout"
    );
    assert_eq!(
        s.last_change_id().await.unwrap(),
        changes,
        "claims are not changes"
    );
    let check = |step: u32, at: i64, outcome: &str| RolloutCheck {
        id: 0,
        step,
        at,
        outcome: outcome.into(),
        gates: vec![GateResult {
            gate: "failure_rate".into(),
            status: "pass".into(),
            // Exact in binary, so they read back equal through JSON.
            value: Some(0.5),
            bound: Some(0.25),
            threshold: 0.125,
            devices: 120,
            detail: "1.0 % of 120 devices".into(),
        }],
        candidate: ArmHealth {
            devices: 120,
            ..Default::default()
        },
        stable: ArmHealth {
            devices: 900,
            launch_p90_ms: Some(800),
            ..Default::default()
        },
    };
    let a = s
        .record_rollout_check(r.id, &check(0, 1_000, "none"))
        .await
        .unwrap();
    let b = s
        .record_rollout_check(r.id, &check(0, 61_000, "advance"))
        .await
        .unwrap();
    assert!(b.id > a.id && a.id > 0);
    assert_eq!(
        b,
        RolloutCheck {
            id: b.id,
            ..check(0, 61_000, "advance")
        }
    );
    assert_eq!(
        s.list_rollout_checks(r.id, 20).await.unwrap(),
        vec![b.clone(), a]
    );
    assert_eq!(s.list_rollout_checks(r.id, 1).await.unwrap(), vec![b]);
    let missing = s.record_rollout_check(r.id + 1, &check(0, 1, "none")).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    s.transition_rollout(
        APP,
        r.id,
        Transition::Pause,
        None,
        None,
        &Stamp::system(70_000),
    )
    .await
    .unwrap();
    assert!(
        s.claim_rollout_check(r.id, 200_000, 60_000).await.unwrap(),
        "a paused rollout is checked"
    );
    s.transition_rollout(
        APP,
        r.id,
        Transition::Revert,
        None,
        None,
        &Stamp::system(70_000),
    )
    .await
    .unwrap();
    assert!(
        !s.claim_rollout_check(r.id, 900_000, 60_000).await.unwrap(),
        "an ended rollout is not"
    );
}

/// The snapshot holds the app's active rollouts only, and the rollback
/// blocks of their candidates.
pub async fn snapshot_holds_active_rollouts_only(s: &dyn Store) {
    released(s).await;
    for name in ["beta", "internal"] {
        let on_one = ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan(name)
        };
        s.create_channel(APP, &on_one, &Stamp::system(3))
            .await
            .unwrap();
    }
    let dev = "00000000-0000-4000-8000-0000000000f1";
    let block = Write::Failed {
        app_id: APP.into(),
        device_id: dev.into(),
        version: "2.0.0".into(),
        at: 5,
    };
    s.write_batch(&[block]).await.unwrap();
    assert!(
        s.load_snapshot(APP)
            .await
            .unwrap()
            .unwrap()
            .failures
            .is_empty(),
        "no channel points at 2.0.0"
    );
    let t = |ch: &'static str| async move {
        s.start_rollout(APP, ch, &trial("2.0.0"), &Stamp::system(10))
            .await
    };
    let running = t("production").await.unwrap();
    let paused = t("beta").await.unwrap();
    let ended = t("internal").await.unwrap();
    let paused = s
        .transition_rollout(
            APP,
            paused.id,
            Transition::Pause,
            None,
            None,
            &Stamp::system(11),
        )
        .await
        .unwrap();
    s.transition_rollout(
        APP,
        ended.id,
        Transition::Revert,
        None,
        None,
        &Stamp::system(12),
    )
    .await
    .unwrap();
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(snap.rollouts, vec![running, paused]);
    let candidate = snap.rollouts[0].candidate_id;
    assert_eq!(
        snap.failures,
        vec![(dev.to_string(), candidate)],
        "the candidate's rollback blocks"
    );
}

/// A channel's rollouts go with it; an active candidate cannot be deleted;
/// an app goes with its rollouts and release rows.
pub async fn deletes_and_rollouts(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    s.record_rollout_check(
        r.id,
        &RolloutCheck {
            id: 0,
            step: 0,
            at: 11,
            outcome: "none".into(),
            gates: vec![],
            candidate: ArmHealth::default(),
            stable: ArmHealth::default(),
        },
    )
    .await
    .unwrap();
    let signal = ReleaseSignal {
        app_id: APP.into(),
        device_id: "00000000-0000-4000-8000-0000000000f2".into(),
        version: "2.0.0".into(),
        signal: Signal::Installed,
        at: 12,
        value_ms: None,
        rollout: Some((r.id, Arm::Candidate)),
    };
    s.write_batch(&[Write::Release(signal)]).await.unwrap();
    let changes = s.last_change_id().await.unwrap();
    assert!(
        is_conflict(&s.delete_bundle(APP, "2.0.0", &Stamp::system(13)).await),
        "the candidate is in use"
    );
    assert_eq!(s.last_change_id().await.unwrap(), changes);
    s.delete_channel(APP, "production", &Stamp::system(14))
        .await
        .unwrap();
    assert!(s.get_rollout(APP, "production").await.unwrap().is_none());
    assert!(
        s.list_rollouts(APP).await.unwrap().is_empty()
            && s.active_rollouts().await.unwrap().is_empty()
    );
    assert!(s.list_rollout_checks(r.id, 10).await.unwrap().is_empty());
    let metrics = s.release_metrics(APP, "2.0.0", 0, 100).await.unwrap();
    assert_eq!(metrics.total, 1, "the bundle's release rows stay");
    s.delete_bundle(APP, "2.0.0", &Stamp::system(15))
        .await
        .unwrap();
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("beta")
        },
        &Stamp::system(16),
    )
    .await
    .unwrap();
    s.create_bundle(&new_bundle("3.0.0"), &Stamp::system(17))
        .await
        .unwrap();
    s.start_rollout(APP, "beta", &trial("3.0.0"), &Stamp::system(18))
        .await
        .unwrap();
    s.delete_app(APP, &Stamp::system(19)).await.unwrap();
    assert!(s.active_rollouts().await.unwrap().is_empty());
    released(s).await;
    let metrics = s.release_metrics(APP, "2.0.0", 0, 100).await.unwrap();
    assert_eq!(
        metrics.total, 0,
        "a new app of the same id starts with no release rows"
    );
}

/// While a rollout is active the channel's bundle belongs to it: a deploy
/// or a channel rollback is refused and changes nothing; other channel
/// fields still change, and once the rollout ended deploys work again.
pub async fn a_channel_with_an_active_rollout_refuses_deploys(s: &dyn Store) {
    released(s).await;
    s.create_bundle(&new_bundle("3.0.0"), &Stamp::system(3))
        .await
        .unwrap();
    let at = Stamp::system(10);
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &at)
        .await
        .unwrap();
    let before = s.last_change_id().await.unwrap();
    let deploy = ChannelPatch {
        bundle: Some(Some("3.0.0".into())),
        ..Default::default()
    };
    let refused = s.update_channel(APP, "production", &deploy, &at).await;
    assert!(is_conflict(&refused), "{refused:?}");
    assert!(is_conflict(
        &s.rollback_channel(APP, "production", &at).await
    ));
    let channel = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert_eq!(channel.bundle_version, "1.0.0");
    assert_eq!(
        s.last_change_id().await.unwrap(),
        before,
        "nothing was recorded"
    );
    let flags = ChannelPatch {
        allow_emulator: Some(false),
        ..Default::default()
    };
    s.update_channel(APP, "production", &flags, &at)
        .await
        .unwrap();
    s.transition_rollout(APP, r.id, Transition::Revert, None, None, &at)
        .await
        .unwrap();
    let w = s
        .update_channel(APP, "production", &deploy, &at)
        .await
        .unwrap();
    assert_eq!(w.channel.bundle_version, "3.0.0");
}

/// A critical deploy takes a channel whose rollout is active: the rollout is
/// reverted (superseded) in the same transaction, and the deploy is marked
/// until the next one.
pub async fn a_critical_deploy_supersedes_the_active_rollout(s: &dyn Store) {
    released(s).await;
    s.create_bundle(&new_bundle("3.0.0"), &Stamp::system(3))
        .await
        .unwrap();
    let at = Stamp::system(10);
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &at)
        .await
        .unwrap();
    let critical = ChannelPatch {
        bundle: Some(Some("3.0.0".into())),
        critical: Some(true),
        ..Default::default()
    };
    let w = s
        .update_channel(APP, "production", &critical, &Stamp::system(20))
        .await
        .unwrap();
    assert!(w.channel.critical && w.channel.bundle_version == "3.0.0");
    let ended = s.get_rollout(APP, "production").await.unwrap().unwrap();
    assert_eq!((ended.id, ended.state), (r.id, RolloutState::Reverted));
    assert_eq!(ended.ended_at, Some(20));
    let history = s.deploy_history(APP, "production").await.unwrap();
    assert!(history[0].critical && history[0].bundle_version == "3.0.0");
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert!(snap.rollouts.is_empty(), "no active rollout is left");
    let plain = ChannelPatch {
        bundle: Some(Some("2.0.0".into())),
        ..Default::default()
    };
    let w = s
        .update_channel(APP, "production", &plain, &at)
        .await
        .unwrap();
    assert!(!w.channel.critical, "an ordinary deploy clears the mark");
}

/// A rollout keeps its newest 100 gate evaluations.
pub async fn a_rollout_keeps_its_latest_hundred_checks(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    for at in 0..105 {
        let check = RolloutCheck {
            id: 0,
            step: 0,
            at,
            outcome: "none".into(),
            gates: Vec::new(),
            candidate: ArmHealth::default(),
            stable: ArmHealth::default(),
        };
        s.record_rollout_check(r.id, &check).await.unwrap();
    }
    let kept = s.list_rollout_checks(r.id, 1000).await.unwrap();
    assert_eq!(kept.len(), 100);
    assert_eq!(
        (kept[0].at, kept[99].at),
        (104, 5),
        "the newest, newest first"
    );
}

//! Conformance cases for a rollout's life: starting one (and every
//! refusal), one active rollout per channel, transitions with
//! compare-and-set, and promotion as a deploy. What rollouts do to the rest
//! of the store is in `rollout_effects.rs`.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

/// A plan with one step per percentage.
pub(crate) fn plan(percents: &[f64]) -> RolloutPlan {
    RolloutPlan {
        steps: percents
            .iter()
            .map(|p| RolloutStep {
                percent: *p,
                ..Default::default()
            })
            .collect(),
        auto_advance: true,
        auto_promote: true,
    }
}

pub(crate) fn trial(bundle: &str) -> NewRollout {
    NewRollout {
        bundle: bundle.into(),
        plan: Some(plan(&[1.0, 10.0, 100.0])),
    }
}

/// The app with bundles 1.0.0 and 2.0.0 and channel `production` on 1.0.0.
pub(crate) async fn released(s: &dyn Store) {
    app(s).await;
    for v in ["1.0.0", "2.0.0"] {
        s.create_bundle(&new_bundle(v), &Stamp::system(1))
            .await
            .unwrap();
    }
    let on_one = ChannelPatch {
        bundle: Some(Some("1.0.0".into())),
        ..chan("production")
    };
    s.create_channel(APP, &on_one, &Stamp::system(2))
        .await
        .unwrap();
}

pub(crate) fn is_conflict<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// A rollout starts running at step 0 with the stamp's time; every bad
/// start is refused with the right error and leaves nothing behind.
pub async fn starting_a_rollout(s: &dyn Store) {
    let at = Stamp::system(1_000);
    let missing_app = s
        .start_rollout(APP, "production", &trial("2.0.0"), &at)
        .await;
    assert!(matches!(missing_app, Err(StoreError::NotFound(_))));
    released(s).await;
    s.create_bundle(&new_bundle("3.0.0"), &Stamp::system(3))
        .await
        .unwrap();
    s.delete_bundle(APP, "3.0.0", &Stamp::system(4))
        .await
        .unwrap();
    let before = s.last_change_id().await.unwrap();
    let r = s.start_rollout(APP, "staging", &trial("2.0.0"), &at).await;
    assert!(
        matches!(r, Err(StoreError::NotFound(_))),
        "no such channel: {r:?}"
    );
    for (new, what) in [
        (trial("9.9.9"), "no such bundle"),
        (trial("3.0.0"), "a deleted bundle"),
    ] {
        let r = s.start_rollout(APP, "production", &new, &at).await;
        assert!(
            matches!(r, Err(StoreError::UnknownBundle(_))),
            "{what}: {r:?}"
        );
    }
    let no_plan = NewRollout {
        plan: None,
        ..trial("2.0.0")
    };
    let no_steps = NewRollout {
        plan: Some(plan(&[])),
        ..trial("2.0.0")
    };
    for (new, what) in [
        (trial("1.0.0"), "the channel's own bundle"),
        (no_plan, "no plan"),
        (no_steps, "a plan without steps"),
    ] {
        let r = s.start_rollout(APP, "production", &new, &at).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{what}: {r:?}");
    }
    assert_eq!(
        s.last_change_id().await.unwrap(),
        before,
        "refusals record nothing"
    );
    assert!(s.get_rollout(APP, "production").await.unwrap().is_none());
    assert!(s.active_rollouts().await.unwrap().is_empty());

    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &at)
        .await
        .unwrap();
    let channel = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert_eq!(
        (r.app_id.as_str(), r.channel.as_str(), r.channel_id),
        (APP, "production", channel.id)
    );
    assert_eq!(r.candidate_version, "2.0.0");
    assert_eq!(r.plan, plan(&[1.0, 10.0, 100.0]));
    assert_eq!((r.state, r.step), (RolloutState::Running, 0));
    assert_eq!(
        (r.started_at, r.step_started_at, r.ended_at),
        (1_000, 1_000, None)
    );
    assert_eq!((r.revision, r.reason.as_deref()), (1, None));
    assert_eq!(
        channel.bundle_version, "1.0.0",
        "starting moves no device's channel"
    );
    assert_eq!(
        s.get_rollout(APP, "production").await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(s.list_rollouts(APP).await.unwrap(), vec![r.clone()]);
    assert_eq!(s.active_rollouts().await.unwrap(), vec![r]);
}

/// A channel has at most one active rollout; once it ended another may
/// start, and other channels are independent.
pub async fn one_active_rollout_per_channel(s: &dyn Store) {
    released(s).await;
    let beta = ChannelPatch {
        bundle: Some(Some("1.0.0".into())),
        ..chan("beta")
    };
    s.create_channel(APP, &beta, &Stamp::system(3))
        .await
        .unwrap();
    let first = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    let again = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(11))
        .await;
    assert!(
        is_conflict(&again),
        "a second active rollout on the channel"
    );
    let paused = s
        .transition_rollout(
            APP,
            first.id,
            Transition::Pause,
            None,
            None,
            &Stamp::system(12),
        )
        .await
        .unwrap();
    let again = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(13))
        .await;
    assert!(is_conflict(&again), "a paused rollout is still active");
    let on_beta = s
        .start_rollout(APP, "beta", &trial("2.0.0"), &Stamp::system(14))
        .await
        .unwrap();
    s.transition_rollout(
        APP,
        first.id,
        Transition::Revert,
        Some(paused.revision),
        None,
        &Stamp::system(15),
    )
    .await
    .unwrap();
    let second = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(16))
        .await
        .unwrap();
    assert!(second.id > first.id);
    assert_eq!(
        s.get_rollout(APP, "production").await.unwrap(),
        Some(second.clone()),
        "the latest"
    );
    let listed: Vec<i64> = s
        .list_rollouts(APP)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        listed,
        vec![second.id, on_beta.id, first.id],
        "newest first"
    );
    let active: Vec<i64> = s
        .active_rollouts()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(active, vec![on_beta.id, second.id]);
}

/// Each transition moves state and step as its kind says, raises the
/// revision, and refuses (changing nothing) when the revision is stale or
/// the state does not allow it.
pub async fn rollout_transitions_compare_and_set(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    let id = r.id;
    let go = |t: Transition, expected: Option<i64>, reason: Option<&'static str>, at: i64| async move {
        s.transition_rollout(APP, id, t, expected, reason, &Stamp::system(at))
            .await
    };
    let changes = s.last_change_id().await.unwrap();
    let stale = go(Transition::Pause, Some(r.revision + 1), None, 20).await;
    assert!(is_conflict(&stale), "{stale:?}");
    assert_eq!(
        s.get_rollout(APP, "production").await.unwrap(),
        Some(r.clone()),
        "nothing changed"
    );
    assert_eq!(
        s.last_change_id().await.unwrap(),
        changes,
        "nothing recorded"
    );
    let missing = s
        .transition_rollout(
            APP,
            r.id + 100,
            Transition::Pause,
            None,
            None,
            &Stamp::system(20),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let other_app = s
        .transition_rollout(
            "com.other.app",
            r.id,
            Transition::Pause,
            None,
            None,
            &Stamp::system(20),
        )
        .await;
    assert!(
        matches!(other_app, Err(StoreError::NotFound(_))),
        "{other_app:?}"
    );
    assert!(
        is_conflict(&go(Transition::Resume, None, None, 20).await),
        "resume when running"
    );

    let p = go(
        Transition::Pause,
        Some(r.revision),
        Some("crash rate 4 %"),
        30,
    )
    .await
    .unwrap();
    assert_eq!(
        (p.state, p.step, p.revision),
        (RolloutState::Paused, 0, r.revision + 1)
    );
    assert_eq!(
        (p.reason.as_deref(), p.step_started_at),
        (Some("crash rate 4 %"), 10)
    );
    assert!(
        is_conflict(&go(Transition::Pause, None, None, 31).await),
        "pause when paused"
    );
    assert!(
        is_conflict(&go(Transition::Advance, Some(r.revision), None, 31).await),
        "a stale advance"
    );
    let q = go(Transition::Resume, Some(p.revision), None, 40)
        .await
        .unwrap();
    assert_eq!(
        (q.state, q.step, q.step_started_at),
        (RolloutState::Running, 0, 40)
    );
    assert_eq!(
        q.reason.as_deref(),
        Some("crash rate 4 %"),
        "kept: why it was last paused"
    );
    let a = go(Transition::Advance, None, Some("looks good"), 50)
        .await
        .unwrap();
    assert_eq!(
        (a.state, a.step, a.step_started_at),
        (RolloutState::Running, 1, 50)
    );
    assert_eq!(a.reason.as_deref(), Some("looks good"));
    let a = go(Transition::Advance, Some(a.revision), None, 60)
        .await
        .unwrap();
    assert_eq!((a.step, a.revision), (2, r.revision + 4));
    let last = go(Transition::Advance, None, None, 70).await;
    assert!(is_conflict(&last), "no step after the last: {last:?}");
    let paused = go(Transition::Pause, None, None, 80).await.unwrap();
    assert_eq!(paused.reason, None, "a pause without a reason has none");
    let reverted = go(Transition::Revert, Some(paused.revision), Some("bad"), 90)
        .await
        .unwrap();
    assert_eq!(
        (reverted.state, reverted.ended_at),
        (RolloutState::Reverted, Some(90))
    );
    assert_eq!(reverted.reason.as_deref(), Some("bad"));
    let changes = s.last_change_id().await.unwrap();
    for t in [
        Transition::Pause,
        Transition::Resume,
        Transition::Advance,
        Transition::Promote,
        Transition::Revert,
    ] {
        assert!(
            is_conflict(&go(t.clone(), None, None, 100).await),
            "{t:?} after the end"
        );
    }
    assert_eq!(
        s.last_change_id().await.unwrap(),
        changes,
        "refusals record nothing"
    );
    let channel = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert_eq!(
        channel.bundle_version, "1.0.0",
        "a revert leaves the channel on its bundle"
    );
    assert!(s.active_rollouts().await.unwrap().is_empty());
}

/// Promoting makes the candidate the channel's bundle with a deploy in its
/// history, in the same write; the rollout ends.
pub async fn promoting_moves_the_channel_and_records_a_deploy(s: &dyn Store) {
    released(s).await;
    let r = s
        .start_rollout(APP, "production", &trial("2.0.0"), &Stamp::system(10))
        .await
        .unwrap();
    let p = s
        .transition_rollout(
            APP,
            r.id,
            Transition::Promote,
            Some(r.revision),
            Some("all gates passed"),
            &Stamp::system(500),
        )
        .await
        .unwrap();
    assert_eq!((p.state, p.ended_at), (RolloutState::Promoted, Some(500)));
    let c = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert_eq!(
        (c.bundle_version.as_str(), c.bundle_id),
        ("2.0.0", Some(r.candidate_id))
    );
    let h = s.deploy_history(APP, "production").await.unwrap();
    let h: Vec<(&str, i64)> = h
        .iter()
        .map(|d| (d.bundle_version.as_str(), d.deployed_at))
        .collect();
    assert_eq!(h, vec![("2.0.0", 500), ("1.0.0", 2)]);
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert!(snap.rollouts.is_empty(), "a promoted rollout is not active");
    assert_eq!(snap.channels[0].bundle_version, "2.0.0");
    let back = s
        .rollback_channel(APP, "production", &Stamp::system(600))
        .await
        .unwrap();
    assert_eq!(
        back.channel.bundle_version, "1.0.0",
        "rollback returns to the bundle before the promotion"
    );
}

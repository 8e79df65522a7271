//! Conformance cases with two clients at once: what must hold however their
//! transactions interleave (on PostgreSQL this needs the right row locks).

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

/// Two clients deleting the last two admin keys at once: exactly one wins,
/// every time (on PostgreSQL this needs the row locks; without them both win).
pub async fn last_admin_key_survives_concurrent_deletes(s: std::sync::Arc<dyn Store>) {
    let admin = |name: String| NewApiKey {
        name,
        mode: KeyMode::All,
        apps: vec![],
        expires_at: None,
    };
    let mut kept = s
        .create_api_key(&admin("first".into()), "h-first", &Stamp::system(1))
        .await
        .unwrap();
    for round in 0..20 {
        let other = s
            .create_api_key(
                &admin(format!("k{round}")),
                &format!("h{round}"),
                &Stamp::system(1),
            )
            .await
            .unwrap();
        let (s1, s2) = (s.clone(), s.clone());
        let (a, b) = (kept.id, other.id);
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.delete_api_key(a, &Stamp::system(2)).await }),
            tokio::spawn(async move { s2.delete_api_key(b, &Stamp::system(2)).await }),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(
            ra.is_ok() != rb.is_ok(),
            "round {round}: exactly one of two concurrent deletes succeeds: {ra:?} {rb:?}"
        );
        let left = s.list_api_keys().await.unwrap();
        assert_eq!(left.len(), 1, "round {round}");
        kept = left.into_iter().next().unwrap();
    }
}

/// Deleting a bundle while another client points a channel at it: never both
/// (a channel on a deleted bundle would serve files that may be collected).
pub async fn deleting_a_bundle_races_safely_with_deploying_it(s: std::sync::Arc<dyn Store>) {
    app(&*s).await;
    s.create_channel(APP, &chan("production"), &Stamp::system(1))
        .await
        .unwrap();
    for round in 0..30 {
        let version = format!("1.0.{round}");
        s.create_bundle(&new_bundle(&version), &Stamp::system(1))
            .await
            .unwrap();
        let (s1, s2, v1, v2) = (s.clone(), s.clone(), version.clone(), version.clone());
        let deploy = ChannelPatch {
            bundle: Some(Some(v2)),
            ..Default::default()
        };
        let (deleted, deployed) = tokio::join!(
            tokio::spawn(async move { s1.delete_bundle(APP, &v1, &Stamp::system(0)).await }),
            tokio::spawn(async move {
                s2.update_channel(APP, "production", &deploy, &Stamp::system(2))
                    .await
            }),
        );
        let (deleted, deployed) = (deleted.unwrap(), deployed.unwrap());
        assert!(
            deleted.is_ok() != deployed.is_ok(),
            "round {round}: exactly one wins: {deleted:?} {deployed:?}"
        );
        let c = s.get_channel(APP, "production").await.unwrap().unwrap();
        let live = s
            .get_bundle(APP, &version)
            .await
            .unwrap()
            .is_some_and(|b| !b.deleted);
        if deployed.is_ok() {
            assert_eq!(c.bundle_version, version);
            assert!(live, "round {round}: the deployed bundle is live");
        } else {
            assert!(!live, "round {round}: the bundle was deleted");
        }
    }
}

/// Two clients starting a rollout on one channel, then two promoting it
/// (one with a stale revision check, one without): exactly one wins each
/// time, and a promotion deploys once.
pub async fn concurrent_rollout_starts_and_transitions_have_one_winner(
    s: std::sync::Arc<dyn Store>,
) {
    app(&*s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    let on_one = ChannelPatch {
        bundle: Some(Some("1.0.0".into())),
        ..chan("production")
    };
    s.create_channel(APP, &on_one, &Stamp::system(1))
        .await
        .unwrap();
    for round in 0..15 {
        let version = format!("2.0.{round}");
        s.create_bundle(&new_bundle(&version), &Stamp::system(1))
            .await
            .unwrap();
        let new = NewRollout {
            bundle: version.clone(),
            plan: Some(crate::rollouts::plan(&[5.0])),
        };
        let (s1, s2, n1, n2) = (s.clone(), s.clone(), new.clone(), new);
        let (a, b) = tokio::join!(
            tokio::spawn(async move {
                s1.start_rollout(APP, "production", &n1, &Stamp::system(2))
                    .await
            }),
            tokio::spawn(async move {
                s2.start_rollout(APP, "production", &n2, &Stamp::system(2))
                    .await
            }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.is_ok() != b.is_ok(),
            "round {round}: one start wins: {a:?} {b:?}"
        );
        let lost = if a.is_ok() { &b } else { &a };
        assert!(
            matches!(lost, Err(StoreError::Conflict(_))),
            "round {round}: {lost:?}"
        );
        let r = a.or(b).unwrap();
        let deploys = s.deploy_history(APP, "production").await.unwrap().len();
        let (s1, s2) = (s.clone(), s.clone());
        let (a, b) = tokio::join!(
            tokio::spawn(async move {
                s1.transition_rollout(
                    APP,
                    r.id,
                    Transition::Promote,
                    Some(r.revision),
                    None,
                    &Stamp::system(3),
                )
                .await
            }),
            tokio::spawn(async move {
                s2.transition_rollout(APP, r.id, Transition::Revert, None, None, &Stamp::system(3))
                    .await
            }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.is_ok() != b.is_ok(),
            "round {round}: one transition wins: {a:?} {b:?}"
        );
        let after = s.deploy_history(APP, "production").await.unwrap().len();
        let channel = s.get_channel(APP, "production").await.unwrap().unwrap();
        if a.is_ok() {
            assert_eq!(
                (after, channel.bundle_version.as_str()),
                (deploys + 1, version.as_str()),
                "round {round}"
            );
        } else {
            assert_eq!(after, deploys, "round {round}: a revert deploys nothing");
        }
    }
}

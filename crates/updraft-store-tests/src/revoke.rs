//! Conformance cases for revoking a bundle: what moves off it in the same
//! transaction, the changes it records, and the refusals that follow.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::rollouts::trial;
use crate::{app, chan, new_bundle, APP};

fn on(name: &str, bundle: &str) -> ChannelPatch {
    ChannelPatch {
        bundle: Some(Some(bundle.into())),
        ..chan(name)
    }
}

fn deploy(bundle: &str) -> ChannelPatch {
    ChannelPatch {
        bundle: Some(Some(bundle.into())),
        ..Default::default()
    }
}

fn is_revoked<T: std::fmt::Debug>(r: &StoreResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StoreError::Revoked(m)) if m.contains("revoked")),
        "{what}: {r:?}"
    );
}

/// Revoking reverts the rollouts trying the bundle or standing on it, moves
/// every channel serving it to the newest earlier deploy that is neither
/// deleted nor revoked (or builtin), records each of those and
/// `bundle.revoked`; afterwards no channel, rollout or pin may take it, and
/// revoking again changes nothing.
pub async fn revoking_a_bundle_moves_what_served_it(s: &dyn Store) {
    app(s).await;
    let at = Stamp::system(10);
    for v in ["1.0.0", "1.1.0", "2.0.0", "3.0.0"] {
        s.create_bundle(&new_bundle(v), &at).await.unwrap();
    }
    // production: 1.0.0 then 1.1.0, trying 2.0.0; beta: only ever 1.1.0;
    // staging: 1.0.0, trying 1.1.0.
    s.create_channel(APP, &on("production", "1.0.0"), &at)
        .await
        .unwrap();
    s.update_channel(APP, "production", &deploy("1.1.0"), &at)
        .await
        .unwrap();
    s.create_channel(APP, &on("beta", "1.1.0"), &at)
        .await
        .unwrap();
    s.create_channel(APP, &on("staging", "1.0.0"), &at)
        .await
        .unwrap();
    let tried_on = s
        .start_rollout(APP, "production", &trial("2.0.0"), &at)
        .await
        .unwrap();
    let trying = s
        .start_rollout(APP, "staging", &trial("1.1.0"), &at)
        .await
        .unwrap();
    let before = s.last_change_id().await.unwrap();
    let revision = s.load_snapshot(APP).await.unwrap().unwrap().revision;

    let by = Stamp::new(500, Actor::Key { id: 4 });
    let done = s
        .revoke_bundle(APP, "1.1.0", Some("crashes on start"), &by)
        .await
        .unwrap();
    assert!(done.changed);
    assert_eq!(done.bundle.revoked_at, Some(500));
    assert_eq!(
        done.bundle.revoked_reason.as_deref(),
        Some("crashes on start")
    );
    let moves: Vec<(&str, &str)> = done
        .channels
        .iter()
        .map(|m| (m.channel.as_str(), m.bundle.as_str()))
        .collect();
    assert_eq!(moves, [("beta", "builtin"), ("production", "1.0.0")]);
    let mut reverted = done.rollouts.clone();
    reverted.sort_unstable();
    assert_eq!(reverted, [tried_on.id, trying.id]);

    for (name, bundle) in [
        ("production", "1.0.0"),
        ("beta", "builtin"),
        ("staging", "1.0.0"),
    ] {
        let c = s.get_channel(APP, name).await.unwrap().unwrap();
        assert_eq!(c.bundle_version, bundle, "channel {name}");
    }
    let history = s.deploy_history(APP, "production").await.unwrap();
    assert_eq!(history[0].bundle_version, "1.0.0", "the move is a deploy");
    for r in s.list_rollouts(APP).await.unwrap() {
        assert_eq!(r.state, RolloutState::Reverted, "rollout {}", r.id);
        assert_eq!(
            r.reason.as_deref(),
            Some("bundle 1.1.0 revoked: crashes on start")
        );
    }
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert!(snap.revision > revision);
    assert!(snap.rollouts.is_empty());
    let listed = s.list_bundles(APP).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|b| b.version == "1.1.0" && b.is_revoked()),
        "a revoked bundle stays listed"
    );

    let changes = s.list_changes(Some(APP), before, 100).await.unwrap();
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "rollout.reverted",
            "rollout.reverted",
            "channel.rolled_back",
            "channel.rolled_back",
            "bundle.revoked"
        ]
    );
    assert!(changes.iter().all(|c| c.actor == "key:4"));
    // The audit trail: each moved channel as it was and as it is.
    let moved = &changes[3];
    assert_eq!(moved.payload["channel"], "production");
    assert_eq!(moved.payload["before"]["bundle_version"], "1.1.0");
    assert_eq!(moved.payload["after"]["bundle_version"], "1.0.0");
    let last = changes.last().unwrap();
    assert_eq!(last.payload["version"], "1.1.0");
    assert_eq!(last.payload["reason"], "crashes on start");
    assert_eq!(last.payload["channels"][1]["channel"], "production");
    assert_eq!(last.payload["channels"][1]["bundle"], "1.0.0");

    // Nothing may take it again.
    is_revoked(
        &s.update_channel(APP, "production", &deploy("1.1.0"), &by)
            .await,
        "a deploy",
    );
    is_revoked(
        &s.create_channel(APP, &on("qa", "1.1.0"), &by).await,
        "a new channel",
    );
    is_revoked(
        &s.start_rollout(APP, "production", &trial("1.1.0"), &by)
            .await,
        "a rollout",
    );
    let pin = SetOverride {
        channel: None,
        bundle: Some("1.1.0".into()),
    };
    is_revoked(&s.set_override(APP, "device-1", &pin, &by).await, "a pin");
    assert!(s.get_channel(APP, "qa").await.unwrap().is_none());

    // Again: nothing changes, nothing is recorded.
    let after = s.last_change_id().await.unwrap();
    let again = s
        .revoke_bundle(APP, "1.1.0", Some("other"), &Stamp::system(900))
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.bundle.revoked_at, Some(500));
    assert_eq!(
        again.bundle.revoked_reason.as_deref(),
        Some("crashes on start")
    );
    assert_eq!(s.last_change_id().await.unwrap(), after);

    // A rollback skips the revoked bundle too: production's history is
    // 1.0.0, 1.1.0 (revoked), 1.0.0, so there is nothing to go back to.
    assert!(matches!(
        s.rollback_channel(APP, "production", &by).await,
        Err(StoreError::Conflict(_))
    ));

    // A later revocation skips revoked and deleted bundles of the history:
    // production 1.0.0, 1.1.0 (revoked), 1.0.0, 2.0.0 (deleted), 3.0.0;
    // 1.0.0 revoked too.
    s.update_channel(APP, "production", &deploy("2.0.0"), &by)
        .await
        .unwrap();
    s.update_channel(APP, "production", &deploy("3.0.0"), &by)
        .await
        .unwrap();
    s.delete_bundle(APP, "2.0.0", &by).await.unwrap();
    s.update_channel(APP, "staging", &deploy("3.0.0"), &by)
        .await
        .unwrap();
    let quiet = s.revoke_bundle(APP, "1.0.0", None, &by).await.unwrap();
    assert!(quiet.changed && quiet.channels.is_empty() && quiet.rollouts.is_empty());
    let done = s.revoke_bundle(APP, "3.0.0", None, &by).await.unwrap();
    let moves: Vec<(&str, &str)> = done
        .channels
        .iter()
        .map(|m| (m.channel.as_str(), m.bundle.as_str()))
        .collect();
    assert_eq!(moves, [("production", "builtin"), ("staging", "builtin")]);

    // Missing or deleted: not found; a revoked bundle nothing uses can be deleted.
    assert!(matches!(
        s.revoke_bundle(APP, "9.9.9", None, &by).await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_bundle(APP, "1.1.0", &by).await.unwrap();
    assert!(matches!(
        s.revoke_bundle(APP, "1.1.0", None, &by).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.revoke_bundle("com.example.other", "2.0.0", None, &by)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

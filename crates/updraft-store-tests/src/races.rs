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
        .create_api_key(&admin("first".into()), "h-first", 1)
        .await
        .unwrap();
    for round in 0..20 {
        let other = s
            .create_api_key(&admin(format!("k{round}")), &format!("h{round}"), 1)
            .await
            .unwrap();
        let (s1, s2) = (s.clone(), s.clone());
        let (a, b) = (kept.id, other.id);
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.delete_api_key(a, 2).await }),
            tokio::spawn(async move { s2.delete_api_key(b, 2).await }),
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
    s.create_channel(APP, &chan("production"), 1).await.unwrap();
    for round in 0..30 {
        let version = format!("1.0.{round}");
        s.create_bundle(&new_bundle(&version), 1).await.unwrap();
        let (s1, s2, v1, v2) = (s.clone(), s.clone(), version.clone(), version.clone());
        let deploy = ChannelPatch {
            bundle: Some(Some(v2)),
            ..Default::default()
        };
        let (deleted, deployed) = tokio::join!(
            tokio::spawn(async move { s1.delete_bundle(APP, &v1).await }),
            tokio::spawn(async move { s2.update_channel(APP, "production", &deploy, 2).await }),
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

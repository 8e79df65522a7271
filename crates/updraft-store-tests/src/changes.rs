//! Conformance cases for the change log: every write appends exactly one
//! change of its kind in its own transaction, a refused write appends none,
//! and the log reads back in order, per app or whole, and prunes.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

/// The changes appended since `after`; asserts there is exactly one, of
/// `kind`, and returns it.
async fn one_new(s: &dyn Store, after: &mut i64, kind: &str) -> Change {
    let new = s.list_changes(None, *after, 100).await.unwrap();
    let kinds: Vec<&str> = new.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, [kind], "changes after {after}");
    *after = new[0].id;
    new[0].clone()
}

/// Asserts nothing was appended since `after`.
async fn none_new(s: &dyn Store, after: i64, what: &str) {
    let new = s.list_changes(None, after, 100).await.unwrap();
    assert!(new.is_empty(), "{what} appended {new:?}");
}

/// Each write appends one change of its kind, with its stamp, app, revision
/// and device; a write that fails appends none.
pub async fn every_write_appends_one_change(s: &dyn Store) {
    let by = Stamp::new(42, Actor::Key { id: 7 });
    let mut at = s.last_change_id().await.unwrap();
    assert_eq!(at, 0, "a new database has an empty log");
    let new_app = NewApp {
        app_id: APP.into(),
        name: None,
    };
    s.create_app(&new_app, &by).await.unwrap();
    let c = one_new(s, &mut at, "app.created").await;
    assert_eq!(
        (c.app_id.as_deref(), c.actor.as_str(), c.at, c.device_id),
        (Some(APP), "key:7", 42, None)
    );
    assert!(s.create_app(&new_app, &by).await.is_err());
    none_new(s, at, "a refused create_app").await;
    s.update_app(APP, &AppPatch::default(), &by).await.unwrap();
    one_new(s, &mut at, "app.updated").await;
    s.create_bundle(&new_bundle("1.0.0"), &by).await.unwrap();
    let c = one_new(s, &mut at, "bundle.created").await;
    assert_eq!(c.payload["version"], "1.0.0");
    let rev = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    assert_eq!(c.revision, Some(rev), "the revision after the write");
    s.update_bundle_meta(APP, "1.0.0", &BundleMeta::default(), &by)
        .await
        .unwrap();
    one_new(s, &mut at, "bundle.updated").await;
    let deploy = ChannelPatch {
        bundle: Some(Some("1.0.0".into())),
        ..chan("production")
    };
    s.create_channel(APP, &deploy, &by).await.unwrap();
    let c = one_new(s, &mut at, "channel.created").await;
    assert_eq!(
        (&c.payload["channel"], &c.payload["bundle"]),
        (&"production".into(), &"1.0.0".into())
    );
    assert!(s.delete_bundle(APP, "1.0.0", &by).await.is_err());
    none_new(s, at, "a refused delete_bundle").await;
    s.create_bundle(&new_bundle("1.1.0"), &by).await.unwrap();
    one_new(s, &mut at, "bundle.created").await;
    let to_new = ChannelPatch {
        bundle: Some(Some("1.1.0".into())),
        ..Default::default()
    };
    s.update_channel(APP, "production", &to_new, &by)
        .await
        .unwrap();
    one_new(s, &mut at, "channel.updated").await;
    s.rollback_channel(APP, "production", &by).await.unwrap();
    let c = one_new(s, &mut at, "channel.rolled_back").await;
    assert_eq!(c.payload["bundle"], "1.0.0");
    let dev = "00000000-0000-4000-8000-00000000000a";
    let pin = SetOverride {
        channel: None,
        bundle: Some("1.1.0".into()),
    };
    s.set_override(APP, dev, &pin, &by).await.unwrap();
    let c = one_new(s, &mut at, "device.override_set").await;
    assert_eq!(c.device_id.as_deref(), Some(dev));
    s.remove_override(APP, dev, &by).await.unwrap();
    one_new(s, &mut at, "device.override_removed").await;
    let rev = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    assert!(!s.remove_override(APP, dev, &by).await.unwrap());
    none_new(s, at, "removing an override that is not there").await;
    assert_eq!(
        s.load_snapshot(APP).await.unwrap().unwrap().revision,
        rev,
        "a refused removal does not bump the revision"
    );
    s.clear_failures(APP, dev, None, &by).await.unwrap();
    one_new(s, &mut at, "device.blocks_cleared").await;
    s.create_channel(
        APP,
        &ChannelPatch {
            allow_device_self_set: Some(true),
            ..chan("beta")
        },
        &by,
    )
    .await
    .unwrap();
    one_new(s, &mut at, "channel.created").await;
    let device = Stamp::new(43, Actor::Device);
    let rev = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    assert_eq!(
        s.self_assign(APP, dev, Some("beta"), 1, &device)
            .await
            .unwrap(),
        SelfAssign::Done
    );
    let c = one_new(s, &mut at, "device.self_assigned").await;
    let beta = s.get_channel(APP, "beta").await.unwrap().unwrap().id;
    assert_eq!(
        (
            c.device_id.as_deref(),
            &c.payload["channel_id"],
            c.actor.as_str()
        ),
        (Some(dev), &beta.into(), "device")
    );
    assert_eq!(
        s.self_assign(APP, dev, Some("beta"), 1, &device)
            .await
            .unwrap(),
        SelfAssign::Done
    );
    none_new(s, at, "the same self-assignment again").await;
    assert_eq!(
        s.self_assign(APP, "other", Some("beta"), 1, &device)
            .await
            .unwrap(),
        SelfAssign::Full
    );
    none_new(s, at, "a self-assignment over the cap").await;
    s.self_assign(APP, dev, None, 1, &device).await.unwrap();
    one_new(s, &mut at, "device.self_unassigned").await;
    assert_eq!(
        s.load_snapshot(APP).await.unwrap().unwrap().revision,
        rev,
        "device-scoped changes leave the app's revision alone"
    );
    s.delete_channel(APP, "beta", &by).await.unwrap();
    one_new(s, &mut at, "channel.deleted").await;
    let key = NewApiKey {
        name: "k".into(),
        mode: KeyMode::Read,
        apps: vec![],
        expires_at: None,
    };
    let k = s.create_api_key(&key, "hash-k", &by).await.unwrap();
    let c = one_new(s, &mut at, "key.created").await;
    assert_eq!((c.app_id, c.revision), (None, None), "outside any app");
    s.delete_api_key(k.id, &by).await.unwrap();
    one_new(s, &mut at, "key.deleted").await;
    s.delete_app(APP, &by).await.unwrap();
    let c = one_new(s, &mut at, "app.deleted").await;
    assert_eq!(c.app_id.as_deref(), Some(APP));
    assert_eq!(s.last_change_id().await.unwrap(), at);
}

/// A rollback block written by a telemetry batch is a device-scoped change
/// by the device, at the block's time; a block of an unknown bundle is none.
pub async fn rollback_blocks_are_device_scoped_changes(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    let mut at = s.last_change_id().await.unwrap();
    let rev = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    let failed = |version: &str| Write::Failed {
        app_id: APP.into(),
        device_id: "d1".into(),
        version: version.into(),
        at: 500,
    };
    s.write_batch(&[failed("1.0.0"), failed("9.9.9")])
        .await
        .unwrap();
    let c = one_new(s, &mut at, "device.rollback_blocked").await;
    let id = s.get_bundle(APP, "1.0.0").await.unwrap().unwrap().id;
    assert_eq!(
        (
            c.device_id.as_deref(),
            &c.payload["bundle_id"],
            c.actor.as_str(),
            c.at,
            c.revision
        ),
        (Some("d1"), &id.into(), "device", 500, Some(rev))
    );
    let again = Write::Failed {
        app_id: APP.into(),
        device_id: "d1".into(),
        version: "1.0.0".into(),
        at: 600,
    };
    s.write_batch(&[again]).await.unwrap();
    none_new(s, at, "a rollback of a bundle already blocked").await;
}

/// The log reads back oldest first after a cursor, per app or whole, with a
/// limit; pruning keeps each app's latest change.
pub async fn changes_list_and_prune(s: &dyn Store) {
    app(s).await;
    let other = NewApp {
        app_id: "com.example.other".into(),
        name: None,
    };
    s.create_app(&other, &Stamp::system(2)).await.unwrap();
    for (at, v) in (10..).zip(["1.0.0", "1.0.1", "1.0.2"]) {
        s.create_bundle(&new_bundle(v), &Stamp::system(at))
            .await
            .unwrap();
    }
    let all = s.list_changes(None, 0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    let mine = s.list_changes(Some(APP), 0, 100).await.unwrap();
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|c| c.app_id.as_deref() == Some(APP)));
    let page = s.list_changes(Some(APP), mine[0].id, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.id).collect::<Vec<_>>(),
        [mine[1].id, mine[2].id]
    );
    assert_eq!(
        s.prune_changes(11, 1).await.unwrap(),
        1,
        "at most the limit in one call"
    );
    assert_eq!(
        s.list_changes(None, 0, 100).await.unwrap()[0].at,
        2,
        "the oldest went first"
    );
    assert_eq!(
        s.prune_changes(11, 100).await.unwrap(),
        1,
        "the second of APP's first two (the other app's only change is its latest)"
    );
    let left: Vec<i64> = s
        .list_changes(None, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.at)
        .collect();
    assert_eq!(left, [2, 11, 12]);
    assert_eq!(s.prune_changes(1_000, 100).await.unwrap(), 1);
    let left = s.list_changes(None, 0, 100).await.unwrap();
    assert_eq!(left.len(), 2, "each app keeps its latest: {left:?}");
}

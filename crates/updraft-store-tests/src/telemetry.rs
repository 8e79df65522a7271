//! Conformance cases for the telemetry tables: what a batch writes (device
//! rows, events, offer counts, rollback blocks that reach the snapshot), what
//! a batch the database cannot store does, which device row wins, when an
//! unchanged row is rewritten, and event pruning.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, seen, APP};

fn event(device: &str, action: &str, at: i64) -> Write {
    Write::Event(NewEvent {
        app_id: APP.into(),
        device_id: device.into(),
        action: action.into(),
        version_name: "1.0.0".into(),
        created_at: at,
        ..Default::default()
    })
}

async fn events(s: &dyn Store) -> Vec<(String, i64)> {
    let q = EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut v: Vec<_> = s
        .list_events(APP, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.created_at))
        .collect();
    v.sort_by_key(|(_, at)| *at);
    v
}

/// A batch holding a NUL is refused whole, as a permanent error (retrying it
/// cannot help), and writes nothing; the same batch without it is written.
pub async fn a_batch_with_a_nul_is_refused_whole_and_for_good(s: &dyn Store) {
    app(s).await;
    let dev = "00000000-0000-4000-8000-0000000000d1";
    for bad in [
        event(dev, "x\0y", 5),
        seen("00000000-0000-4000-8000-00000000\0\0d2", "1.0.0", 5),
        Write::Event(NewEvent {
            metadata: Some("{\"k\":\"\0\"}".into()),
            ..match event(dev, "set", 5) {
                Write::Event(e) => e,
                _ => unreachable!(),
            }
        }),
    ] {
        let err = s
            .write_batch(&[seen(dev, "1.0.0", 1), event(dev, "set", 2), bad])
            .await
            .expect_err("a NUL cannot be stored");
        assert!(
            matches!(err, StoreError::Invalid(_)) && !err.is_transient(),
            "{err:?}"
        );
        assert!(
            s.get_device(APP, dev).await.unwrap().is_none(),
            "nothing written"
        );
        assert!(events(s).await.is_empty(), "nothing written");
    }
    s.write_batch(&[seen(dev, "1.0.0", 1), event(dev, "set", 2)])
        .await
        .unwrap();
    assert_eq!(events(s).await, vec![("set".to_string(), 2)]);
}

/// A row without `version_name` keeps the stored one; a row older than the
/// stored one (a late event) changes nothing, within a batch and across.
pub async fn device_rows_keep_the_running_version_and_never_go_back(s: &dyn Store) {
    app(s).await;
    let dev = "00000000-0000-4000-8000-0000000000d3";
    let without_version = |at: i64, plugin: &str| {
        let Write::Seen(mut d) = seen(dev, "", at) else {
            unreachable!()
        };
        d.version_name = None;
        d.plugin_version = Some(plugin.into());
        Write::Seen(d)
    };
    s.write_batch(&[seen(dev, "1.0.1", 1_000)]).await.unwrap();
    s.write_batch(&[without_version(2_000, "8.1.0")])
        .await
        .unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(d.version_name.as_deref(), Some("1.0.1"));
    assert_eq!(d.plugin_version.as_deref(), Some("8.1.0"));
    assert_eq!(d.last_seen, Some(2_000));
    s.write_batch(&[seen(dev, "0.9.0", 1_500)]).await.unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        (d.version_name.as_deref(), d.last_seen),
        (Some("1.0.1"), Some(2_000)),
        "an older row never replaces a newer one"
    );
    s.write_batch(&[
        seen(dev, "1.0.2", 3_000),
        without_version(3_100, "8.2.0"),
        seen(dev, "0.1.0", 2_500),
    ])
    .await
    .unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        (
            d.version_name.as_deref(),
            d.plugin_version.as_deref(),
            d.last_seen
        ),
        (Some("1.0.2"), Some("8.2.0"), Some(3_100)),
        "within one batch too"
    );
}

/// Pruning deletes only events older than the cut-off, at most `limit` per
/// call, oldest first, and reports how many it deleted.
pub async fn events_are_pruned_in_bounded_batches(s: &dyn Store) {
    app(s).await;
    let dev = "00000000-0000-4000-8000-0000000000d4";
    let batch: Vec<Write> = (1..=10)
        .rev()
        .map(|t| event(dev, &format!("a{t}"), t * 1_000))
        .collect();
    s.write_batch(&batch).await.unwrap();
    assert_eq!(s.prune_events(6_000, 3).await.unwrap(), 3);
    let left = events(s).await;
    assert_eq!(left.len(), 7);
    assert_eq!(left[0], ("a4".to_string(), 4_000), "the oldest go first");
    assert_eq!(s.prune_events(6_000, 3).await.unwrap(), 2);
    assert_eq!(s.prune_events(6_000, 3).await.unwrap(), 0);
    let left: Vec<i64> = events(s).await.into_iter().map(|(_, at)| at).collect();
    assert_eq!(left, vec![6_000, 7_000, 8_000, 9_000, 10_000]);
}

/// A device that checks again with nothing changed is not rewritten until its
/// `last_seen` is `LAST_SEEN_REFRESH_MS` old; any changed field is written at once.
pub async fn unchanged_device_rows_are_not_rewritten(s: &dyn Store) {
    app(s).await;
    let dev = "00000000-0000-4000-8000-0000000000cc";
    let at = |t: i64| seen(dev, "1.0.0", t);
    s.write_batch(&[at(1_000)]).await.unwrap();
    s.write_batch(&[at(2_000)]).await.unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        d.last_seen,
        Some(1_000),
        "an identical check 1 s later is not a write"
    );
    let refresh = updraft_store::LAST_SEEN_REFRESH_MS;
    s.write_batch(&[at(1_000 + refresh - 1)]).await.unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        d.last_seen,
        Some(1_000),
        "just under the interval, still no write"
    );
    s.write_batch(&[at(1_000 + refresh)]).await.unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        d.last_seen,
        Some(1_000 + refresh),
        "once the interval has passed last_seen moves"
    );
    s.write_batch(&[seen(dev, "1.0.1", 2_000 + refresh)])
        .await
        .unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(
        (d.version_name.as_deref(), d.last_seen),
        (Some("1.0.1"), Some(2_000 + refresh)),
        "a change is written at once"
    );
}

/// Batched telemetry: upserts, events, failure blocks that reach the snapshot.
pub async fn telemetry_batches(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.1.0"), &Stamp::system(1))
        .await
        .unwrap();
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.1.0".into())),
            public: Some(true),
            ..chan("production")
        },
        &Stamp::system(1),
    )
    .await
    .unwrap();
    let dev = "00000000-0000-4000-8000-000000000002";
    let rev0 = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    let mut second = seen(dev, "1.0.0", 20);
    if let Write::Seen(d) = &mut second {
        d.custom_id = None; // a missing custom_id keeps the stored one
    }
    s.write_batch(&[
        seen(dev, "1.0.0", 10),
        second,
        Write::Event(NewEvent {
            app_id: APP.into(),
            device_id: dev.into(),
            action: "update_fail".into(),
            version_name: "1.1.0".into(),
            metadata: Some("{\"k\":\"v\"}".into()),
            created_at: 21,
            ..Default::default()
        }),
        Write::Failed {
            app_id: APP.into(),
            device_id: dev.into(),
            version: "1.1.0".into(),
            at: 21,
        },
        Write::Failed {
            app_id: APP.into(),
            device_id: dev.into(),
            version: "7.7.7".into(),
            at: 21,
        },
        Write::Offered {
            app_id: APP.into(),
            version: "1.1.0".into(),
            day: 3,
            count: 1,
        },
        Write::Offered {
            app_id: APP.into(),
            version: "1.1.0".into(),
            day: 3,
            count: 1,
        },
        // Telemetry for an app deleted meanwhile is dropped, not an error.
        Write::Event(NewEvent {
            app_id: "com.gone.app".into(),
            device_id: dev.into(),
            action: "set".into(),
            ..Default::default()
        }),
    ])
    .await
    .unwrap();
    let d = s.get_device(APP, dev).await.unwrap().unwrap();
    assert_eq!(d.last_seen, Some(20));
    assert_eq!(d.custom_id.as_deref(), Some("user-1"));
    assert_eq!(d.failed_bundles, vec!["1.1.0".to_string()]);
    let listed = s
        .list_devices(
            APP,
            &DeviceQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let row = listed.items.iter().find(|x| x.device_id == dev).unwrap();
    assert_eq!(
        row.failed_bundles,
        vec!["1.1.0".to_string()],
        "the listing shows failures too"
    );
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(snap.failures.len(), 1);
    assert_eq!(
        snap.revision, rev0,
        "a failure block is device-scoped: no app-wide change"
    );
    let logged = s.list_changes(Some(APP), 0, 100).await.unwrap();
    assert!(
        logged
            .iter()
            .any(|c| c.kind == "device.rollback_blocked" && c.device_id.as_deref() == Some(dev)),
        "nodes learn of it from the change log: {logged:?}"
    );
    let ev = s
        .list_events(
            APP,
            &EventQuery {
                device_id: Some(dev.into()),
                action: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].metadata, Some(serde_json::json!({"k": "v"})));
    let more = Write::Offered {
        app_id: APP.into(),
        version: "1.1.0".into(),
        day: 3,
        count: 40,
    };
    s.write_batch(&[more]).await.unwrap();
    let offers = s.list_offers(APP).await.unwrap();
    let expected = vec![OfferCount {
        version: "1.1.0".into(),
        day: 3,
        count: 42,
    }];
    assert_eq!(offers, expected, "offers add up across batches");
    let app = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(app.revision, snap.revision, "telemetry changes no revision");
}

/// Update checks are added up per app and hour across batches, only for
/// apps that exist; read back by hour range; pruned by hour; gone with
/// their app.
pub async fn check_counts_add_up_per_hour(s: &dyn Store) {
    crate::app(s).await;
    let checked = |app: &str, hour: i64, count: i64| Write::Checked {
        app_id: app.into(),
        hour,
        count,
    };
    s.write_batch(&[
        checked(APP, 10, 2),
        checked(APP, 10, 3),
        checked(APP, 12, 1),
        checked("com.gone.app", 10, 9),
    ])
    .await
    .unwrap();
    s.write_batch(&[checked(APP, 12, 4)]).await.unwrap();
    assert_eq!(
        s.check_counts(APP, 0, 100).await.unwrap(),
        vec![(10, 5), (12, 5)]
    );
    assert_eq!(
        s.check_counts(APP, 11, 12).await.unwrap(),
        vec![],
        "until is excluded"
    );
    assert_eq!(s.check_counts(APP, 12, 13).await.unwrap(), vec![(12, 5)]);
    assert_eq!(
        s.check_counts("com.gone.app", 0, 100).await.unwrap(),
        vec![]
    );
    assert_eq!(s.prune_check_counts(11, 10).await.unwrap(), 1);
    assert_eq!(s.check_counts(APP, 0, 100).await.unwrap(), vec![(12, 5)]);
    s.delete_app(APP, &Stamp::system(0)).await.unwrap();
    assert_eq!(s.check_counts(APP, 0, 100).await.unwrap(), vec![]);
}

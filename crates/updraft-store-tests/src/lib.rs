//! The store conformance suite: one set of behaviours, run against every
//! `Store` implementation through [`conformance_suite!`].

use updraft_protocol::api::*;
use updraft_store::*;

mod races;
mod self_assign;
mod telemetry;
pub use races::*;
pub use self_assign::*;
pub use telemetry::*;

/// Generates one `#[tokio::test]` per conformance case. `$fresh` is an async
/// fn returning `(store, guard)`: a new, empty store and whatever must live as
/// long as it.
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:ident) => {
        $crate::conformance_suite!(@cases $fresh,
            apps_crud, bundles_are_unique_forever, channels_and_public_rule, deploy_history_and_rollback,
            overrides, api_keys, telemetry_batches, device_listing, delete_app_cascades,
            unchanged_device_rows_are_not_rewritten, devices_never_replace_admin_overrides);
        $crate::conformance_suite!(@cases $fresh,
            a_batch_with_a_nul_is_refused_whole_and_for_good,
            device_rows_keep_the_running_version_and_never_go_back,
            events_are_pruned_in_bounded_batches);
        $crate::conformance_suite!(@shared $fresh, last_admin_key_survives_concurrent_deletes,
            deleting_a_bundle_races_safely_with_deploying_it);
    };
    (@shared $fresh:ident, $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                updraft_store::DatabaseStore::migrate(&store).await.expect("migrate");
                $crate::$case(std::sync::Arc::new(store)).await;
            }
        )*
    };
    (@cases $fresh:ident, $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                updraft_store::DatabaseStore::migrate(&store).await.expect("migrate");
                $crate::$case(&store).await;
            }
        )*
    };
}

pub(crate) const APP: &str = "com.example.app";

pub(crate) async fn app(s: &dyn Store) {
    s.create_app(
        &NewApp {
            app_id: APP.into(),
            name: Some("Example".into()),
        },
        1,
    )
    .await
    .unwrap();
}

pub(crate) fn new_bundle(version: &str) -> NewBundle {
    NewBundle {
        app_id: APP.into(),
        version: version.into(),
        checksum: "ab".repeat(32),
        session_key: String::new(),
        key_id: None,
        electron_checksum: None,
        storage: BundleStorage::Stored,
        blob_sha256: Some(format!("{:0>64}", version.replace('.', ""))),
        size: Some(10),
        external_url: None,
        manifest: Vec::new(),
        meta: BundleMeta::default(),
    }
}

pub(crate) fn chan(name: &str) -> ChannelPatch {
    ChannelPatch {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// Apps: create, conflict on duplicate, get, patch, list.
pub async fn apps_crud(s: &dyn Store) {
    app(s).await;
    let dup = s
        .create_app(
            &NewApp {
                app_id: APP.into(),
                name: None,
            },
            2,
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let a = s.get_app(APP).await.unwrap().unwrap();
    assert_eq!(a.name, "Example");
    assert!(!a.expose_metadata);
    assert!(a.allow_device_custom_id);
    let a = s
        .update_app(
            APP,
            &AppPatch {
                expose_metadata: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(a.expose_metadata);
    assert_eq!(a.name, "Example");
    assert_eq!(a.public_key, None);
    // The public key: set, kept by other patches, removed with "".
    let pem = "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n";
    let patch = |k: Option<&str>| AppPatch {
        public_key: k.map(str::to_string),
        ..Default::default()
    };
    let a = s.update_app(APP, &patch(Some(pem))).await.unwrap();
    assert_eq!(a.public_key.as_deref(), Some(pem));
    let a = s.update_app(APP, &patch(None)).await.unwrap();
    assert_eq!(a.public_key.as_deref(), Some(pem));
    let a = s.update_app(APP, &patch(Some(""))).await.unwrap();
    assert_eq!(a.public_key, None);
    assert!(matches!(
        s.update_app("com.nope.x", &AppPatch::default()).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.list_apps().await.unwrap().len(), 1);
}

/// Bundle names are unique per app forever; soft delete is refused while used.
pub async fn bundles_are_unique_forever(s: &dyn Store) {
    app(s).await;
    let with_electron = NewBundle {
        electron_checksum: Some("ZWxlY3Ryb24=".into()),
        ..new_bundle("1.0.0")
    };
    let b = s.create_bundle(&with_electron, 5).await.unwrap();
    assert_eq!(b.version, "1.0.0");
    assert_eq!(b.electron_checksum.as_deref(), Some("ZWxlY3Ryb24="));
    assert_eq!(
        s.get_bundle(APP, "1.0.0")
            .await
            .unwrap()
            .unwrap()
            .electron_checksum,
        b.electron_checksum
    );
    assert!(matches!(
        s.create_bundle(&new_bundle("1.0.0"), 6).await,
        Err(StoreError::Conflict(_))
    ));
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        7,
    )
    .await
    .unwrap();
    let refused = s.delete_bundle(APP, "1.0.0").await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(ref m)) if m.contains("production")),
        "{refused:?}"
    );
    s.update_channel(
        APP,
        "production",
        &ChannelPatch {
            bundle: Some(None),
            ..Default::default()
        },
        8,
    )
    .await
    .unwrap();
    s.delete_bundle(APP, "1.0.0").await.unwrap();
    assert!(s.list_bundles(APP).await.unwrap().is_empty());
    assert!(s.get_bundle(APP, "1.0.0").await.unwrap().unwrap().deleted);
    assert!(matches!(
        s.create_bundle(&new_bundle("1.0.0"), 9).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !s.blob_in_use(&new_bundle("1.0.0").blob_sha256.unwrap())
            .await
            .unwrap(),
        "a deleted bundle no longer holds its file"
    );
    let meta = BundleMeta {
        link: Some("https://x".into()),
        ..Default::default()
    };
    s.create_bundle(&new_bundle("1.1.0"), 10).await.unwrap();
    assert!(s
        .blob_in_use(&new_bundle("1.1.0").blob_sha256.unwrap())
        .await
        .unwrap());
    assert_eq!(
        s.update_bundle_meta(APP, "1.1.0", &meta)
            .await
            .unwrap()
            .link
            .as_deref(),
        Some("https://x")
    );
}

/// Channel flags persist; at most one public channel per platform.
pub async fn channels_and_public_rule(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), 1).await.unwrap();
    let w = s
        .create_channel(
            APP,
            &ChannelPatch {
                public: Some(true),
                bundle: Some(Some("1.0.0".into())),
                disable_auto_update: Some(DisableAutoUpdate::Minor),
                allow_emulator: Some(false),
                ..chan("production")
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(w.channel.bundle_version, "1.0.0");
    assert_eq!(w.channel.disable_auto_update, DisableAutoUpdate::Minor);
    assert!(
        !w.channel.allow_emulator && w.channel.public && w.channel.disable_auto_update_under_native
    );
    assert!(matches!(
        s.create_channel(APP, &chan("production"), 3).await,
        Err(StoreError::Conflict(_))
    ));
    let missing = s
        .create_channel(
            APP,
            &ChannelPatch {
                bundle: Some(Some("9.9.9".into())),
                ..chan("x")
            },
            3,
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert!(
        s.get_channel(APP, "x").await.unwrap().is_none(),
        "a failed create leaves nothing behind"
    );
    // A second public channel on iOS only takes iOS away from production.
    let w = s
        .create_channel(
            APP,
            &ChannelPatch {
                public: Some(true),
                android: Some(false),
                electron: Some(false),
                ..chan("ios-beta")
            },
            4,
        )
        .await
        .unwrap();
    assert_eq!(w.unpublished, vec!["production".to_string()]);
    let prod = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert!(!prod.public);
    let names: Vec<String> = s
        .list_channels(APP)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["ios-beta", "production"]);
    s.delete_channel(APP, "ios-beta").await.unwrap();
    assert!(matches!(
        s.delete_channel(APP, "ios-beta").await,
        Err(StoreError::NotFound(_))
    ));
}

/// Every bundle change is recorded; rollback returns to the previous bundle.
pub async fn deploy_history_and_rollback(s: &dyn Store) {
    app(s).await;
    for v in ["1.0.0", "1.1.0"] {
        s.create_bundle(&new_bundle(v), 1).await.unwrap();
    }
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        2,
    )
    .await
    .unwrap();
    s.update_channel(
        APP,
        "production",
        &ChannelPatch {
            bundle: Some(Some("1.1.0".into())),
            ..Default::default()
        },
        3,
    )
    .await
    .unwrap();
    s.update_channel(
        APP,
        "production",
        &ChannelPatch {
            allow_dev: Some(false),
            ..Default::default()
        },
        4,
    )
    .await
    .unwrap();
    let h = s.deploy_history(APP, "production").await.unwrap();
    let versions: Vec<&str> = h.iter().map(|d| d.bundle_version.as_str()).collect();
    assert_eq!(versions, vec!["1.1.0", "1.0.0"]);
    let w = s.rollback_channel(APP, "production", 5).await.unwrap();
    assert_eq!(w.channel.bundle_version, "1.0.0");
    assert!(!w.channel.allow_dev, "rollback changes only the bundle");
    let w = s.rollback_channel(APP, "production", 6).await.unwrap();
    assert_eq!(w.channel.bundle_version, "1.1.0");
    s.create_channel(APP, &chan("empty"), 7).await.unwrap();
    assert!(matches!(
        s.rollback_channel(APP, "empty", 8).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Device overrides: channel or bundle pin, exactly one, visible on the device.
pub async fn overrides(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), 1).await.unwrap();
    s.create_channel(APP, &chan("beta"), 1).await.unwrap();
    let dev = "00000000-0000-4000-8000-000000000001";
    let o = SetOverride {
        channel: Some("beta".into()),
        bundle: None,
    };
    s.set_override(APP, dev, &o, 2).await.unwrap();
    let d = s
        .get_device(APP, dev)
        .await
        .unwrap()
        .expect("overridden device is visible before it checks in");
    assert_eq!(
        d.device_override,
        Some(DeviceOverride::Channel {
            channel: "beta".into()
        })
    );
    let o = SetOverride {
        channel: None,
        bundle: Some("1.0.0".into()),
    };
    s.set_override(APP, dev, &o, 3).await.unwrap();
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(snap.overrides.len(), 1);
    assert!(snap.overrides[0].2.is_some() && snap.overrides[0].1.is_none());
    let both = SetOverride {
        channel: Some("beta".into()),
        bundle: Some("1.0.0".into()),
    };
    assert!(matches!(
        s.set_override(APP, dev, &both, 4).await,
        Err(StoreError::Invalid(_))
    ));
    let bad = SetOverride {
        channel: Some("nope".into()),
        bundle: None,
    };
    assert!(matches!(
        s.set_override(APP, dev, &bad, 4).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.delete_bundle(APP, "1.0.0").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.remove_override(APP, dev).await.unwrap());
    assert!(!s.remove_override(APP, dev).await.unwrap());
    assert!(s.get_device(APP, dev).await.unwrap().is_none());
}

/// API keys are found by hash only and listed without secrets.
pub async fn api_keys(s: &dyn Store) {
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    let k = NewApiKey {
        name: "ci".into(),
        mode: KeyMode::Upload,
        apps: vec![APP.into()],
        expires_at: Some(99),
    };
    let created = s.create_api_key(&k, "hash1", 1).await.unwrap();
    assert_eq!(created.mode, KeyMode::Upload);
    let found = s.find_api_key("hash1").await.unwrap().unwrap();
    assert_eq!(found.key, created);
    assert_eq!(found.key.apps, vec![APP.to_string()]);
    assert!(s.find_api_key("hash2").await.unwrap().is_none());
    assert_eq!(s.list_api_keys().await.unwrap().len(), 1);
    s.delete_api_key(created.id, 1).await.unwrap();
    assert!(matches!(
        s.delete_api_key(created.id, 1).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    // The last permanent unscoped `all` key cannot be deleted; an expiring one does not count.
    let admin = |name: &str, expires_at| NewApiKey {
        name: name.into(),
        mode: KeyMode::All,
        apps: vec![],
        expires_at,
    };
    let a = s.create_api_key(&admin("a", None), "ha", 1).await.unwrap();
    let old = s
        .create_api_key(&admin("old", Some(50)), "hold", 1)
        .await
        .unwrap();
    let scoped = NewApiKey {
        apps: vec![APP.into()],
        ..admin("scoped", None)
    };
    s.create_api_key(&scoped, "hs", 1).await.unwrap();
    assert!(matches!(
        s.delete_api_key(a.id, 100).await,
        Err(StoreError::Conflict(_))
    ));
    let b = s.create_api_key(&admin("b", None), "hb", 1).await.unwrap();
    s.delete_api_key(a.id, 100).await.unwrap();
    assert!(matches!(
        s.delete_api_key(b.id, 100).await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_api_key(old.id, 100).await.unwrap();
    assert_eq!(s.count_api_keys().await.unwrap(), 2);
}

fn seen(device: &str, version: &str, at: i64) -> Write {
    Write::Seen(DeviceSeen {
        app_id: APP.into(),
        device_id: device.into(),
        custom_id: Some("user-1".into()),
        platform: Some("ios".into()),
        version_name: Some(version.into()),
        version_build: Some("1.0.0".into()),
        is_prod: Some(true),
        is_emulator: Some(false),
        seen_at: at,
        ..Default::default()
    })
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
    s.create_bundle(&new_bundle("1.1.0"), 1).await.unwrap();
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.1.0".into())),
            public: Some(true),
            ..chan("production")
        },
        1,
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
    let polled = s.failures_since(0).await.unwrap();
    assert!(
        polled.iter().any(|(app, d, _)| app == APP && d == dev),
        "nodes learn of it from the poll: {polled:?}"
    );
    assert!(s.failures_since(i64::MAX).await.unwrap().is_empty());
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
    let revs = s.app_revisions().await.unwrap();
    assert_eq!(revs, vec![(APP.to_string(), snap.revision)]);
}

/// Device listing: search by id or custom id prefix, cursor pagination.
pub async fn device_listing(s: &dyn Store) {
    app(s).await;
    let batch: Vec<Write> = (0..5)
        .map(|i| {
            seen(
                &format!("00000000-0000-4000-8000-00000000000{i}"),
                "1.0.0",
                i,
            )
        })
        .collect();
    s.write_batch(&batch).await.unwrap();
    let p1 = s
        .list_devices(
            APP,
            &DeviceQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p1.items.len(), 2);
    let p2 = s
        .list_devices(
            APP,
            &DeviceQuery {
                limit: 2,
                cursor: p1.next_cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        p2.items[0].device_id,
        "00000000-0000-4000-8000-000000000002"
    );
    let p3 = s
        .list_devices(
            APP,
            &DeviceQuery {
                limit: 2,
                cursor: p2.next_cursor,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p3.items.len(), 1);
    assert!(p3.next_cursor.is_none());
    let hit = s
        .list_devices(
            APP,
            &DeviceQuery {
                search: Some("00000000-0000-4000-8000-000000000003".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hit.items.len(), 1);
    let by_custom = s
        .list_devices(
            APP,
            &DeviceQuery {
                search: Some("USER-".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_custom.items.len(), 5);
}

/// Deleting an app removes everything under it.
pub async fn delete_app_cascades(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), 1).await.unwrap();
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        1,
    )
    .await
    .unwrap();
    s.write_batch(&[seen("00000000-0000-4000-8000-000000000001", "1.0.0", 1)])
        .await
        .unwrap();
    s.delete_app(APP).await.unwrap();
    assert!(s.get_app(APP).await.unwrap().is_none());
    assert!(s.load_snapshot(APP).await.unwrap().is_none());
    assert!(matches!(
        s.delete_app(APP).await,
        Err(StoreError::NotFound(_))
    ));
    app(s).await;
    assert!(s.list_bundles(APP).await.unwrap().is_empty());
    assert!(s.list_channels(APP).await.unwrap().is_empty());
}

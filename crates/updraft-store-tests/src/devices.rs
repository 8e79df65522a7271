//! Conformance cases for devices as admins see them: overrides and pins,
//! listing with search and cursor.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, seen, APP};

/// Device overrides: channel or bundle pin, exactly one, visible on the device.
pub async fn overrides(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    s.create_channel(APP, &chan("beta"), &Stamp::system(1))
        .await
        .unwrap();
    let dev = "00000000-0000-4000-8000-000000000001";
    let o = SetOverride {
        channel: Some("beta".into()),
        bundle: None,
    };
    s.set_override(APP, dev, &o, &Stamp::system(2))
        .await
        .unwrap();
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
    s.set_override(APP, dev, &o, &Stamp::system(3))
        .await
        .unwrap();
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(snap.overrides.len(), 1);
    assert!(snap.overrides[0].2.is_some() && snap.overrides[0].1.is_none());
    let both = SetOverride {
        channel: Some("beta".into()),
        bundle: Some("1.0.0".into()),
    };
    assert!(matches!(
        s.set_override(APP, dev, &both, &Stamp::system(4)).await,
        Err(StoreError::Invalid(_))
    ));
    let bad = SetOverride {
        channel: Some("nope".into()),
        bundle: None,
    };
    assert!(matches!(
        s.set_override(APP, dev, &bad, &Stamp::system(4)).await,
        Err(StoreError::UnknownChannel(_))
    ));
    let unknown_pin = SetOverride {
        channel: None,
        bundle: Some("9.9.9".into()),
    };
    assert!(matches!(
        s.set_override(APP, dev, &unknown_pin, &Stamp::system(4))
            .await,
        Err(StoreError::UnknownBundle(_))
    ));
    assert!(matches!(
        s.delete_bundle(APP, "1.0.0", &Stamp::system(0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s
        .remove_override(APP, dev, &Stamp::system(0))
        .await
        .unwrap());
    assert!(!s
        .remove_override(APP, dev, &Stamp::system(0))
        .await
        .unwrap());
    assert!(s.get_device(APP, dev).await.unwrap().is_none());
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

//! Conformance cases for channels: flags, the one-public-channel-per-platform
//! rule, deploy history and rollback.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

/// Channel flags persist; at most one public channel per platform.
pub async fn channels_and_public_rule(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
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
            &Stamp::system(2),
        )
        .await
        .unwrap();
    assert_eq!(w.channel.bundle_version, "1.0.0");
    assert_eq!(w.channel.disable_auto_update, DisableAutoUpdate::Minor);
    assert!(
        !w.channel.allow_emulator && w.channel.public && w.channel.disable_auto_update_under_native
    );
    assert!(matches!(
        s.create_channel(APP, &chan("production"), &Stamp::system(3))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let missing = s
        .create_channel(
            APP,
            &ChannelPatch {
                bundle: Some(Some("9.9.9".into())),
                ..chan("x")
            },
            &Stamp::system(3),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::UnknownBundle(_))),
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
            &Stamp::system(4),
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
    s.delete_channel(APP, "ios-beta", &Stamp::system(0))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_channel(APP, "ios-beta", &Stamp::system(0)).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Every bundle change is recorded; rollback returns to the previous bundle.
pub async fn deploy_history_and_rollback(s: &dyn Store) {
    app(s).await;
    for v in ["1.0.0", "1.1.0"] {
        s.create_bundle(&new_bundle(v), &Stamp::system(1))
            .await
            .unwrap();
    }
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        &Stamp::system(2),
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
        &Stamp::system(3),
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
        &Stamp::system(4),
    )
    .await
    .unwrap();
    let h = s.deploy_history(APP, "production").await.unwrap();
    let versions: Vec<&str> = h.iter().map(|d| d.bundle_version.as_str()).collect();
    assert_eq!(versions, vec!["1.1.0", "1.0.0"]);
    let w = s
        .rollback_channel(APP, "production", &Stamp::system(5))
        .await
        .unwrap();
    assert_eq!(w.channel.bundle_version, "1.0.0");
    assert!(!w.channel.allow_dev, "rollback changes only the bundle");
    let w = s
        .rollback_channel(APP, "production", &Stamp::system(6))
        .await
        .unwrap();
    assert_eq!(w.channel.bundle_version, "1.1.0");
    s.create_channel(APP, &chan("empty"), &Stamp::system(7))
        .await
        .unwrap();
    assert!(matches!(
        s.rollback_channel(APP, "empty", &Stamp::system(8)).await,
        Err(StoreError::Conflict(_))
    ));
}

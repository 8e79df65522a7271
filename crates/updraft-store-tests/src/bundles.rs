//! Conformance cases for bundles: version names are never reused, a bundle in
//! use is not deleted, and what keeps its file alive.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

/// Bundle names are unique per app forever; soft delete is refused while used.
pub async fn bundles_are_unique_forever(s: &dyn Store) {
    app(s).await;
    let with_electron = NewBundle {
        electron_checksum: Some("ZWxlY3Ryb24=".into()),
        ..new_bundle("1.0.0")
    };
    let b = s
        .create_bundle(&with_electron, &Stamp::system(5))
        .await
        .unwrap();
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
        s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(6))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        &Stamp::system(7),
    )
    .await
    .unwrap();
    let refused = s.delete_bundle(APP, "1.0.0", &Stamp::system(0)).await;
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
        &Stamp::system(8),
    )
    .await
    .unwrap();
    s.delete_bundle(APP, "1.0.0", &Stamp::system(0))
        .await
        .unwrap();
    assert!(s.list_bundles(APP).await.unwrap().is_empty());
    assert!(s.get_bundle(APP, "1.0.0").await.unwrap().unwrap().deleted);
    assert!(matches!(
        s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(9))
            .await,
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
    s.create_bundle(&new_bundle("1.1.0"), &Stamp::system(10))
        .await
        .unwrap();
    assert!(s
        .blob_in_use(&new_bundle("1.1.0").blob_sha256.unwrap())
        .await
        .unwrap());
    assert_eq!(
        s.update_bundle_meta(APP, "1.1.0", &meta, &Stamp::system(0))
            .await
            .unwrap()
            .link
            .as_deref(),
        Some("https://x")
    );
}

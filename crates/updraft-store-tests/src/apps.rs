//! Conformance cases for apps: their fields, and deleting one with everything under it.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, seen, APP};

/// Apps: create, conflict on duplicate, get, patch, list.
pub async fn apps_crud(s: &dyn Store) {
    app(s).await;
    let dup = s
        .create_app(
            &NewApp {
                app_id: APP.into(),
                name: None,
            },
            &Stamp::system(2),
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
            &Stamp::system(0),
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
    let a = s
        .update_app(APP, &patch(Some(pem)), &Stamp::system(0))
        .await
        .unwrap();
    assert_eq!(a.public_key.as_deref(), Some(pem));
    let a = s
        .update_app(APP, &patch(None), &Stamp::system(0))
        .await
        .unwrap();
    assert_eq!(a.public_key.as_deref(), Some(pem));
    let a = s
        .update_app(APP, &patch(Some("")), &Stamp::system(0))
        .await
        .unwrap();
    assert_eq!(a.public_key, None);
    assert!(matches!(
        s.update_app("com.nope.x", &AppPatch::default(), &Stamp::system(0))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.list_apps().await.unwrap().len(), 1);
}

/// Deleting an app removes everything under it.
pub async fn delete_app_cascades(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    s.create_channel(
        APP,
        &ChannelPatch {
            bundle: Some(Some("1.0.0".into())),
            ..chan("production")
        },
        &Stamp::system(1),
    )
    .await
    .unwrap();
    s.write_batch(&[seen("00000000-0000-4000-8000-000000000001", "1.0.0", 1)])
        .await
        .unwrap();
    s.delete_app(APP, &Stamp::system(0)).await.unwrap();
    assert!(s.get_app(APP).await.unwrap().is_none());
    assert!(s.load_snapshot(APP).await.unwrap().is_none());
    assert!(matches!(
        s.delete_app(APP, &Stamp::system(0)).await,
        Err(StoreError::NotFound(_))
    ));
    app(s).await;
    assert!(s.list_bundles(APP).await.unwrap().is_empty());
    assert!(s.list_channels(APP).await.unwrap().is_empty());
}

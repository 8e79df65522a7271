//! Conformance cases for API keys: found by hash, and a permanent admin key
//! always remains.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::APP;

/// API keys are found by hash only and listed without secrets.
pub async fn api_keys(s: &dyn Store) {
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    let k = NewApiKey {
        name: "ci".into(),
        mode: KeyMode::Upload,
        apps: vec![APP.into()],
        expires_at: Some(99),
    };
    let created = s
        .create_api_key(&k, "hash1", &Stamp::system(1))
        .await
        .unwrap();
    assert_eq!(created.mode, KeyMode::Upload);
    let found = s.find_api_key("hash1").await.unwrap().unwrap();
    assert_eq!(found.key, created);
    assert_eq!(found.key.apps, vec![APP.to_string()]);
    assert!(s.find_api_key("hash2").await.unwrap().is_none());
    assert_eq!(s.list_api_keys().await.unwrap().len(), 1);
    s.delete_api_key(created.id, &Stamp::system(1))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_api_key(created.id, &Stamp::system(1)).await,
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
    let a = s
        .create_api_key(&admin("a", None), "ha", &Stamp::system(1))
        .await
        .unwrap();
    let old = s
        .create_api_key(&admin("old", Some(50)), "hold", &Stamp::system(1))
        .await
        .unwrap();
    let scoped = NewApiKey {
        apps: vec![APP.into()],
        ..admin("scoped", None)
    };
    s.create_api_key(&scoped, "hs", &Stamp::system(1))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_api_key(a.id, &Stamp::system(100)).await,
        Err(StoreError::Conflict(_))
    ));
    let b = s
        .create_api_key(&admin("b", None), "hb", &Stamp::system(1))
        .await
        .unwrap();
    s.delete_api_key(a.id, &Stamp::system(100)).await.unwrap();
    assert!(matches!(
        s.delete_api_key(b.id, &Stamp::system(100)).await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_api_key(old.id, &Stamp::system(100)).await.unwrap();
    assert_eq!(s.count_api_keys().await.unwrap(), 2);
}

//! Conformance cases for inbound hooks: created on a channel that exists,
//! found by token, each call id accepted once (until released), pruned by
//! age, and gone with their app.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, APP};

/// A hook's life, and the call ids that guard it against replays.
pub async fn hooks_accept_each_call_once(s: &dyn Store) {
    app(s).await;
    let at = Stamp::system(1_000);
    s.create_channel(APP, &chan("production"), &at)
        .await
        .unwrap();
    let new = NewHook {
        action: HookAction::Promote,
        channel: "production".into(),
        version_pointer: Some("/release/tag_name".into()),
        plan: None,
        description: None,
    };
    let missing = NewHook {
        channel: "nope".into(),
        ..new.clone()
    };
    assert!(matches!(
        s.create_hook(APP, &missing, "hk_x", "whsec_x", 2, &at)
            .await,
        Err(StoreError::UnknownChannel(_))
    ));
    let h = s
        .create_hook(APP, &new, "hk_1", "whsec_1", 2, &at)
        .await
        .unwrap();
    assert_eq!(
        (h.action, h.channel.as_str()),
        (HookAction::Promote, "production")
    );
    assert_eq!(s.list_hooks(APP).await.unwrap(), std::slice::from_ref(&h));
    let found = s.hook_by_token("hk_1").await.unwrap().unwrap();
    assert_eq!((found.hook.id, found.secret.as_str()), (h.id, "whsec_1"));
    assert!(s.hook_by_token("hk_2").await.unwrap().is_none());

    assert!(s.claim_hook_call(h.id, "github:a", 2_000).await.unwrap());
    assert!(
        !s.claim_hook_call(h.id, "github:a", 2_001).await.unwrap(),
        "a replay"
    );
    assert_eq!(
        s.hook_by_token("hk_1")
            .await
            .unwrap()
            .unwrap()
            .hook
            .last_used_at,
        Some(2_001)
    );
    s.release_hook_call(h.id, "github:a").await.unwrap();
    assert!(
        s.claim_hook_call(h.id, "github:a", 3_000).await.unwrap(),
        "released: retried"
    );
    assert!(s.claim_hook_call(h.id, "sw:b", 9_000).await.unwrap());
    assert_eq!(s.prune_hook_calls(5_000, 100).await.unwrap(), 1);
    assert!(
        !s.claim_hook_call(h.id, "sw:b", 9_001).await.unwrap(),
        "the newer one stays"
    );

    assert!(matches!(
        s.delete_hook("com.example.other", h.id, &at).await,
        Err(StoreError::NotFound(_))
    ));
    let kept = s
        .create_hook(APP, &new, "hk_3", "whsec_3", 2, &at)
        .await
        .unwrap();
    s.delete_hook(APP, h.id, &at).await.unwrap();
    assert!(s.hook_by_token("hk_1").await.unwrap().is_none());
    assert!(
        matches!(
            s.claim_hook_call(h.id, "sw:c", 9_500).await,
            Err(StoreError::NotFound(_))
        ),
        "a deleted hook takes no call"
    );
    s.delete_app(APP, &at).await.unwrap();
    assert!(
        s.hook_by_token("hk_3").await.unwrap().is_none(),
        "{kept:?} goes with its app"
    );
}

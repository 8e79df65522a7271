//! Conformance cases for the dashboard's sessions: live until either
//! expiry, the idle one moved by use but never past the absolute one, ended
//! by sign-out, pruned once ended.

use updraft_store::*;

fn session(token: &str, created: i64, idle: i64, expires: i64) -> DashSession {
    DashSession {
        token_hash: token.into(),
        key_hash: format!("key-of-{token}"),
        created_at: created,
        idle_until: idle,
        expires_at: expires,
    }
}

/// A session is found while live, its idle expiry moved by each use and
/// capped by its absolute one; it ends at either expiry or at sign-out, and
/// pruning deletes ended sessions only.
pub async fn sessions_expire_idle_and_absolute(s: &dyn Store) {
    s.create_session(&session("a", 0, 100, 1000)).await.unwrap();
    assert!(
        matches!(
            s.create_session(&session("a", 0, 100, 1000)).await,
            Err(StoreError::Conflict(_))
        ),
        "a token hash is one session"
    );
    let got = s.touch_session("a", 50, 150).await.unwrap().unwrap();
    assert_eq!(got.key_hash, "key-of-a");
    assert_eq!((got.idle_until, got.expires_at), (150, 1000));
    // Used before its moved idle expiry: still live.
    assert!(s.touch_session("a", 149, 900).await.unwrap().is_some());
    // Never past the absolute expiry.
    let capped = s.touch_session("a", 899, 5000).await.unwrap().unwrap();
    assert_eq!(capped.idle_until, 1000);
    assert_eq!(s.touch_session("a", 1000, 2000).await.unwrap(), None);
    assert_eq!(s.touch_session("missing", 0, 10).await.unwrap(), None);

    // Idle: not used before idle_until.
    s.create_session(&session("b", 0, 100, 1000)).await.unwrap();
    assert_eq!(s.touch_session("b", 100, 200).await.unwrap(), None);

    // Signed out.
    s.create_session(&session("c", 0, 100, 1000)).await.unwrap();
    s.end_session("c").await.unwrap();
    s.end_session("c").await.unwrap();
    assert_eq!(s.touch_session("c", 1, 10).await.unwrap(), None);

    // A session opened with an idle expiry past the absolute one is capped.
    s.create_session(&session("d", 0, 5000, 300)).await.unwrap();
    let d = s.touch_session("d", 10, 400).await.unwrap().unwrap();
    assert_eq!((d.idle_until, d.expires_at), (300, 300));
    s.create_session(&session("e", 0, 100, 1000)).await.unwrap();

    // At 150, "b" and "e" have ended (idle); "a" and "d" are live.
    assert_eq!(s.prune_sessions(150, 1).await.unwrap(), 1);
    assert_eq!(s.prune_sessions(150, 10).await.unwrap(), 1);
    assert_eq!(s.prune_sessions(150, 10).await.unwrap(), 0);
    assert!(s.touch_session("a", 150, 160).await.unwrap().is_some());
    assert!(s.touch_session("d", 150, 160).await.unwrap().is_some());
}

//! Conformance cases for a device's own channel choice (plugins before 7.34)
//! against an admin's overrides and pins.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, APP};

/// A device's own channel choice (old plugins) never replaces or removes an
/// admin's override or pin, and self-assignments per app are capped.
pub async fn devices_never_replace_admin_overrides(s: &dyn Store) {
    app(s).await;
    s.create_channel(APP, &chan("beta"), &Stamp::system(1))
        .await
        .unwrap();
    s.create_channel(APP, &chan("qa"), &Stamp::system(1))
        .await
        .unwrap();
    let (d1, d2, d3) = ("d1", "d2", "d3");
    let admin = SetOverride {
        channel: Some("qa".into()),
        bundle: None,
    };
    s.set_override(APP, d1, &admin, &Stamp::system(1))
        .await
        .unwrap();
    assert_eq!(
        s.self_assign(APP, d1, Some("beta"), 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::AdminOverride
    );
    assert_eq!(
        s.self_assign(APP, d1, None, 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::AdminOverride
    );
    let qa = s.get_channel(APP, "qa").await.unwrap().unwrap().id;
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert!(
        snap.overrides.contains(&(d1.to_string(), Some(qa), None)),
        "{:?}",
        snap.overrides
    );
    // A device's own choice can be changed and removed by the device, and replaced by an admin.
    assert_eq!(
        s.self_assign(APP, d2, Some("beta"), 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::Done
    );
    assert_eq!(
        s.self_assign(APP, d2, Some("qa"), 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::Done
    );
    assert_eq!(
        s.self_assign(APP, d2, None, 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::Done
    );
    assert_eq!(
        s.self_assign(APP, d2, Some("beta"), 10, &Stamp::system(2))
            .await
            .unwrap(),
        SelfAssign::Done
    );
    s.set_override(APP, d2, &admin, &Stamp::system(3))
        .await
        .unwrap();
    assert_eq!(
        s.self_assign(APP, d2, None, 10, &Stamp::system(4))
            .await
            .unwrap(),
        SelfAssign::AdminOverride
    );
    // The cap counts self-assigned devices only; one already assigned may still move.
    assert_eq!(
        s.self_assign(APP, d3, Some("beta"), 1, &Stamp::system(5))
            .await
            .unwrap(),
        SelfAssign::Done
    );
    assert_eq!(
        s.self_assign(APP, "d4", Some("beta"), 1, &Stamp::system(5))
            .await
            .unwrap(),
        SelfAssign::Full
    );
    assert_eq!(
        s.self_assign(APP, d3, Some("qa"), 1, &Stamp::system(5))
            .await
            .unwrap(),
        SelfAssign::Done
    );
}

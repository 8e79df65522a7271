//! Conformance cases for targeting: named cohorts (created, replaced,
//! capped, refused while a rule names them), channel rules that must name
//! cohorts the app has, and public channels with rules sharing platforms.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, APP};

const DEV: &str = "00000000-0000-4000-8000-000000000001";

fn members(devices: &[&str]) -> CohortMembers {
    CohortMembers {
        device_ids: devices.iter().map(|d| (*d).to_string()).collect(),
        custom_ids: vec![],
    }
}

/// Cohorts and the rules that name them.
pub async fn cohorts_and_channel_rules(s: &dyn Store) {
    app(s).await;
    let at = Stamp::system(1_000);
    let (c, created) = s
        .put_cohort(APP, "testers", &members(&[&DEV.to_uppercase()]), 2, &at)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(c.device_ids, vec![DEV.to_string()], "kept lower-case");
    let (c, created) = s
        .put_cohort(APP, "testers", &members(&[]), 2, &Stamp::system(2_000))
        .await
        .unwrap();
    assert!(!created && c.device_ids.is_empty() && c.updated_at == 2_000);
    s.put_cohort(APP, "qa", &members(&[]), 2, &at)
        .await
        .unwrap();
    assert!(matches!(
        s.put_cohort(APP, "third", &members(&[]), 2, &at).await,
        Err(StoreError::Conflict(_))
    ));
    // Replacing an existing cohort is not held back by the cap.
    s.put_cohort(APP, "qa", &members(&[DEV]), 2, &at)
        .await
        .unwrap();
    let names: Vec<String> = s
        .list_cohorts(APP)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["qa", "testers"]);

    // A channel's rule names cohorts the app has; public channels with a
    // rule share a platform with the plain public one.
    let rule = |cohort: &str| ChannelPatch {
        public: Some(true),
        target: Some(Some(Target::Cohort(cohort.into()))),
        ..chan("beta")
    };
    assert!(matches!(
        s.create_channel(APP, &rule("nobody"), &at).await,
        Err(StoreError::UnknownCohort(_))
    ));
    assert!(s.get_channel(APP, "beta").await.unwrap().is_none());
    let prod = ChannelPatch {
        public: Some(true),
        ..chan("production")
    };
    s.create_channel(APP, &prod, &at).await.unwrap();
    let beta = s.create_channel(APP, &rule("testers"), &at).await.unwrap();
    assert!(beta.unpublished.is_empty(), "{beta:?}");
    assert!(
        s.get_channel(APP, "production")
            .await
            .unwrap()
            .unwrap()
            .public
    );
    let snap = s.load_snapshot(APP).await.unwrap().unwrap();
    assert_eq!(snap.cohorts.len(), 2);
    assert_eq!(
        snap.channels
            .iter()
            .find(|c| c.name == "beta")
            .unwrap()
            .target,
        Some(Target::Cohort("testers".into()))
    );

    // Named by a rule: not deleted. Once the rule is gone: deleted.
    assert!(matches!(
        s.delete_cohort(APP, "testers", &at).await,
        Err(StoreError::Conflict(_))
    ));
    let clear = ChannelPatch {
        target: Some(None),
        ..Default::default()
    };
    let w = s.update_channel(APP, "beta", &clear, &at).await.unwrap();
    assert_eq!(
        w.unpublished,
        vec!["production".to_string()],
        "without its rule, beta is the plain public channel"
    );
    s.delete_cohort(APP, "testers", &at).await.unwrap();
    assert!(matches!(
        s.delete_cohort(APP, "testers", &at).await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_app(APP, &at).await.unwrap();
    assert!(matches!(
        s.list_cohorts(APP).await,
        Err(StoreError::NotFound(_))
    ));
}

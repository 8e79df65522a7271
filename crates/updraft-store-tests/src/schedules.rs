//! Conformance cases for scheduled deploys: created on what exists, listed
//! as due by time, run once (a second run finds nothing), cancelled only
//! while pending, failed with a reason.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, chan, new_bundle, APP};

fn deploy(version: &str, at_ms: Option<i64>) -> NewSchedule {
    NewSchedule {
        channel: "production".into(),
        action: ScheduleAction::Deploy,
        bundle: Some(version.into()),
        plan: None,
        at_ms,
        window: None,
        note: None,
    }
}

/// A schedule's life: due, run once, never again; cancel and fail.
pub async fn schedules_run_once(s: &dyn Store) {
    app(s).await;
    let at = Stamp::system(1_000);
    s.create_channel(APP, &chan("production"), &at)
        .await
        .unwrap();
    s.create_bundle(&new_bundle("1.0.1"), &at).await.unwrap();
    assert!(matches!(
        s.create_schedule(APP, &deploy("9.9.9", None), 0, 10, &at)
            .await,
        Err(StoreError::UnknownBundle(_))
    ));
    let later = s
        .create_schedule(APP, &deploy("1.0.1", Some(5_000)), 5_000, 10, &at)
        .await
        .unwrap();
    assert_eq!(
        (later.state, later.created_by.as_str()),
        (ScheduleState::Pending, "system")
    );
    assert!(s.pending_schedules(4_999, 10).await.unwrap().is_empty());
    assert_eq!(s.pending_schedules(5_000, 10).await.unwrap().len(), 1);
    s.postpone_schedule(later.id, 6_000).await.unwrap();
    assert!(
        s.pending_schedules(5_999, 10).await.unwrap().is_empty(),
        "postponed"
    );
    assert_eq!(s.pending_schedules(6_000, 10).await.unwrap().len(), 1);
    let by = Stamp::new(5_000, Actor::Schedule { id: later.id });
    assert!(s.run_schedule(later.id, &by).await.unwrap().is_some());
    assert!(
        s.run_schedule(later.id, &by).await.unwrap().is_none(),
        "once"
    );
    let channel = s.get_channel(APP, "production").await.unwrap().unwrap();
    assert_eq!(channel.bundle_version, "1.0.1");
    assert!(matches!(
        s.cancel_schedule(APP, later.id, &at).await,
        Err(StoreError::Conflict(_))
    ));

    let cancelled = s
        .create_schedule(APP, &deploy("1.0.1", None), 1_000, 10, &at)
        .await
        .unwrap();
    let c = s.cancel_schedule(APP, cancelled.id, &at).await.unwrap();
    assert_eq!(c.state, ScheduleState::Cancelled);
    assert!(s.run_schedule(cancelled.id, &by).await.unwrap().is_none());
    let refused = s
        .create_schedule(APP, &deploy("1.0.1", None), 1_000, 10, &at)
        .await
        .unwrap();
    assert!(s.fail_schedule(refused.id, "no", &by).await.unwrap());
    assert!(!s.fail_schedule(refused.id, "no", &by).await.unwrap());
    let all = s.list_schedules(APP).await.unwrap();
    let states: Vec<ScheduleState> = all.iter().map(|x| x.state).collect();
    assert_eq!(
        states,
        [
            ScheduleState::Failed,
            ScheduleState::Cancelled,
            ScheduleState::Executed
        ],
        "newest first"
    );
    assert_eq!(all[0].error.as_deref(), Some("no"));
    assert!(matches!(
        s.cancel_schedule(APP, 999, &at).await,
        Err(StoreError::NotFound(_))
    ));
}

//! Scheduled deploys: each pass (on the rollout runner's interval, on every
//! node) runs the schedules that are due by the server's [`Clock`] — past
//! their time and inside their window. A schedule leaves `pending` in the
//! transaction that does its action ([`ScheduleStore::run_schedule`]), so
//! however many nodes try, it runs once. An action the store refuses (the
//! bundle was revoked, the channel has a rollout, there is none to advance)
//! marks the schedule failed with the reason (so does a fault that would
//! recur); an unavailable database leaves it pending for the next pass. A
//! schedule whose window is not open yet is postponed to its next opening,
//! so the ones waiting never crowd out the ones due.
//!
//! [`ScheduleStore::run_schedule`]: updraft_store::ScheduleStore::run_schedule

use updraft_store::{Actor, Stamp, Store, StoreError};

use crate::clock::Clock;

/// Most due schedules looked at per pass.
const PER_PASS: i64 = 100;

/// Runs every schedule due now; failures are logged.
pub(crate) async fn pass(store: &dyn Store, clock: &dyn Clock) {
    let now = clock.now_ms();
    let due = match store.pending_schedules(now, PER_PASS).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not list pending schedules; they run at the next pass");
            return;
        }
    };
    for s in due {
        if !updraft_core::schedule::is_due(s.at_ms, s.window.as_ref(), now) {
            // Not open yet: looked at again when its window opens.
            let next = updraft_core::schedule::next_run(s.at_ms, s.window.as_ref(), now);
            let result = match next {
                Some(at) => store.postpone_schedule(s.id, at.max(now + 1)).await,
                None => store
                    .fail_schedule(
                        s.id,
                        "its window never opens",
                        &Stamp::new(now, Actor::Schedule { id: s.id }),
                    )
                    .await
                    .map(|_| ()),
            };
            if let Err(e) = result {
                tracing::warn!(app_id = s.app_id, schedule = s.id, error = %e, "could not postpone a schedule");
            }
            continue;
        }
        let stamp = Stamp::new(now, Actor::Schedule { id: s.id });
        match store.run_schedule(s.id, &stamp).await {
            Ok(Some(_)) => tracing::info!(
                app_id = s.app_id,
                schedule = s.id,
                action = s.action.as_str(),
                channel = s.channel,
                "ran a scheduled deploy"
            ),
            Ok(None) => {}
            Err(e @ StoreError::Unavailable(_)) => {
                tracing::warn!(app_id = s.app_id, schedule = s.id, error = %e, "a scheduled deploy could not run; it is tried again at the next pass");
            }
            Err(refused) => {
                let why = refused.to_string();
                match store.fail_schedule(s.id, &why, &stamp).await {
                    Ok(_) => {
                        tracing::warn!(app_id = s.app_id, schedule = s.id, error = %why, "a scheduled deploy was refused and is marked failed");
                    }
                    Err(e) => {
                        tracing::warn!(app_id = s.app_id, schedule = s.id, error = %e, "could not mark a refused schedule failed");
                    }
                }
            }
        }
    }
}

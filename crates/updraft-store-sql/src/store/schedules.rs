//! [`sql_schedules!`]: the `ScheduleStore` queries. Running a schedule moves
//! it off `pending` and does its action in one transaction (with the
//! channel and rollout helpers of this module: `apply_patch`, `start_in`,
//! `transition_in`), so across nodes it runs once. Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `ScheduleStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_schedules {
    ($store:ident) => {
        const SCHEDULE_SELECT: &str = "SELECT id, app_id, channel, action, bundle, plan, at_ms, window_spec, note, state, \
             created_by, created_at, ended_at, error FROM schedules";

        /// A schedule as stored (its plan and window are JSON).
        fn schedule_row(r: &DbRow) -> Result<Schedule, sqlx::Error> {
            let bad = |what: &str, e: serde_json::Error| sqlx::Error::Decode(format!("a schedule's {what}: {e}").into());
            let plan: Option<String> = r.try_get("plan")?;
            let window: Option<String> = r.try_get("window_spec")?;
            let action: String = r.try_get("action")?;
            let state: String = r.try_get("state")?;
            Ok(Schedule {
                id: r.try_get("id")?,
                app_id: r.try_get("app_id")?,
                channel: r.try_get("channel")?,
                action: ScheduleAction::parse(&action)
                    .ok_or_else(|| sqlx::Error::Decode(format!("schedule action {action}").into()))?,
                bundle: r.try_get("bundle")?,
                plan: plan.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| bad("plan", e))?,
                at_ms: r.try_get("at_ms")?,
                window: window.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| bad("window", e))?,
                note: r.try_get("note")?,
                state: ScheduleState::parse(&state)
                    .ok_or_else(|| sqlx::Error::Decode(format!("schedule state {state}").into()))?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                ended_at: r.try_get("ended_at")?,
                error: r.try_get("error")?,
                next_run_at: None,
            })
        }

        /// The payload a schedule's changes carry.
        fn schedule_payload(s: &Schedule) -> serde_json::Value {
            serde_json::json!({
                "schedule_id": s.id,
                "action": s.action.as_str(),
                "channel": s.channel,
                "bundle": s.bundle,
                "at_ms": s.at_ms,
                "window": s.window,
            })
        }

        /// Does a due schedule's action inside `tx`; what it did, for its change.
        async fn act(tx: &mut Tx<'_>, s: &Schedule, stamp: &Stamp) -> StoreResult<serde_json::Value> {
            let app_id = s.app_id.as_str();
            let bundle = || {
                s.bundle
                    .clone()
                    .ok_or_else(|| StoreError::Invalid(format!("schedule {} names no bundle", s.id)))
            };
            match s.action {
                ScheduleAction::Deploy => {
                    let current = channel_in(tx, app_id, &s.channel)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("channel {} no longer exists", s.channel)))?;
                    let before = current.clone();
                    let patch = ChannelPatch {
                        bundle: Some(Some(bundle()?)),
                        ..Default::default()
                    };
                    let w = apply_patch(tx, current, &patch, stamp, false).await?;
                    record_channel(tx, "channel.updated", Some(&before), &w, stamp).await?;
                    Ok(serde_json::json!({ "deployed": w.channel.bundle_version }))
                }
                ScheduleAction::StartRollout => {
                    let new = NewRollout {
                        bundle: bundle()?,
                        plan: Some(s.plan.clone().unwrap_or_else($crate::updraft_core::rollout::default_plan)),
                    };
                    let r = start_in(tx, app_id, &s.channel, &new, stamp).await?;
                    Ok(serde_json::json!({ "rollout_id": r.id }))
                }
                ScheduleAction::AdvanceRollout => {
                    let q = format!(
                        "SELECT r.id FROM rollouts r JOIN channels c ON c.id = r.channel_id \
                         WHERE r.app_id = $1 AND c.name = $2 AND r.state IN {ACTIVE}"
                    );
                    let row = sqlx::query(&q)
                        .bind(app_id)
                        .bind(&s.channel)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend)?
                        .ok_or_else(|| StoreError::Conflict(format!("channel {} has no active rollout to advance", s.channel)))?;
                    let id: i64 = row.try_get("id").map_err(backend)?;
                    // Locked before it is read: a gate runner's write to it
                    // waits, instead of failing the compare-and-set below.
                    sqlx::query("UPDATE rollouts SET revision = revision WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                    let why = format!("advanced by schedule {}", s.id);
                    let r = transition_in(tx, app_id, id, Transition::Advance, None, Some(&why), stamp).await?;
                    Ok(serde_json::json!({ "rollout_id": r.id, "step": r.step }))
                }
            }
        }

        #[async_trait]
        impl ScheduleStore for $store {
            async fn create_schedule(&self, app_id: &str, new: &NewSchedule, due_at: i64, max: i64, stamp: &Stamp) -> StoreResult<Schedule> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                lock_app(&mut tx, app_id).await?;
                let pending: i64 = sqlx::query("SELECT COUNT(*) AS n FROM schedules WHERE app_id = $1 AND state = 'pending'")
                    .bind(app_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?
                    .try_get("n")
                    .map_err(backend)?;
                if pending >= max {
                    return Err(StoreError::Conflict(format!(
                        "app {app_id} already has {max} pending schedules; cancel one first"
                    )));
                }
                if channel_in(&mut tx, app_id, &new.channel).await?.is_none() {
                    return Err(StoreError::UnknownChannel(format!("channel {:?} not found in app {app_id}", new.channel)));
                }
                if let Some(b) = &new.bundle {
                    referenced_bundle_id(&mut tx, app_id, b).await?;
                }
                for rule in new.plan.iter().flat_map(|p| p.steps.iter()).filter_map(|s| s.target.as_ref()) {
                    require_cohorts(&mut tx, app_id, rule).await?;
                }
                let r = sqlx::query(
                    "INSERT INTO schedules (app_id, channel, action, bundle, plan, at_ms, window_spec, note, state, created_by, created_at, due_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11) RETURNING id",
                )
                .bind(app_id)
                .bind(&new.channel)
                .bind(new.action.as_str())
                .bind(&new.bundle)
                .bind(new.plan.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()))
                .bind(new.at_ms)
                .bind(new.window.as_ref().map(|w| serde_json::to_string(w).unwrap_or_default()))
                .bind(&new.note)
                .bind(stamp.actor.label())
                .bind(stamp.at_ms)
                .bind(due_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
                let id: i64 = r.try_get("id").map_err(backend)?;
                let q = format!("{SCHEDULE_SELECT} WHERE id = $1");
                let s = schedule_row(&sqlx::query(&q).bind(id).fetch_one(&mut *tx).await.map_err(backend)?).map_err(backend)?;
                record(&mut tx, Some(app_id), "deploy.scheduled", None, schedule_payload(&s), stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(s)
            }

            async fn list_schedules(&self, app_id: &str) -> StoreResult<Vec<Schedule>> {
                let mut tx = self.pool.begin().await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                let q = format!("{SCHEDULE_SELECT} WHERE app_id = $1 ORDER BY id DESC LIMIT 200");
                let all = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, schedule_row)?;
                tx.commit().await.map_err(backend)?;
                Ok(all)
            }

            async fn cancel_schedule(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<Schedule> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let q = format!("{SCHEDULE_SELECT} WHERE app_id = $1 AND id = $2");
                let found = sqlx::query(&q).bind(app_id).bind(id).fetch_optional(&mut *tx).await.map_err(backend)?;
                let Some(found) = found else {
                    return Err(StoreError::NotFound(format!("schedule {id} not found in app {app_id}")));
                };
                let s = schedule_row(&found).map_err(backend)?;
                let done = sqlx::query("UPDATE schedules SET state = 'cancelled', ended_at = $2 WHERE id = $1 AND state = 'pending'")
                    .bind(id)
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict(format!("schedule {id} is {}: only a pending one can be cancelled", s.state.as_str())));
                }
                record(&mut tx, Some(app_id), "deploy.cancelled", None, schedule_payload(&s), stamp).await?;
                let s = schedule_row(&sqlx::query(&q).bind(app_id).bind(id).fetch_one(&mut *tx).await.map_err(backend)?).map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(s)
            }

            async fn pending_schedules(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<Schedule>> {
                let q = format!("{SCHEDULE_SELECT} WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2");
                rows(sqlx::query(&q).bind(now_ms).bind(limit).fetch_all(&self.pool).await.map_err(backend)?, schedule_row)
            }

            async fn postpone_schedule(&self, id: i64, due_at: i64) -> StoreResult<()> {
                sqlx::query("UPDATE schedules SET due_at = $2 WHERE id = $1 AND state = 'pending'")
                    .bind(id)
                    .bind(due_at)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn run_schedule(&self, id: i64, stamp: &Stamp) -> StoreResult<Option<Schedule>> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let moved = sqlx::query("UPDATE schedules SET state = 'executed', ended_at = $2 WHERE id = $1 AND state = 'pending'")
                    .bind(id)
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if moved.rows_affected() == 0 {
                    return Ok(None);
                }
                let q = format!("{SCHEDULE_SELECT} WHERE id = $1");
                let s = schedule_row(&sqlx::query(&q).bind(id).fetch_one(&mut *tx).await.map_err(backend)?).map_err(backend)?;
                let did = act(&mut tx, &s, stamp).await?;
                let mut payload = schedule_payload(&s);
                payload["result"] = did;
                record(&mut tx, Some(&s.app_id), "deploy.executed", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(Some(s))
            }

            async fn fail_schedule(&self, id: i64, error: &str, stamp: &Stamp) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let failed = sqlx::query("UPDATE schedules SET state = 'failed', ended_at = $2, error = $3 WHERE id = $1 AND state = 'pending'")
                    .bind(id)
                    .bind(stamp.at_ms)
                    .bind(error)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if failed.rows_affected() == 0 {
                    return Ok(false);
                }
                let q = format!("{SCHEDULE_SELECT} WHERE id = $1");
                let s = schedule_row(&sqlx::query(&q).bind(id).fetch_one(&mut *tx).await.map_err(backend)?).map_err(backend)?;
                let mut payload = schedule_payload(&s);
                payload["error"] = error.into();
                record(&mut tx, Some(&s.app_id), "deploy.failed", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }
        }
    };
}

//! [`sql_rollouts!`]: the `RolloutStore` queries (starting a rollout, its
//! transitions with compare-and-set, alerts, gate-check claims and records).
//! Arm health and release metrics are counted in `release.rs` and
//! `metrics.rs`. Expanded by [`sql_store!`](crate::sql_store) inside its
//! module, so it shares that module's imports and helpers.

/// Implements `RolloutStore` for `$store`, and defines `rollout_row` and
/// `ROLLOUT_SELECT` (the snapshot reads active rollouts too).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_rollouts {
    ($store:ident) => {
        /// The rollout columns, with the channel's name and the candidate's version.
        const ROLLOUT_SELECT: &str = "SELECT r.id, r.app_id, r.channel_id, c.name AS channel, r.candidate_id, \
             b.version AS candidate_version, r.plan, r.state, r.step, r.step_started_at, r.started_at, r.ended_at, \
             r.reason, r.revision FROM rollouts r JOIN channels c ON c.id = r.channel_id JOIN bundles b ON b.id = r.candidate_id";

        /// The states of a rollout that still decides what devices get.
        const ACTIVE: &str = "('running', 'paused')";
        /// The evaluations kept per rollout (the newest).
        const KEPT_CHECKS: i64 = 100;

        fn rollout_row(r: &DbRow) -> Result<Rollout, sqlx::Error> {
            let plan: String = r.try_get("plan")?;
            let state: String = r.try_get("state")?;
            let step: i64 = r.try_get("step")?;
            let decode = |what: String| sqlx::Error::Decode(what.into());
            Ok(Rollout {
                id: r.try_get("id")?,
                app_id: r.try_get("app_id")?,
                channel_id: r.try_get("channel_id")?,
                channel: r.try_get("channel")?,
                candidate_id: r.try_get("candidate_id")?,
                candidate_version: r.try_get("candidate_version")?,
                plan: serde_json::from_str(&plan).map_err(|e| decode(format!("rollout plan: {e}")))?,
                state: RolloutState::parse(&state).ok_or_else(|| decode(format!("rollout state {state}")))?,
                step: u32::try_from(step).map_err(|_| decode(format!("rollout step {step}")))?,
                step_started_at: r.try_get("step_started_at")?,
                started_at: r.try_get("started_at")?,
                ended_at: r.try_get("ended_at")?,
                reason: r.try_get("reason")?,
                revision: r.try_get("revision")?,
            })
        }

        async fn rollout_by_id(tx: &mut Tx<'_>, app_id: &str, id: i64) -> StoreResult<Option<Rollout>> {
            let q = format!("{ROLLOUT_SELECT} WHERE r.app_id = $1 AND r.id = $2");
            let r = sqlx::query(&q).bind(app_id).bind(id).fetch_optional(&mut **tx).await.map_err(backend)?;
            r.as_ref().map(rollout_row).transpose().map_err(backend)
        }

        /// Records a rollout's change (inside its transaction) and raises the
        /// app's revision, so every node reloads its snapshot.
        async fn record_rollout(
            tx: &mut Tx<'_>,
            kind: &str,
            r: &Rollout,
            reason: Option<&str>,
            stamp: &Stamp,
        ) -> StoreResult<()> {
            bump(tx, &r.app_id).await?;
            let payload = serde_json::json!({
                "rollout_id": r.id,
                "channel": r.channel,
                "candidate": r.candidate_version,
                "step": r.step,
                "state": r.state.as_str(),
                "reason": reason,
            });
            record(tx, Some(&r.app_id), kind, None, payload, stamp).await
        }

        /// Starts a rollout inside `tx` (see `RolloutStore::start_rollout`).
        async fn start_in(tx: &mut Tx<'_>, app_id: &str, channel: &str, new: &NewRollout, stamp: &Stamp) -> StoreResult<Rollout> {
            let plan = new
                .plan
                .as_ref()
                .ok_or_else(|| StoreError::Invalid("a rollout needs a plan".into()))?;
            if plan.steps.is_empty() {
                return Err(StoreError::Invalid("a rollout plan needs at least one step".into()));
            }
            let plan_text = serde_json::to_string(plan).map_err(|e| StoreError::Invalid(format!("rollout plan: {e}")))?;
            require_app(tx, app_id).await?;
            let c = channel_in(tx, app_id, channel)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("channel {channel} not found in app {app_id}")))?;
            for rule in plan.steps.iter().filter_map(|s| s.target.as_ref()) {
                require_cohorts(tx, app_id, rule).await?;
            }
            let candidate = referenced_bundle_id(tx, app_id, &new.bundle).await?;
            if c.bundle_id == Some(candidate) {
                return Err(StoreError::Invalid(format!(
                    "bundle {} is already channel {channel}'s bundle; a rollout needs another one",
                    new.bundle
                )));
            }
            let busy = format!("channel {channel} already has an active rollout; promote or revert it first");
            let active = sqlx::query(&format!("SELECT id FROM rollouts WHERE channel_id = $1 AND state IN {ACTIVE}"))
                .bind(c.id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
            if active.is_some() {
                return Err(StoreError::Conflict(busy));
            }
            let r = sqlx::query(
                "INSERT INTO rollouts (app_id, channel_id, candidate_id, plan, state, step, step_started_at, \
                 started_at, ended_at, reason, revision, checked_at) \
                 VALUES ($1, $2, $3, $4, 'running', 0, $5, $5, NULL, NULL, 1, NULL) RETURNING id",
            )
            .bind(app_id)
            .bind(c.id)
            .bind(candidate)
            .bind(&plan_text)
            .bind(stamp.at_ms)
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| map_err(e, &busy))?;
            let id: i64 = r.try_get("id").map_err(backend)?;
            let rollout = rollout_by_id(tx, app_id, id)
                .await?
                .ok_or_else(|| StoreError::Backend("rollout vanished".into()))?;
            record_rollout(tx, "rollout.started", &rollout, None, stamp).await?;
            Ok(rollout)
        }

        /// Moves a rollout on inside `tx` (see `RolloutStore::transition_rollout`).
        async fn transition_in(
            tx: &mut Tx<'_>,
            app_id: &str,
            id: i64,
            transition: Transition,
            expected: Option<i64>,
            reason: Option<&str>,
            stamp: &Stamp,
        ) -> StoreResult<Rollout> {
            let r = rollout_by_id(tx, app_id, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("rollout {id} not found in app {app_id}")))?;
            if let Some(e) = expected.filter(|e| *e != r.revision) {
                return Err(StoreError::Conflict(format!(
                    "rollout {id} is at revision {}, not {e}; read it again",
                    r.revision
                )));
            }
            let refuse = |why: &str| Err(StoreError::Conflict(format!("rollout {id} is {}: {why}", r.state.as_str())));
            if !r.state.is_active() {
                return refuse("it has ended");
            }
            let mut step = i64::from(r.step);
            let mut step_started_at = r.step_started_at;
            let mut ended_at = None;
            // Why it was last paused or ended; resuming or advancing keeps it unless told.
            let mut kept_reason = reason.map(str::to_string);
            match transition {
                Transition::Pause if r.state == RolloutState::Paused => return refuse("it is already paused"),
                Transition::Resume if r.state == RolloutState::Running => return refuse("it is not paused"),
                Transition::Pause => {}
                Transition::Resume => {
                    step_started_at = stamp.at_ms;
                    kept_reason = kept_reason.or_else(|| r.reason.clone());
                }
                Transition::Advance => {
                    if usize::try_from(r.step).map_or(true, |s| s + 1 >= r.plan.steps.len()) {
                        return refuse("it is at its last step (promote it instead)");
                    }
                    step += 1;
                    step_started_at = stamp.at_ms;
                    kept_reason = kept_reason.or_else(|| r.reason.clone());
                }
                Transition::Promote | Transition::Revert => ended_at = Some(stamp.at_ms),
            }
            // A promotion locks its candidate first (as a revocation
            // does, before the rollout): the two serialise, never deadlock.
            let candidate = if transition == Transition::Promote {
                let (candidate, revoked) = live_bundle(tx, app_id, &r.candidate_version).await.map_err(|_| {
                    StoreError::Conflict(format!("rollout {id}'s candidate {} was deleted", r.candidate_version))
                })?;
                if revoked.is_some() {
                    return Err(StoreError::Revoked(format!(
                        "rollout {id}'s candidate {} was revoked", r.candidate_version
                    )));
                }
                Some(candidate)
            } else {
                None
            };
            let done = sqlx::query(
                "UPDATE rollouts SET state = $3, step = $4, step_started_at = $5, ended_at = $6, reason = $7, \
                 revision = revision + 1 WHERE id = $1 AND revision = $2",
            )
            .bind(id)
            .bind(r.revision)
            .bind(transition.target().as_str())
            .bind(step)
            .bind(step_started_at)
            .bind(ended_at)
            .bind(&kept_reason)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 0 {
                // Another transaction moved it on between our read and our write.
                return Err(StoreError::Conflict(format!("rollout {id} changed meanwhile; read it again")));
            }
            if let Some(candidate) = candidate {
                // The candidate becomes the channel's bundle: a deploy in its history.
                sqlx::query("UPDATE channels SET bundle_id = $2, critical = FALSE, updated_at = $3 WHERE id = $1")
                    .bind(r.channel_id)
                    .bind(candidate)
                    .bind(stamp.at_ms)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                sqlx::query("INSERT INTO deploys (app_id, channel_id, bundle_id, deployed_at) VALUES ($1, $2, $3, $4)")
                    .bind(app_id)
                    .bind(r.channel_id)
                    .bind(candidate)
                    .bind(stamp.at_ms)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
            }
            let after = rollout_by_id(tx, app_id, id)
                .await?
                .ok_or_else(|| StoreError::Backend("rollout vanished".into()))?;
            record_rollout(tx, transition.kind(), &after, reason, stamp).await?;
            Ok(after)
        }

        #[async_trait]
        impl RolloutStore for $store {
            async fn start_rollout(&self, app_id: &str, channel: &str, new: &NewRollout, stamp: &Stamp) -> StoreResult<Rollout> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let rollout = start_in(&mut tx, app_id, channel, new, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(rollout)
            }

            async fn get_rollout(&self, app_id: &str, channel: &str) -> StoreResult<Option<Rollout>> {
                let q = format!("{ROLLOUT_SELECT} WHERE r.app_id = $1 AND c.name = $2 ORDER BY r.id DESC LIMIT 1");
                let r = sqlx::query(&q).bind(app_id).bind(channel).fetch_optional(&self.pool).await.map_err(backend)?;
                r.as_ref().map(rollout_row).transpose().map_err(backend)
            }

            async fn list_rollouts(&self, app_id: &str) -> StoreResult<Vec<Rollout>> {
                let q = format!("{ROLLOUT_SELECT} WHERE r.app_id = $1 ORDER BY r.id DESC LIMIT 100");
                rows(sqlx::query(&q).bind(app_id).fetch_all(&self.pool).await.map_err(backend)?, rollout_row)
            }

            async fn active_rollouts(&self) -> StoreResult<Vec<Rollout>> {
                let q = format!("{ROLLOUT_SELECT} WHERE r.state IN {ACTIVE} ORDER BY r.id");
                rows(sqlx::query(&q).fetch_all(&self.pool).await.map_err(backend)?, rollout_row)
            }

            async fn transition_rollout(
                &self,
                app_id: &str,
                id: i64,
                transition: Transition,
                expected: Option<i64>,
                reason: Option<&str>,
                stamp: &Stamp,
            ) -> StoreResult<Rollout> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let after = transition_in(&mut tx, app_id, id, transition, expected, reason, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(after)
            }

            async fn alert_rollout(&self, app_id: &str, id: i64, detail: &str, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let r = rollout_by_id(&mut tx, app_id, id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("rollout {id} not found in app {app_id}")))?;
                record_rollout(&mut tx, "rollout.alert", &r, Some(detail), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn claim_rollout_check(&self, id: i64, now_ms: i64, interval_ms: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // One UPDATE: on PostgreSQL a second claimant waits for the
                // first's row lock, then sees its `checked_at` and claims nothing.
                let done = sqlx::query(&format!(
                    "UPDATE rollouts SET checked_at = $2 WHERE id = $1 AND state IN {ACTIVE} \
                     AND (checked_at IS NULL OR checked_at <= $3)"
                ))
                .bind(id)
                .bind(now_ms)
                .bind(now_ms.saturating_sub(interval_ms.max(0)))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_rollout_check(&self, rollout_id: i64, check: &RolloutCheck) -> StoreResult<RolloutCheck> {
                let body = serde_json::to_string(check).map_err(|e| StoreError::Invalid(format!("rollout check: {e}")))?;
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let known = sqlx::query("SELECT 1 AS one FROM rollouts WHERE id = $1")
                    .bind(rollout_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                if known.is_none() {
                    return Err(StoreError::NotFound(format!("rollout {rollout_id} not found")));
                }
                let r = sqlx::query(
                    "INSERT INTO rollout_checks (rollout_id, step, at_ms, outcome, body) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(rollout_id)
                .bind(i64::from(check.step))
                .bind(check.at)
                .bind(&check.outcome)
                .bind(&body)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
                let id: i64 = r.try_get("id").map_err(backend)?;
                // The runner records one check per interval for as long as a
                // rollout is active: keep the latest KEPT_CHECKS.
                sqlx::query(
                    "DELETE FROM rollout_checks WHERE rollout_id = $1 AND id < (SELECT id FROM rollout_checks \
                     WHERE rollout_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                )
                .bind(rollout_id)
                .bind(KEPT_CHECKS - 1)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(RolloutCheck { id, ..check.clone() })
            }

            async fn list_rollout_checks(&self, rollout_id: i64, limit: i64) -> StoreResult<Vec<RolloutCheck>> {
                let rs = sqlx::query("SELECT id, body FROM rollout_checks WHERE rollout_id = $1 ORDER BY id DESC LIMIT $2")
                    .bind(rollout_id)
                    .bind(limit.clamp(1, 1000))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rs.iter()
                    .map(|r| {
                        let body: String = r.try_get("body").map_err(backend)?;
                        let check: RolloutCheck = serde_json::from_str(&body)
                            .map_err(|e| StoreError::Backend(format!("stored rollout check: {e}")))?;
                        Ok(RolloutCheck { id: r.try_get("id").map_err(backend)?, ..check })
                    })
                    .collect()
            }

            async fn arm_health(&self, rollout_id: i64) -> StoreResult<(ArmHealth, ArmHealth)> {
                release::arm_health(&self.pool, rollout_id).await
            }

            async fn prune_release(&self, before: i64, limit: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let q = format!(
                    "DELETE FROM release_devices WHERE (app_id, bundle_id, device_id) IN \
                     (SELECT app_id, bundle_id, device_id FROM release_devices WHERE first_at < $1 \
                     AND (rollout_id IS NULL OR rollout_id NOT IN (SELECT id FROM rollouts WHERE state IN {ACTIVE})) \
                     ORDER BY first_at LIMIT $2)"
                );
                let r = sqlx::query(&q)
                    .bind(before)
                    .bind(limit.max(1))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(r.rows_affected())
            }

            async fn release_metrics(&self, app_id: &str, version: &str, since: i64, until: i64) -> StoreResult<ReleaseMetrics> {
                metrics::release_metrics(&self.pool, app_id, version, since, until).await
            }
        }
    };
}

//! [`sql_cohorts!`]: the `CohortStore` queries, and the check that the
//! cohorts a targeting rule names exist. Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `CohortStore` for `$store`, and defines `require_cohorts`
/// (channel and rollout writes check their rules with it).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_cohorts {
    ($store:ident) => {
        /// A cohort as stored (its ids are JSON arrays).
        fn cohort_row(r: &DbRow) -> Result<NamedCohort, sqlx::Error> {
            let ids = |col: &str| -> Result<Vec<String>, sqlx::Error> {
                let text: String = r.try_get(col)?;
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(format!("cohort {col}: {e}").into()))
            };
            Ok(NamedCohort {
                name: r.try_get("name")?,
                device_ids: ids("device_ids")?,
                custom_ids: ids("custom_ids")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        /// The app's cohorts by name, read inside `tx`.
        async fn cohorts_in(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<Vec<NamedCohort>> {
            let rs = sqlx::query("SELECT name, device_ids, custom_ids, updated_at FROM cohorts WHERE app_id = $1 ORDER BY name")
                .bind(app_id)
                .fetch_all(&mut **tx)
                .await
                .map_err(backend)?;
            rows(rs, cohort_row)
        }

        /// `UnknownCohort` naming the first cohort `rule` names that the app does not have.
        async fn require_cohorts(tx: &mut Tx<'_>, app_id: &str, rule: &Target) -> StoreResult<()> {
            let named = $crate::updraft_core::target::cohorts_named(rule);
            if named.is_empty() {
                return Ok(());
            }
            // The same lock `delete_cohort` takes: a rule and the deletion
            // of a cohort it names never both commit.
            lock_app(tx, app_id).await?;
            let have = cohorts_in(tx, app_id).await?;
            match named.into_iter().find(|n| !have.iter().any(|c| c.name == *n)) {
                Some(missing) => Err(StoreError::UnknownCohort(format!(
                    "the rule names cohort {missing}, which app {app_id} does not have (create it first)"
                ))),
                None => Ok(()),
            }
        }

        #[async_trait]
        impl CohortStore for $store {
            async fn put_cohort(
                &self,
                app_id: &str,
                name: &str,
                members: &CohortMembers,
                max: i64,
                stamp: &Stamp,
            ) -> StoreResult<(NamedCohort, bool)> {
                let device_ids: Vec<String> = members.device_ids.iter().map(|d| d.to_lowercase()).collect();
                let device_text = serde_json::to_string(&device_ids).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let custom_text = serde_json::to_string(&members.custom_ids).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                let before = cohorts_in(&mut tx, app_id).await?.into_iter().find(|c| c.name == name);
                if before.is_some() {
                    sqlx::query("UPDATE cohorts SET device_ids = $3, custom_ids = $4, updated_at = $5 WHERE app_id = $1 AND name = $2")
                        .bind(app_id)
                        .bind(name)
                        .bind(&device_text)
                        .bind(&custom_text)
                        .bind(stamp.at_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                } else {
                    under_cap(&mut tx, app_id, "cohorts", max, "cohorts").await?;
                    sqlx::query(
                        "INSERT INTO cohorts (app_id, name, device_ids, custom_ids, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5)",
                    )
                    .bind(app_id)
                    .bind(name)
                    .bind(&device_text)
                    .bind(&custom_text)
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_err(e, &format!("cohort {name} already exists in app {app_id}")))?;
                }
                let after = cohorts_in(&mut tx, app_id)
                    .await?
                    .into_iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| StoreError::Backend("cohort vanished".into()))?;
                bump(&mut tx, app_id).await?;
                let payload = serde_json::json!({
                    "cohort": name,
                    "before": before.as_ref().map(|c| serde_json::json!({"device_ids": c.device_ids.len(), "custom_ids": c.custom_ids.len()})),
                    "after": {"device_ids": after.device_ids.len(), "custom_ids": after.custom_ids.len()},
                });
                record(&mut tx, Some(app_id), "cohort.updated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok((after, before.is_none()))
            }

            async fn list_cohorts(&self, app_id: &str) -> StoreResult<Vec<NamedCohort>> {
                let mut tx = self.pool.begin().await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                let all = cohorts_in(&mut tx, app_id).await?;
                tx.commit().await.map_err(backend)?;
                Ok(all)
            }

            async fn delete_cohort(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                lock_app(&mut tx, app_id).await?;
                let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 ORDER BY c.name, c.id");
                let channels = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, channel_row)?;
                let names = |rule: &Target| $crate::updraft_core::target::cohorts_named(rule).contains(&name);
                if let Some(c) = channels.iter().find(|c| c.target.as_ref().is_some_and(names)) {
                    return Err(StoreError::Conflict(format!(
                        "channel {}'s targeting rule names cohort {name}: change the rule first",
                        c.name
                    )));
                }
                let q = format!("{ROLLOUT_SELECT} WHERE r.app_id = $1 AND r.state IN {ACTIVE} ORDER BY r.id");
                let rollouts = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, rollout_row)?;
                if let Some(r) = rollouts.iter().find(|r| r.plan.steps.iter().any(|s| s.target.as_ref().is_some_and(names))) {
                    return Err(StoreError::Conflict(format!(
                        "rollout {} on channel {} names cohort {name} in a step's targeting rule: end it first",
                        r.id, r.channel
                    )));
                }
                let gone = sqlx::query("DELETE FROM cohorts WHERE app_id = $1 AND name = $2")
                    .bind(app_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if gone.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("cohort {name} not found in app {app_id}")));
                }
                bump(&mut tx, app_id).await?;
                record(&mut tx, Some(app_id), "cohort.deleted", None, serde_json::json!({ "cohort": name }), stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(())
            }
        }
    };
}

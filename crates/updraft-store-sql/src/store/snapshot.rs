//! [`sql_snapshot!`]: the `SnapshotStore` query (the per-app snapshot,
//! with its active rollouts).
//! Expanded by [`sql_store!`](crate::sql_store) inside its module, so it
//! shares that module's imports and helpers.

/// Implements `SnapshotStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_snapshot {
    ($store:ident) => {
        #[async_trait]
        impl SnapshotStore for $store {
            async fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let q = format!("{APP_SELECT} WHERE app_id = $1");
                let Some(r) = sqlx::query(&q).bind(app_id).fetch_optional(&mut *tx).await.map_err(backend)? else {
                    return Ok(None);
                };
                let app = app_row(&r).map_err(backend)?;
                let revision: i64 = r.try_get("revision").map_err(backend)?;
                let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 ORDER BY c.name, c.id");
                let channels = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, channel_row)?;
                let q = format!("{BUNDLE_SELECT} WHERE app_id = $1 AND deleted = FALSE");
                let bundles = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, bundle_row)?;
                let os = sqlx::query("SELECT device_id, channel_id, bundle_id FROM device_overrides WHERE app_id = $1")
                    .bind(app_id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                let overrides = os
                    .iter()
                    .map(|r| Ok((r.try_get("device_id")?, r.try_get("channel_id")?, r.try_get("bundle_id")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)?;
                let fs = sqlx::query(
                    "SELECT f.device_id, f.bundle_id FROM device_failures f \
                     WHERE f.app_id = $1 AND (f.bundle_id IN (SELECT bundle_id FROM channels WHERE app_id = $1 AND bundle_id IS NOT NULL) \
                     OR f.bundle_id IN (SELECT bundle_id FROM device_overrides WHERE app_id = $1 AND bundle_id IS NOT NULL) \
                     OR f.bundle_id IN (SELECT candidate_id FROM rollouts WHERE app_id = $1 AND state IN ('running', 'paused')))",
                )
                .bind(app_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
                let failures = fs
                    .iter()
                    .map(|r| Ok((r.try_get("device_id")?, r.try_get("bundle_id")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)?;
                let q = format!("{ROLLOUT_SELECT} WHERE r.app_id = $1 AND r.state IN {ACTIVE} ORDER BY r.id");
                let rollouts = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, rollout_row)?;
                let cohorts = cohorts_in(&mut tx, app_id).await?;
                tx.commit().await.map_err(backend)?;
                Ok(Some(AppSnapshotData { app, revision, channels, bundles, overrides, failures, rollouts, cohorts }))
            }
        }
    };
}

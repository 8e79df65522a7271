//! [`sql_apps!`]: the `AppStore` queries. Expanded by [`sql_store!`](crate::sql_store)
//! inside its module, so it shares that module's imports and helpers.

/// Implements `AppStore` for `$store`, and defines `app_row` (the snapshot reads apps too).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_apps {
    ($store:ident) => {
        fn app_row(r: &DbRow) -> Result<App, sqlx::Error> {
            Ok(App {
                app_id: r.try_get("app_id")?,
                name: r.try_get("name")?,
                expose_metadata: r.try_get("expose_metadata")?,
                allow_device_custom_id: r.try_get("allow_device_custom_id")?,
                public_key: r.try_get("public_key")?,
                created_at: r.try_get("created_at")?,
            })
        }

        #[async_trait]
        impl AppStore for $store {
            async fn create_app(&self, app: &NewApp, stamp: &Stamp) -> StoreResult<App> {
                let name = app.name.clone().unwrap_or_else(|| app.app_id.clone());
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let q = "INSERT INTO apps (app_id, name, expose_metadata, allow_device_custom_id, revision, created_at) \
                         VALUES ($1, $2, FALSE, TRUE, 1, $3)";
                sqlx::query(q)
                    .bind(&app.app_id)
                    .bind(&name)
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_err(e, &format!("app {} already exists", app.app_id)))?;
                record(&mut tx, Some(&app.app_id), "app.created", None, serde_json::json!({ "name": name }), stamp).await?;
                tx.commit().await.map_err(backend)?;
                self.get_app(&app.app_id).await?.ok_or_else(|| StoreError::Backend("app vanished".into()))
            }

            async fn list_apps(&self) -> StoreResult<Vec<App>> {
                let q = format!("{APP_SELECT} ORDER BY app_id");
                rows(sqlx::query(&q).fetch_all(&self.pool).await.map_err(backend)?, app_row)
            }

            async fn get_app(&self, app_id: &str) -> StoreResult<Option<App>> {
                let q = format!("{APP_SELECT} WHERE app_id = $1");
                let r = sqlx::query(&q).bind(app_id).fetch_optional(&self.pool).await.map_err(backend)?;
                r.as_ref().map(app_row).transpose().map_err(backend)
            }

            async fn update_app(&self, app_id: &str, patch: &AppPatch, stamp: &Stamp) -> StoreResult<App> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let q = format!("{APP_SELECT} WHERE app_id = $1");
                let before = sqlx::query(&q).bind(app_id).fetch_optional(&mut *tx).await.map_err(backend)?;
                let before = before.as_ref().map(app_row).transpose().map_err(backend)?;
                let r = sqlx::query(
                    "UPDATE apps SET name = COALESCE($2, name), expose_metadata = COALESCE($3, expose_metadata), \
                     allow_device_custom_id = COALESCE($4, allow_device_custom_id), \
                     public_key = NULLIF(COALESCE($5, public_key), ''), revision = revision + 1 \
                     WHERE app_id = $1",
                )
                .bind(app_id)
                .bind(&patch.name)
                .bind(patch.expose_metadata)
                .bind(patch.allow_device_custom_id)
                .bind(&patch.public_key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("app {app_id} not found")));
                }
                let after = sqlx::query(&q).bind(app_id).fetch_one(&mut *tx).await.map_err(backend)?;
                let after = app_row(&after).map_err(backend)?;
                let mut payload = serde_json::to_value(patch).unwrap_or_default();
                if let Some(p) = payload.as_object_mut() {
                    p.insert("before".into(), serde_json::json!(before));
                    p.insert("after".into(), serde_json::json!(after));
                }
                record(&mut tx, Some(app_id), "app.updated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                self.get_app(app_id).await?.ok_or_else(|| StoreError::NotFound(format!("app {app_id} not found")))
            }

            async fn delete_app(&self, app_id: &str, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                // Its files are swept once nothing else uses them.
                let files = sqlx::query(
                    "SELECT blob_sha256 AS sha FROM bundles WHERE app_id = $1 AND blob_sha256 IS NOT NULL \
                     UNION SELECT sha256 AS sha FROM app_files WHERE app_id = $1",
                )
                .bind(app_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
                let files: Vec<String> = rows(files, |r| r.try_get("sha"))?;
                sqlx::query("DELETE FROM rollout_checks WHERE rollout_id IN (SELECT id FROM rollouts WHERE app_id = $1)")
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                sqlx::query("DELETE FROM hook_calls WHERE hook_id IN (SELECT id FROM hooks WHERE app_id = $1)")
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                sqlx::query("DELETE FROM bundle_files WHERE bundle_id IN (SELECT id FROM bundles WHERE app_id = $1)")
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                for table in [
                    "webhook_deliveries",
                    "webhooks",
                    "hooks",
                    "cohorts",
                    "schedules",
                    "file_patches",
                    "app_files",
                    "rollouts",
                    "release_devices",
                    "offers",
                    "check_counts",
                    "events",
                    "device_failures",
                    "device_overrides",
                    "devices",
                    "deploys",
                    "channels",
                    "bundles",
                ] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE app_id = $1"))
                        .bind(app_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                sqlx::query("DELETE FROM apps WHERE app_id = $1").bind(app_id).execute(&mut *tx).await.map_err(backend)?;
                // After the rows that name them, as every write that frees a
                // file orders its locks (no deadlock with retention or a
                // bundle deletion).
                hold_in(&mut tx, &files, stamp.at_ms).await?;
                record(&mut tx, Some(app_id), "app.deleted", None, serde_json::json!({}), stamp).await?;
                tx.commit().await.map_err(backend)
            }
        }
    };
}

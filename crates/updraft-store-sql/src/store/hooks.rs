//! [`sql_hooks!`]: the `HookStore` queries. Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `HookStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_hooks {
    ($store:ident) => {
        const HOOK_SELECT: &str = "SELECT id, app_id, action, channel, version_pointer, plan, description, \
             created_at, last_used_at, secret FROM hooks";

        fn hook_row(r: &DbRow) -> Result<Hook, sqlx::Error> {
            let action: String = r.try_get("action")?;
            let plan: Option<String> = r.try_get("plan")?;
            Ok(Hook {
                id: r.try_get("id")?,
                app_id: r.try_get("app_id")?,
                action: HookAction::parse(&action).ok_or_else(|| sqlx::Error::Decode(format!("hook action {action}").into()))?,
                channel: r.try_get("channel")?,
                version_pointer: r.try_get("version_pointer")?,
                plan: plan
                    .map(|p| serde_json::from_str(&p))
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(format!("a hook's plan: {e}").into()))?,
                description: r.try_get("description")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        }

        #[async_trait]
        impl HookStore for $store {
            async fn create_hook(&self, app_id: &str, new: &NewHook, token: &str, secret: &str, max: i64, stamp: &Stamp) -> StoreResult<Hook> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                under_cap(&mut tx, app_id, "hooks", max, "hooks").await?;
                if channel_in(&mut tx, app_id, &new.channel).await?.is_none() {
                    return Err(StoreError::UnknownChannel(format!("channel {:?} not found in app {app_id}", new.channel)));
                }
                let plan = new.plan.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
                let r = sqlx::query(
                    "INSERT INTO hooks (token, app_id, action, channel, version_pointer, plan, description, secret, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(token)
                .bind(app_id)
                .bind(new.action.as_str())
                .bind(&new.channel)
                .bind(&new.version_pointer)
                .bind(plan)
                .bind(&new.description)
                .bind(secret)
                .bind(stamp.at_ms)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
                let id: i64 = r.try_get("id").map_err(backend)?;
                let q = format!("{HOOK_SELECT} WHERE id = $1");
                let hook = hook_row(&sqlx::query(&q).bind(id).fetch_one(&mut *tx).await.map_err(backend)?).map_err(backend)?;
                let payload = serde_json::json!({ "hook_id": id, "action": new.action.as_str(), "channel": new.channel });
                record(&mut tx, Some(app_id), "hook.created", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(hook)
            }

            async fn list_hooks(&self, app_id: &str) -> StoreResult<Vec<Hook>> {
                let q = format!("{HOOK_SELECT} WHERE app_id = $1 ORDER BY id");
                rows(sqlx::query(&q).bind(app_id).fetch_all(&self.pool).await.map_err(backend)?, hook_row)
            }

            async fn delete_hook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let gone = sqlx::query("DELETE FROM hooks WHERE app_id = $1 AND id = $2")
                    .bind(app_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if gone.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("hook {id} not found in app {app_id}")));
                }
                sqlx::query("DELETE FROM hook_calls WHERE hook_id = $1").bind(id).execute(&mut *tx).await.map_err(backend)?;
                record(&mut tx, Some(app_id), "hook.deleted", None, serde_json::json!({ "hook_id": id }), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn hook_by_token(&self, token: &str) -> StoreResult<Option<StoredHook>> {
                let q = format!("{HOOK_SELECT} WHERE token = $1");
                let Some(r) = sqlx::query(&q).bind(token).fetch_optional(&self.pool).await.map_err(backend)? else {
                    return Ok(None);
                };
                Ok(Some(StoredHook {
                    hook: hook_row(&r).map_err(backend)?,
                    secret: r.try_get("secret").map_err(backend)?,
                }))
            }

            async fn claim_hook_call(&self, hook_id: i64, delivery_id: &str, now_ms: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // The hook's row first: a call racing the hook's deletion
                // waits for it, then finds no hook.
                let live = sqlx::query("UPDATE hooks SET last_used_at = $2 WHERE id = $1")
                    .bind(hook_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if live.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("hook {hook_id} was deleted")));
                }
                let done = sqlx::query(
                    "INSERT INTO hook_calls (hook_id, delivery_id, received_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (hook_id, delivery_id) DO NOTHING",
                )
                .bind(hook_id)
                .bind(delivery_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_hook_call(&self, hook_id: i64, delivery_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM hook_calls WHERE hook_id = $1 AND delivery_id = $2")
                    .bind(hook_id)
                    .bind(delivery_id)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn prune_hook_calls(&self, before: i64, limit: i64) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM hook_calls WHERE (hook_id, delivery_id) IN (SELECT hook_id, delivery_id FROM hook_calls \
                     WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
                )
                .bind(before)
                .bind(limit.max(1))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }
    };
}

//! [`sql_changes!`]: the `ChangeStore` queries (reading and pruning the change
//! log; every write appends to it through `record`). Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `ChangeStore` for `$store`; the feed comes from the store's own
/// `listen()` (PostgreSQL's LISTEN, none on SQLite).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_changes {
    ($store:ident) => {
        fn change_row(r: &DbRow) -> Result<Change, sqlx::Error> {
            let payload: String = r.try_get("payload")?;
            Ok(Change {
                id: r.try_get("id")?,
                app_id: r.try_get("app_id")?,
                revision: r.try_get("revision")?,
                kind: r.try_get("kind")?,
                device_id: r.try_get("device_id")?,
                payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                actor: r.try_get("actor")?,
                at: r.try_get("at_ms")?,
            })
        }

        #[async_trait]
        impl ChangeStore for $store {
            async fn list_changes(&self, app_id: Option<&str>, after: i64, limit: i64) -> StoreResult<Vec<Change>> {
                let rs = sqlx::query(
                    "SELECT id, app_id, revision, kind, device_id, payload, actor, at_ms FROM changes \
                     WHERE id > $1 AND ($2 IS NULL OR app_id = $2) ORDER BY id LIMIT $3",
                )
                .bind(after)
                .bind(app_id)
                .bind(limit.clamp(1, 1000))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows(rs, change_row)
            }

            async fn audit_changes(&self, app_id: &str, q: &AuditQuery) -> StoreResult<Vec<Change>> {
                let (exact, prefix) = match q.kind.as_deref() {
                    Some(k) if k.ends_with('.') => (None, Some(format!("{k}%"))),
                    Some(k) => (Some(k.to_string()), None),
                    None => (None, None),
                };
                let rs = sqlx::query(
                    "SELECT id, app_id, revision, kind, device_id, payload, actor, at_ms FROM changes \
                     WHERE app_id = $1 AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR kind LIKE $3) \
                     AND ($4 IS NULL OR actor = $4) AND at_ms >= $5 AND at_ms < $6 AND ($7 OR actor <> 'device') \
                     AND id < $8 ORDER BY id DESC LIMIT $9",
                )
                .bind(app_id)
                .bind(exact)
                .bind(prefix)
                .bind(&q.actor)
                .bind(q.since.unwrap_or(i64::MIN))
                .bind(q.until.unwrap_or(i64::MAX))
                .bind(q.devices.unwrap_or(false))
                .bind(q.before.unwrap_or(i64::MAX))
                .bind(q.limit.unwrap_or(50).clamp(1, 500))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows(rs, change_row)
            }

            async fn last_change_id(&self) -> StoreResult<i64> {
                let r = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM changes")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend)?;
                r.try_get("n").map_err(backend)
            }

            async fn change_feed(&self) -> StoreResult<Option<ChangeFeed>> {
                self.listen().await
            }

            async fn prune_changes(&self, before: i64, limit: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let r = sqlx::query(
                    "DELETE FROM changes WHERE id IN (SELECT id FROM changes WHERE at_ms < $1 AND id NOT IN \
                     (SELECT MAX(id) FROM changes WHERE app_id IS NOT NULL GROUP BY app_id) ORDER BY id LIMIT $2)",
                )
                .bind(before)
                .bind(limit)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(r.rows_affected())
            }
        }
    };
}

//! [`sql_sessions!`]: the `SessionStore` queries (the dashboard's sign-in
//! sessions). Expanded by [`sql_store!`](crate::sql_store) inside its module,
//! so it shares that module's imports and helpers.

/// Implements `SessionStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_sessions {
    ($store:ident) => {
        fn session_row(r: &DbRow) -> Result<DashSession, sqlx::Error> {
            Ok(DashSession {
                token_hash: r.try_get("token_hash")?,
                key_hash: r.try_get("key_hash")?,
                created_at: r.try_get("created_at")?,
                idle_until: r.try_get("idle_until")?,
                expires_at: r.try_get("expires_at")?,
            })
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &DashSession) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO dashboard_sessions (token_hash, key_hash, created_at, idle_until, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&s.token_hash)
                .bind(&s.key_hash)
                .bind(s.created_at)
                .bind(s.idle_until.min(s.expires_at))
                .bind(s.expires_at)
                .execute(&self.pool)
                .await
                .map_err(|e| map_err(e, "a session with this token exists"))?;
                Ok(())
            }

            async fn touch_session(
                &self,
                token_hash: &str,
                now_ms: i64,
                idle_until: i64,
            ) -> StoreResult<Option<DashSession>> {
                let row = sqlx::query(
                    "UPDATE dashboard_sessions SET idle_until = CASE WHEN $3 < expires_at THEN $3 ELSE expires_at END \
                     WHERE token_hash = $1 AND idle_until > $2 AND expires_at > $2 \
                     RETURNING token_hash, key_hash, created_at, idle_until, expires_at",
                )
                .bind(token_hash)
                .bind(now_ms)
                .bind(idle_until)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                row.as_ref().map(session_row).transpose().map_err(backend)
            }

            async fn end_session(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn prune_sessions(&self, now_ms: i64, limit: i64) -> StoreResult<u64> {
                let r = sqlx::query(
                    "DELETE FROM dashboard_sessions WHERE token_hash IN (SELECT token_hash FROM dashboard_sessions \
                     WHERE idle_until <= $1 LIMIT $2)",
                )
                .bind(now_ms)
                .bind(limit)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(r.rows_affected())
            }
        }
    };
}

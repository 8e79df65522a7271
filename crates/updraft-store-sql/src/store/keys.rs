//! [`sql_keys!`]: the `KeyStore` queries. Expanded by [`sql_store!`](crate::sql_store)
//! inside its module, so it shares that module's imports and helpers.

/// Implements `KeyStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_keys {
    ($store:ident) => {
        fn key_row(r: &DbRow) -> Result<StoredKey, sqlx::Error> {
            let mode: String = r.try_get("mode")?;
            let apps: String = r.try_get("apps")?;
            Ok(StoredKey {
                key: ApiKey {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    mode: KeyMode::parse(&mode).unwrap_or(KeyMode::Read),
                    apps: serde_json::from_str(&apps).unwrap_or_default(),
                    expires_at: r.try_get("expires_at")?,
                    created_at: r.try_get("created_at")?,
                },
                hash: r.try_get("key_hash")?,
            })
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn create_api_key(&self, key: &NewApiKey, hash: &str, stamp: &Stamp) -> StoreResult<ApiKey> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let apps = serde_json::to_string(&key.apps).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let r = sqlx::query(
                    "INSERT INTO api_keys (name, mode, apps, key_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING id, name, mode, apps, key_hash, expires_at, created_at",
                )
                .bind(&key.name)
                .bind(key.mode.as_str())
                .bind(apps)
                .bind(hash)
                .bind(key.expires_at)
                .bind(stamp.at_ms)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_err(e, "this API key already exists"))?;
                let created = key_row(&r).map_err(backend)?.key;
                let payload = serde_json::json!({ "id": created.id, "name": created.name, "mode": created.mode, "apps": created.apps });
                record(&mut tx, None, "key.created", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(created)
            }

            async fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>> {
                let r = sqlx::query(
                    "SELECT id, name, mode, apps, key_hash, expires_at, created_at FROM api_keys WHERE key_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                r.as_ref().map(key_row).transpose().map_err(backend)
            }

            async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
                let rs = sqlx::query("SELECT id, name, mode, apps, key_hash, expires_at, created_at FROM api_keys ORDER BY id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(rows(rs, key_row)?.into_iter().map(|k| k.key).collect())
            }

            async fn delete_api_key(&self, id: i64, stamp: &Stamp) -> StoreResult<()> {
                // A permanent admin: the kind that must always remain (an expiring
                // one would leave nobody once it expires). `$1` keeps the binds aligned.
                const ADMIN: &str = "mode = 'all' AND apps = '[]' AND expires_at IS NULL AND $1 = $1";
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // Locks every live admin row (PostgreSQL; SQLite's BEGIN IMMEDIATE
                // already serialises writers), so a concurrent delete of another
                // admin key waits and then sees this one gone.
                sqlx::query(&format!("UPDATE api_keys SET name = name WHERE {ADMIN}"))
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                let target = sqlx::query(&format!("SELECT id, ({ADMIN}) AS admin FROM api_keys WHERE id = $2"))
                    .bind(stamp.at_ms)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::NotFound(format!("API key {id} not found")))?;
                if target.try_get::<bool, _>("admin").map_err(backend)? {
                    let others: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM api_keys WHERE {ADMIN} AND id <> $2"))
                        .bind(stamp.at_ms)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend)?
                        .try_get("n")
                        .map_err(backend)?;
                    if others == 0 {
                        return Err(StoreError::Conflict(
                            "this is the last unexpired key with mode all and no app limit; create another admin key before deleting it".into(),
                        ));
                    }
                }
                sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(backend)?;
                record(&mut tx, None, "key.deleted", None, serde_json::json!({ "id": id }), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn count_api_keys(&self) -> StoreResult<i64> {
                let r = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await.map_err(backend)?;
                r.try_get("n").map_err(backend)
            }
        }
    };
}

//! [`sql_blob_holds!`]: the `BlobHoldStore` and `LeaseStore` queries, and
//! `hold_in`, with which deletions leave a hold in their own transaction.
//! Expanded by [`sql_store!`](crate::sql_store) inside its module, so it
//! shares that module's imports and helpers.

/// Implements `BlobHoldStore` and `LeaseStore` for `$store`, and defines
/// `hold_in`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_blob_holds {
    ($store:ident) => {
        /// A row when a live bundle is stored under `$1` or an app keeps it
        /// as a manifest file.
        const BLOB_USED: &str = "SELECT 1 AS one FROM bundles WHERE blob_sha256 = $1 AND deleted = FALSE \
             UNION ALL SELECT 1 AS one FROM app_files WHERE sha256 = $1 LIMIT 1";

        /// Whether a row is due: no upload holds it (or the holds ran out
        /// at `$2`) and it was freed by `$3`.
        const DUE: &str = "(uploads = 0 OR until_ms <= $2) AND freed_at <= $3";

        /// Marks each of `shas` freed at `at_ms` (a later time stands), inside
        /// `tx`, in hash order (two writes freeing the same files lock them
        /// in one order).
        async fn hold_in(tx: &mut Tx<'_>, shas: &[String], at_ms: i64) -> StoreResult<()> {
            let mut sorted: Vec<&String> = shas.iter().collect();
            sorted.sort();
            sorted.dedup();
            for sha in sorted {
                sqlx::query(
                    "INSERT INTO blob_holds (sha256, freed_at) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE \
                     SET freed_at = CASE WHEN blob_holds.freed_at > excluded.freed_at \
                     THEN blob_holds.freed_at ELSE excluded.freed_at END",
                )
                .bind(sha)
                .bind(at_ms)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            }
            Ok(())
        }

        #[async_trait]
        impl BlobHoldStore for $store {
            async fn hold_for_upload(&self, sha256: &str, until_ms: i64) -> StoreResult<()> {
                // On PostgreSQL the upsert waits for a sweep's row lock; if
                // that sweep dropped the row, it inserts a new one.
                sqlx::query(
                    "INSERT INTO blob_holds (sha256, uploads, until_ms) VALUES ($1, 1, $2) ON CONFLICT (sha256) DO UPDATE \
                     SET uploads = blob_holds.uploads + 1, until_ms = CASE WHEN blob_holds.until_ms > excluded.until_ms \
                     THEN blob_holds.until_ms ELSE excluded.until_ms END",
                )
                .bind(sha256)
                .bind(until_ms)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn end_upload_hold(&self, sha256: &str, at_ms: i64) -> StoreResult<()> {
                // An upsert: if its hold ran out and the row was swept, the
                // file it may have stored since is freed again, not forgotten.
                sqlx::query(
                    "INSERT INTO blob_holds (sha256, freed_at) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE \
                     SET uploads = CASE WHEN blob_holds.uploads > 0 THEN blob_holds.uploads - 1 ELSE 0 END, \
                     freed_at = CASE WHEN blob_holds.freed_at > excluded.freed_at THEN blob_holds.freed_at ELSE excluded.freed_at END",
                )
                .bind(sha256)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn due_blob_sweeps(&self, now_ms: i64, freed_by: i64, limit: i64) -> StoreResult<Vec<String>> {
                let rs = sqlx::query(&format!("SELECT sha256 FROM blob_holds WHERE {DUE} ORDER BY freed_at LIMIT $1"))
                    .bind(limit)
                    .bind(now_ms)
                    .bind(freed_by)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows(rs, |r| r.try_get("sha256"))
            }

            async fn sweep_blob(&self, sha256: &str, now_ms: i64, freed_by: i64, remove: RemoveBlob<'_>) -> StoreResult<Swept> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // Locks the row until the end: an upload holding it waits,
                // and (on PostgreSQL) this re-reads a row an upload changed
                // meanwhile and finds it not due.
                let due = sqlx::query(&format!("UPDATE blob_holds SET uploads = uploads WHERE sha256 = $1 AND {DUE} RETURNING sha256"))
                    .bind(sha256)
                    .bind(now_ms)
                    .bind(freed_by)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                if due.is_none() {
                    return Ok(Swept::NotDue);
                }
                let used = sqlx::query(BLOB_USED)
                    .bind(sha256)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .is_some();
                if !used {
                    // On failure the transaction rolls back: the row stays.
                    remove().await.map_err(|e| StoreError::Backend(format!("removing stored file {sha256}: {e}")))?;
                }
                sqlx::query("DELETE FROM blob_holds WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(if used { Swept::InUse } else { Swept::Removed })
            }
        }

        #[async_trait]
        impl LeaseStore for $store {
            async fn take_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
                     SET holder = excluded.holder, until_ms = excluded.until_ms \
                     WHERE leases.holder = excluded.holder OR leases.until_ms <= $4 RETURNING holder",
                )
                .bind(name)
                .bind(holder)
                .bind(until_ms)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                Ok(r.is_some())
            }

            async fn release_leases(&self, holder: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM leases WHERE holder = $1")
                    .bind(holder)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }
        }
    };
}

//! [`sql_store!`]: every `updraft_store` resource trait (and so `Store`),
//! written once for every sqlx database.
//!
//! The queries use only SQL that SQLite (≥ 3.35) and PostgreSQL both accept;
//! the macros exist because sqlx's generic bounds over `Database` would have to
//! be repeated on every function, while the code itself is identical.
//!
//! `sql_store!` opens one module with the imports, the transaction type and
//! the helpers every resource shares, and expands there one macro per
//! resource, each in its own file below (`sql_apps!`, `sql_bundles!`, …), each
//! implementing that resource's trait with its queries and row mapping.

mod apps;
mod blob_holds;
mod bundles;
mod changes;
mod channels;
mod cohorts;
mod devices;
mod files;
mod hooks;
mod keys;
mod metrics;
mod release;
mod revoke;
mod rollouts;
mod schedules;
mod sessions;
mod snapshot;
mod telemetry;
mod webhooks;

/// Implements every `updraft_store` resource trait (and so `updraft_store::Store`)
/// for `$store`, a struct with a field `pool: sqlx::Pool<$db>`, a `batch_pool()`
/// method returning the pool telemetry batches are written through, and a
/// `migrator()` function returning its migrations.
/// `$begin` opens a write transaction (`BEGIN IMMEDIATE` on SQLite, so a
/// transaction never has to upgrade its lock and fail with "database is locked").
#[macro_export]
macro_rules! sql_store {
    ($store:ident, $db:ty, $begin:expr) => {
        mod sql_store_impl {
            use super::$store;
            use $crate::async_trait::async_trait;
            use $crate::serde_json;
            use $crate::sqlx::{self, Row as _};
            use $crate::updraft_protocol::api::*;
            use $crate::updraft_store::*;
            use $crate::{
                backend, map_err, pow2_chunks, APP_SELECT, BUNDLE_SELECT, CHANNEL_SELECT, DEVICE_INSERT,
                DEVICE_ON_CONFLICT, DEVICE_SELECT,
            };

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx<'a> = sqlx::Transaction<'a, $db>;
            const BEGIN: &str = $begin;

            $crate::sql_apps!($store);
            $crate::sql_bundles!($store);
            $crate::sql_blob_holds!($store);
            $crate::sql_files!($store, $db);
            $crate::sql_channels!($store);
            $crate::sql_cohorts!($store);
            $crate::sql_devices!($store);
            $crate::sql_keys!($store);
            $crate::sql_telemetry!($store, $db);
            $crate::sql_snapshot!($store);
            $crate::sql_changes!($store);
            $crate::sql_rollouts!($store);
            $crate::sql_revoke!();
            $crate::sql_webhooks!($store);
            $crate::sql_hooks!($store);
            $crate::sql_schedules!($store);
            $crate::sql_sessions!($store);
            $crate::sql_release!($db);
            $crate::sql_metrics!($db);

            fn rows<T>(
                rs: Vec<DbRow>,
                f: fn(&DbRow) -> Result<T, sqlx::Error>,
            ) -> StoreResult<Vec<T>> {
                rs.iter()
                    .map(f)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)
            }

            async fn bump(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE apps SET revision = revision + 1 WHERE app_id = $1")
                    .bind(app_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            /// Appends one change row inside `tx`: the write's record in the
            /// change log, committed (or rolled back) with it. `revision` is the
            /// app's after the write (none once the app is deleted).
            async fn record(
                tx: &mut Tx<'_>,
                app_id: Option<&str>,
                kind: &str,
                device_id: Option<&str>,
                payload: serde_json::Value,
                stamp: &Stamp,
            ) -> StoreResult<()> {
                let r = sqlx::query(
                    "INSERT INTO changes (app_id, revision, kind, device_id, payload, actor, at_ms) \
                     VALUES ($1, (SELECT revision FROM apps WHERE app_id = $1), $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(app_id)
                .bind(kind)
                .bind(device_id)
                .bind(payload.to_string())
                .bind(stamp.actor.label())
                .bind(stamp.at_ms)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend)?;
                if let Some(app_id) = app_id {
                    let id: i64 = r.try_get("id").map_err(backend)?;
                    enqueue_webhooks(tx, app_id, id, kind, &payload, stamp).await?;
                }
                Ok(())
            }

            /// Refuses (`Conflict`) a new row of `table` for the app once it
            /// has `max` (`noun` names them in the message). The app's row
            /// lock (a no-op update) serialises creations, so two at once
            /// cannot both pass the count.
            /// Takes the app's row lock until `tx` ends: writes that check
            /// something across the app's rows (a cap, the cohorts a rule
            /// names) take it first, so on PostgreSQL's READ COMMITTED one
            /// waits for the other and then reads what it wrote.
            async fn lock_app(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE apps SET revision = revision WHERE app_id = $1")
                    .bind(app_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn under_cap(tx: &mut Tx<'_>, app_id: &str, table: &str, max: i64, noun: &str) -> StoreResult<()> {
                lock_app(tx, app_id).await?;
                let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE app_id = $1"))
                    .bind(app_id)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend)?
                    .try_get("n")
                    .map_err(backend)?;
                if n >= max {
                    return Err(StoreError::Conflict(format!("app {app_id} already has {max} {noun}; delete one first")));
                }
                Ok(())
            }

            async fn require_app(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<()> {
                let found = sqlx::query("SELECT 1 AS one FROM apps WHERE app_id = $1")
                    .bind(app_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend)?;
                match found {
                    Some(_) => Ok(()),
                    None => Err(StoreError::NotFound(format!("app {app_id} not found"))),
                }
            }

            #[async_trait]
            impl DatabaseStore for $store {
                async fn migrate(&self) -> StoreResult<()> {
                    $store::migrator()
                        .run(&self.pool)
                        .await
                        .map_err(|e| StoreError::Backend(e.to_string()))
                }

                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1")
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(())
                }
            }
        }
    };
}

//! Stats events by day on PostgreSQL: `events` is partitioned by
//! `created_at`, one partition per UTC day (`events_pYYYYMMDD`), and a
//! default partition for anything outside them (rows from before the
//! migration made them, a clock far off). Retention drops a whole day at
//! once instead of deleting its rows in batches: no dead rows, no vacuum,
//! whatever the volume. The days ahead are made by the retention job
//! ([`PostgresStore::prepare_event_days`]), so events never wait for one.

use sqlx::Row as _;
use updraft_store::StoreResult;

use crate::PostgresStore;

/// One day, in ms.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// Days made ahead of today.
pub(crate) const DAYS_AHEAD: i64 = 3;

/// The partition holding the day that starts at `day_ms` (a multiple of a day).
fn name_of(day_ms: i64) -> Option<String> {
    let day = chrono::DateTime::from_timestamp_millis(day_ms)?;
    Some(format!("events_p{}", day.format("%Y%m%d")))
}

/// The first ms of the day a partition named `name` holds.
fn day_of(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("events_p")?;
    let date = chrono::NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

impl PostgresStore {
    /// Makes the partitions of today and the [`DAYS_AHEAD`] next days (by
    /// `now_ms`) that do not exist yet. A day whose rows already sit in the
    /// default partition is left there (logged): its rows are pruned in
    /// batches instead.
    pub(crate) async fn prepare_event_days(&self, now_ms: i64) -> StoreResult<()> {
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        for i in 0..=DAYS_AHEAD {
            let start = today + i * DAY_MS;
            let Some(name) = name_of(start) else {
                continue;
            };
            // Names come from a date, never from input.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({start}) TO ({})",
                start + DAY_MS
            );
            if let Err(e) = sqlx::query(&sql).execute(&self.pool).await {
                tracing::warn!(partition = %name, error = %e, "cannot make a day's events partition; its events stay in the default one");
            }
        }
        Ok(())
    }

    /// Drops every day partition that ends at or before `before`; returns
    /// how many rows went with them.
    pub(crate) async fn drop_event_days(&self, before: i64) -> StoreResult<u64> {
        let parts = sqlx::query(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\\_p%'",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(updraft_store_sql::backend)?;
        let mut gone = 0u64;
        for r in parts {
            let name: String = r.try_get("name").map_err(updraft_store_sql::backend)?;
            let Some(start) = day_of(&name) else {
                continue;
            };
            if start + DAY_MS > before {
                continue;
            }
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(updraft_store_sql::backend)?;
            // Dropping a partition locks `events` for a moment: never wait
            // long for it behind the telemetry writer.
            sqlx::query("SET LOCAL lock_timeout = '2s'")
                .execute(&mut *tx)
                .await
                .map_err(updraft_store_sql::backend)?;
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
                .fetch_one(&mut *tx)
                .await
                .map_err(updraft_store_sql::backend)?;
            sqlx::query(&format!("DROP TABLE {name}"))
                .execute(&mut *tx)
                .await
                .map_err(updraft_store_sql::backend)?;
            tx.commit().await.map_err(updraft_store_sql::backend)?;
            gone += u64::try_from(rows).unwrap_or(0);
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_days_round_trip() {
        // 2026-11-02 00:00 UTC.
        let day = 1_793_577_600_000;
        assert_eq!(name_of(day).as_deref(), Some("events_p20261102"));
        assert_eq!(day_of("events_p20261102"), Some(day));
        assert_eq!(day_of("events_default"), None);
        assert_eq!(day_of("events_p2026110"), None);
    }
}

//! Stats events by day on PostgreSQL: `events` is partitioned by
//! `created_at`, one partition per UTC day (`events_pYYYYMMDD`), and a
//! default partition for anything outside them (rows older than the days
//! the upgrade made, a clock far off). Retention drops a whole day once the
//! whole day is past its cut-off, so events are kept between
//! `event_retention_days` and one day more, and never deleted row by row;
//! only the default partition's rows are deleted in batches. The days
//! ahead are made by the retention job ([`PostgresStore::prepare_event_days`]).

use sqlx::Row as _;
use updraft_store::StoreResult;

use crate::PostgresStore;

/// One day, in ms.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// Days made ahead of today (the migration makes as many).
pub(crate) const DAYS_AHEAD: i64 = 14;

/// The partition holding the day that starts at `day_ms` (a multiple of a day).
pub(crate) fn name_of(day_ms: i64) -> Option<String> {
    let day = chrono::DateTime::from_timestamp_millis(day_ms)?;
    Some(format!("events_p{}", day.format("%Y%m%d")))
}

/// The first ms of the day a partition named `name` holds: only for names
/// [`name_of`] makes (the round trip is checked), so a name read from the
/// catalog is safe to put in SQL.
fn day_of(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("events_p")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = chrono::NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
    let day = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    (name_of(day).as_deref() == Some(name)).then_some(day)
}

impl PostgresStore {
    /// One batch of retention, from the default partition only (a day's
    /// partition goes whole): the oldest rows before `$1`, at most `$2`,
    /// found by their `created_at` and deleted by their row address.
    pub(crate) const EVENT_BATCH_DELETE: &str =
        "DELETE FROM events_default WHERE ctid = ANY(ARRAY(\
         SELECT ctid FROM events_default WHERE created_at < $1 ORDER BY created_at LIMIT $2))";

    /// Makes the partitions of today and the [`DAYS_AHEAD`] next days (by
    /// `now_ms`) that do not exist yet. A day the default partition already
    /// has rows of is skipped (its rows are pruned in batches there); each
    /// creation waits at most 2 s for its lock on `events`.
    pub(crate) async fn prepare_event_days(&self, now_ms: i64) -> StoreResult<()> {
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        for i in 0..=DAYS_AHEAD {
            let start = today + i * DAY_MS;
            let Some(name) = name_of(start) else {
                continue;
            };
            if let Err(e) = self.make_day(&name, start).await {
                tracing::warn!(partition = %name, error = %e, "cannot make a day's events partition; its events go to the default one");
            }
        }
        Ok(())
    }

    async fn make_day(&self, name: &str, start: i64) -> Result<(), sqlx::Error> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        // Rows of that day in the default partition would make the creation
        // scan it and fail: leave that day there.
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events_default WHERE created_at >= $1 AND created_at < $2)",
        )
        .bind(start)
        .bind(start + DAY_MS)
        .fetch_one(&self.pool)
        .await?;
        if exists || taken {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *tx)
            .await?;
        // The name comes from a date, never from input.
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({start}) TO ({})",
            start + DAY_MS
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Drops every day partition that ends at or before `before`; returns
    /// about how many rows went with them (the planner's count). A day that
    /// cannot be dropped now (its lock not had within 2 s) is logged and
    /// left for the next run; the others go.
    pub(crate) async fn drop_event_days(&self, before: i64) -> u64 {
        let parts = match sqlx::query(
            "SELECT c.relname AS name, GREATEST(c.reltuples, 0)::BIGINT AS rows \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "retention: cannot list the events partitions");
                return 0;
            }
        };
        let mut gone = 0u64;
        for r in parts {
            let (Ok(name), Ok(rows)) =
                (r.try_get::<String, _>("name"), r.try_get::<i64, _>("rows"))
            else {
                continue;
            };
            let Some(start) = day_of(&name) else {
                continue;
            };
            if start + DAY_MS > before {
                continue;
            }
            match self.drop_day(&name).await {
                Ok(()) => gone += u64::try_from(rows).unwrap_or(0),
                Err(e) => {
                    tracing::warn!(partition = %name, error = %e, "retention: cannot drop a past day of events now; next run");
                }
            }
        }
        gone
    }

    async fn drop_day(&self, name: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // Dropping a partition locks `events` for a moment: never wait
        // long for it behind the telemetry writer.
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP TABLE IF EXISTS {name}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
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
        for not_a_day in [
            "events_default",
            "events_p2026110",
            "events_p+2026110",
            "events_p20261340",
            "events_p20261102; DROP TABLE apps",
        ] {
            assert_eq!(day_of(not_a_day), None, "{not_a_day}");
        }
    }
}

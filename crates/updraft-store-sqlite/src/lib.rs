//! Updraft's embedded default store: one SQLite file (WAL mode), zero setup.
//! The operations themselves are shared with PostgreSQL in `updraft-store-sql`.

#![deny(missing_docs)]

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use updraft_store::{StoreError, StoreResult};

/// A `Store` over an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection of its own for telemetry batches, with a large page
    /// cache: a batch touches rows all over a big `devices` table, and with
    /// the default 2 MiB cache most of its time went to re-reading pages and
    /// spilling dirty ones mid-transaction. Its statement journal is kept in
    /// memory, and it checkpoints every 64 MiB of WAL instead of every 4 MiB
    /// (the WAL file is truncated back to 64 MiB afterwards). The other
    /// connections keep the defaults, so memory grows by this one cache only.
    writer: SqlitePool,
}

/// Page cache of the telemetry writer connection, in KiB. 16 MiB costs the
/// same CPU per check as 32 MiB in an A/B over 1M devices (both orders) and
/// keeps a node under 100 MB at a sustained 12,500 checks/s
/// (bench/README.md, "Where the memory goes").
const WRITER_CACHE_KIB: u32 = 16 * 1024;

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`). Migrations are not run; call `DatabaseStore::migrate`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad SQLite URL {url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let memory = url.contains(":memory:");
        let open =
            |e: sqlx::Error| StoreError::Backend(format!("cannot open SQLite database {url}: {e}"));
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .connect_with(opts.clone())
            .await
            .map_err(open)?;
        // An in-memory database exists once per connection: it has one pool.
        let writer = if memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    opts.pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
                        .pragma("temp_store", "memory")
                        .pragma("wal_autocheckpoint", "16384")
                        .pragma("journal_size_limit", "67108864"),
                )
                .await
                .map_err(open)?
        };
        Ok(Self { pool, writer })
    }

    /// The pool telemetry batches are written through.
    fn batch_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// SQLite cannot push changes: one process writes it, and the poll
    /// covers it. Async because the shared `sql_changes!` awaits it, as it
    /// must PostgreSQL's.
    #[allow(clippy::unused_async)]
    async fn listen(&self) -> StoreResult<Option<updraft_store::ChangeFeed>> {
        Ok(None)
    }

    /// Events stay one table on SQLite: nothing to prepare. Async as
    /// PostgreSQL's, which the shared `sql_telemetry!` awaits.
    #[allow(clippy::unused_async)]
    async fn prepare_event_days(&self, _now_ms: i64) -> StoreResult<()> {
        Ok(())
    }

    /// Events stay one table on SQLite: retention deletes them in batches.
    #[allow(clippy::unused_async)]
    async fn drop_event_days(&self, _before: i64) -> u64 {
        0
    }

    /// One batch of retention: the oldest events before `$1`, at most `$2`.
    const EVENT_BATCH_DELETE: &str = "DELETE FROM events WHERE id IN \
         (SELECT id FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2)";

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }
}

updraft_store_sql::sql_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        (store, dir)
    }

    updraft_store_tests::conformance_suite!(fresh);

    /// SQLite pushes nothing: followers poll it.
    #[tokio::test]
    async fn sqlite_has_no_change_feed() {
        let (store, _dir) = fresh().await;
        let feed = updraft_store::ChangeStore::change_feed(&store)
            .await
            .unwrap();
        assert!(feed.is_none());
    }
}

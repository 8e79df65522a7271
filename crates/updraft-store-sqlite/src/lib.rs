//! Updraft's embedded default store: one SQLite file (WAL mode), zero setup.
//! The operations themselves are shared with PostgreSQL in `updraft-store-sql`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use updraft_store::{StoreError, StoreResult};

/// A `Store` over an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`). Migrations are not run; call `Store::migrate`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad SQLite URL {url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open SQLite database {url}: {e}")))?;
        Ok(Self { pool })
    }

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
}

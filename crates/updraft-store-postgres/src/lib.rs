//! Updraft's scale-out store: PostgreSQL, shared by many stateless server nodes.
//! The operations themselves are shared with SQLite in `updraft-store-sql`.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use updraft_store::{StoreError, StoreResult};

/// A `Store` over a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`). Migrations are not run; call `Store::migrate`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(Self { pool })
    }

    /// Runs one statement outside the `Store` API (administration: creating test databases).
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<()> {
        sqlx::query(sql)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(())
    }

    /// The pool telemetry batches are written through: the shared one.
    fn batch_pool(&self) -> &PgPool {
        &self.pool
    }

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }
}

updraft_store_sql::sql_store!(PostgresStore, sqlx::Postgres, "BEGIN");

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty database for each test, created on the server named by
    /// `UPDRAFT_TEST_POSTGRES_URL` (default: the local server with trust auth).
    /// A missing server fails the test: it never skips.
    async fn fresh() -> (PostgresStore, ()) {
        let base = std::env::var("UPDRAFT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let admin = PostgresStore::connect(&base).await.expect(
            "PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL for the conformance suite",
        );
        let name = format!("updraft_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool)
            .await
            .expect("create test database");
        let (prefix, _) = base.rsplit_once('/').expect("URL has a database path");
        let store = PostgresStore::connect(&format!("{prefix}/{name}"))
            .await
            .unwrap();
        (store, ())
    }

    updraft_store_tests::conformance_suite!(fresh);
}

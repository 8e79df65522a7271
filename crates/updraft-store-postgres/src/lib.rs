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
    /// Connects to `url` (`postgres://…`). Migrations are not run; call `DatabaseStore::migrate`.
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

/// A throw-away database for tests, dropped (connections and all) when the
/// guard goes out of scope, also when the test fails.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// The server named by `UPDRAFT_TEST_POSTGRES_URL` (default: the local
    /// server with trust auth).
    pub fn admin_url() -> String {
        std::env::var("UPDRAFT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
    }

    /// Drops its database on drop.
    #[derive(Debug)]
    pub struct TestDatabase {
        pub url: String,
        name: String,
    }

    impl TestDatabase {
        /// Creates an empty database with a random `updraft_test_` name. A
        /// missing server is an error: tests that need one fail, never skip.
        pub async fn create() -> StoreResult<Self> {
            let admin_url = admin_url();
            let admin = PostgresStore::connect(&admin_url).await?;
            let name = format!("updraft_test_{:016x}{:016x}", rand_u64(), rand_u64());
            admin
                .execute_raw(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.pool.close().await;
            let (prefix, _) = admin_url
                .rsplit_once('/')
                .ok_or_else(|| StoreError::Invalid(format!("{admin_url} has no database path")))?;
            Ok(Self {
                url: format!("{prefix}/{name}"),
                name,
            })
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            // Drop is synchronous and may run inside a runtime: use a thread with its own.
            let name = self.name.clone();
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = PostgresStore::connect(&admin_url()).await.ok()?;
                    let done = admin
                        .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.pool.close().await;
                    done.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(()))) {
                eprintln!("could not drop test database {}", self.name);
            }
        }
    }

    /// 64 random bits from the OS-seeded hasher (no extra dependency for a name).
    fn rand_u64() -> u64 {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty database for each test, dropped when the test ends.
    /// A missing server fails the test: it never skips.
    async fn fresh() -> (PostgresStore, testing::TestDatabase) {
        let db = testing::TestDatabase::create().await.expect(
            "PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL for the conformance suite",
        );
        let store = PostgresStore::connect(&db.url).await.unwrap();
        (store, db)
    }

    updraft_store_tests::conformance_suite!(fresh);

    /// The telemetry writer retries transient errors and isolates permanent
    /// ones: PostgreSQL's refusal of a NUL is permanent, a lost server is not.
    #[tokio::test]
    async fn errors_are_classed_transient_or_permanent() {
        let (store, _db) = fresh().await;
        let refused = sqlx::query("SELECT $1::text")
            .bind("x\0y")
            .execute(&store.pool)
            .await
            .map_err(updraft_store_sql::backend)
            .unwrap_err();
        assert!(!refused.is_transient(), "{refused:?}");
        let serialization =
            sqlx::query("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$")
                .execute(&store.pool)
                .await
                .map_err(updraft_store_sql::backend)
                .unwrap_err();
        assert!(serialization.is_transient(), "{serialization:?}");
        store.pool.close().await;
        let gone = updraft_store::DatabaseStore::ping(&store)
            .await
            .unwrap_err();
        assert!(gone.is_transient(), "{gone:?}");
    }
}

//! Updraft's scale-out store: PostgreSQL, shared by many stateless server nodes.
//! The operations themselves are shared with SQLite in `updraft-store-sql`.

#![deny(missing_docs)]

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

    /// The pool telemetry batches are written through: the shared one.
    fn batch_pool(&self) -> &PgPool {
        &self.pool
    }

    /// LISTENs on [`CHANGE_CHANNEL`](updraft_store::CHANGE_CHANNEL) over a
    /// connection of its own: each notification (and each reconnection, after
    /// which some may have been missed) yields one wake-up. The stream ends
    /// when the connection cannot be re-established; dropping it stops
    /// listening.
    async fn listen(&self) -> StoreResult<Option<updraft_store::ChangeFeed>> {
        use futures::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(updraft_store_sql::backend)?;
        listener
            .listen(updraft_store::CHANGE_CHANNEL)
            .await
            .map_err(updraft_store_sql::backend)?;
        let feed = futures::stream::unfold(listener, |mut l| async move {
            // `Ok(None)`: the connection was lost and is re-established.
            l.try_recv().await.ok().map(|_| ((), l))
        });
        Ok(Some(feed.boxed()))
    }

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }
}

updraft_store_sql::sql_store!(PostgresStore, sqlx::Postgres, "BEGIN");

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty database for each test, dropped when the test ends.
    /// A missing server fails the test: it never skips.
    async fn fresh() -> (PostgresStore, updraft_test_support::pg::TestDatabase) {
        let db = updraft_test_support::pg::database().await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        (store, db)
    }

    updraft_store_tests::conformance_suite!(fresh);

    /// A committed write wakes listeners at once (LISTEN/NOTIFY).
    #[tokio::test]
    async fn a_committed_change_notifies_listeners() {
        use futures::StreamExt;
        use updraft_store::{AppStore, ChangeStore, DatabaseStore, Stamp};
        let (store, _db) = fresh().await;
        store.migrate().await.unwrap();
        let mut feed = store
            .change_feed()
            .await
            .unwrap()
            .expect("PostgreSQL pushes changes");
        let new = updraft_store_sql::updraft_protocol::api::NewApp {
            app_id: "com.example.app".into(),
            name: None,
        };
        store.create_app(&new, &Stamp::system(1)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .expect("a notification within 10 s")
            .expect("the feed is open");
    }

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

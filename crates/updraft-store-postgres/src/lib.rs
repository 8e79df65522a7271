//! Updraft's scale-out store: PostgreSQL, shared by many stateless server nodes.
//! The operations themselves are shared with SQLite in `updraft-store-sql`.

#![deny(missing_docs)]

mod event_days;

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

    /// Upgrading keeps every event and its id; events then live in one
    /// partition per day (made ahead by retention, except a day whose rows
    /// already sit in the default partition), and retention drops a day
    /// once all of it is past the cut-off, never part of one; the default
    /// partition's rows go in batches. Dates are today's, whenever it runs.
    #[tokio::test]
    async fn events_are_kept_by_day_and_whole_days_are_dropped() {
        use updraft_store::{AppStore, DatabaseStore, Stamp, TelemetryStore};
        const DAY: i64 = event_days::DAY_MS;
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let today = now / DAY * DAY;
        let day_name = |start: i64| event_days::name_of(start).unwrap();
        let (store, _db) = fresh().await;
        // The database as it was before events were partitioned.
        let mut before = PostgresStore::migrator();
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 19)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&store.pool).await.unwrap();
        let app = updraft_store_sql::updraft_protocol::api::NewApp {
            app_id: "com.example.app".into(),
            name: None,
        };
        store.create_app(&app, &Stamp::system(1)).await.unwrap();
        let insert = |at: i64| {
            sqlx::query(
                "INSERT INTO events (app_id, device_id, action, version_name, created_at) \
                 VALUES ('com.example.app', 'd', 'set', '1.0.0', $1)",
            )
            .bind(at)
        };
        insert(today - 2 * DAY + 5)
            .execute(&store.pool)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let kept: (i64, i64) = sqlx::query_as("SELECT id, created_at FROM events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            kept,
            (1, today - 2 * DAY + 5),
            "the upgrade kept the event and its id"
        );

        let parts = || {
            let pool = store.pool.clone();
            async move {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                     WHERE i.inhparent = 'events'::regclass ORDER BY 1",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                names
            }
        };
        let made = parts().await;
        for day in [today - 2 * DAY, today, today + 14 * DAY] {
            assert!(
                made.contains(&day_name(day)),
                "the upgrade made {}: {made:?}",
                day_name(day)
            );
        }
        assert!(made.contains(&"events_default".to_string()));
        // Retention makes the days ahead of its clock.
        store.prepare_events(today + 30 * DAY).await.unwrap();
        let made = parts().await;
        for day in [today + 30 * DAY, today + 44 * DAY] {
            assert!(made.contains(&day_name(day)), "{}: {made:?}", day_name(day));
        }
        // A day whose rows already sit in the default partition stays there.
        insert(today + 60 * DAY + 5)
            .execute(&store.pool)
            .await
            .unwrap();
        store.prepare_events(today + 60 * DAY).await.unwrap();
        let made = parts().await;
        assert!(!made.contains(&day_name(today + 60 * DAY)), "{made:?}");
        assert!(made.contains(&day_name(today + 61 * DAY)), "{made:?}");

        for i in 0..10 {
            insert(today - 2 * DAY + i)
                .execute(&store.pool)
                .await
                .unwrap();
            insert(today - DAY + i * 9_000_000)
                .execute(&store.pool)
                .await
                .unwrap(); // every 2.5 h
            insert(1_000 + i).execute(&store.pool).await.unwrap(); // 1970: the default partition
        }
        let rows_in = |name: String| {
            let pool = store.pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                n
            }
        };
        assert_eq!(rows_in(day_name(today - 2 * DAY)).await, 11);
        assert_eq!(rows_in("events_default".into()).await, 11);
        let last_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(last_id, 32, "ids go on from the upgraded rows");
        sqlx::query("ANALYZE events")
            .execute(&store.pool)
            .await
            .unwrap();

        // Up to noon yesterday: the day before goes whole, 1970's rows in a
        // batch; yesterday is kept whole until all of it is past.
        let gone = store.prune_events(today - DAY / 2, 1_000).await.unwrap();
        assert_eq!(
            gone,
            11 + 10,
            "a day dropped, the default's old rows in a batch"
        );
        let left = parts().await;
        assert!(!left.contains(&day_name(today - 2 * DAY)), "{left:?}");
        assert_eq!(
            rows_in(day_name(today - DAY)).await,
            10,
            "part of a day is never pruned"
        );
        assert_eq!(
            rows_in("events_default".into()).await,
            1,
            "the future row stays"
        );
        assert_eq!(store.prune_events(today - DAY / 2, 1_000).await.unwrap(), 0);
        // Once all of yesterday is past, it goes.
        store.prune_events(today, 1_000).await.unwrap();
        assert!(!parts().await.contains(&day_name(today - DAY)));
    }
}

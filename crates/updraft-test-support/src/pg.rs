//! Throwaway PostgreSQL databases: one per test, created empty on the server
//! named by `UPDRAFT_TEST_POSTGRES_URL` and dropped (connections and all) when
//! the guard goes out of scope, also when the test fails. A server that cannot
//! be reached fails the test: tests that need PostgreSQL never skip.

use sqlx::{Connection as _, PgConnection};

/// The PostgreSQL server tests use: `UPDRAFT_TEST_POSTGRES_URL`, else the
/// local server with trust auth.
pub(crate) fn admin_url() -> String {
    std::env::var("UPDRAFT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// An empty database for one test (see [`TestDatabase::create`]); a missing
/// server panics with where it was looked for.
pub async fn database() -> TestDatabase {
    TestDatabase::create().await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL ({}): {e}",
            admin_url()
        )
    })
}

/// A database with a random `updraft_test_` name; dropped on drop.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its `postgres://` URL.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database on the `admin_url` server.
    pub async fn create() -> Result<TestDatabase, sqlx::Error> {
        let admin_url = admin_url();
        let (prefix, _) = admin_url.rsplit_once('/').ok_or_else(|| {
            sqlx::Error::Configuration(format!("{admin_url} has no database path").into())
        })?;
        let name = format!("updraft_test_{}", uuid::Uuid::new_v4().simple());
        admin(&format!("CREATE DATABASE {name}")).await?;
        Ok(TestDatabase {
            url: format!("{prefix}/{name}"),
            name,
        })
    }
}

/// Runs one statement on the admin database.
async fn admin(sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(&admin_url()).await?;
    let done = sqlx::query(sql).execute(&mut conn).await;
    conn.close().await?;
    done.map(drop)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop is synchronous and may run inside a runtime: use a thread with its own.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(admin(&sql)).map_err(|e| e.to_string())
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

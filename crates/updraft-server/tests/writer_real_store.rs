//! The telemetry writer over the real stores: a write the database refuses
//! for good (a NUL, which PostgreSQL cannot store) is dropped alone, the rest
//! of its batch lands, and the writer still drains and stops. PostgreSQL must
//! be reachable at `UPDRAFT_TEST_POSTGRES_URL`; the test fails, never skips.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use updraft_protocol::api::NewApp;
use updraft_server::writer::{spawn, Settings};
use updraft_store::{DeviceSeen, EventQuery, NewEvent, Stamp, Store, Write};
use updraft_test_support::{pg, APP, DEV};

fn event(action: &str) -> Write {
    Write::Event(NewEvent {
        app_id: APP.into(),
        device_id: DEV.into(),
        action: action.into(),
        version_name: "1.0.0".into(),
        created_at: 1,
        ..Default::default()
    })
}

async fn refused_write_is_dropped_alone(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    store
        .create_app(
            &NewApp {
                app_id: APP.into(),
                name: None,
            },
            &Stamp::system(1),
        )
        .await
        .unwrap();
    let (tx, rx) = watch::channel(false);
    let settings = Settings {
        capacity: 1000,
        max_bytes: 1 << 20,
        interval: Duration::from_millis(10),
        drain_timeout: Duration::from_secs(5),
    };
    let (writer, handle) = spawn(store.clone(), settings, rx);
    writer
        .send_all(vec![
            event("before"),
            event("x\0y"),
            Write::Seen(DeviceSeen {
                app_id: APP.into(),
                device_id: DEV.into(),
                version_name: Some("1.0.0".into()),
                seen_at: 2,
                ..Default::default()
            }),
            event("after"),
        ])
        .unwrap();
    tx.send(true).unwrap();
    let left = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the writer must not retry a refused write forever")
        .unwrap();
    assert!(left.is_empty(), "{left}");
    let q = EventQuery {
        limit: 10,
        ..Default::default()
    };
    let actions: Vec<String> = store
        .list_events(APP, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["after", "before"]);
    let d = store.get_device(APP, DEV).await.unwrap().unwrap();
    assert_eq!(d.version_name.as_deref(), Some("1.0.0"));
}

#[tokio::test]
async fn on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = updraft_store_sqlite::SqliteStore::connect(&url)
        .await
        .unwrap();
    refused_write_is_dropped_alone(Arc::new(store)).await;
}

#[tokio::test]
async fn on_postgres() {
    let db = pg::database().await;
    let store = updraft_store_postgres::PostgresStore::connect(&db.url)
        .await
        .unwrap();
    refused_write_is_dropped_alone(Arc::new(store)).await;
}

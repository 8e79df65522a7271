//! The telemetry writer when PostgreSQL goes away: queued writes wait and land
//! once it is back, and a shutdown while it is gone ends at the drain deadline
//! instead of retrying forever. The database is reached through a TCP relay
//! this test can cut. PostgreSQL must be reachable at
//! `UPDRAFT_TEST_POSTGRES_URL`; the test fails, never skips, without it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Mutex};

/// A relay to PostgreSQL that can be cut (connections closed, new ones
/// refused) and restored on the same port.
struct Relay {
    addr: SocketAddr,
    target: String,
    up: watch::Sender<bool>,
    listener: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let r = Relay {
            addr,
            target,
            up,
            listener: Arc::default(),
        };
        r.serve(listener).await;
        r
    }

    async fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let up = self.up.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                let mut up = up.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = up.wait_for(|v| !*v) => {}
                    }
                });
            }
        });
        *self.listener.lock().await = Some(task);
    }

    /// Closes every relayed connection and stops listening.
    async fn cut(&self) {
        self.up.send_replace(false);
        if let Some(t) = self.listener.lock().await.take() {
            t.abort();
            let _ = t.await;
        }
    }

    async fn restore(&self) {
        self.up.send_replace(true);
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener).await;
    }
}

async fn event_actions(s: &Server) -> Vec<String> {
    s.ok("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn queued_writes_survive_an_outage_and_shutdown_ends_at_the_drain_deadline() {
    let db = updraft_store_postgres::testing::TestDatabase::create()
        .await
        .expect("PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL");
    // postgres://user@HOST:PORT/name → relay in front of HOST:PORT.
    let (head, rest) = db.url.split_once('@').unwrap();
    let (hostport, name) = rest.split_once('/').unwrap();
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let relay = Relay::start(hostport).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.database_url = format!("{head}@{}/{name}", relay.addr);
    c.drain_timeout_ms = 1_000;
    let mut s = Server::start_with(c).await;
    s.with_app().await;
    // The app's snapshot is loaded: device calls no longer need the database.
    s.check(json!({})).await;
    let stat = |action: &str| json!([info(json!({"action": action, "version_name": "1.0.0"}))]);

    // Gone for a while: /stats is still accepted, the writes wait.
    relay.cut().await;
    let (st, _) = s.device("POST", "/stats", &stat("during_outage")).await;
    assert_eq!(st, 200);
    // An event that needs the database (an app not in memory) cannot be
    // judged: the whole batch is a 5xx, so the plugin keeps it and retries,
    // and none of it is written.
    let (st, v) = s
        .device(
            "POST",
            "/stats",
            &json!([
                info(json!({"action": "not_half_done"})),
                info(json!({"action": "set", "app_id": "com.other.app"})),
            ]),
        )
        .await;
    assert!((500..600).contains(&st), "{st} {v}");
    relay.restore().await;
    let mut actions = Vec::new();
    for _ in 0..100 {
        let (st, v) = s
            .api("GET", &format!("/apps/{APP}/events?device_id={DEV}"), None)
            .await;
        if st == 200 {
            actions = v
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_string())
                .collect();
            if !actions.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        actions,
        ["during_outage"],
        "written once the database is back"
    );
    assert_eq!(event_actions(&s).await, ["during_outage"]);

    // Gone at shutdown: the drain gives up at its deadline.
    relay.cut().await;
    let (st, _) = s.device("POST", "/stats", &stat("lost_at_shutdown")).await;
    assert_eq!(st, 200);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), s.stop())
        .await
        .expect("stop must end at the drain deadline");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drain deadline 1 s, stopped after {:?}",
        started.elapsed()
    );
}

//! The telemetry writer when PostgreSQL goes away: queued writes wait and land
//! once it is back, and a shutdown while it is gone ends at the drain deadline
//! instead of retrying forever. The database is reached through a TCP relay
//! this test can cut. PostgreSQL must be reachable at
//! `UPDRAFT_TEST_POSTGRES_URL`; the test fails, never skips, without it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use updraft_test_support::*;

/// A relay to PostgreSQL that can be cut (connections closed, new ones
/// closed as soon as they are accepted) and restored. It keeps its port the
/// whole time, so no other process can take it during a cut.
struct Relay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let state = up.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*state.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut up = state.clone();
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
        Relay { addr, up, task }
    }

    /// Closes every relayed connection and every new one.
    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server whose database (a fresh PostgreSQL database) is reached through
/// a relay the test can cut; `tweak` adjusts its configuration. The
/// database lives as long as the returned handle.
async fn behind_relay(
    tweak: impl FnOnce(&mut updraft_server::config::Config),
) -> (pg::TestDatabase, Relay, Server) {
    let db = pg::database().await;
    // postgres://user@HOST:PORT/name → relay in front of HOST:PORT.
    let (head, rest) = db.url.split_once('@').unwrap();
    let (hostport, name) = rest.split_once('/').unwrap();
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let relay = Relay::start(hostport).await;
    let s = Server::start_tweaked(Backend::Sqlite, |c| {
        c.database.url =
            updraft_server::config::DatabaseUrl::new(format!("{head}@{}/{name}", relay.addr));
        tweak(c);
    })
    .await;
    (db, relay, s)
}

#[tokio::test]
async fn queued_writes_survive_an_outage_and_shutdown_ends_at_the_drain_deadline() {
    let (_db, relay, mut s) = behind_relay(|c| c.telemetry.drain_timeout_ms = 1_000).await;
    s.with_app().await;
    // The app's snapshot is loaded: device calls no longer need the database.
    s.check(json!({})).await;
    let stat = |action: &str| json!([info(json!({"action": action, "version_name": "1.0.0"}))]);

    // Gone for a while: /stats is still accepted, the writes wait.
    relay.cut();
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
    relay.restore();
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
    assert_eq!(s.event_actions(DEV).await, ["during_outage"]);

    // Gone at shutdown: the drain gives up at its deadline.
    relay.cut();
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

/// The meaning of a `/stats` answer under overload, counted: a request
/// answered 2xx had all of its events stored, a request answered 429 had none
/// (the plugin resends the whole batch). The database is cut so the writer
/// cannot drain and its queue (the smallest allowed, 1,000 writes) fills.
#[tokio::test]
async fn under_overload_a_stats_answer_says_exactly_what_was_stored() {
    let (_db, relay, s) = behind_relay(|c| c.telemetry.write_queue = 1_000).await;
    s.with_app().await;
    s.check(json!({})).await;
    relay.cut();
    // 200 requests of 10 events, each request from its own device, 16 at a time.
    let device = |i: usize| format!("00000000-0000-4000-8000-{:012x}", 0x100 + i);
    let batch = |i: usize| {
        let events: Vec<_> = (0..10)
            .map(|k| {
                info(json!({"device_id": device(i), "action": format!("app_moved_to_background_{k}"), "version_name": "builtin"}))
            })
            .collect();
        json!(events)
    };
    use futures::stream::{self, StreamExt};
    let statuses: Vec<(usize, u16)> = stream::iter(0..200)
        .map(|i| {
            let s = &s;
            async move { (i, s.device("POST", "/stats", &batch(i)).await.0) }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let accepted: Vec<usize> = statuses
        .iter()
        .filter(|(_, st)| *st == 200)
        .map(|(i, _)| *i)
        .collect();
    let refused: Vec<usize> = statuses
        .iter()
        .filter(|(_, st)| *st == 429)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(
        accepted.len() + refused.len(),
        200,
        "every answer is 200 or 429: {statuses:?}"
    );
    assert!(
        !accepted.is_empty() && !refused.is_empty(),
        "the queue filled: {statuses:?}"
    );
    relay.restore();
    // Everything accepted lands once the database is back.
    let last = device(*accepted.iter().max().unwrap());
    for _ in 0..100 {
        if s.event_actions(&last).await.len() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.settle().await;
    for i in accepted {
        assert_eq!(
            s.event_actions(&device(i)).await.len(),
            10,
            "request {i} was answered 200"
        );
    }
    for i in refused {
        assert!(
            s.event_actions(&device(i)).await.is_empty(),
            "request {i} was answered 429"
        );
    }
}

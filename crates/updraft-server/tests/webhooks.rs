//! Outbound webhooks against a local receiver: every delivery's signature is
//! checked with the Standard Webhooks reference library (Python's
//! `standardwebhooks`, an implementation independent of the server's);
//! events arrive one at a time and in order, a 500 is retried after its
//! backoff (driven by the server's test clock) and across a restart, a 410
//! turns the webhook off, a rotated secret signs beside the new one for its
//! grace, and two nodes on one PostgreSQL database deliver each event once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Got {
    fn kind(&self) -> String {
        let v: Value = serde_json::from_str(&self.body).unwrap();
        v["type"].as_str().unwrap().to_string()
    }
}

/// A local webhook receiver answering scripted statuses (200 once the
/// script is used up), recording each request and the most requests it
/// ever had in flight at once.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    busy: Arc<AtomicUsize>,
    most_busy: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let r = Receiver {
            url: String::new(),
            got: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            busy: Arc::default(),
            most_busy: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = r.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
            let r = state.clone();
            async move {
                let now = r.busy.fetch_add(1, Ordering::SeqCst) + 1;
                r.most_busy.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                r.got.lock().unwrap().push(Got {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp"),
                    signature: h("webhook-signature"),
                    body,
                });
                let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
                r.busy.fetch_sub(1, Ordering::SeqCst);
                StatusCode::from_u16(status).unwrap()
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, ..r }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until it got `n` requests (at most 10 s).
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        let seen = poll_until(
            Duration::from_secs(10),
            || async { self.got() },
            |g| g.len() >= n,
        )
        .await;
        assert!(seen.len() >= n, "expected {n} deliveries, got {seen:?}");
        seen
    }
}

/// Whether `secret` verifies each request, by the reference library.
fn verified(secret: &str, got: &[Got]) -> Vec<bool> {
    let input: Vec<Value> = got
        .iter()
        .map(|g| {
            json!({"secret": secret, "id": g.id, "timestamp": g.timestamp,
                   "signature": g.signature, "body": g.body})
        })
        .collect();
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/verify_webhooks.py"
    ))
    .unwrap();
    let out = python(
        &script,
        &[],
        Value::from(input).to_string().as_bytes(),
        "standardwebhooks",
    );
    serde_json::from_slice(&out).unwrap()
}

/// A server on SQLite with local receivers allowed and `clock` as its clock.
async fn server(clock: &TestClock) -> Server {
    let storage = Storage::new(Backend::Sqlite).await;
    let mut c = storage.config();
    c.webhooks.allow_local = true;
    let runtime = updraft_server::Runtime {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let mut s = Server::start_runtime(c, runtime).await;
    s.keep(storage);
    s
}

async fn subscribe(s: &Server, url: &str, events: Value) -> (i64, String) {
    let v = s
        .ok(
            "POST",
            &format!("/apps/{APP}/webhooks"),
            Some(json!({"url": url, "events": events})),
        )
        .await;
    (
        v["id"].as_i64().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn events_arrive_signed_in_order_and_are_retried_after_backoff_across_a_restart() {
    let clock = TestClock::now();
    let mut s = server(&clock).await;
    s.with_app().await;
    let rx = Receiver::start(&[500]).await;
    let (id, secret) = subscribe(&s, &rx.url, json!([])).await;

    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    // The first event fails; nothing behind it is sent before it.
    let first = rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got().len(), 1, "the queue waits for its head");
    let log = s
        .ok(
            "GET",
            &format!("/apps/{APP}/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    let head = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(head["state"], "pending");
    assert_eq!(head["attempts"], 1);
    assert_eq!(head["last_status"], 500);
    assert_eq!(
        head["next_attempt_at"].as_i64().unwrap(),
        head["created_at"].as_i64().unwrap() + 5_000,
        "5 s after the first attempt (the test clock stands still)"
    );

    // The retry waits for its backoff, and the queue survives a restart.
    s.restart().await;
    clock.advance(4_000);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got().len(), 1, "not before its backoff");
    clock.advance(2_000);
    let all = rx.wait_for(4).await;
    let kinds: Vec<String> = all.iter().map(Got::kind).collect();
    assert_eq!(
        kinds,
        [
            "bundle.created",
            "bundle.created",
            "bundle.created",
            "channel.updated"
        ]
    );
    assert_eq!(all[0].id, all[1].id, "a retry is the same message");
    assert_eq!(all[0].body, first[0].body);
    let versions: Vec<Value> = all[1..]
        .iter()
        .map(|g| serde_json::from_str::<Value>(&g.body).unwrap()["data"].clone())
        .collect();
    assert_eq!(versions[0]["version"], "1.0.1");
    assert_eq!(versions[1]["version"], "1.0.2");
    assert_eq!(versions[2]["channel"], "production");
    assert_eq!(versions[2]["actor"], "key:1");
    assert_eq!(rx.most_busy.load(Ordering::SeqCst), 1, "one in flight");
    assert!(
        verified(&secret, &all).iter().all(|v| *v),
        "every signature verifies"
    );
    assert!(
        !verified("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &all[..1])[0],
        "another secret does not"
    );

    let log = s
        .ok(
            "GET",
            &format!("/apps/{APP}/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    let oldest = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (oldest["state"].as_str(), oldest["attempts"].as_i64()),
        (Some("delivered"), Some(2))
    );
    let metrics = reqwest::get(s.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("updraft_webhook_deliveries_total{outcome=\"delivered\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_410_turns_the_webhook_off_and_events_stop() {
    let clock = TestClock::now();
    let s = server(&clock).await;
    s.with_app().await;
    let rx = Receiver::start(&[410]).await;
    let (id, _) = subscribe(&s, &rx.url, json!(["bundle.created"])).await;
    s.bundle("1.0.1").await;
    rx.wait_for(1).await;
    let one = format!("/apps/{APP}/webhooks/{id}");
    let w = poll_until(
        Duration::from_secs(5),
        || s.ok("GET", &one, None),
        |w| w["enabled"] == false,
    )
    .await;
    assert_eq!(w["enabled"], false, "{w}");
    assert!(w["disabled_reason"].as_str().unwrap().contains("410"));
    s.bundle("1.0.2").await;
    clock.advance(86_400_000);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got().len(), 1, "nothing after a 410");
    let log = s
        .ok(
            "GET",
            &format!("/apps/{APP}/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(
        log.as_array().unwrap().len(),
        1,
        "no event queued while off: {log}"
    );
    assert_eq!(log[0]["state"], "failed");
}

#[tokio::test]
async fn only_subscribed_events_are_sent_and_a_test_delivery_is_signed() {
    let clock = TestClock::now();
    let s = server(&clock).await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    let rx = Receiver::start(&[]).await;
    let (id, secret) = subscribe(&s, &rx.url, json!(["bundle.revoked"])).await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.bundle("1.0.2").await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/bundles/1.0.2/revoke"),
        Some(json!({"reason": "crash"})),
    )
    .await;
    let got = rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got2 = rx.got();
    assert_eq!(got2.len(), 1, "{got2:?}");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "bundle.revoked");
    assert_eq!(body["data"]["reason"], "crash");
    assert_eq!(body["data"]["app_id"], APP);

    let t = s
        .ok("POST", &format!("/apps/{APP}/webhooks/{id}/test"), None)
        .await;
    assert_eq!(
        (t["ok"].as_bool(), t["status"].as_i64()),
        (Some(true), Some(200)),
        "{t}"
    );
    let (st, again) = s
        .api("POST", &format!("/apps/{APP}/webhooks/{id}/test"), None)
        .await;
    assert_eq!(st, 429, "one test delivery a second per webhook: {again}");
    let all = rx.wait_for(2).await;
    assert_eq!(all[1].kind(), "webhook.test");
    assert_eq!(verified(&secret, &all), [true, true]);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_its_grace() {
    let clock = TestClock::now();
    let s = server(&clock).await;
    s.with_app().await;
    let rx = Receiver::start(&[]).await;
    let (id, old) = subscribe(&s, &rx.url, json!([])).await;
    let rotated = s
        .ok(
            "POST",
            &format!("/apps/{APP}/webhooks/{id}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    s.bundle("1.0.1").await;
    let during = rx.wait_for(1).await;
    assert_eq!(verified(&new, &during), [true]);
    assert_eq!(
        verified(&old, &during),
        [true],
        "the old secret still verifies"
    );
    // (The reference library refuses timestamps 5 minutes off its own clock.)
    clock.advance(61_000);
    s.bundle("1.0.2").await;
    let after = rx.wait_for(2).await;
    assert_eq!(verified(&new, &after[1..]), [true]);
    assert_eq!(
        verified(&old, &after[1..]),
        [false],
        "the old secret is gone"
    );
    let listed = s.ok("GET", &format!("/apps/{APP}/webhooks"), None).await;
    assert!(
        listed[0].get("secret").is_none(),
        "a secret is never listed: {listed}"
    );
}

#[tokio::test]
async fn bad_webhooks_are_refused_and_nothing_is_created() {
    let s = Server::start().await;
    s.with_app().await;
    let path = format!("/apps/{APP}/webhooks");
    for (body, code) in [
        (json!({"url": "http://hooks.example.com/x"}), "invalid_url"),
        (json!({"url": "https://127.0.0.1/x"}), "invalid_url"),
        (
            json!({"url": "https://169.254.169.254/latest"}),
            "invalid_url",
        ),
        (json!({"url": "https://localhost/x"}), "invalid_url"),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["bundle.exploded"]}),
            "invalid_events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "description": "d".repeat(201)}),
            "invalid_description",
        ),
    ] {
        let (st, v) = s.api("POST", &path, Some(body.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some(code)), "{body}: {v}");
    }
    let (st, _) = s
        .api(
            "POST",
            &path,
            Some(json!({"url": "https://h.example.com", "secret": "mine"})),
        )
        .await;
    assert_eq!(st, 400, "unknown fields are refused");
    for mode in ["read", "upload"] {
        let k = s
            .ok(
                "POST",
                "/keys",
                Some(json!({"name": mode, "mode": mode, "apps": [APP]})),
            )
            .await;
        let key = k["secret"].as_str().unwrap();
        let (st, _) = s.api_as(key, "GET", &path, None).await;
        assert_eq!(st, 403, "{mode} keys may not read webhooks");
        let (st, _) = s
            .api_as(
                key,
                "POST",
                &path,
                Some(json!({"url": "https://h.example.com"})),
            )
            .await;
        assert_eq!(st, 403, "{mode} keys may not add webhooks");
    }
    assert_eq!(s.ok("GET", &path, None).await, json!([]));
    let (st, v) = s.api("GET", &format!("{path}/99"), None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")));
    // A public name is accepted; its deliveries are checked again when sent.
    let (st, v) = s
        .api(
            "POST",
            &path,
            Some(json!({"url": "https://hooks.example.com/x"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].clone();
    let one = format!("{path}/{id}");
    let before = s.ok("GET", &one, None).await;
    for (patch, code) in [
        (json!({"url": "https://10.0.0.1/x"}), "invalid_url"),
        (json!({"url": "https://h.example.com/\u{0}"}), "invalid_url"),
        (json!({"events": ["nope"]}), "invalid_events"),
        (json!({"description": "two\nlines"}), "invalid_description"),
    ] {
        let (st, v) = s.api("PATCH", &one, Some(patch.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some(code)), "{patch}: {v}");
    }
    assert_eq!(
        s.ok("GET", &one, None).await,
        before,
        "a refused change changes nothing"
    );
    // A key limited to another app reaches none of this one's webhooks.
    s.ok("POST", "/apps", Some(json!({"app_id": "com.other.app"})))
        .await;
    let other = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "other", "mode": "write", "apps": ["com.other.app"]})),
        )
        .await;
    let other = other["secret"].as_str().unwrap();
    for (method, p) in [
        ("GET", path.clone()),
        ("GET", one.clone()),
        ("DELETE", one.clone()),
        ("POST", format!("{one}/test")),
    ] {
        let (st, _) = s.api_as(other, method, &p, None).await;
        assert_eq!(st, 403, "{method} {p}");
    }
    let (st, v) = s
        .api(
            "POST",
            &format!("{path}/{id}/rotate"),
            Some(json!({"grace_seconds": 604_801})),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_grace")));
}

/// Two nodes on one PostgreSQL database: every event is delivered once, in
/// order, never two at a time.
#[tokio::test]
async fn two_nodes_deliver_each_event_once_in_order() {
    let storage = Storage::new(Backend::Postgres).await;
    let clock = TestClock::now();
    let start = |storage: &Storage| {
        let mut c = storage.config();
        c.webhooks.allow_local = true;
        let runtime = updraft_server::Runtime {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        };
        Server::start_runtime(c, runtime)
    };
    let a = start(&storage).await;
    let b = start(&storage).await;
    a.with_app().await;
    let rx = Receiver::start(&[]).await;
    let (_, secret) = subscribe(&a, &rx.url, json!(["bundle.created"])).await;
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.bundle(&format!("1.0.{i}")).await;
    }
    let got = rx.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = rx.got();
    assert_eq!(got_all.len(), 12, "each event once");
    let versions: Vec<String> = got
        .iter()
        .map(|g| {
            serde_json::from_str::<Value>(&g.body).unwrap()["data"]["version"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = (0..12).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(versions, want, "in the order of the changes");
    assert_eq!(rx.most_busy.load(Ordering::SeqCst), 1);
    assert!(verified(&secret, &got).iter().all(|v| *v));
}

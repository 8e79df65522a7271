//! Bad replies and bad bundles: the device stays on its bundle, reports the
//! plugin's failure action, and succeeds later once the server is right.
//! Stats: sent as an array, retried on 429/408/5xx (after Retry-After),
//! dropped on other 4xx, kept across restarts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use updraft_core::crypto::{encrypt_checksum, seal_bundle, sha256_hex, PrivateKey};
use updraft_device::{Cycle, Device, DeviceConfig, Flush};
use updraft_test_support::{bundle_zip, showing};

/// Queued `/stats` answers: status and an optional Retry-After.
type StatsAnswers = Arc<Mutex<Vec<(u16, Option<&'static str>)>>>;

/// What the fake server answers, changed by the test between calls.
#[derive(Clone, Default)]
struct Script {
    updates: Arc<Mutex<(u16, Value, u64)>>,
    file: Arc<Mutex<Vec<u8>>>,
    stats: StatsAnswers,
    stats_seen: Arc<Mutex<Vec<Value>>>,
    ranges: Arc<Mutex<Vec<String>>>,
}

async fn updates(State(s): State<Script>) -> Response {
    let (status, body, delay_ms) = s.updates.lock().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

async fn file(State(s): State<Script>, headers: HeaderMap) -> Response {
    let data = s.file.lock().unwrap().clone();
    if let Some(r) = headers.get("range").and_then(|v| v.to_str().ok()) {
        s.ranges.lock().unwrap().push(r.to_string());
        let from: usize = r
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse()
            .unwrap();
        return (StatusCode::PARTIAL_CONTENT, data[from..].to_vec()).into_response();
    }
    data.into_response()
}

async fn stats(State(s): State<Script>, Json(body): Json<Value>) -> Response {
    s.stats_seen.lock().unwrap().push(body);
    let (status, retry) = s.stats.lock().unwrap().pop().unwrap_or((200, None));
    let mut res = (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"status": "ok"})),
    )
        .into_response();
    if let Some(r) = retry {
        res.headers_mut().insert("retry-after", r.parse().unwrap());
    }
    res
}

async fn fake() -> (String, Script) {
    let script = Script::default();
    let app = Router::new()
        .route("/updates", post(updates))
        .route("/bundle.zip", get(file))
        .route("/stats", post(stats))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, script)
}

fn offer(base: &str, version: &str, checksum: &str, session_key: &str) -> Value {
    json!({"version": version, "url": format!("{base}/bundle.zip"), "checksum": checksum, "session_key": session_key})
}

fn last_action(d: &Device) -> String {
    d.queued_stats()
        .last()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_replies_and_bundles_change_nothing_and_are_reported() {
    let (base, s) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DeviceConfig::new(dir.path(), &base, "com.example.faults");
    cfg.request_timeout = Duration::from_millis(700);
    let private = PrivateKey::generate(&mut rand_core()).unwrap();
    cfg.public_key = Some(private.public_key().to_pem());
    let mut d = Device::open(cfg).unwrap();
    let good = bundle_zip("2.0.0");
    let sealed = seal_bundle(&private, &good, &mut rand_core()).unwrap();
    let set =
        |status: u16, body: Value, delay: u64| *s.updates.lock().unwrap() = (status, body, delay);

    // A reply whose url is not a URL.
    set(
        200,
        json!({"version": "2.0.0", "url": "not a url", "checksum": "", "session_key": ""}),
        0,
    );
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("download_fail".into())
    );
    assert_eq!(last_action(&d), "download_fail");
    // The server answers 500 / hangs.
    set(500, json!({"oops": true}), 0);
    assert!(matches!(d.update_cycle().await.unwrap(), Cycle::Failed(_)));
    set(200, json!({}), 2000);
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("timeout_error".into())
    );
    // A soft error without kind is a failure; with kind blocked it is not.
    set(200, json!({"error": "no_channel", "message": "x"}), 0);
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("no_channel".into())
    );
    set(
        200,
        json!({"error": "disable_auto_update_to_major", "message": "x", "kind": "blocked"}),
        0,
    );
    assert_eq!(d.update_cycle().await.unwrap(), Cycle::UpToDate);

    // A wrong checksum, correctly signed.
    *s.file.lock().unwrap() = sealed.ciphertext.clone();
    let wrong = encrypt_checksum(&private, &sha256_hex(b"another bundle")).unwrap();
    set(200, offer(&base, "2.0.0", &wrong, &sealed.session_key), 0);
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("checksum_fail".into())
    );
    // A 512-hex block the app's key does not open: phones fail in
    // decryptChecksum, which they report as download_fail.
    set(
        200,
        offer(&base, "2.0.0", &"ab".repeat(256), &sealed.session_key),
        0,
    );
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("download_fail".into())
    );
    // A tampered encrypted bundle.
    let mut tampered = sealed.ciphertext.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    *s.file.lock().unwrap() = tampered;
    set(
        200,
        offer(&base, "2.0.0", &sealed.checksum, &sealed.session_key),
        0,
    );
    let c = d.update_cycle().await.unwrap();
    assert!(
        matches!(&c, Cycle::Failed(a) if a == "checksum_fail" || a == "decrypt_fail"),
        "{c:?}"
    );
    // No checksum while a publicKey is set.
    *s.file.lock().unwrap() = sealed.ciphertext.clone();
    set(200, offer(&base, "2.0.0", "", &sealed.session_key), 0);
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("checksum_required".into())
    );
    // A zip with a traversal path, correctly signed.
    let evil = evil_zip();
    let sealed_evil = seal_bundle(&private, &evil, &mut rand_core()).unwrap();
    *s.file.lock().unwrap() = sealed_evil.ciphertext.clone();
    set(
        200,
        offer(
            &base,
            "2.0.0",
            &sealed_evil.checksum,
            &sealed_evil.session_key,
        ),
        0,
    );
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("canonical_path_fail".into())
    );
    assert!(!dir.path().join("evil.js").exists() && !dir.path().join("bundles/evil.js").exists());

    // Through all of it the device stayed on builtin, with nothing half-installed.
    assert_eq!(d.current_version(), "1.0.0");
    assert!(d.list().is_empty(), "{:?}", d.list());

    // The server is fixed: the device updates. A cut transfer resumes with Range.
    *s.file.lock().unwrap() = sealed.ciphertext.clone();
    set(
        200,
        offer(&base, "2.0.0", &sealed.checksum, &sealed.session_key),
        0,
    );
    d.faults.interrupt_download = true;
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Failed("download_fail".into())
    );
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("2.0.0".into())
    );
    assert_eq!(s.ranges.lock().unwrap().len(), 1, "resumed with Range");
    assert_eq!(showing(&d), "<html>2.0.0</html>");
}

fn evil_zip() -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in [("index.html", "<html>"), ("../evil.js", "x")] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_are_batched_retried_dropped_and_persisted_like_the_plugin() {
    let (base, s) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = DeviceConfig::new(dir.path(), &base, "com.example.stats");
    let mut d = Device::open(cfg.clone()).unwrap();
    d.queue_stat("app_moved_to_foreground", None, None);
    d.queue_stat("app_moved_to_background", None, None);

    // 429 with Retry-After: kept, and not sent again before the wait is over.
    s.stats.lock().unwrap().push((429, Some("1")));
    assert_eq!(d.flush_stats().await, Flush::Retry);
    assert_eq!(d.flush_stats().await, Flush::Retry);
    assert_eq!(
        s.stats_seen.lock().unwrap().len(),
        1,
        "no request inside the Retry-After window"
    );
    // Kept across a restart.
    drop(d);
    let mut d = Device::open(cfg.clone()).unwrap();
    assert_eq!(d.queued_stats().len(), 2);
    // 503 and 408: kept.
    s.stats.lock().unwrap().push((503, None));
    assert_eq!(d.flush_stats().await, Flush::Retry);
    s.stats.lock().unwrap().push((408, None));
    assert_eq!(d.flush_stats().await, Flush::Retry);
    // 200: sent, as one array with the plugin's fields.
    assert_eq!(d.flush_stats().await, Flush::Sent(2));
    let last = s.stats_seen.lock().unwrap().last().unwrap().clone();
    let batch = last.as_array().expect("a JSON array");
    assert_eq!(batch.len(), 2);
    for field in [
        "action",
        "version_name",
        "old_version_name",
        "timestamp",
        "device_id",
        "app_id",
        "platform",
        "plugin_version",
        "defaultChannel",
    ] {
        assert!(batch[0].get(field).is_some(), "{field} in {}", batch[0]);
    }
    assert_eq!(d.flush_stats().await, Flush::Empty);
    // Another 4xx drops the batch.
    d.queue_stat("set", None, None);
    s.stats.lock().unwrap().push((400, None));
    assert_eq!(d.flush_stats().await, Flush::Dropped(1));
    assert!(d.queued_stats().is_empty());
    // At most 200 queued, oldest dropped.
    for i in 0..205 {
        d.queue_stat(&format!("a{i}"), None, None);
    }
    assert_eq!(d.queued_stats().len(), 200);
    assert_eq!(d.queued_stats()[0]["action"], "a5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flusher_sends_queued_stats_every_second() {
    let (base, s) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Device::open(DeviceConfig::new(dir.path(), &base, "com.example.flush")).unwrap();
    let d = Arc::new(tokio::sync::Mutex::new(d));
    // The 503 is scripted before anything is queued: the flusher's first tick
    // is immediate and must meet it.
    s.stats.lock().unwrap().push((503, None));
    d.lock()
        .await
        .queue_stat("app_moved_to_foreground", None, None);
    let task = updraft_device::spawn_stats_flusher(d.clone(), Duration::from_secs(1));
    // Two ticks take two seconds; a loaded machine may take longer, so wait
    // for the retry's delivery (bounded) rather than a fixed time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sent = s.stats_seen.lock().unwrap().len();
        let delivered = sent >= 2 && d.lock().await.queued_stats().is_empty();
        if delivered || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
    let seen = s.stats_seen.lock().unwrap().clone();
    assert!(
        seen.len() >= 2,
        "a 503, then a retry on the next tick: {seen:?}"
    );
    assert!(
        d.lock().await.queued_stats().is_empty(),
        "delivered on the retry"
    );
}

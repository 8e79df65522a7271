//! Story tests for the management API: key modes, uploads and their bad
//! input, bundle files, and surviving a restart (Capgo's `/device` is in
//! `capgo_device.rs`).

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use updraft_server::clock::{Clock, TestClock};
use updraft_test_support::*;

async fn key(s: &Server, mode: &str, apps: Value) -> String {
    let v = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": mode, "mode": mode, "apps": apps})),
        )
        .await;
    assert!(v.get("secret").is_some());
    v["secret"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn api_key_mode_matrix() {
    let clock = TestClock::now();
    let s = Server::start_clocked(&clock).await;
    s.with_app().await;
    s.ok("POST", "/apps", Some(json!({"app_id": "com.other.app"})))
        .await;
    let read = key(&s, "read", json!([])).await;
    let upload = key(&s, "upload", json!([])).await;
    let write = key(&s, "write", json!([])).await;
    let all = key(&s, "all", json!([])).await;
    let limited = key(&s, "all", json!([APP])).await;
    let zip = zip_of(&[("index.html", b"x")]);
    // (operation, minimum mode) over read < upload < write < all.
    let ops: Vec<(&str, &str, String, Option<Value>, usize)> = vec![
        ("list apps", "GET", "/apps".into(), None, 0),
        (
            "list channels",
            "GET",
            format!("/apps/{APP}/channels"),
            None,
            0,
        ),
        (
            "register bundle",
            "POST",
            format!("/apps/{APP}/bundles/external"),
            None,
            1,
        ),
        (
            "create channel",
            "POST",
            format!("/apps/{APP}/channels"),
            None,
            2,
        ),
        ("list keys", "GET", "/keys".into(), None, 3),
    ];
    let keys = [&read, &upload, &write, &all];
    for (i, k) in keys.iter().enumerate() {
        for (name, method, path, _, min) in &ops {
            let body = match *name {
                "register bundle" => Some(
                    json!({"version": format!("1.0.{i}"), "external_url": "https://x.test/a.zip", "checksum": "a".repeat(64)}),
                ),
                "create channel" => Some(json!({"name": format!("c{i}")})),
                _ => None,
            };
            let (st, v) = s.api_as(k, method, path, body).await;
            if i >= *min {
                assert!((200..300).contains(&st), "{name} with mode #{i}: {st} {v}");
            } else {
                assert_eq!(
                    (st, v["error"].as_str()),
                    (403, Some("forbidden")),
                    "{name} with mode #{i}"
                );
            }
        }
    }
    // Upload mode uploads; read mode cannot.
    let r = s
        .http
        .post(s.url(&format!("/api/v1/apps/{APP}/bundles?version=2.0.0")))
        .bearer_auth(&read)
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = s
        .http
        .post(s.url(&format!("/api/v1/apps/{APP}/bundles?version=2.0.0")))
        .bearer_auth(&upload)
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // Upload mode may deploy (move a channel) but not change its rules.
    let (st, _) = s
        .api_as(
            &upload,
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"bundle": "2.0.0"})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = s
        .api_as(
            &upload,
            "PATCH",
            &format!("/apps/{APP}/channels/production"),
            Some(json!({"public": false})),
        )
        .await;
    assert_eq!(st, 403);
    // An app allow-list hides other apps.
    let (_, v) = s.api_as(&limited, "GET", "/apps", None).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (st, _) = s
        .api_as(&limited, "GET", "/apps/com.other.app/channels", None)
        .await;
    assert_eq!(st, 403);
    // Unknown, missing and expired keys are 401; Capgo's raw headers work.
    assert_eq!(s.api_as("upd_nope", "GET", "/apps", None).await.0, 401);
    assert_eq!(s.get_status("/api/v1/apps").await, 401);
    let raw = s
        .http
        .get(s.url("/api/v1/apps"))
        .header("authorization", &read)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 200);
    let capg = s
        .http
        .get(s.url("/api/v1/apps"))
        .header("capgkey", &read)
        .send()
        .await
        .unwrap();
    assert_eq!(capg.status().as_u16(), 200);
    let soon = clock.now_ms() + 300;
    let v = s
        .ok(
            "POST",
            "/keys",
            Some(json!({"name": "short", "mode": "read", "expires_at": soon})),
        )
        .await;
    let short = v["secret"].as_str().unwrap().to_string();
    assert_eq!(s.api_as(&short, "GET", "/apps", None).await.0, 200);
    clock.advance(300);
    let (st, v) = s.api_as(&short, "GET", "/apps", None).await;
    assert_eq!(
        (st, v["message"].as_str().unwrap().contains("expired")),
        (401, true)
    );
    // Listing never shows secrets.
    let list = s.ok("GET", "/keys", None).await;
    assert!(!list.to_string().contains(&read));
}

#[tokio::test]
async fn uploads_refuse_bad_bundles_and_keep_nothing() {
    let s = Server::start().await;
    s.with_app().await;
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "1.0.0",
            zip_of(&[("../evil.html", b"x"), ("index.html", b"x")]),
            "",
            400,
            "invalid_zip",
        ),
        ("1.0.0", zip_of(&[("a.js", b"x")]), "", 400, "invalid_zip"),
        ("1.0.0", b"not a zip".to_vec(), "", 400, "invalid_zip"),
        (
            "1.0.0",
            zip_of(&[("index.html", b"x")]),
            "&checksum=0000000000000000000000000000000000000000000000000000000000000000",
            400,
            "checksum_mismatch",
        ),
        (
            "v1.0.0",
            zip_of(&[("index.html", b"x")]),
            "",
            400,
            "invalid_version_format",
        ),
        ("1.0.0", vec![], "", 400, "empty_bundle"),
        (
            "1.0.0",
            vec![7u8; 3 * 1024 * 1024],
            "",
            413,
            "payload_too_large",
        ),
        (
            "1.0.0",
            zip_of(&[("index.html", b"x")]),
            "&session_key=abc",
            400,
            "invalid_session_key",
        ),
    ];
    for (version, body, q, status, code) in cases {
        let (st, v) = s.upload(version, q, body).await;
        assert_eq!(
            (st, v["error"].as_str().unwrap_or("")),
            (status, code),
            "{v}"
        );
    }
    let backslash = zip_of(&[("dist\\index.html", b"x")]);
    assert_eq!(s.upload("1.0.0", "", backslash).await.0, 400);
    assert!(s
        .ok("GET", &format!("/apps/{APP}/bundles"), None)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    // A single wrapping folder is accepted; a reused version is a conflict with a hint.
    let (st, _) = s
        .upload(
            "1.0.0",
            "",
            zip_of(&[("dist/index.html", b"x"), ("dist/app.js", b"y")]),
        )
        .await;
    assert_eq!(st, 201);
    let (st, v) = s.upload("1.0.0", "", zip_of(&[("index.html", b"z")])).await;
    assert_eq!(st, 409);
    assert!(
        v["message"].as_str().unwrap().contains("bump the version"),
        "{v}"
    );
    // Unknown channel on upload-and-assign: a bad request (and nothing
    // stored: see a_body_naming_what_does_not_exist_is_a_bad_request).
    let (st, _) = s
        .upload("1.0.1", "&channel=nope", zip_of(&[("index.html", b"q")]))
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn an_upload_cut_off_half_way_keeps_nothing_and_can_be_retried() {
    let s = Server::start().await;
    s.with_app().await;
    let zip = zip_of(&[("index.html", b"hello world, this is a bundle")]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/apps/{APP}/bundles?version=1.0.0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\nContent-Length: {}\r\n\r\n",
        zip.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&zip[..zip.len() / 2]).await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut sink),
    )
    .await;
    drop(tcp);
    // The server notices the cut and removes its temp file on its own time.
    let tmp = s.dir.join("tmp");
    let count = || {
        let tmp = tmp.clone();
        async move { std::fs::read_dir(tmp).map(Iterator::count).unwrap_or(0) }
    };
    poll_until(std::time::Duration::from_secs(10), count, |n| *n == 0).await;
    assert!(s
        .ok("GET", &format!("/apps/{APP}/bundles"), None)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let leftovers = std::fs::read_dir(s.dir.join("tmp"))
        .map(std::iter::Iterator::count)
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "no partial temp file is kept");
    let blobs = std::fs::read_dir(s.dir.join("blobs/bundles"))
        .map(std::iter::Iterator::count)
        .unwrap_or(0);
    assert_eq!(blobs, 0, "no partial blob is kept");
    let (st, _) = s.upload("1.0.0", "", zip).await;
    assert_eq!(st, 201, "the same upload succeeds when retried");
}

#[tokio::test]
async fn bundle_files_support_range_etag_and_head() {
    let s = Server::start().await;
    s.with_app().await;
    let b = s.bundle("1.0.0").await;
    let url = s.url(&format!(
        "/files/{}.zip",
        b["blob_sha256"].as_str().unwrap()
    ));
    let full = s.http.get(&url).send().await.unwrap();
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", b["blob_sha256"].as_str().unwrap()));
    assert!(full.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let bytes = full.bytes().await.unwrap();
    let r = s
        .http
        .get(&url)
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-{}/{}", bytes.len() - 1, bytes.len())
    );
    assert_eq!(r.bytes().await.unwrap(), bytes.slice(10..));
    let r = s
        .http
        .get(&url)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    let r = s
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let r = s.http.head(&url).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-length"].to_str().unwrap().to_string()
        ),
        (200, bytes.len().to_string())
    );
    assert_eq!(
        s.get_status(&format!("/files/{}.zip", "0".repeat(64)))
            .await,
        404
    );
    assert_eq!(s.get_status("/files/..%2Fupdraft.db").await, 404);
}

#[tokio::test]
async fn everything_survives_a_restart_and_shutdown_flushes_queued_writes() {
    // Nothing is flushed on a timer during this test: only shutdown can.
    let mut s = Server::start_tweaked(Backend::Sqlite, |c| {
        c.telemetry.flush_interval_ms = 3_600_000;
    })
    .await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let rw = key(&s, "write", json!([APP])).await;
    s.ok(
        "PUT",
        &format!("/apps/{APP}/devices/{DEV}/override"),
        Some(json!({"bundle": "1.0.1"})),
    )
    .await;
    let events: Vec<Value> = (0..50)
        .map(|i| {
            info(json!({"action": "app_moved_to_foreground", "version_name": format!("x{i}")}))
        })
        .collect();
    let (st, _) = s.device("POST", "/stats", &Value::Array(events)).await;
    assert_eq!(st, 200);
    let fail = info(
        json!({"action": "update_fail", "version_name": "1.0.1", "device_id": "00000000-0000-4000-8000-000000000002"}),
    );
    s.device("POST", "/stats", &fail).await;
    // Three offers, counted in memory until a flush.
    for _ in 0..3 {
        let offer = s
            .check(json!({"device_id": "00000000-0000-4000-8000-000000000003"}))
            .await;
        assert_eq!(offer["version"], "1.0.1");
    }
    s.stop().await; // no settle: shutdown itself must flush
    s.restart().await;
    assert_eq!(
        s.api_as(
            &rw,
            "GET",
            &format!("/apps/{APP}/channels/production"),
            None
        )
        .await
        .1["bundle_version"],
        "1.0.1"
    );
    let ev = s
        .ok(
            "GET",
            &format!("/apps/{APP}/events?limit=1000&device_id={DEV}"),
            None,
        )
        .await;
    assert_eq!(ev.as_array().unwrap().len(), 50);
    let offers = s.ok("GET", &format!("/apps/{APP}/offers"), None).await;
    assert_eq!(
        offers[0]["count"], 3,
        "offers counted before shutdown: {offers}"
    );
    let d = s
        .ok("GET", &format!("/apps/{APP}/devices/{DEV}"), None)
        .await;
    assert_eq!(d["override"], json!({"type": "bundle", "version": "1.0.1"}));
    let v = s
        .check(json!({"device_id": "00000000-0000-4000-8000-000000000002"}))
        .await;
    assert_eq!(v["error"], "bundle_failed_on_device");
    let file = s
        .http
        .get(s.check(json!({})).await["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status().as_u16(), 200);
    // The bootstrap key is not recreated over existing keys.
    assert_eq!(
        s.ok("GET", "/keys", None).await.as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn health_openapi_and_unknown_routes() {
    let s = Server::start().await;
    let h = s.get_json("/health").await;
    assert_eq!(h, json!({"status": "ok", "database": "ok"}));
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    let doc = s.get_json("/api/v1/openapi.json").await;
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    // Every management route is documented.
    for p in [
        "/apps",
        "/apps/{app_id}/bundles",
        "/apps/{app_id}/channels/{name}/rollback",
        "/apps/{app_id}/devices/{device_id}/override",
        "/keys",
        "/apps/{app_id}/explain",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    let r = s.http.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v = s.get_json("/updates").await;
    assert_eq!(v, json!({"status": "ok"}));
}

#[tokio::test]
async fn deleting_bundles_and_apps_frees_their_files() {
    // No grace: a file nothing uses goes on the sweeper's next pass.
    let s = Server::start_tweaked(Backend::Sqlite, |c| {
        c.storage.removal_grace = std::time::Duration::ZERO;
    })
    .await;
    s.with_app().await;
    let zip = zip_of(&[("index.html", b"same build")]);
    let sha = s.upload("1.0.1", "", zip.clone()).await.1["bundle"]["blob_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // The same bytes under a second version share one file.
    s.upload("1.0.2", "", zip).await;
    let other = s.bundle("1.0.3").await["blob_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let file = |sha: &str| format!("/files/{sha}.zip");

    s.ok("DELETE", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    s.swept().await;
    assert_eq!(s.get_status(&file(&sha)).await, 200, "1.0.2 still uses it");
    s.ok("DELETE", &format!("/apps/{APP}/bundles/1.0.2"), None)
        .await;
    s.swept().await;
    assert_eq!(
        s.get_status(&file(&sha)).await,
        404,
        "no live bundle uses it: removed"
    );
    // A bundle a channel uses is not deleted, and its file stays.
    s.set_channel("production", json!({"bundle": "1.0.3"}))
        .await;
    let (status, _) = s
        .api("DELETE", &format!("/apps/{APP}/bundles/1.0.3"), None)
        .await;
    assert_eq!(status, 409);
    s.swept().await;
    assert_eq!(s.get_status(&file(&other)).await, 200);
    // Deleting the app frees the rest.
    s.ok("DELETE", &format!("/apps/{APP}"), None).await;
    s.swept().await;
    assert_eq!(s.get_status(&file(&other)).await, 404);
    let left: Vec<_> = walk(&s.dir.join("blobs"));
    assert!(left.is_empty(), "no bundle file left behind: {left:?}");
}

/// A deleted bundle's file stays downloadable for the removal grace (an
/// hour by default: downloads in flight, links handed out), then goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bundles_file_stays_for_the_removal_grace() {
    use updraft_server::clock::TestClock;
    let clock = TestClock::now();
    let s = Server::start_clocked(&clock).await;
    s.with_app().await;
    let sha = s.bundle("1.0.1").await["blob_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let file = format!("/files/{sha}.zip");
    s.ok("DELETE", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    s.swept().await;
    assert_eq!(s.get_status(&file).await, 200, "within the grace");
    clock.advance(59 * 60_000);
    s.swept().await;
    assert_eq!(s.get_status(&file).await, 200, "59 minutes later");
    clock.advance(2 * 60_000);
    s.swept().await;
    assert_eq!(s.get_status(&file).await, 404, "an hour later");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

//! What a hostile or broken client cannot do to the server's connections and
//! replies: hold a connection open without sending, stall a body, keep the
//! server from stopping, or choose the host of the bundle URLs devices get.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use updraft_server::config::Layer;
use updraft_test_support::*;

/// A server with one-second connection limits (and `extra`, TOML, over them).
async fn strict(extra: &str) -> Server {
    let base = "[server]\nshutdown_grace_secs = 1\n[limits]\nheader_timeout_secs = 1\nbody_timeout_secs = 1\n";
    let l = Layer::from_toml(base, "strict")
        .unwrap()
        .merge(Layer::from_toml(extra, "extra").unwrap());
    Server::start_tweaked(Backend::Sqlite, |c| {
        c.limits.header_timeout = Duration::from_secs(l.limits.header_timeout_secs.unwrap());
        c.limits.body_timeout = Duration::from_secs(l.limits.body_timeout_secs.unwrap());
        c.server.shutdown_grace = Duration::from_secs(l.server.shutdown_grace_secs.unwrap());
        if let Some(max) = l.limits.max_bundle_bytes {
            c.limits.max_bundle_bytes = max;
        }
        if let Some(p) = l.server.trusted_proxies {
            c.server.trusted_proxies = p.iter().map(|p| p.parse().unwrap()).collect();
        }
    })
    .await
}

/// Reads until the server closes the connection (or 5 s pass); returns what came and when.
async fn read_until_closed(conn: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 5 s"),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let s = strict("").await;
    // Half a request line, then nothing.
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut slow).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // A connection that never sends anything.
    let mut idle = TcpStream::connect(addr(&s)).await.unwrap();
    let (_, took) = read_until_closed(&mut idle).await;
    assert!(took < Duration::from_secs(3), "idle closed after {took:?}");
    // A keep-alive connection is answered, then closed once idle.
    let mut kept = TcpStream::connect(addr(&s)).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut kept).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_stalled_body_is_cut_off() {
    let s = strict("").await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    conn.write_all(
        b"POST /stats HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"a",
    )
    .await
    .unwrap();
    let (text, took) = read_until_closed(&mut conn).await;
    assert!(took < Duration::from_secs(3), "cut off after {took:?}");
    assert!(!text.contains("200 OK"), "{text}");
}

#[tokio::test]
async fn a_download_the_client_stops_reading_is_cut_off() {
    let s = strict("[limits]\nmax_bundle_bytes = 16777216").await;
    s.with_app().await;
    // 8 MiB: more than the kernel's socket buffers on both sides hold, so the
    // server's writes stall while the client reads nothing.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    let zip = zip_stored(&[("index.html", b"<html></html>"), ("noise.bin", &noise)]);
    s.uploaded("1.0.1", "&channel=production", zip.clone())
        .await;
    let offer = s.check(json!({})).await;
    let path = offer["url"]
        .as_str()
        .unwrap()
        .split_once("/files/")
        .unwrap()
        .1;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut conn = socket.connect(addr(&s).parse().unwrap()).await.unwrap();
    conn.write_all(format!("GET /files/{path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Reads nothing for longer than the stall limit (five times the body
    // timeout of 1 s)...
    tokio::time::sleep(Duration::from_secs(7)).await;
    // ... then what the server had sent before it cut the connection off.
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the server kept a stalled download open ({got} bytes read)"),
        }
    }
    assert!(got > 0, "the download had started");
    assert!(got < zip.len(), "cut off: {got} of {} bytes", zip.len());
}

#[tokio::test]
async fn a_stuck_client_does_not_keep_the_server_from_stopping() {
    let mut s = strict(
        // Long enough that only the shutdown deadline can end the request.
        "[limits]\nbody_timeout_secs = 60",
    )
    .await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    conn.write_all(b"POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), s.stop())
        .await
        .expect("stop finishes within the grace period");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// The offered bundle URL for a check sent with `headers`.
async fn offered_url(s: &Server, headers: &[(&str, &str)]) -> String {
    let mut req = s.http.post(s.url("/updates")).json(&info(json!({})));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    v["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

#[tokio::test]
async fn bundle_urls_never_come_from_the_host_header() {
    let s = strict("").await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let url = offered_url(&s, &[("host", "attacker.example")]).await;
    assert!(url.starts_with(&format!("{}/files/", s.base)), "{url}");
    // Forwarded headers from an untrusted peer are ignored too.
    let url = offered_url(
        &s,
        &[
            ("x-forwarded-host", "attacker.example"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert!(url.starts_with(&format!("{}/files/", s.base)), "{url}");
    // The file is really there.
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_trusted_proxy_sets_the_public_host_and_scheme() {
    let s = strict("[server]\ntrusted_proxies = [\"127.0.0.1/32\"]").await;
    s.with_app().await;
    let b = s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let url = offered_url(
        &s,
        &[
            ("x-forwarded-host", "updates.example.com"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(
        url,
        format!(
            "https://updates.example.com/files/{}.zip",
            b["blob_sha256"].as_str().unwrap()
        )
    );
}

/// Made-up device ids cannot turn the per-device `/channel_self` limit into
/// unbounded database writes: self-assignments are limited per app.
#[tokio::test]
async fn self_assigned_channel_writes_are_limited_per_app() {
    let s = strict("").await;
    s.with_app().await;
    s.add_channel(json!({"name": "beta", "allow_device_self_set": true}))
        .await;
    let start = Instant::now();
    let calls = (0..120).map(|i| {
        let body = info(json!({
            "plugin_version": "6.25.8",
            "device_id": format!("00000000-0000-4000-8000-{i:012}"),
            "channel": "beta",
        }));
        let req = s.http.post(s.url("/channel_self")).json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.headers().contains_key("retry-after"))
        }
    });
    let replies = futures::future::join_all(calls).await;
    let windows = start.elapsed().as_secs() + 1;
    let ok = replies.iter().filter(|(st, _)| *st == 200).count() as u64;
    let limited = replies
        .iter()
        .filter(|(st, hint)| *st == 429 && *hint)
        .count() as u64;
    assert_eq!(ok + limited, 120, "{replies:?}");
    assert!(
        ok <= 50 * (windows + 1),
        "{ok} writes in {windows} window(s)"
    );
    assert!(limited > 0, "120 at once is over the limit");
}

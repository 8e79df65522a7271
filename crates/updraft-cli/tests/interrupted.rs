//! An upload cut off half-way: the CLI says so (exit 1), the server keeps
//! nothing, and running the same command again succeeds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use updraft_test_support::*;

const APP: &str = "com.example.cut";

/// A TCP proxy to `target` that, once, cuts the connection 32 KiB into the
/// body of a bundle upload. Every other byte passes untouched.
async fn cutting_proxy(target: SocketAddr, cut_done: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let cut_done = cut_done.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(target).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                });
                let mut buf = vec![0u8; 8192];
                let mut tail: Vec<u8> = Vec::new();
                let mut budget: Option<usize> = None;
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if budget.is_none() && !cut_done.load(Ordering::SeqCst) {
                        tail.extend_from_slice(&buf[..n]);
                        let needle = b"/bundles?version=";
                        if tail.windows(needle.len()).any(|w| w == needle) {
                            budget = Some(32 * 1024);
                        }
                        let keep = tail.len().saturating_sub(64);
                        tail.drain(..keep);
                    }
                    if let Some(b) = budget {
                        if n >= b {
                            let _ = sw.write_all(&buf[..b]).await;
                            cut_done.store(true, Ordering::SeqCst);
                            down.abort();
                            return; // both halves dropped: the connection is cut
                        }
                        budget = Some(b - n);
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
                let _ = down.await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_upload_keeps_nothing_and_a_retry_succeeds() {
    let server = Server::start().await;
    let target: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let proxy = cutting_proxy(target, cut.clone()).await;
    let cli = Cli::new(&server).with_env("UPDRAFT_SERVER", &format!("http://{proxy}"));
    let project = json_project(APP, "4.0.1");
    let p = project.path();
    // 400 KiB that deflate cannot shrink, so the upload is far longer than the cut.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let noise: String = (0..400 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect();
    write(p, "dist/assets/noise.js", &noise);
    cli.run(p, &["init"]).ok();

    let r = cli.run(p, &["deploy"]).fails(1, "interrupted");
    assert!(r.stderr.contains("run the same command again"), "{r:?}");
    assert!(cut.load(Ordering::SeqCst), "the proxy cut the upload");
    // The server notices the cut and removes its temp file on its own time.
    let tmp = server.dir.join("tmp");
    let count = || {
        let tmp = tmp.clone();
        async move { std::fs::read_dir(tmp).map(Iterator::count).unwrap_or(0) }
    };
    let leftovers = poll_until(std::time::Duration::from_secs(10), count, |n| *n == 0).await;
    let (status, _) = server
        .api("GET", &format!("/apps/{APP}/bundles/4.0.1"), None)
        .await;
    assert_eq!(status, 404, "no bundle row for a cut-off upload");
    assert_eq!(leftovers, 0, "no partial temp file in {}", tmp.display());
    let offer = server
        .check_app(APP, json!({"version_build": "4.0.0"}))
        .await;
    assert_eq!(
        offer["kind"], "up_to_date",
        "devices are offered nothing: {offer}"
    );

    let up = cli.run(p, &["deploy", "--json"]).ok().json();
    assert_eq!(up["bundle"], "4.0.1");
    let offer = server
        .check_app(APP, json!({"version_build": "4.0.0"}))
        .await;
    assert_eq!(offer["version"], "4.0.1", "{offer}");
    let zip = server.download(offer["url"].as_str().unwrap()).await;
    assert_eq!(
        updraft_core::crypto::sha256_hex(&zip),
        up["checksum"].as_str().unwrap()
    );
}

//! Three `updraft-server` processes on one PostgreSQL database and one
//! S3-compatible bucket (Garage, started here), sharing nothing else: an
//! upload through one is checked for and downloaded through the others, a
//! channel change on one reaches another's answers within the change
//! feed's time (measured, printed), and killing a node outright loses no
//! write it acknowledged.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use updraft_test_support::*;

/// One server process and where it listens.
struct Node {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts `updraft-server serve` on a free port over `db` and `garage`.
    fn start(db: &str, garage: &garage::Garage) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let s3 = &garage.settings;
        let mut child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("UPDRAFT_DATABASE_URL", db)
            .env("UPDRAFT_BOOTSTRAP_API_KEY", ADMIN)
            .env("UPDRAFT_S3_BUCKET", &s3.bucket)
            .env("UPDRAFT_S3_ENDPOINT", s3.endpoint.as_deref().unwrap())
            .env("UPDRAFT_S3_REGION", s3.region.as_deref().unwrap())
            .env(
                "UPDRAFT_S3_ACCESS_KEY_ID",
                s3.access_key_id.as_deref().unwrap(),
            )
            .env(
                "UPDRAFT_S3_SECRET_ACCESS_KEY",
                s3.secret_access_key.as_deref().unwrap(),
            )
            .env("UPDRAFT_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first line says where it listens; the rest is drained so the
        // pipe never fills.
        let mut out = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let v: Value = serde_json::from_slice(&line)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)));
        let addr = v["fields"]["addr"]
            .as_str()
            .expect("the listening line")
            .to_string();
        Node {
            child,
            base: format!("http://{addr}"),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The admin API on `n`: the status and JSON body.
async fn api(
    http: &reqwest::Client,
    n: &Node,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method.parse().unwrap(), n.url(&format!("/api/v1{path}")))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null), // the node is gone
    }
}

/// Uploads `zip` as `version` through the node at `base`; the status, 0
/// when the node is gone.
async fn upload(http: &reqwest::Client, base: &str, version: &str, zip: Vec<u8>) -> u16 {
    let url = format!("{base}/api/v1/apps/{APP}/bundles?version={version}");
    match http.post(url).bearer_auth(ADMIN).body(zip).send().await {
        Ok(res) => res.status().as_u16(),
        Err(_) => 0,
    }
}

/// What `n` offers a device on `production` running builtin.
async fn offer(http: &reqwest::Client, n: &Node) -> Value {
    http.post(n.url("/updates"))
        .json(&info(json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_database_and_one_bucket() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.db.as_ref().unwrap().url.clone();
    // One at a time: the first runs the migrations.
    let n1 = Node::start(&db, &garage);
    let n2 = Node::start(&db, &garage);
    let n3 = Node::start(&db, &garage);
    let http = reqwest::Client::new();
    assert_eq!(
        api(&http, &n1, "POST", "/apps", Some(json!({"app_id": APP})))
            .await
            .0,
        201
    );
    let channel = json!({"name": "production", "public": true});
    assert_eq!(
        api(
            &http,
            &n1,
            "POST",
            &format!("/apps/{APP}/channels"),
            Some(channel)
        )
        .await
        .0,
        201
    );

    // Uploaded through node 1; checked for and downloaded through 2 and 3.
    let zip = bundle_zip("1.0.1");
    assert_eq!(upload(&http, &n1.base, "1.0.1", zip.clone()).await, 201);
    let patch = json!({"bundle": "1.0.1"});
    let path = format!("/apps/{APP}/channels/production");
    assert_eq!(api(&http, &n1, "PATCH", &path, Some(patch)).await.0, 200);
    for n in [&n2, &n3] {
        let o = poll_until(
            Duration::from_secs(5),
            || offer(&http, n),
            |o| o["version"] == "1.0.1",
        )
        .await;
        assert_eq!(o["version"], "1.0.1", "{o}");
        let url = o["url"].as_str().unwrap();
        assert!(url.starts_with(&n.base), "{url}");
        let got = http.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(sha(&got), sha(&zip));
    }

    // A channel change on node 2 reaches node 3's answers: measured.
    let mut took = Vec::new();
    for round in 0..10 {
        let version = format!("1.1.{round}");
        assert_eq!(
            upload(&http, &n2.base, &version, bundle_zip(&version)).await,
            201
        );
        let started = Instant::now();
        let patch = json!({"bundle": version});
        assert_eq!(api(&http, &n2, "PATCH", &path, Some(patch)).await.0, 200);
        // Asked every 5 ms: the time is the feed's, not the polling's.
        while offer(&http, &n3).await["version"] != version.as_str() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "round {round}: node 3 never saw {version}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    eprintln!(
        "propagation node 2 -> node 3 over 10 changes (from sending the change to node 3 answering with it): median {:?}, max {:?}",
        took[took.len() / 2],
        took[took.len() - 1]
    );
    // LISTEN/NOTIFY carries it in milliseconds; the poll fallback (every
    // second) would put the median near half a second.
    assert!(
        took[took.len() / 2] < Duration::from_millis(250),
        "{took:?}"
    );
    assert!(took[took.len() - 1] < Duration::from_secs(2), "{took:?}");

    // Writes race a kill of node 1: each one it acknowledged is there
    // afterwards, through node 3, and its file downloads.
    let mut n1 = n1;
    let writer = {
        let (http, base) = (http.clone(), n1.base.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..5_000 {
                let version = format!("2.0.{i}");
                match upload(&http, &base, &version, bundle_zip(&version)).await {
                    201 => acked.push(version),
                    // The node is gone: no answer at all.
                    0 => break,
                    other => panic!("node 1 refused {version} with {other} before the kill"),
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    n1.child.kill().unwrap(); // SIGKILL: no drain, no goodbye
    n1.child.wait().unwrap();
    let acked = writer.await.unwrap();
    eprintln!(
        "node 1 acknowledged {} uploads before it was killed",
        acked.len()
    );
    assert!(
        !acked.is_empty(),
        "some uploads were acknowledged before the kill"
    );
    assert!(acked.len() < 5_000, "the kill cut the uploads short");
    let (_, listed) = api(&http, &n3, "GET", &format!("/apps/{APP}/bundles"), None).await;
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["version"].as_str())
        .collect();
    for v in &acked {
        assert!(
            listed.contains(&v.as_str()),
            "{v} was acknowledged by node 1 but is gone"
        );
        let (_, b) = api(&http, &n3, "GET", &format!("/apps/{APP}/bundles/{v}"), None).await;
        let file = format!("/files/{}.zip", b["blob_sha256"].as_str().unwrap());
        let got = http.get(n3.url(&file)).send().await.unwrap();
        assert_eq!(got.status(), 200, "{v}");
        assert_eq!(sha(&got.bytes().await.unwrap()), sha(&bundle_zip(v)), "{v}");
    }
    // The survivors serve on: a deploy through node 3 reaches node 2.
    let last = acked.last().unwrap().clone();
    let patch = json!({"bundle": last});
    assert_eq!(api(&http, &n3, "PATCH", &path, Some(patch)).await.0, 200);
    let o = poll_until(
        Duration::from_secs(5),
        || offer(&http, &n2),
        |o| o["version"] == last.as_str(),
    )
    .await;
    assert_eq!(o["version"], last.as_str());
}

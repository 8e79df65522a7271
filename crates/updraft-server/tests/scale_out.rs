//! Several nodes on one PostgreSQL database and one S3-compatible bucket
//! (Garage on 127.0.0.1, started here): removals ordered across nodes by
//! holds in the database, downloads redirected to the bucket, and health
//! probes that tell liveness from readiness.

use std::time::Duration;

use serde_json::json;
use updraft_server::config::{Config, Downloads};
use updraft_test_support::*;

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A node's config over the shared database and bucket, with its own data
/// directory (kept in `dirs`).
fn node(base: &Config, dirs: &mut Vec<tempfile::TempDir>) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let mut c = base.clone();
    c.storage.data_dir = dir.path().to_path_buf();
    dirs.push(dir);
    c
}

/// A sweep on one node racing an upload of the same bytes on another never
/// removes the file the upload stored: every bundle an upload acknowledged
/// downloads whole afterwards, through both nodes. No grace, so each
/// deletion's sweep runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_on_one_node_never_removes_a_file_an_upload_on_another_stored() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let storage = Storage::new(Backend::Postgres).await;
    let mut base = storage.config();
    base.storage.s3 = Some(garage.settings.clone());
    base.storage.removal_grace = Duration::ZERO;
    let mut dirs = Vec::new();
    let a = Server::start_with(node(&base, &mut dirs)).await;
    let b = Server::start_with(node(&base, &mut dirs)).await;
    a.with_app().await;
    for round in 0..20 {
        let zip = bundle_zip(&format!("round {round}"));
        let file = format!("/files/{}.zip", sha(&zip));
        a.uploaded(&format!("1.{round}.0"), "", zip.clone()).await;
        let (old, new) = (
            format!("/apps/{APP}/bundles/1.{round}.0"),
            format!("2.{round}.0"),
        );
        let (deleted, uploaded) =
            tokio::join!(a.api("DELETE", &old, None), b.upload(&new, "", zip.clone()));
        assert_eq!(deleted.0, 204, "round {round}: {deleted:?}");
        assert_eq!(uploaded.0, 201, "round {round}: {uploaded:?}");
        // Once both nodes have swept, the stored file must be whole.
        a.swept().await;
        b.swept().await;
        for (name, n) in [("a", &a), ("b", &b)] {
            let res = n.http.get(n.url(&file)).send().await.unwrap();
            assert_eq!(
                res.status(),
                200,
                "round {round}: node {name} lost the file"
            );
            assert_eq!(sha(&res.bytes().await.unwrap()), sha(&zip), "round {round}");
        }
    }
    // Deleting the last user: the file goes, on both nodes' view.
    a.ok("DELETE", &format!("/apps/{APP}/bundles/2.3.0"), None)
        .await;
    let file = format!("/files/{}.zip", sha(&bundle_zip("round 3")));
    let st = poll_until(
        Duration::from_secs(10),
        || b.get_status(&file),
        |s| *s == 404,
    )
    .await;
    assert_eq!(st, 404, "an unused file is removed from the bucket");
}

/// Presigned redirects: the node answers a download with a 302 to a
/// signed URL of the bucket (never cached), which a plain HTTP client and
/// `updraft-device` follow to install the bundle; an unknown file is 404.
/// A public base URL gives a 302 under that URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_redirect_to_the_bucket_and_devices_install_through_them() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let storage = Storage::new(Backend::Postgres).await;
    let mut base = storage.config();
    let mut s3 = garage.settings.clone();
    s3.prefix = Some("prod".into());
    base.storage.s3 = Some(s3);
    base.storage.downloads = Downloads::Presign(Duration::from_secs(600));
    let mut dirs = Vec::new();
    let s = Server::start_with(node(&base, &mut dirs)).await;
    s.with_app().await;
    s.publish("1.0.1").await;

    let offer = s.check(json!({})).await;
    let url = offer["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&s.base), "the reply names the node: {url}");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    let endpoint = garage.settings.endpoint.clone().unwrap();
    assert!(to.starts_with(&endpoint), "{to}");
    assert!(
        to.contains("/prod/bundles/") && to.contains("X-Amz-Signature="),
        "{to}"
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    // Followed, it is the bundle.
    let zip = s.download(&url).await;
    assert_eq!(sha(&zip), offer["checksum"].as_str().unwrap());
    // A signed URL for another object is refused by the bucket.
    let forged = to.replace("/prod/bundles/", "/prod/bundles/0");
    assert_eq!(plain.get(&forged).send().await.unwrap().status(), 403);
    let missing = format!("/files/{}.zip", "0".repeat(64));
    assert_eq!(
        plain.get(s.url(&missing)).send().await.unwrap().status(),
        404
    );

    // updraft-device follows the redirect and installs.
    let dir = tempfile::tempdir().unwrap();
    let mut d = updraft_device::Device::open(s.device_config(dir.path())).unwrap();
    assert_eq!(
        d.update_cycle().await.unwrap(),
        updraft_device::Cycle::Installed("1.0.1".into())
    );
    assert_eq!(showing(&d), "<html>1.0.1</html>");

    // A public base URL (a CDN in front of the bucket): a cacheable 302
    // to the object's key under it.
    let mut public = node(&base, &mut dirs);
    public.storage.downloads = Downloads::Redirect("https://cdn.example.com/updraft".into());
    let p = Server::start_with(public).await;
    let res = plain.get(p.url(&url[s.base.len()..])).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let file = url.rsplit('/').next().unwrap();
    assert_eq!(
        res.headers()["location"],
        format!("https://cdn.example.com/updraft/prod/bundles/{file}").as_str()
    );
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
}

/// `/health/live` answers while the process runs; `/health/ready` only
/// while the database and the bucket answer, naming the one that does not;
/// `/health` keeps answering for the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_the_bucket() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let storage = Storage::new(Backend::Postgres).await;
    let mut base = storage.config();
    base.storage.s3 = Some(garage.settings.clone());
    let mut dirs = Vec::new();
    let s = Server::start_with(node(&base, &mut dirs)).await;
    let ready = s.get_json("/health/ready").await;
    assert_eq!(
        ready,
        json!({"status": "ok", "database": "ok", "storage": "ok"})
    );
    assert_eq!(s.get_json("/health/live").await, json!({"status": "ok"}));

    drop(garage); // the bucket goes away
                  // Once the last answer (reused for 2 s) is stale.
    let st = poll_until(
        Duration::from_secs(10),
        || s.get_status("/health/ready"),
        |st| *st == 503,
    )
    .await;
    assert_eq!(st, 503);
    let res = s.http.get(s.url("/health/ready")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "degraded", "database": "ok", "storage": "unavailable"})
    );
    assert_eq!(s.get_status("/health/live").await, 200);
    assert_eq!(s.get_status("/health").await, 200, "the database answers");
    // A download the bucket cannot serve is a 503 to retry, not a 500.
    s.with_app().await;
    let res = s
        .http
        .get(s.url(&format!("/files/{}.zip", "a".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
}

//! Manifest (delta) files for uploaded bundles, over HTTP: the server says
//! which files it lacks, stores each verified, gives an uploaded bundle a
//! manifest naming them, and sends it, with absolute URLs, to plugins that
//! read manifests; the files download as the bytes the manifest promises.

use serde_json::{json, Value};
use updraft_core::archive::FileEntry;
use updraft_core::crypto::sha256_hex;
use updraft_core::manifest::manifest_files;
use updraft_test_support::*;

async fn put_file(server: &Server, app: &str, sha: &str, body: Vec<u8>) -> (u16, Value) {
    let url = server.url(&format!("/api/v1/apps/{app}/files/{sha}"));
    let res = server
        .http
        .put(url)
        .bearer_auth(ADMIN)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn build() -> Vec<FileEntry> {
    let file = |path: &str, data: Vec<u8>| FileEntry {
        path: path.into(),
        data,
    };
    vec![
        file(
            "index.html",
            b"<html><script src=js/app.js></script></html>".to_vec(),
        ),
        file(
            "js/app.js",
            "CapacitorUpdater.notifyAppReady(); const a = 1;\n"
                .repeat(500)
                .into_bytes(),
        ),
        file("css/site.css", b"body { margin: 0 }".to_vec()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_bundle_is_served_as_a_manifest_of_stored_files() {
    let server = Server::start().await;
    server.with_app().await;
    let files = build();
    let zip = updraft_core::archive::build_zip(&files).unwrap();
    server.uploaded("1.0.1", "&channel=production", zip).await;
    let manifest = manifest_files(&files).unwrap();
    let shas: Vec<String> = manifest.iter().map(|f| sha256_hex(&f.body)).collect();

    // The server lacks them all, each named once.
    let mut asked = shas.clone();
    asked.push(shas[0].clone());
    let missing = server
        .ok(
            "POST",
            &format!("/apps/{APP}/files/missing"),
            Some(json!({"sha256": asked})),
        )
        .await;
    assert_eq!(missing["missing"], json!(shas));

    // A body that does not hash to its name is refused and not kept.
    let (status, v) = put_file(&server, APP, &shas[0], b"tampered".to_vec()).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("checksum_mismatch")),
        "{v}"
    );
    for (f, sha) in manifest.iter().zip(&shas) {
        let (status, v) = put_file(&server, APP, sha, f.body.clone()).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["size"], f.body.len());
    }
    let missing = server
        .ok(
            "POST",
            &format!("/apps/{APP}/files/missing"),
            Some(json!({"sha256": shas})),
        )
        .await;
    assert_eq!(missing["missing"], json!([]), "every file stored");

    let refs: Vec<Value> = manifest
        .iter()
        .zip(&shas)
        .map(|(f, sha)| json!({"file_name": f.file_name(), "file_hash": f.hash, "sha256": sha}))
        .collect();
    let path = format!("/apps/{APP}/bundles/1.0.1/manifest");
    let bundle = server.ok("PUT", &path, Some(json!({"files": refs}))).await;
    assert_eq!(bundle["manifest"].as_array().map(Vec::len), Some(3));
    server.ok("PUT", &path, Some(json!({"files": refs}))).await;
    let (status, v) = server
        .api("PUT", &path, Some(json!({"files": [refs[0].clone()]})))
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("conflict")),
        "{v}"
    );
    server.settle().await;

    // A plugin that reads manifests gets absolute URLs that serve the bytes.
    let reply = server.check(json!({})).await;
    assert_eq!(reply["version"], "1.0.1", "{reply}");
    let sent = reply["manifest"].as_array().expect("a manifest");
    assert_eq!(sent.len(), 3);
    for e in sent {
        let name = e["file_name"].as_str().unwrap();
        let f = manifest.iter().find(|f| f.file_name() == name).unwrap();
        assert_eq!(e["file_hash"], f.hash.as_str());
        let url = e["download_url"].as_str().unwrap();
        assert!(url.starts_with(&server.base), "{url}");
        let res = server.http.get(url).send().await.unwrap();
        assert_eq!(
            res.headers()["content-type"],
            "application/octet-stream",
            "opaque bytes, no content encoding"
        );
        assert!(res.headers().get("content-encoding").is_none());
        assert_eq!(res.bytes().await.unwrap().to_vec(), f.body, "{name}");
    }
    assert!(
        sent.iter().any(|e| e["file_name"] == "js/app.js.br"),
        "the large script is sent compressed: {reply}"
    );
    // The plugin asks what the entries it lacks weigh: the stored sizes,
    // by URL or, without one, by hash in the bundle it is offered.
    let mut asked: Vec<Value> = sent.clone();
    asked.push(json!({"file_name": "ext.js", "file_hash": "cd".repeat(32), "download_url": "https://cdn.example.com/ext.js"}));
    let by_hash = manifest.iter().find(|f| f.path == "index.html").unwrap();
    asked.push(json!({"file_name": "copy.html", "file_hash": by_hash.hash}));
    let (status, size) = server
        .device(
            "POST",
            "/updates/manifest_size",
            &info(json!({"version": "1.0.1", "manifest": asked})),
        )
        .await;
    assert_eq!(status, 200, "{size}");
    let total: usize = manifest.iter().map(|f| f.body.len()).sum::<usize>() + by_hash.body.len();
    assert_eq!(size["totalSize"], total, "{size}");
    assert_eq!(
        (&size["knownFiles"], &size["unknownFiles"]),
        (&json!(4), &json!(1)),
        "{size}"
    );
    let ext = size["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_name"] == "ext.js")
        .unwrap();
    assert_eq!(ext["error"], "size_unknown");
    assert!(ext.get("size").is_none());

    // A plugin too old for manifests gets the zip alone.
    let old = server.check(json!({"plugin_version": "5.9.0"})).await;
    assert!(old.get("manifest").is_none(), "{old}");
    assert!(old["url"].as_str().unwrap().ends_with(".zip"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_names_only_the_apps_own_stored_files() {
    let server = Server::start().await;
    server.with_app().await;
    server
        .ok(
            "POST",
            "/apps",
            Some(json!({"app_id": "com.example.other"})),
        )
        .await;
    server.uploaded("1.0.1", "", bundle_zip("1.0.1")).await;
    let body = b"console.log(1)".to_vec();
    let sha = sha256_hex(&body);
    let (status, _) = put_file(&server, "com.example.other", &sha, body.clone()).await;
    assert_eq!(status, 201);
    let missing = server
        .ok(
            "POST",
            &format!("/apps/{APP}/files/missing"),
            Some(json!({"sha256": [sha]})),
        )
        .await;
    assert_eq!(
        missing["missing"],
        json!([sha]),
        "another app's file is not this app's"
    );
    let entry = json!({"file_name": "a.js", "file_hash": sha, "sha256": sha});
    let path = format!("/apps/{APP}/bundles/1.0.1/manifest");
    let (status, v) = server
        .api("PUT", &path, Some(json!({"files": [entry]})))
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("upload it first"),
        "{v}"
    );

    for (bad, why) in [
        (
            json!({"file_name": "../a.js", "file_hash": sha, "sha256": sha}),
            "invalid_manifest",
        ),
        (
            json!({"file_name": "a.js", "file_hash": sha.to_uppercase(), "sha256": sha}),
            "invalid_manifest",
        ),
        (
            json!({"file_name": "a.js", "file_hash": sha, "sha256": "xyz"}),
            "invalid_sha256",
        ),
    ] {
        let (status, v) = server
            .api("PUT", &path, Some(json!({"files": [bad]})))
            .await;
        assert_eq!((status, v["error"].as_str()), (400, Some(why)), "{v}");
    }
    let twice = json!({"files": [
        {"file_name": "a.js", "file_hash": sha, "sha256": sha},
        {"file_name": "a.js.br", "file_hash": sha, "sha256": sha},
    ]});
    let (status, v) = server.api("PUT", &path, Some(twice)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_manifest")),
        "{v}"
    );
    for names in [
        vec!["a", "a/b.js"],
        vec!["dir/"],
        vec!["a//b.js"],
        vec!["./a.js"],
    ] {
        let files: Vec<Value> = names
            .iter()
            .map(|n| json!({"file_name": n, "file_hash": sha, "sha256": sha}))
            .collect();
        let (status, v) = server
            .api("PUT", &path, Some(json!({"files": files})))
            .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("invalid_manifest")),
            "{names:?}: {v}"
        );
    }
    // A manifest larger than the JSON limit (1 MiB) is read whole: it is
    // refused for what it names, not for its size.
    let many: Vec<Value> = (0..6_000)
        .map(|i| json!({"file_name": format!("js/chunk-{i:05}.js"), "file_hash": sha, "sha256": sha}))
        .collect();
    let big = json!({ "files": many });
    assert!(big.to_string().len() > 1 << 20);
    let (status, v) = server.api("PUT", &path, Some(big)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (status, _) = put_file(&server, APP, "not-a-hash", body).await;
    assert_eq!(status, 400);
    let bundle = server
        .ok("GET", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    assert_eq!(bundle["manifest"], json!([]), "nothing refused was kept");
}

/// Waits for the retention job's first run (it runs at start).
async fn first_retention_run(s: &Server) {
    let mut runs = s.retention_runs();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        runs.wait_for(|n| *n >= 1),
    )
    .await
    .expect("the retention job runs at start")
    .expect("the server runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_no_bundle_names_are_removed_after_a_day() {
    use updraft_server::clock::TestClock;
    let clock = TestClock::now();
    let mut s = Server::start_clocked(&clock).await;
    s.with_app().await;
    let (named, loose) = (b"<html>named</html>".to_vec(), b"loose".to_vec());
    s.uploaded("1.0.1", "", zip_of(&[("index.html", &named)]))
        .await;
    let (named_sha, loose_sha) = (sha256_hex(&named), sha256_hex(&loose));
    assert_eq!(put_file(&s, APP, &named_sha, named).await.0, 201);
    assert_eq!(put_file(&s, APP, &loose_sha, loose).await.0, 201);
    let entry = json!({"file_name": "index.html", "file_hash": named_sha, "sha256": named_sha});
    s.ok(
        "PUT",
        &format!("/apps/{APP}/bundles/1.0.1/manifest"),
        Some(json!({"files": [entry]})),
    )
    .await;

    // A day and an hour later: the loose file goes, the named one stays.
    clock.advance(25 * 3_600_000);
    s.restart().await;
    first_retention_run(&s).await;
    // Forgotten now; removed once the removal grace (an hour) is over.
    s.swept().await;
    assert_eq!(s.get_status(&format!("/files/{loose_sha}")).await, 200);
    clock.advance(61 * 60_000);
    s.swept().await;
    assert_eq!(s.get_status(&format!("/files/{loose_sha}")).await, 404);
    assert_eq!(s.get_status(&format!("/files/{named_sha}")).await, 200);
    let missing = s
        .ok(
            "POST",
            &format!("/apps/{APP}/files/missing"),
            Some(json!({"sha256": [loose_sha, named_sha]})),
        )
        .await;
    assert_eq!(missing["missing"], json!([loose_sha]));

    // Once its bundle is deleted, the named file goes a day after it was last touched.
    s.ok("DELETE", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    clock.advance(25 * 3_600_000);
    s.restart().await;
    first_retention_run(&s).await;
    clock.advance(61 * 60_000);
    s.swept().await;
    assert_eq!(s.get_status(&format!("/files/{named_sha}")).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_bundles_manifest_must_install_what_its_zip_does() {
    let server = Server::start().await;
    server.with_app().await;
    let files = build();
    server
        .uploaded(
            "1.0.1",
            "",
            updraft_core::archive::build_zip(&files).unwrap(),
        )
        .await;
    let manifest = manifest_files(&files).unwrap();
    let mut refs = Vec::new();
    for f in &manifest {
        let sha = sha256_hex(&f.body);
        assert_eq!(put_file(&server, APP, &sha, f.body.clone()).await.0, 201);
        refs.push(json!({"file_name": f.file_name(), "file_hash": f.hash, "sha256": sha}));
    }
    let path = format!("/apps/{APP}/bundles/1.0.1/manifest");
    let refused = |files: Vec<Value>, needle: &'static str| {
        let server = &server;
        let path = &path;
        async move {
            let (status, v) = server
                .api("PUT", path, Some(json!({ "files": files })))
                .await;
            assert_eq!(
                (status, v["error"].as_str()),
                (400, Some("manifest_mismatch")),
                "{v}"
            );
            assert!(
                v["message"].as_str().unwrap().contains(needle),
                "{needle}: {v}"
            );
        }
    };
    // A file of the zip left out.
    refused(refs[..2].to_vec(), "does not list").await;
    // A file the zip does not have.
    let mut extra = refs.clone();
    extra.push(json!({"file_name": "extra.js", "file_hash": refs[0]["file_hash"], "sha256": refs[0]["sha256"]}));
    refused(extra, "is not a file of bundle").await;
    // A hash other than the zip's.
    let mut wrong = refs.clone();
    wrong[0]["file_hash"] = json!("ab".repeat(32));
    refused(wrong, "the zip's file has").await;
    // Two entries whose stored files are swapped: hashes right, bytes wrong.
    let mut swapped = refs.clone();
    let plain: Vec<usize> = (0..swapped.len())
        .filter(|i| !swapped[*i]["file_name"].as_str().unwrap().ends_with(".br"))
        .collect();
    let (a, b) = (plain[0], plain[1]);
    let (sa, sb) = (swapped[a]["sha256"].clone(), swapped[b]["sha256"].clone());
    swapped[a]["sha256"] = sb;
    swapped[b]["sha256"] = sa;
    refused(swapped, "hash to").await;
    let bundle = server
        .ok("GET", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    assert_eq!(bundle["manifest"], json!([]), "nothing refused was kept");
    server
        .ok("PUT", &path, Some(json!({ "files": refs })))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_files_need_an_upload_key_of_the_app() {
    let server = Server::start().await;
    server.with_app().await;
    let body = json!({"sha256": ["ab".repeat(32)]});
    let path = format!("/apps/{APP}/files/missing");
    for (mode, apps, status) in [
        ("upload", json!([APP]), 200),
        ("read", json!([APP]), 403),
        ("upload", json!(["com.example.other"]), 403),
    ] {
        let k = server
            .ok(
                "POST",
                "/keys",
                Some(json!({"name": mode, "mode": mode, "apps": apps})),
            )
            .await;
        let key = k["secret"].as_str().unwrap();
        let (st, v) = server.api_as(key, "POST", &path, Some(body.clone())).await;
        assert_eq!(st, status, "{mode} {apps}: {v}");
    }
}

//! Encrypted bundles: the server refuses a checksum phones cannot verify,
//! checks bundles against the app's public key when it is given, and serves
//! each client the checksum form it verifies (native plugins the RSA block,
//! Capgo's Electron updater the AES form). Bundles no client of a kind could
//! install are answered as "no update" for that kind, never as a dead download.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use updraft_core::crypto::{seal_bundle, sha256_hex, PrivateKey, SessionKey};
use updraft_test_support::*;

const ELECTRON: &str = r#"{"platform": "electron", "plugin_version": "0.0.1", "custom_id": null}"#;

fn electron() -> Value {
    serde_json::from_str(ELECTRON).unwrap()
}

/// Uploads `body` with the query parameters given (URL-encoded).
async fn upload(s: &Server, params: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let res = s
        .http
        .post(s.url(&format!("/api/v1/apps/{APP}/bundles")))
        .query(params)
        .bearer_auth(ADMIN)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn key() -> PrivateKey {
    PrivateKey::generate(&mut rand::rngs::OsRng).unwrap()
}

#[tokio::test]
async fn encrypted_bundles_with_a_checksum_phones_cannot_verify_are_refused() {
    let s = Server::start().await;
    s.with_app().await;
    let private = key();
    let zip = zip_of(&[("index.html", b"v1")]);
    let sealed = seal_bundle(&private, &zip, &mut rand::rngs::OsRng).unwrap();

    // The plain SHA-256 with a session key: every Android/iOS device would fail.
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.1"),
            ("checksum", &sealed.plain_sha256),
            ("session_key", &sealed.session_key),
        ],
        sealed.ciphertext.clone(),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_checksum")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("bundle encrypt"),
        "{v}"
    );
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip",
                "checksum": sealed.plain_sha256, "session_key": sealed.session_key}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_checksum")),
        "{v}"
    );
    // A base64 block of the wrong size is refused as well.
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip",
                "checksum": B64.encode([1u8; 128]), "session_key": sealed.session_key}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_checksum")),
        "{v}"
    );
    // Nothing was stored.
    let (st, _) = s
        .api("GET", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    assert_eq!(st, 404);

    // With the public key, a bundle signed by another key is refused.
    let other = key().public_key().to_pem();
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.1"),
            ("checksum", &sealed.checksum),
            ("session_key", &sealed.session_key),
            ("public_key", &other),
        ],
        sealed.ciphertext.clone(),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("key_mismatch")),
        "{v}"
    );

    // With the key, the upload is decrypted as a device will: a damaged one
    // (or a checksum of another zip) is refused.
    let mut damaged = sealed.ciphertext.clone();
    damaged[20] ^= 1;
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.1"),
            ("checksum", &sealed.checksum),
            ("session_key", &sealed.session_key),
            ("public_key", &private.public_key().to_pem()),
        ],
        damaged,
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("checksum_mismatch")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("checksum_fail"),
        "{v}"
    );
    let (st, _) = s
        .api("GET", &format!("/apps/{APP}/bundles/1.0.1"), None)
        .await;
    assert_eq!(st, 404);

    // The base64 form of the RSA block is what the plugin also reads: accepted.
    let b64 = B64.encode(hex::decode(&sealed.checksum).unwrap());
    let v = s
        .ok(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip",
                "checksum": b64, "session_key": sealed.session_key,
                "public_key": private.public_key().to_pem()}),
            ),
        )
        .await;
    assert_eq!(v["checksum"], b64.as_str());
    assert_eq!(v["key_id"], private.public_key().key_id().as_str());
}

#[tokio::test]
async fn each_client_gets_the_checksum_form_it_verifies() {
    let s = Server::start().await;
    s.with_app().await;
    let private = key();
    let public = private.public_key();
    let zip = zip_of(&[("index.html", b"v1")]);
    let sealed = seal_bundle(&private, &zip, &mut rand::rngs::OsRng).unwrap();
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.1"),
            ("checksum", &sealed.checksum),
            ("session_key", &sealed.session_key),
            ("public_key", &public.to_pem()),
        ],
        sealed.ciphertext.clone(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;

    // Native: the RSA block, unchanged.
    let native = s.check(json!({})).await;
    assert_eq!(native["checksum"], sealed.checksum.as_str());
    assert!(native.get("sessionKey").is_none());

    // Electron: AES-decrypting the checksum with the session key gives the
    // SHA-256 of the file it downloads (still encrypted).
    let e = s.check(electron()).await;
    assert_eq!(e["version"], "1.0.1", "{e}");
    assert_eq!(e["sessionKey"], sealed.session_key.as_str());
    let served = s.download(e["url"].as_str().unwrap()).await;
    let sk = SessionKey::open(&sealed.session_key, &public).unwrap();
    let opened = sk
        .decrypt(&B64.decode(e["checksum"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(opened).unwrap(), sha256_hex(&served));

    // An external bundle registered with the encrypted zip's hash: the same.
    let enc_sha = sha256_hex(&sealed.ciphertext);
    s.ok(
        "POST",
        &format!("/apps/{APP}/bundles/external"),
        Some(
            json!({"version": "1.0.2", "external_url": "https://cdn.example.com/b.zip",
            "checksum": sealed.checksum, "session_key": sealed.session_key,
            "public_key": public.to_pem(), "encrypted_sha256": enc_sha}),
        ),
    )
    .await;
    s.set_channel("production", json!({"bundle": "1.0.2"}))
        .await;
    let e = s.check(electron()).await;
    assert_eq!(e["url"], "https://cdn.example.com/b.zip", "{e}");
    let opened = sk
        .decrypt(&B64.decode(e["checksum"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(opened).unwrap(), enc_sha);
    assert_eq!(
        s.check(json!({})).await["checksum"],
        sealed.checksum.as_str()
    );

    // The hash of the encrypted zip needs the public key to be of any use.
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.3", "external_url": "https://cdn.example.com/b.zip",
                "checksum": sealed.checksum, "session_key": sealed.session_key,
                "encrypted_sha256": enc_sha}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("missing_public_key")),
        "{v}"
    );

    // Without the public key no Electron form exists: Electron is told "no
    // update" (blocked, no URL), never handed a download that must fail; native
    // devices still get the bundle.
    s.ok(
        "POST",
        &format!("/apps/{APP}/bundles/external"),
        Some(
            json!({"version": "1.0.3", "external_url": "https://cdn.example.com/b.zip",
            "checksum": sealed.checksum, "session_key": sealed.session_key}),
        ),
    )
    .await;
    s.set_channel("production", json!({"bundle": "1.0.3"}))
        .await;
    let e = s.check(electron()).await;
    assert_eq!(e["error"], "electron_checksum_unavailable", "{e}");
    assert_eq!(e["kind"], "blocked");
    assert!(e.get("url").is_none());
    assert_eq!(s.check(json!({})).await["version"], "1.0.3");

    // Unencrypted bundles: the plain SHA-256 for everyone.
    let plain = s.bundle("1.0.4").await;
    s.set_channel("production", json!({"bundle": "1.0.4"}))
        .await;
    assert_eq!(s.check(electron()).await["checksum"], plain["checksum"]);
}

#[tokio::test]
async fn manifest_only_bundles_are_not_offered_to_clients_without_manifests() {
    let mut s = Server::start().await;
    s.with_app().await;
    let manifest = json!([{"file_name": "index.html", "file_hash": "ab".repeat(32),
        "download_url": "https://cdn.example.com/files/index.html"}]);
    s.ok(
        "POST",
        &format!("/apps/{APP}/bundles/external"),
        Some(json!({"version": "1.0.1", "manifest": manifest, "checksum": "cd".repeat(32)})),
    )
    .await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;

    // Current plugins get the manifest (with a parseable placeholder url).
    let v = s.check(json!({})).await;
    assert_eq!(v["version"], "1.0.1", "{v}");
    assert_eq!(v["manifest"], manifest);

    // Electron (0.0.1) and plugins too old for manifests: "no update", no URL.
    for who in [
        electron(),
        json!({"plugin_version": "6.20.0"}),
        json!({"plugin_version": "7.0.10"}),
    ] {
        let v = s.check(who.clone()).await;
        assert_eq!(v["error"], "manifest_not_supported", "{who}: {v}");
        assert_eq!(v["kind"], "blocked");
        assert!(v.get("url").is_none(), "{v}");
        assert!(v["message"].as_str().unwrap().contains("1.0.1"));
    }
    s.restart().await; // stopping flushes the offer counts
                       // Nothing was offered to them: only the one real offer is counted.
    let offers = s.ok("GET", &format!("/apps/{APP}/offers"), None).await;
    let total: i64 = offers
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1, "{offers}");
}

#[tokio::test]
async fn the_apps_public_key_checks_every_encrypted_bundle() {
    let s = Server::start().await;
    s.with_app().await;
    let private = key();
    let public = private.public_key();
    let (st, v) = s
        .api(
            "PATCH",
            &format!("/apps/{APP}"),
            Some(
                json!({"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_public_key")),
        "{v}"
    );
    let app = s
        .ok(
            "PATCH",
            &format!("/apps/{APP}"),
            Some(json!({"public_key": public.to_pem()})),
        )
        .await;
    assert_eq!(app["public_key"], public.to_pem().as_str());

    // Signed by another key: refused, though the upload sends no key itself.
    let zip = zip_of(&[("index.html", b"v1")]);
    let theirs = seal_bundle(&key(), &zip, &mut rand::rngs::OsRng).unwrap();
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.1"),
            ("checksum", &theirs.checksum),
            ("session_key", &theirs.session_key),
        ],
        theirs.ciphertext.clone(),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("key_mismatch")),
        "{v}"
    );
    // Sending a key other than the app's is refused too.
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip",
                "checksum": theirs.checksum, "session_key": theirs.session_key,
                "public_key": key().public_key().to_pem()}),
            ),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("key_mismatch")),
        "{v}"
    );

    // Ours, registered with only the encrypted zip's hash: Electron is served.
    let ours = seal_bundle(&private, &zip, &mut rand::rngs::OsRng).unwrap();
    let enc_sha = sha256_hex(&ours.ciphertext);
    let b = s
        .ok(
            "POST",
            &format!("/apps/{APP}/bundles/external"),
            Some(
                json!({"version": "1.0.1", "external_url": "https://cdn.example.com/b.zip",
                "checksum": ours.checksum, "session_key": ours.session_key,
                "encrypted_sha256": enc_sha}),
            ),
        )
        .await;
    assert_eq!(b["key_id"], public.key_id().as_str());
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let e = s.check(electron()).await;
    let sk = SessionKey::open(&ours.session_key, &public).unwrap();
    let opened = sk
        .decrypt(&B64.decode(e["checksum"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(opened).unwrap(), enc_sha);

    // A bundle stored before the server knew the key: once the app has it,
    // Electron is served too (the stored file is the encrypted zip).
    s.ok(
        "PATCH",
        &format!("/apps/{APP}"),
        Some(json!({"public_key": ""})),
    )
    .await;
    let old = seal_bundle(&private, &zip, &mut rand::rngs::OsRng).unwrap();
    let (st, v) = upload(
        &s,
        &[
            ("version", "1.0.2"),
            ("checksum", &old.checksum),
            ("session_key", &old.session_key),
        ],
        old.ciphertext.clone(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert!(v["bundle"]["electron_checksum"].is_null(), "{v}");
    s.set_channel("production", json!({"bundle": "1.0.2"}))
        .await;
    assert_eq!(
        s.check(electron()).await["error"],
        "electron_checksum_unavailable"
    );
    s.ok(
        "PATCH",
        &format!("/apps/{APP}"),
        Some(json!({"public_key": public.to_pem()})),
    )
    .await;
    let e = s.check(electron()).await;
    let sk = SessionKey::open(&old.session_key, &public).unwrap();
    let opened = sk
        .decrypt(&B64.decode(e["checksum"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(opened).unwrap(),
        sha256_hex(&old.ciphertext)
    );

    // "" removes the key.
    let app = s
        .ok(
            "PATCH",
            &format!("/apps/{APP}"),
            Some(json!({"public_key": ""})),
        )
        .await;
    assert!(app["public_key"].is_null(), "{app}");
}

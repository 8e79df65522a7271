//! An encrypted bundle (a `session_key`) must come with the checksum form
//! phones verify: an RSA block of the app's key, 256 bytes, as hex (or base64
//! when not pure hex). A plain 64-hex SHA-256 makes every phone fail in
//! `decryptChecksum` and report `download_fail` for the bundle it runs; the
//! device does the same, without downloading and without installing.

use base64::Engine as _;
use serde_json::json;
use updraft_core::crypto::{seal_bundle, PrivateKey};
use updraft_device::{Cycle, Device};
use updraft_test_support::fake::{Fake, Reply};
use updraft_test_support::{bundle_zip, showing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_bundle_with_a_plain_checksum_is_refused() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let private = PrivateKey::generate(&mut rand::rngs::OsRng).unwrap();
    let mut cfg = fake.device_config(dir.path());
    cfg.public_key = Some(private.public_key().to_pem());
    let mut d = Device::open(cfg).unwrap();
    let zip = bundle_zip("2.0.0");
    let sealed = seal_bundle(&private, &zip, &mut rand::rngs::OsRng).unwrap();
    fake.serve(sealed.ciphertext.clone());
    let offer = |checksum: &str| {
        Reply::json(
            200,
            json!({"version": "2.0.0", "url": fake.bundle_url(), "checksum": checksum, "session_key": sealed.session_key}),
        )
    };

    let block = hex::decode(&sealed.checksum).unwrap();
    for bad in [
        sealed.plain_sha256.clone(), // what Capgo's cloud accepts and phones refuse
        sealed.plain_sha256.to_uppercase(),
        hex::encode(&block[..128]), // a 128-byte block
        base64::engine::general_purpose::STANDARD.encode(&block[..255]),
        "not a checksum".into(),
    ] {
        fake.set_updates(offer(&bad));
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::Failed("download_fail".into()),
            "{bad}"
        );
        let last = d.queued_stats().last().unwrap().clone();
        assert_eq!(last["action"], "download_fail", "{bad}");
        assert_eq!(last["version_name"], "1.0.0", "the bundle the device runs");
        assert_eq!(d.current_version(), "1.0.0");
        assert!(d.list().is_empty(), "{bad}: {:?}", d.list());
    }
    assert_eq!(fake.file_gets(), 0, "refused before downloading");

    // The form phones verify installs, as hex and as base64.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&block);
    fake.set_updates(offer(&b64));
    assert_eq!(
        d.update_cycle().await.unwrap(),
        Cycle::Installed("2.0.0".into())
    );
    assert_eq!(showing(&d), "<html>2.0.0</html>");
}

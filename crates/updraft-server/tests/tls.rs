//! Built-in TLS (`--tls-cert` / `--tls-key`): the server answers HTTPS with the
//! given certificate, and a bad certificate path is a clear startup error.

use updraft_server::config::Layer;
use updraft_test_support::{config, ADMIN};

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut c = config(&dir.path().join("data"));
    c.tls.cert = Some(cert_path.clone());
    c.tls.key = Some(key_path.clone());
    c.limits.header_timeout = std::time::Duration::from_secs(1);
    let running = updraft_server::open_and_start(c).await.unwrap();
    let addr = running.addr;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let health: serde_json::Value = client
        .get(format!("https://localhost:{}/health", addr.port()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let (status, apps) = {
        let res = client
            .get(format!("https://localhost:{}/api/v1/apps", addr.port()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    assert_eq!((status, apps.as_str()), (200, "[]"));
    // Plain HTTP to the TLS port does not get an answer.
    let plain = reqwest::get(format!("http://{addr}/health")).await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));
    // A connection that never starts its handshake is closed by the header timeout.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut idle, &mut buf),
    )
    .await;
    assert!(read.is_ok(), "the idle TLS connection was kept open");
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    running.stop().await.unwrap();

    // A missing certificate is refused when the configuration is read, not at
    // the first connection, and the error names the file.
    let err = tls_layer(dir.path(), &dir.path().join("missing.pem"), &key_path)
        .resolve()
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("cannot read the TLS certificate file"),
        "{err}"
    );
    assert!(err.contains("missing.pem"), "{err}");
    // A file that is there but holds no certificate still fails at start.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let bad = tls_layer(dir.path(), &garbage, &key_path)
        .resolve()
        .unwrap();
    let err = match updraft_server::open_and_start(bad).await {
        Ok(_) => panic!("a certificate that is not one must not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("garbage.pem"), "{err}");
}

/// Listening on a free port with data under `dir` and the given TLS files.
fn tls_layer(dir: &std::path::Path, cert: &std::path::Path, key: &std::path::Path) -> Layer {
    let s = |p: &std::path::Path| p.display().to_string();
    Layer::from_toml(
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = {:?}\n[tls]\ncert = {:?}\nkey = {:?}\n",
            s(&dir.join("data")),
            s(cert),
            s(key)
        ),
        "tls test",
    )
    .unwrap()
}

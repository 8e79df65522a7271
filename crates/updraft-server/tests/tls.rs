//! Built-in TLS (`--tls-cert` / `--tls-key`): the server answers HTTPS with the
//! given certificate, and a bad certificate path is a clear startup error.

mod common;

use updraft_server::config::Layer;

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let config = Layer {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        bootstrap_api_key: Some(common::ADMIN.into()),
        tls_cert: Some(cert_path.clone()),
        tls_key: Some(key_path.clone()),
        header_timeout_secs: Some(1),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let running = updraft_server::open_and_start(config).await.unwrap();
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
            .bearer_auth(common::ADMIN)
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

    let bad = Layer {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data2")),
        tls_cert: Some(dir.path().join("missing.pem")),
        tls_key: Some(key_path),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let err = match updraft_server::open_and_start(bad).await {
        Ok(_) => panic!("a missing certificate must not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("missing.pem"), "{err}");
}

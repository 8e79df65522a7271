//! The ceiling for `bench/`: a minimal axum (hyper) server that reads the body
//! and returns a fixed JSON reply, with no decision, no validation, no writes.
//! Usage: bench_ceiling ADDR:PORT

use axum::body::Bytes;
use axum::routing::post;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let app = axum::Router::new().route(
        "/updates",
        post(|body: Bytes| async move {
            let _ = body.len();
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                r#"{"version":"1.0.99","url":"https://cdn.example.com/99.zip","checksum":"63","session_key":""}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}

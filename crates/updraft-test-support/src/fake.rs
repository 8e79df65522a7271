//! A scriptable stand-in for the updates server, for device tests: each route
//! answers what the test last set (status, content type, raw body), and the
//! bundle file counts how often it was fetched.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// One scripted reply.
#[derive(Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with `v` as a JSON body.
    // By value: every caller writes a `json!` literal in place.
    #[allow(clippy::needless_pass_by_value)]
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }

    /// `status` with `body` as it is, of `content_type`.
    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Reply {
        Reply {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        }
    }
}

/// The running fake: `/updates`, `/channel_self`, `/stats` and `/bundle.zip`.
#[derive(Clone)]
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    updates: Arc<Mutex<Reply>>,
    channel: Arc<Mutex<Reply>>,
    file: Arc<Mutex<Vec<u8>>>,
    file_gets: Arc<Mutex<usize>>,
}

fn answer(r: &Reply) -> Response {
    (
        StatusCode::from_u16(r.status).expect("a valid status"),
        [(header::CONTENT_TYPE, r.content_type)],
        r.body.clone(),
    )
        .into_response()
}

async fn updates(State(f): State<Fake>) -> Response {
    answer(&f.updates.lock().unwrap())
}

async fn channel(State(f): State<Fake>) -> Response {
    answer(&f.channel.lock().unwrap())
}

async fn file(State(f): State<Fake>) -> Response {
    *f.file_gets.lock().unwrap() += 1;
    f.file.lock().unwrap().clone().into_response()
}

async fn stats() -> Response {
    answer(&Reply::json(200, serde_json::json!({"status": "ok"})))
}

impl Fake {
    /// Serves on 127.0.0.1 at a free port until the runtime ends; every
    /// route answers `{}` until scripted.
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let fake = Fake {
            base: format!("http://{}", listener.local_addr().expect("a bound address")),
            updates: Arc::new(Mutex::new(Reply::json(200, serde_json::json!({})))),
            channel: Arc::new(Mutex::new(Reply::json(200, serde_json::json!({})))),
            file: Arc::default(),
            file_gets: Arc::default(),
        };
        let app = Router::new()
            .route("/updates", post(updates))
            .route("/channel_self", post(channel).put(channel))
            .route("/bundle.zip", get(file))
            .route("/stats", post(stats))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
        fake
    }

    /// What `POST /updates` answers from now on.
    pub fn set_updates(&self, r: Reply) {
        *self.updates.lock().unwrap() = r;
    }

    /// What `/channel_self` answers from now on.
    pub fn set_channel(&self, r: Reply) {
        *self.channel.lock().unwrap() = r;
    }

    /// Serves `data` at `{base}/bundle.zip`.
    pub fn serve(&self, data: Vec<u8>) {
        *self.file.lock().unwrap() = data;
    }

    /// The URL [`Fake::serve`] serves at.
    pub fn bundle_url(&self) -> String {
        format!("{}/bundle.zip", self.base)
    }

    /// How often the bundle file was fetched.
    pub fn file_gets(&self) -> usize {
        *self.file_gets.lock().unwrap()
    }

    /// A device config pointing at this server.
    pub fn device_config(&self, dir: &std::path::Path) -> updraft_device::DeviceConfig {
        updraft_device::DeviceConfig::new(dir, &self.base, "com.example.fake")
    }
}

//! A scriptable stand-in server: each route answers what the test last set
//! (status, content type, raw body), and counts what it was asked.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// One scripted reply.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Reply {
        Reply {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        }
    }
}

#[derive(Clone)]
pub struct Fake {
    pub base: String,
    pub updates: Arc<Mutex<Reply>>,
    pub channel: Arc<Mutex<Reply>>,
    pub file: Arc<Mutex<Vec<u8>>>,
    pub file_gets: Arc<Mutex<usize>>,
}

fn answer(r: &Reply) -> Response {
    (
        StatusCode::from_u16(r.status).unwrap(),
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
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            base: format!("http://{}", listener.local_addr().unwrap()),
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
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn set_updates(&self, r: Reply) {
        *self.updates.lock().unwrap() = r;
    }

    pub fn set_channel(&self, r: Reply) {
        *self.channel.lock().unwrap() = r;
    }

    /// Serves `data` at `{base}/bundle.zip`.
    pub fn serve(&self, data: Vec<u8>) {
        *self.file.lock().unwrap() = data;
    }

    pub fn bundle_url(&self) -> String {
        format!("{}/bundle.zip", self.base)
    }

    pub fn file_gets(&self) -> usize {
        *self.file_gets.lock().unwrap()
    }

    /// A device config pointing at this server.
    pub fn config(&self, dir: &std::path::Path) -> updraft_device::DeviceConfig {
        updraft_device::DeviceConfig::new(dir, &self.base, "com.example.fake")
    }
}

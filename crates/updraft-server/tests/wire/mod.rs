//! Device calls that keep every part of the reply a client reads: the
//! status, chosen headers and the body, with the server's address written
//! `{base}` so replies compare across runs. Used by `reply_shapes.rs`.

#![allow(dead_code)]

use serde_json::{json, Map, Value};

use updraft_test_support::Server;

/// Headers of a JSON reply a client reads.
pub(crate) const JSON_HEADERS: &[&str] = &["content-type", "retry-after", "allow"];

/// Headers of a bundle file reply a client reads.
pub(crate) const FILE_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-range",
    "etag",
    "accept-ranges",
    "cache-control",
];

/// One request: method, path (with its query), raw body, extra headers.
pub(crate) struct Call<'a> {
    method: &'a str,
    path: String,
    body: Option<String>,
    headers: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: &'a str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub(crate) fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.into());
        self
    }

    pub(crate) fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Sends `call` and returns `{status, headers, body}` with the server's address
/// written `{base}`. A body that is not JSON is described by its length.
pub(crate) async fn send(s: &Server, call: Call<'_>, header_names: &[&str]) -> Value {
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
    let mut req = s.http.request(method, s.url(&call.path));
    for (name, value) in &call.headers {
        req = req.header(*name, value);
    }
    if let Some(body) = call.body {
        req = req.body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let mut headers = Map::new();
    for name in header_names {
        if let Some(v) = res.headers().get(*name) {
            headers.insert((*name).into(), v.to_str().unwrap().into());
        }
    }
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(format!("<{} bytes>", bytes.len())))
    };
    let reply = json!({"status": status, "headers": headers, "body": body});
    replace_text(reply, &s.base, "{base}")
}

/// A JSON reply.
pub(crate) async fn reply(s: &Server, call: Call<'_>) -> Value {
    send(s, call, JSON_HEADERS).await
}

/// Every string in `v` with `from` replaced by `to`.
pub(crate) fn replace_text(v: Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(t) => Value::String(t.replace(from, to)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| replace_text(x, from, to)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, replace_text(x, from, to)))
                .collect(),
        ),
        other => other,
    }
}

/// `v` with the value at every `pointer` that is not null replaced by `to`.
pub(crate) fn redact(mut v: Value, pointers: &[&str], to: &str) -> Value {
    for p in pointers {
        if let Some(x) = v.pointer_mut(p).filter(|x| !x.is_null()) {
            *x = to.into();
        }
    }
    v
}

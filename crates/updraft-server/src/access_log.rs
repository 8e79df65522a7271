//! The request log. A management request (anything but a device endpoint)
//! gets one line at info: method, path (never the query string), status,
//! latency, app id, request id and, for an error, the envelope's code (and
//! for an internal error its cause, at error level); API keys and the
//! `Authorization` header are never logged. Requests for unknown paths or
//! with a method the path does not serve (405), refused ones (401, 403) and
//! any other 4xx reply to a request without a valid API key are limited per
//! minute ([`crate::log_budget`]): a client with no key cannot flood the log.
//! Device endpoints would flood the log from a fleet, so they are counted in
//! [`Traffic`] and summarised once a minute; only their error replies get a
//! line (with app id, device id, request id, code and cause), within the
//! budget of device error lines. A soft error at 200 (Capgo's
//! `simpleError200`, or a check that cannot be served, such as `no_channel`)
//! counts as one. Every device request is logged at debug
//! (`RUST_LOG=info,updraft_server=debug`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, Method};
use axum::response::{IntoResponse, Response};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use tracing::instrument::Instrumented;
use tracing::{Instrument, Level, Span};

use crate::error::{ApiError, ErrorCause, ErrorCode};
use crate::log_budget::Verdict;
use crate::traffic::{DeviceEndpoint, Traffic};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest path, request id, app id or device id a log line repeats.
const MAX_SHOWN: usize = 200;

/// Milliseconds, from microseconds, for log fields.
pub(crate) fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// At most [`MAX_SHOWN`] characters of a client-supplied string, with
/// anything but printable ASCII replaced: a log line is one line.
/// Where inbound hooks are called; the rest of such a path is a token.
const HOOK_PREFIX: &str = "/api/v1/hooks/";

fn shown(s: &str) -> String {
    // A hook's token is its URL's secret half: never written to the log.
    if s.starts_with(HOOK_PREFIX) {
        return format!("{HOOK_PREFIX}(token)");
    }
    s.chars()
        .take(MAX_SHOWN)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// The app and device a failed device request named, kept on the reply (a
/// response extension) for its log line. Read from the request again only
/// when the request failed, so a successful check pays nothing for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceIds {
    pub(crate) app_id: Option<String>,
    pub(crate) device_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct Ids<'a> {
    #[serde(borrow, default)]
    app_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    device_id: Option<std::borrow::Cow<'a, str>>,
}

impl From<Ids<'_>> for DeviceIds {
    fn from(i: Ids<'_>) -> Self {
        DeviceIds {
            app_id: i.app_id.map(|a| shown(&a)),
            device_id: i.device_id.map(|d| shown(&d)),
        }
    }
}

/// A device body's ids: of the object, or of an array's first object (a
/// `/stats` batch comes from one device). Whatever does not parse has none.
struct FirstIds<'a>(Ids<'a>);

impl<'de> Deserialize<'de> for FirstIds<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstIds<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ids::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(FirstIds)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Ids>()?.unwrap_or_default();
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstIds(first))
            }
        }
        d.deserialize_any(V)
    }
}

impl DeviceIds {
    /// The ids in a JSON body, if it names them.
    pub(crate) fn from_body(body: &[u8]) -> Self {
        serde_json::from_slice::<FirstIds>(body)
            .map(|f| f.0.into())
            .unwrap_or_default()
    }

    /// The ids in a query string's parameters.
    pub(crate) fn from_query(q: &std::collections::HashMap<String, String>) -> Self {
        DeviceIds {
            app_id: q.get("app_id").map(|a| shown(a)),
            device_id: q.get("device_id").map(|d| shown(d)),
        }
    }
}

/// A device endpoint's reply. An error reply (or a soft one at 200 that
/// carries an [`ErrorCode`]) carries the request's ids for its log line; a
/// successful one only when the debug line will be written.
pub(crate) fn device_reply(
    reply: Result<Response, ApiError>,
    ids: impl FnOnce() -> DeviceIds,
) -> Response {
    match reply {
        Ok(mut res) => {
            if res.extensions().get::<ErrorCode>().is_some() || tracing::enabled!(Level::DEBUG) {
                res.extensions_mut().insert(ids());
            }
            res
        }
        Err(e) => {
            let mut res = e.into_response();
            res.extensions_mut().insert(ids());
            res
        }
    }
}

/// The app id in a management path (`/api/v1/apps/{app_id}/…`).
fn app_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/apps/")?;
    let app = rest.split('/').next()?;
    (!app.is_empty()).then_some(app)
}

/// What a request's log line needs once the reply is there.
enum Pending {
    Api {
        method: Method,
        path: String,
        /// The route template that serves it (`None`: no route does).
        route: Option<String>,
        checked: KeyChecked,
    },
    Device {
        endpoint: DeviceEndpoint,
        method: Method,
        path: Option<String>,
    },
}

/// Logs and counts every request (a tower layer, outside the request-id
/// propagation so the reply carries its id).
#[derive(Clone)]
pub(crate) struct AccessLogLayer(pub Arc<Traffic>);

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;
    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            traffic: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AccessLog<S> {
    inner: S,
    traffic: Arc<Traffic>,
}

impl<S> tower::Service<Request> for AccessLog<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        let (span, pending) = match DeviceEndpoint::of(req.uri().path()) {
            Some(endpoint) => {
                // The path is copied only when the debug line will be written.
                let (span, path) = if tracing::enabled!(Level::DEBUG) {
                    let path = shown(req.uri().path());
                    let span = tracing::debug_span!("request", method = %method, path = %path);
                    (span, Some(path))
                } else {
                    (Span::none(), None)
                };
                let pending = Pending::Device {
                    endpoint,
                    method,
                    path,
                };
                (span, pending)
            }
            None => {
                let path = shown(req.uri().path());
                let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok());
                let span = tracing::info_span!("request", method = %method, path = %path, request_id = id.map(shown));
                let checked = KeyChecked::default();
                req.extensions_mut().insert(checked.clone());
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|m| m.as_str().to_string());
                let pending = Pending::Api {
                    method,
                    path,
                    route,
                    checked,
                };
                (span, pending)
            }
        };
        Logged {
            inner: self.inner.call(req).instrument(span),
            start,
            pending: Some(pending),
            traffic: self.traffic.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The reply future of [`AccessLog`]: logs once the reply is there.
    pub(crate) struct Logged<F> {
        #[pin]
        inner: Instrumented<F>,
        start: Instant,
        pending: Option<Pending>,
        traffic: Arc<Traffic>,
    }
}

impl<F, E> Future for Logged<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        if let (Ok(res), Some(pending)) = (&out, this.pending.take()) {
            record(this.traffic, pending, res, this.start.elapsed());
        }
        Poll::Ready(out)
    }
}

/// The fallback's reply carries this (a response extension): a request for
/// a path no route serves, logged within [`Traffic::unknown_paths`]' budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoRoute;

/// A management request's note that its API key was checked and is valid (a
/// request extension this layer adds and [`crate::auth::Auth`] marks): a 4xx
/// reply to a request without one is limited like a refused one, whatever
/// the route did first (the router's 405, a rejected path or body).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyChecked(Arc<AtomicBool>);

impl KeyChecked {
    /// Notes that the request presented a valid API key.
    pub(crate) fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_valid(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Writes one request line at the level its status calls for: error when the
/// reply carries an internal cause, warn for another 5xx, info otherwise.
macro_rules! line {
    ($status:expr, $cause:expr, $($field:tt)+) => {
        if $cause.is_some() {
            tracing::error!($($field)+)
        } else if $status >= 500 {
            tracing::warn!($($field)+)
        } else {
            tracing::info!($($field)+)
        }
    };
}

fn record(traffic: &Traffic, pending: Pending, res: &Response, latency: Duration) {
    let status = res.status().as_u16();
    let latency_ms = millis(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    let request_id = || {
        res.headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(shown)
    };
    let error = res.extensions().get::<ErrorCode>().map(|c| &*c.0);
    // Looked up only for a line that may carry it: a successful check pays nothing.
    let cause = || res.extensions().get::<ErrorCause>().map(|c| &*c.0);
    match pending {
        Pending::Api {
            method,
            path,
            route,
            checked,
        } => {
            // A path no route serves, or a method it does not: one label.
            let unmatched = res.extensions().get::<NoRoute>().is_some() || status == 405;
            let route = route
                .as_deref()
                .filter(|_| !unmatched)
                .unwrap_or("unmatched");
            traffic.metrics.api(method.as_str(), route, status, latency);
            let app_id = app_in_path(&path);
            let verdict = if res.extensions().get::<NoRoute>().is_some() || status == 405 {
                traffic.unknown_paths.admit(method.as_str(), &path)
            } else if status == 401
                || status == 403
                || (res.status().is_client_error() && !checked.is_valid())
            {
                traffic.refused.admit(&path, error.unwrap_or("-"))
            } else {
                Verdict::Log
            };
            let more = match verdict {
                Verdict::Suppress => return,
                Verdict::LogLast(more) => Some(more),
                Verdict::Log => None,
            };
            let cause = cause();
            line!(status, cause, method = %method, path = %path, status, latency_ms, app_id, request_id = request_id(), error, cause, more, "api request");
        }
        Pending::Device {
            endpoint,
            method,
            path,
        } => {
            let soft_error = status < 400 && error.is_some();
            traffic.count(endpoint, status, soft_error, latency);
            let path = path.as_deref().unwrap_or(endpoint.name());
            let ids = res.extensions().get::<DeviceIds>();
            let app_id = ids.and_then(|i| i.app_id.as_deref());
            let device_id = ids.and_then(|i| i.device_id.as_deref());
            if status < 400 && error.is_none() {
                tracing::debug!(method = %method, path = %path, status, latency_ms, app_id, device_id, request_id = request_id(), "device request");
                return;
            }
            let code = error.unwrap_or("-");
            let cause = cause();
            let more = match traffic.device_errors.admit(app_id.unwrap_or(""), code) {
                Verdict::Suppress => {
                    tracing::debug!(method = %method, path = %path, status, latency_ms, app_id, device_id, request_id = request_id(), error, cause, "device request failed");
                    return;
                }
                Verdict::LogLast(more) => Some(more),
                Verdict::Log => None,
            };
            line!(status, cause, method = %method, path = %path, status, latency_ms, app_id, device_id, request_id = request_id(), error, cause, more, "device request failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_come_from_an_object_or_a_batch_and_never_break_a_line() {
        let one = DeviceIds::from_body(br#"{"app_id":"com.a","device_id":"d-1","x":[1,2]}"#);
        assert_eq!(
            (one.app_id.as_deref(), one.device_id.as_deref()),
            (Some("com.a"), Some("d-1"))
        );
        let batch = DeviceIds::from_body(
            br#"[{"device_id":"d-2","app_id":"com.b"},{"app_id":"com.c"},"junk"]"#,
        );
        assert_eq!(batch.app_id.as_deref(), Some("com.b"));
        assert_eq!(batch.device_id.as_deref(), Some("d-2"));
        let evil = DeviceIds::from_body(br#"{"app_id":"a\nFAKE LINE \u001b[31m"}"#);
        assert_eq!(evil.app_id.as_deref(), Some("a?FAKE?LINE??[31m"));
        let long = format!(r#"{{"app_id":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(
            DeviceIds::from_body(long.as_bytes()).app_id.unwrap().len(),
            MAX_SHOWN
        );
        for junk in [&b"not json"[..], b"{\"app_id\":5}", b"[]", b""] {
            assert!(DeviceIds::from_body(junk).app_id.is_none());
        }
    }

    #[test]
    fn paths_are_split_into_device_endpoints_and_the_rest() {
        assert_eq!(
            DeviceEndpoint::of("/updates"),
            Some(DeviceEndpoint::Updates)
        );
        assert_eq!(
            DeviceEndpoint::of("/files/ab.zip"),
            Some(DeviceEndpoint::Files)
        );
        for api in ["/api/v1/apps", "/device", "/", "/updates/", "/favicon.ico"] {
            assert_eq!(DeviceEndpoint::of(api), None, "{api}");
        }
        assert_eq!(app_in_path("/api/v1/apps/com.a/bundles"), Some("com.a"));
        assert_eq!(app_in_path("/api/v1/apps/com.a"), Some("com.a"));
        assert_eq!(app_in_path("/api/v1/apps"), None);
        assert_eq!(app_in_path("/api/v1/keys/3"), None);
    }
}

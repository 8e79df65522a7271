//! Prometheus metrics, served at `/metrics` in the Prometheus text format
//! (optionally behind a bearer token: `[metrics] token`).
//!
//! What moves with each request is kept in `prometheus-client` metrics: the
//! device endpoints' counters and latency histograms are created once at
//! start and held, so a device request pays for atomic additions only (no
//! label lookup); management requests are labelled by their route template.
//! What is a state rather than an event (the write queue, the snapshots,
//! the rollouts) is read when the metrics are scraped ([`State`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::traffic::DeviceEndpoint;

/// Latency buckets (seconds): 0.5 ms to 10 s.
const LATENCY: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status classes, as the labels name them.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn class_of(status: u16) -> usize {
    usize::from((status / 100).clamp(1, 5) - 1)
}

fn latency() -> Histogram {
    Histogram::new(LATENCY)
}

/// A latency histogram of atomics, for the device endpoints: observing takes
/// no lock (`prometheus-client`'s histogram takes a mutex per observation,
/// which every `/updates` would contend for).
#[derive(Debug, Default)]
struct AtomicLatency {
    /// Per bucket of [`LATENCY`], then the open one above it; their sum is
    /// the count (one counter less, and never out of step with them).
    buckets: [AtomicU64; LATENCY.len() + 1],
    /// Nanoseconds.
    sum_ns: AtomicU64,
}

impl AtomicLatency {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = LATENCY
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY.len());
        self.buckets[i].fetch_add(1, Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Relaxed);
    }
}

/// The histograms of the device endpoints, encoded as one family.
#[derive(Debug, Default)]
struct DeviceLatency(Vec<(&'static str, AtomicLatency)>);

impl EncodeMetric for DeviceLatency {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        for (endpoint, h) in &self.0 {
            let mut buckets: Vec<(f64, u64)> = LATENCY
                .iter()
                .zip(&h.buckets)
                .map(|(b, n)| (*b, n.load(Relaxed)))
                .collect();
            buckets.push((f64::INFINITY, h.buckets[LATENCY.len()].load(Relaxed)));
            let count = buckets.iter().map(|(_, n)| n).sum();
            #[allow(clippy::cast_precision_loss, reason = "a sum of latencies, in seconds")]
            let sum = h.sum_ns.load(Relaxed) as f64 / 1e9;
            encoder
                .encode_family(&EndpointLabel { endpoint })?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                sum, count, &buckets, None,
            )?;
        }
        Ok(())
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

/// The registry's handle on the device histograms the requests update.
#[derive(Debug)]
struct SharedLatency(Arc<DeviceLatency>);

impl EncodeMetric for SharedLatency {
    fn encode(
        &self,
        encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        self.0.metric_type()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    endpoint: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// A request method as a label: the standard ones, `other` for the rest
/// (a client may send any token as a method; labels must stay few).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplyLabel {
    reply: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// How `/updates` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A bundle to download (zip or manifest).
    Update,
    /// Back to the builtin bundle.
    Builtin,
    /// Nothing new (`kind: up_to_date`).
    UpToDate,
    /// A policy kept the device where it is (`kind: blocked`).
    Blocked,
    /// The check cannot be served (`kind: failed`).
    Failed,
}

impl Reply {
    const ALL: [Reply; 5] = [
        Reply::Update,
        Reply::Builtin,
        Reply::UpToDate,
        Reply::Blocked,
        Reply::Failed,
    ];

    fn name(self) -> &'static str {
        match self {
            Reply::Update => "update",
            Reply::Builtin => "builtin",
            Reply::UpToDate => "up_to_date",
            Reply::Blocked => "blocked",
            Reply::Failed => "failed",
        }
    }
}

/// The metrics of one server.
pub(crate) struct Metrics {
    registry: Registry,
    /// Per device endpoint, by status class.
    device: Vec<[Counter; 5]>,
    device_latency: Arc<DeviceLatency>,
    api: Family<ApiLabels, Counter>,
    api_latency: Family<RouteLabels, Histogram>,
    replies: [Counter; 5],
    /// Stats events stored, by the plugin's action (`other` for the rest).
    actions: std::collections::HashMap<&'static str, Counter>,
    other_action: Counter,
    /// Webhook attempts by outcome: delivered, retry, failed, gone.
    webhooks: [Counter; 4],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Metrics {
    /// The metrics, with `state` read at each scrape when given.
    pub(crate) fn new(state: Option<State>) -> Self {
        let mut registry = Registry::with_prefix("updraft");
        let device_family = Family::<DeviceLabels, Counter>::default();
        let device = DeviceEndpoint::ALL
            .iter()
            .map(|e| {
                std::array::from_fn(|i| {
                    device_family
                        .get_or_create(&DeviceLabels {
                            endpoint: e.name(),
                            status: CLASSES[i],
                        })
                        .clone()
                })
            })
            .collect();
        let device_latency = Arc::new(DeviceLatency(
            DeviceEndpoint::ALL
                .iter()
                .map(|e| (e.name(), AtomicLatency::default()))
                .collect(),
        ));
        registry.register(
            "device_requests",
            "Requests to the device endpoints, by endpoint and status class",
            device_family,
        );
        registry.register(
            "device_request_duration_seconds",
            "Time to answer a device endpoint",
            SharedLatency(device_latency.clone()),
        );
        let api = Family::<ApiLabels, Counter>::default();
        let api_latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "api_requests",
            "Management API and other requests, by method, route template and status class",
            api.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "Time to answer a management API (or other) request",
            api_latency.clone(),
        );
        let reply_family = Family::<ReplyLabel, Counter>::default();
        let replies = std::array::from_fn(|i| {
            reply_family
                .get_or_create(&ReplyLabel {
                    reply: Reply::ALL[i].name(),
                })
                .clone()
        });
        registry.register(
            "update_replies",
            "Answers to update checks: update (a bundle offered), builtin, up_to_date, blocked, failed",
            reply_family,
        );
        let action_family = Family::<ActionLabel, Counter>::default();
        let actions = updraft_protocol::device::KNOWN_STATS_ACTIONS
            .iter()
            .map(|a| {
                (
                    *a,
                    action_family
                        .get_or_create(&ActionLabel { action: a })
                        .clone(),
                )
            })
            .collect();
        let other_action = action_family
            .get_or_create(&ActionLabel { action: "other" })
            .clone();
        registry.register(
            "stats_events",
            "Stats events accepted, by the plugin's action (other: any action the plugin does not send)",
            action_family,
        );
        let webhook_family = Family::<OutcomeLabel, Counter>::default();
        let webhooks = ["delivered", "retry", "failed", "gone"].map(|outcome| {
            webhook_family
                .get_or_create(&OutcomeLabel { outcome })
                .clone()
        });
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (retry: failed and queued again; failed: given up; gone: the receiver answered 410)",
            webhook_family,
        );
        if let Some(state) = state {
            registry.register_collector(Box::new(state));
        }
        Self {
            registry,
            device,
            device_latency,
            api,
            api_latency,
            replies,
            actions,
            other_action,
            webhooks,
        }
    }

    /// A webhook delivery attempt ended as `a`.
    pub(crate) fn webhook(&self, a: &updraft_store::Attempt) {
        use updraft_store::Attempt;
        let i = match a {
            Attempt::Delivered { .. } => 0,
            Attempt::Failed {
                retry_at: Some(_), ..
            } => 1,
            Attempt::Failed { retry_at: None, .. } => 2,
            Attempt::Gone => 3,
        };
        self.webhooks[i].inc();
    }

    /// A device endpoint answered `status` after `took`.
    pub(crate) fn device(&self, endpoint: DeviceEndpoint, status: u16, took: Duration) {
        let i = DeviceEndpoint::ALL
            .iter()
            .position(|e| *e == endpoint)
            .unwrap_or(0);
        self.device[i][class_of(status)].inc();
        if let Some((_, h)) = self.device_latency.0.get(i) {
            h.observe(took);
        }
    }

    /// Another request, on `route` (the route template; `unmatched` when no
    /// route serves it), answered `status` after `took`. Labels stay few:
    /// routes are the route table's, methods the standard ones or `other`.
    pub(crate) fn api(&self, method: &str, route: &str, status: u16, took: Duration) {
        let method = method_label(method);
        self.api
            .get_or_create(&ApiLabels {
                method,
                route: route.to_string(),
                status: CLASSES[class_of(status)],
            })
            .inc();
        self.api_latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// `/updates` answered with `reply`.
    pub(crate) fn reply(&self, reply: Reply) {
        let i = Reply::ALL.iter().position(|r| *r == reply).unwrap_or(0);
        self.replies[i].inc();
    }

    /// The counter of stats events with `action` (`other` for an action
    /// the plugin does not send).
    pub(crate) fn action_counter(&self, action: &str) -> &Counter {
        self.actions.get(action).unwrap_or(&self.other_action)
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// `GET /metrics`: the metrics in the Prometheus text format; with
/// `[metrics] token` set, only for `Authorization: Bearer <token>` (compared
/// in constant time).
pub(crate) async fn serve(
    axum::extract::State(s): axum::extract::State<crate::state::AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use subtle::ConstantTimeEq;
    if let Some(token) = &s.config.metrics.token {
        // The scheme is case-insensitive (RFC 7235).
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t);
        // Hashed first: equal lengths, so the comparison says nothing of the token's.
        let (a, b) = (
            updraft_core::crypto::sha256_hex(given.trim().as_bytes()),
            updraft_core::crypto::sha256_hex(token.expose().as_bytes()),
        );
        if !bool::from(a.as_bytes().ct_eq(b.as_bytes())) {
            return crate::error::ApiError::unauthorized(
                "invalid_metrics_token",
                "/metrics needs Authorization: Bearer <the [metrics] token>",
            )
            .into_response();
        }
    }
    // Encoding reads every family under its lock: off the async threads.
    let traffic = s.traffic.clone();
    match tokio::task::spawn_blocking(move || traffic.metrics.render()).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => crate::error::ApiError::internal("metrics encoding", e).into_response(),
    }
}

/// What is read at each scrape: the write queue, the snapshots, the rollouts.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) writer: crate::writer::Writer,
    pub(crate) snapshots: Arc<crate::snapshot::Snapshots>,
}

impl Collector for State {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (writes, bytes) = self.writer.depth();
        gauge(
            &mut encoder,
            "write_queue_writes",
            "Telemetry writes waiting to be stored",
            writes,
        )?;
        gauge(
            &mut encoder,
            "write_queue_bytes",
            "Bytes the queued telemetry writes hold",
            bytes,
        )?;
        counter(
            &mut encoder,
            "writes_queued",
            "Telemetry writes queued since start",
            self.writer.queued(),
        )?;
        counter(
            &mut encoder,
            "snapshot_loads",
            "App snapshots loaded from the database (first use, or after a change)",
            self.snapshots.loads(),
        )?;
        gauge(
            &mut encoder,
            "snapshot_apps",
            "Apps whose snapshot this node holds",
            self.snapshots.len(),
        )?;
        let (running, paused) = self.snapshots.rollouts();
        let family = encoder.encode_descriptor(
            "rollouts",
            "Active rollouts in the snapshots this node holds, by state",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        let mut family = family;
        for (state, n) in [("running", running), ("paused", paused)] {
            #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
            struct StateLabel {
                state: &'static str,
            }
            let labels = StateLabel { state };
            ConstGauge::new(to_i64(n)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: usize,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(to_i64(v));
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_latencies_land_in_cumulative_buckets_with_their_sum() {
        let m = Metrics::default();
        for us in [300, 2_000, 20_000_000] {
            m.device(DeviceEndpoint::Updates, 200, Duration::from_micros(us));
        }
        m.device(DeviceEndpoint::Stats, 503, Duration::from_millis(1));
        let text = m.render();
        for line in [
            r#"updraft_device_request_duration_seconds_bucket{endpoint="/updates",le="0.0005"} 1"#,
            r#"updraft_device_request_duration_seconds_bucket{endpoint="/updates",le="0.0025"} 2"#,
            r#"updraft_device_request_duration_seconds_bucket{endpoint="/updates",le="10"} 2"#,
            r#"updraft_device_request_duration_seconds_bucket{endpoint="/updates",le="+Inf"} 3"#,
            r#"updraft_device_request_duration_seconds_count{endpoint="/updates"} 3"#,
            r#"updraft_device_requests_total{endpoint="/updates",status="2xx"} 3"#,
            r#"updraft_device_requests_total{endpoint="/stats",status="5xx"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    r#"updraft_device_request_duration_seconds_sum{endpoint="/updates"} "#,
                )
            })
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 20.0023).abs() < 1e-9, "{sum}");
        // Methods are labelled from a fixed set, whatever a client sends.
        for method in ["GET", "BREW", "X-VERY-LONG-METHOD"] {
            m.api(method, "unmatched", 404, Duration::from_millis(1));
        }
        let text = m.render();
        assert!(
            text.contains(r#"method="other""#) && !text.contains("BREW"),
            "{text}"
        );
    }
}

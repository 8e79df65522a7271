//! Device traffic in numbers, for the request log ([`crate::access_log`]):
//! per device endpoint, replies by status class (soft errors at 200 apart) and
//! a latency histogram, all atomic counters (no lock and no allocation on a
//! successful request); and the budgets of log lines ([`crate::log_budget`]),
//! which only the replies they limit touch. [`Traffic::log_summary`] drains
//! both, once a minute and at shutdown.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::log_budget::{DeviceErrorBudget, KindBudget, Suppressed};

/// How often the summary is logged (and the log line budgets renewed).
pub(crate) const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// The endpoints a fleet calls, counted and summarised instead of logged one
/// line each. `/health` and `/metrics` are counted with them: a load balancer
/// probes the one, a Prometheus server scrapes the other, every few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceEndpoint {
    Updates,
    Stats,
    ChannelSelf,
    Ok,
    Files,
    Health,
    ManifestSize,
    Metrics,
}

impl DeviceEndpoint {
    pub(crate) const ALL: [DeviceEndpoint; 8] = [
        Self::Updates,
        Self::ManifestSize,
        Self::Stats,
        Self::ChannelSelf,
        Self::Ok,
        Self::Files,
        Self::Health,
        Self::Metrics,
    ];

    /// The endpoint a request path belongs to, if it is one of these.
    pub(crate) fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/updates" => Self::Updates,
            "/updates/manifest_size" => Self::ManifestSize,
            "/stats" => Self::Stats,
            "/channel_self" => Self::ChannelSelf,
            "/ok" => Self::Ok,
            "/health" | "/health/live" | "/health/ready" => Self::Health,
            "/metrics" => Self::Metrics,
            p if p.starts_with("/files/") => Self::Files,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Updates => "/updates",
            Self::ManifestSize => "/updates/manifest_size",
            Self::Stats => "/stats",
            Self::ChannelSelf => "/channel_self",
            Self::Ok => "/ok",
            Self::Files => "/files",
            Self::Health => "/health",
            Self::Metrics => "/metrics",
        }
    }
}

/// Latency buckets: exact below 8 µs, then 8 per power of two (at most 12.5 %
/// wide) up to 2^35 µs (about 9.5 hours), the last one open-ended.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = 272;

fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return usize::try_from(micros).unwrap_or(BUCKETS - 1);
    }
    let exp = 63 - micros.leading_zeros(); // at least SUB_BITS
    let mantissa = (micros >> (exp - SUB_BITS)) & (SUB - 1);
    let i = u64::from(exp - SUB_BITS + 1) * SUB + mantissa;
    usize::try_from(i).map_or(BUCKETS - 1, |i| i.min(BUCKETS - 1))
}

/// The largest latency (µs) bucket `i` holds.
fn bucket_max(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    ((SUB + i % SUB + 1) << shift) - 1
}

/// One summary period of one endpoint, taken out of the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointSummary {
    pub(crate) endpoint: DeviceEndpoint,
    /// Replies by status class: 1xx, 2xx, 3xx, 4xx, 5xx; soft errors are
    /// not in 2xx.
    pub(crate) by_class: [u64; 5],
    /// Replies at 200 the plugin treats as errors (`no_channel`, Capgo's
    /// `simpleError200`).
    pub(crate) soft_errors: u64,
    /// Latency quantiles in µs (an upper bound, at most 12.5 % above the real one).
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
}

impl EndpointSummary {
    pub(crate) fn requests(&self) -> u64 {
        self.by_class.iter().sum::<u64>() + self.soft_errors
    }
}

struct Counts {
    by_class: [AtomicU64; 5],
    soft_errors: AtomicU64,
    latency: Box<[AtomicU64]>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            by_class: Default::default(),
            soft_errors: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Counts {
    fn take(&self, endpoint: DeviceEndpoint) -> EndpointSummary {
        let by_class = std::array::from_fn(|i| self.by_class[i].swap(0, Relaxed));
        let latency: Vec<u64> = self.latency.iter().map(|b| b.swap(0, Relaxed)).collect();
        EndpointSummary {
            endpoint,
            by_class,
            soft_errors: self.soft_errors.swap(0, Relaxed),
            p50_us: quantile(&latency, 0.50),
            p99_us: quantile(&latency, 0.99),
        }
    }
}

/// The `q` quantile of a histogram (the bucket's upper bound); 0 when empty.
fn quantile(buckets: &[u64], q: f64) -> u64 {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return 0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "q is a quantile in 0..=1, so the rank is within 0..=total"
    )]
    let rank = ((total as f64 * q).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bucket_max(i);
        }
    }
    bucket_max(buckets.len() - 1)
}

/// Counters of the device endpoints and the budgets of log lines.
pub(crate) struct Traffic {
    counts: [Counts; DeviceEndpoint::ALL.len()],
    /// Error replies (and soft errors) of device endpoints.
    pub(crate) device_errors: DeviceErrorBudget,
    /// Requests for a path no route serves, or with a method it does not (405).
    pub(crate) unknown_paths: KindBudget,
    /// Management requests refused with 401 or 403, or with another 4xx
    /// without a valid API key.
    pub(crate) refused: KindBudget,
    period_start: Mutex<Instant>,
    /// The cumulative metrics `/metrics` serves.
    pub(crate) metrics: crate::prometheus::Metrics,
}

impl Default for Traffic {
    fn default() -> Self {
        Self::with_metrics(crate::prometheus::Metrics::default())
    }
}

impl Traffic {
    /// Counters feeding `metrics` as well.
    pub(crate) fn with_metrics(metrics: crate::prometheus::Metrics) -> Self {
        Self {
            metrics,
            counts: Default::default(),
            device_errors: DeviceErrorBudget::default(),
            unknown_paths: KindBudget::new(
                "unknown_paths",
                "further requests for unknown paths or methods (404, 405) are counted in the next summary, not logged",
            ),
            refused: KindBudget::new(
                "refused",
                "further refused management requests (401, 403, or any 4xx without a valid key) are counted in the next summary, not logged",
            ),
            period_start: Mutex::new(Instant::now()),
        }
    }
}

/// One summary period: the endpoints that had traffic, what each budget
/// suppressed, and the period's length.
#[derive(Debug)]
pub(crate) struct Period {
    pub(crate) endpoints: Vec<EndpointSummary>,
    pub(crate) suppressed: Vec<Suppressed>,
    pub(crate) length: Duration,
}

impl Traffic {
    /// Counts one reply (lock-free); `soft_error` is a reply below 400 the
    /// plugin treats as an error.
    pub(crate) fn count(
        &self,
        endpoint: DeviceEndpoint,
        status: u16,
        soft_error: bool,
        latency: Duration,
    ) {
        self.metrics.device(endpoint, status, latency);
        let c = &self.counts[endpoint as usize];
        if soft_error {
            c.soft_errors.fetch_add(1, Relaxed);
        } else {
            let class = usize::from(status / 100).clamp(1, 5) - 1;
            c.by_class[class].fetch_add(1, Relaxed);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        c.latency[bucket(micros)].fetch_add(1, Relaxed);
    }

    /// Ends the period; the counters and budgets start afresh.
    pub(crate) fn take(&self) -> Period {
        let endpoints = DeviceEndpoint::ALL
            .iter()
            .map(|&e| self.counts[e as usize].take(e))
            .filter(|s| s.requests() > 0)
            .collect();
        let suppressed = [&self.unknown_paths, &self.refused]
            .into_iter()
            .map(KindBudget::take)
            .chain([self.device_errors.take()])
            .flatten()
            .collect();
        let mut start = self
            .period_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let length = start.elapsed();
        *start = Instant::now();
        Period {
            endpoints,
            suppressed,
            length,
        }
    }

    /// Logs the period's summary at info: one line per endpoint that had
    /// traffic, one per budget that suppressed lines; then starts the next period.
    pub(crate) fn log_summary(&self) {
        let Period {
            endpoints,
            suppressed,
            length,
        } = self.take();
        let period_s = length.as_secs();
        for e in &endpoints {
            tracing::info!(
                endpoint = %e.endpoint.name(),
                requests = e.requests(),
                status_2xx = e.by_class[1],
                soft_errors = e.soft_errors,
                status_3xx = e.by_class[2],
                status_4xx = e.by_class[3],
                status_5xx = e.by_class[4],
                p50_ms = crate::access_log::millis(e.p50_us),
                p99_ms = crate::access_log::millis(e.p99_us),
                period_s,
                "device traffic"
            );
        }
        for s in &suppressed {
            tracing::info!(
                lines = s.kind,
                suppressed = s.count,
                top = %s.top_shown(),
                period_s,
                "log lines counted but not written"
            );
        }
    }

    /// Logs the summary every [`SUMMARY_EVERY`] until aborted.
    pub(crate) fn spawn_summaries(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let traffic = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SUMMARY_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate
            loop {
                tick.tick().await;
                traffic.log_summary();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_hold_their_values() {
        for v in [
            0,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            999,
            1000,
            4321,
            1 << 20,
            123_456_789,
        ] {
            let b = bucket(v);
            assert!(
                bucket_max(b) >= v,
                "{v} in bucket {b} (max {})",
                bucket_max(b)
            );
            assert!(
                b == 0 || bucket_max(b - 1) < v,
                "{v} belongs to an earlier bucket"
            );
            assert!(
                bucket_max(b) as f64 <= v as f64 * 1.125 + 1.0,
                "{v}: bucket too wide"
            );
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn the_summary_counts_status_classes_and_quantiles_then_starts_afresh() {
        let t = Traffic::default();
        for _ in 0..96 {
            t.count(
                DeviceEndpoint::Updates,
                200,
                false,
                Duration::from_micros(500),
            );
        }
        for _ in 0..2 {
            t.count(
                DeviceEndpoint::Updates,
                200,
                true,
                Duration::from_micros(500),
            );
        }
        t.count(
            DeviceEndpoint::Updates,
            429,
            false,
            Duration::from_micros(500),
        );
        t.count(
            DeviceEndpoint::Updates,
            500,
            false,
            Duration::from_millis(40),
        );
        t.count(DeviceEndpoint::Files, 206, false, Duration::from_millis(3));
        let endpoints = t.take().endpoints;
        assert_eq!(endpoints.len(), 2, "endpoints without traffic are left out");
        let u = &endpoints[0];
        assert_eq!(u.endpoint, DeviceEndpoint::Updates);
        assert_eq!(u.by_class, [0, 96, 0, 1, 1], "soft errors are not 2xx");
        assert_eq!(u.soft_errors, 2);
        assert_eq!(u.requests(), 100);
        assert!((500..=563).contains(&u.p50_us), "{}", u.p50_us);
        assert!(
            (500..=563).contains(&u.p99_us),
            "p99 of 100 is the 99th: {}",
            u.p99_us
        );
        assert_eq!(endpoints[1].by_class, [0, 1, 0, 0, 0]);
        assert!(t.take().endpoints.is_empty(), "the counters were reset");
    }
}

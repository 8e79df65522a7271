//! Device traffic in numbers, for the request log ([`crate::access_log`]):
//! per device endpoint, replies by status class and a latency histogram, all
//! atomic counters (no lock and no allocation on a successful request); and
//! the budget of error lines per app and error code, which only error replies
//! touch. [`Traffic::log_summary`] drains both, once a minute and at shutdown.

use std::collections::hash_map::{Entry, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often the summary is logged (and the error-line budget renewed).
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Error lines logged per app and error code in one summary period; the rest
/// are counted and reported by the summary.
pub const LINES_PER_KEY: u32 = 10;

/// Distinct (app, error code) pairs remembered per period: made-up app ids
/// cannot grow the budget without bound. Past it, errors are only counted.
const MAX_KEYS: usize = 4096;

/// Shards of the budget, so error replies on different apps rarely share a lock.
const SHARDS: usize = 16;

/// The endpoints a fleet calls, counted and summarised instead of logged one
/// line each. `/health` is counted with them: a load balancer probes it every
/// few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEndpoint {
    Updates,
    Stats,
    ChannelSelf,
    Ok,
    Files,
    Health,
}

impl DeviceEndpoint {
    pub const ALL: [DeviceEndpoint; 6] = [
        Self::Updates,
        Self::Stats,
        Self::ChannelSelf,
        Self::Ok,
        Self::Files,
        Self::Health,
    ];

    /// The endpoint a request path belongs to, if it is one of these.
    pub fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/updates" => Self::Updates,
            "/stats" => Self::Stats,
            "/channel_self" => Self::ChannelSelf,
            "/ok" => Self::Ok,
            "/health" => Self::Health,
            p if p.starts_with("/files/") => Self::Files,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Updates => "/updates",
            Self::Stats => "/stats",
            Self::ChannelSelf => "/channel_self",
            Self::Ok => "/ok",
            Self::Files => "/files",
            Self::Health => "/health",
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
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros(); // at least SUB_BITS
    let mantissa = (micros >> (exp - SUB_BITS)) & (SUB - 1);
    (u64::from(exp - SUB_BITS + 1) * SUB + mantissa).min(BUCKETS as u64 - 1) as usize
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
pub struct EndpointSummary {
    pub endpoint: DeviceEndpoint,
    /// Replies by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub by_class: [u64; 5],
    /// Latency quantiles in µs (an upper bound, at most 12.5 % above the real one).
    pub p50_us: u64,
    pub p99_us: u64,
}

impl EndpointSummary {
    pub fn requests(&self) -> u64 {
        self.by_class.iter().sum()
    }
}

struct Counts {
    by_class: [AtomicU64; 5],
    latency: Box<[AtomicU64]>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            by_class: Default::default(),
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

/// Whether an error reply gets its own log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Log,
    /// Log it, and say that further ones are only counted this period.
    LogLast,
    Suppress,
}

struct Slot {
    app: Box<str>,
    code: Box<str>,
    logged: u32,
    suppressed: u64,
}

/// Error replies that were counted instead of logged, for one app and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub app_id: Box<str>,
    pub code: Box<str>,
    pub count: u64,
}

/// Counters of the device endpoints and the error-line budget.
pub struct Traffic {
    counts: [Counts; DeviceEndpoint::ALL.len()],
    hasher: RandomState,
    budget: [Mutex<HashMap<u64, Slot>>; SHARDS],
    /// Error replies not logged because the budget had no room for their key.
    overflow: AtomicU64,
    period_start: Mutex<Instant>,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            counts: Default::default(),
            hasher: RandomState::new(),
            budget: Default::default(),
            overflow: AtomicU64::new(0),
            period_start: Mutex::new(Instant::now()),
        }
    }
}

impl Traffic {
    /// Counts one reply (lock-free).
    pub fn count(&self, endpoint: DeviceEndpoint, status: u16, latency: Duration) {
        let c = &self.counts[endpoint as usize];
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        c.by_class[class].fetch_add(1, Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        c.latency[bucket(micros)].fetch_add(1, Relaxed);
    }

    /// Whether an error reply for `app_id` with `code` gets a line: the first
    /// [`LINES_PER_KEY`] of a period do, the rest are counted.
    pub fn admit_error(&self, app_id: &str, code: &str) -> Verdict {
        let key = self.hasher.hash_one((app_id, code));
        let shard = &self.budget[key as usize % SHARDS];
        let mut slots = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let full = slots.len() >= MAX_KEYS / SHARDS;
        let slot = match slots.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(_) if full => {
                self.overflow.fetch_add(1, Relaxed);
                return Verdict::Suppress;
            }
            Entry::Vacant(e) => e.insert(Slot {
                app: app_id.into(),
                code: code.into(),
                logged: 0,
                suppressed: 0,
            }),
        };
        if slot.logged < LINES_PER_KEY {
            slot.logged += 1;
            return if slot.logged == LINES_PER_KEY {
                Verdict::LogLast
            } else {
                Verdict::Log
            };
        }
        slot.suppressed += 1;
        Verdict::Suppress
    }

    /// Ends the period: the endpoints that had traffic, the errors that were
    /// only counted (and how many had no room in the budget at all), and the
    /// period's length. The budget starts afresh.
    pub fn take(&self) -> (Vec<EndpointSummary>, Vec<Suppressed>, u64, Duration) {
        let endpoints = DeviceEndpoint::ALL
            .iter()
            .map(|&e| self.counts[e as usize].take(e))
            .filter(|s| s.requests() > 0)
            .collect();
        let mut suppressed = Vec::new();
        for shard in &self.budget {
            let slots = std::mem::take(&mut *shard.lock().unwrap_or_else(PoisonError::into_inner));
            suppressed.extend(slots.into_values().filter(|s| s.suppressed > 0).map(|s| {
                Suppressed {
                    app_id: s.app,
                    code: s.code,
                    count: s.suppressed,
                }
            }));
        }
        suppressed.sort_by(|a, b| (&a.app_id, &a.code).cmp(&(&b.app_id, &b.code)));
        let overflow = self.overflow.swap(0, Relaxed);
        let mut start = self
            .period_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let period = start.elapsed();
        *start = Instant::now();
        (endpoints, suppressed, overflow, period)
    }

    /// Logs the period's summary at info (nothing when there was no device
    /// traffic) and starts the next period.
    pub fn log_summary(&self) {
        let (endpoints, suppressed, overflow, period) = self.take();
        let period_s = period.as_secs();
        for e in &endpoints {
            tracing::info!(
                endpoint = %e.endpoint.name(),
                requests = e.requests(),
                status_2xx = e.by_class[1],
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
                app_id = %s.app_id,
                error = %s.code,
                suppressed = s.count,
                period_s,
                "device errors counted but not logged one by one"
            );
        }
        if overflow > 0 {
            tracing::info!(
                suppressed = overflow,
                period_s,
                "device errors not logged: more than {MAX_KEYS} distinct apps and error codes in the period"
            );
        }
    }

    /// Logs the summary every [`SUMMARY_EVERY`] until aborted.
    pub fn spawn_summaries(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
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
        for _ in 0..98 {
            t.count(DeviceEndpoint::Updates, 200, Duration::from_micros(500));
        }
        t.count(DeviceEndpoint::Updates, 429, Duration::from_micros(500));
        t.count(DeviceEndpoint::Updates, 500, Duration::from_millis(40));
        t.count(DeviceEndpoint::Files, 206, Duration::from_millis(3));
        let (endpoints, _, _, _) = t.take();
        assert_eq!(endpoints.len(), 2, "endpoints without traffic are left out");
        let u = &endpoints[0];
        assert_eq!(u.endpoint, DeviceEndpoint::Updates);
        assert_eq!(u.by_class, [0, 98, 0, 1, 1]);
        assert!((500..=563).contains(&u.p50_us), "{}", u.p50_us);
        assert!(
            (500..=563).contains(&u.p99_us),
            "p99 of 100 is the 99th: {}",
            u.p99_us
        );
        assert_eq!(endpoints[1].by_class, [0, 1, 0, 0, 0]);
        assert!(t.take().0.is_empty(), "the counters were reset");
    }

    #[test]
    fn error_lines_are_budgeted_per_app_and_code() {
        let t = Traffic::default();
        let verdicts: Vec<Verdict> = (0..LINES_PER_KEY + 5)
            .map(|_| t.admit_error("com.a", "on_premise_app"))
            .collect();
        assert!(verdicts[..LINES_PER_KEY as usize - 1]
            .iter()
            .all(|v| *v == Verdict::Log));
        assert_eq!(verdicts[LINES_PER_KEY as usize - 1], Verdict::LogLast);
        assert!(verdicts[LINES_PER_KEY as usize..]
            .iter()
            .all(|v| *v == Verdict::Suppress));
        assert_eq!(t.admit_error("com.b", "on_premise_app"), Verdict::Log);
        assert_eq!(t.admit_error("com.a", "invalid_app_id"), Verdict::Log);
        let (_, suppressed, overflow, _) = t.take();
        assert_eq!(
            suppressed,
            vec![Suppressed {
                app_id: "com.a".into(),
                code: "on_premise_app".into(),
                count: 5
            }]
        );
        assert_eq!(overflow, 0);
        assert_eq!(
            t.admit_error("com.a", "on_premise_app"),
            Verdict::Log,
            "a new period has a new budget"
        );
    }

    #[test]
    fn made_up_app_ids_cannot_grow_the_budget_without_bound() {
        let t = Traffic::default();
        for i in 0..MAX_KEYS * 2 {
            t.admit_error(&format!("com.app{i}"), "on_premise_app");
        }
        let kept: usize = t.budget.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(kept <= MAX_KEYS, "{kept}");
        let (_, _, overflow, _) = t.take();
        assert!(overflow >= MAX_KEYS as u64, "{overflow}");
    }
}

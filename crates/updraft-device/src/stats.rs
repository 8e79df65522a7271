//! The stats queue, as the plugin keeps it: events are queued (at most 200,
//! oldest dropped), persisted so they survive a restart, and sent as one JSON
//! array. 429, 408, 5xx and network errors keep the batch for a retry (after
//! `Retry-After` when given); any other 4xx drops it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::repair::{move_aside, Repair};
use crate::store::write_atomic;

/// Most events kept, as in the plugin.
pub(crate) const MAX_QUEUED: usize = 200;

/// What a flush did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    /// Nothing was queued.
    Empty,
    /// The server took `n` events.
    Sent(usize),
    /// Kept for later (transient failure, or still inside a `Retry-After` wait).
    Retry,
    /// The server refused the batch with a non-retryable 4xx; `n` events dropped.
    Dropped(usize),
}

/// The persisted queue.
#[derive(Debug)]
pub(crate) struct StatsQueue {
    path: PathBuf,
    events: Vec<Value>,
    blocked_until: Option<Instant>,
}

impl StatsQueue {
    /// Loads the queue left by an earlier run. A file that cannot be read or
    /// is not a JSON array is moved aside (`*.corrupt`) and reported; the
    /// device starts with an empty queue.
    pub(crate) fn load(path: PathBuf) -> (Self, Option<Repair>) {
        let (events, repair) = match std::fs::read(&path) {
            Ok(b) => match serde_json::from_slice::<Vec<Value>>(&b) {
                Ok(events) => (events, None),
                Err(e) => (
                    Vec::new(),
                    Some(move_aside(
                        &path,
                        format!("not a JSON array of events: {e}"),
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
            Err(e) => (
                Vec::new(),
                Some(move_aside(&path, format!("cannot be read: {e}"))),
            ),
        };
        // Only objects are events; keep the newest MAX_QUEUED.
        let mut events: Vec<Value> = events.into_iter().filter(Value::is_object).collect();
        let extra = events.len().saturating_sub(MAX_QUEUED);
        events.drain(..extra);
        let queue = Self {
            path,
            events,
            blocked_until: None,
        };
        (queue, repair)
    }

    /// The queued events (oldest first).
    pub(crate) fn events(&self) -> &[Value] {
        &self.events
    }

    fn persist(&self) {
        let data = serde_json::to_vec(&self.events).expect("json serialises");
        let _ = write_atomic(&self.path, &data, &mut |_| Ok(()));
    }

    /// Queues one event.
    pub(crate) fn push(&mut self, event: Value) {
        self.events.push(event);
        if self.events.len() > MAX_QUEUED {
            let extra = self.events.len() - MAX_QUEUED;
            self.events.drain(..extra);
        }
        self.persist();
    }

    /// Sends the whole queue as one array.
    pub(crate) async fn flush(&mut self, http: &reqwest::Client, url: &str) -> Flush {
        if self.events.is_empty() {
            return Flush::Empty;
        }
        if url.is_empty() {
            self.events.clear();
            self.persist();
            return Flush::Empty;
        }
        if self.blocked_until.is_some_and(|t| Instant::now() < t) {
            return Flush::Retry;
        }
        let batch = self.events.len();
        let res = http.post(url).json(&self.events).send().await;
        let Ok(res) = res else {
            return Flush::Retry;
        };
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body_ok = res.bytes().await.is_ok_and(|b| !b.is_empty());
        match status {
            200..=299 if body_ok || status == 204 => {
                self.events.drain(..batch);
                self.persist();
                Flush::Sent(batch)
            }
            // An empty 2xx (other than 204) is a failure to iOS: kept and resent.
            200..=299 => Flush::Retry,
            408 | 429 | 500..=599 => {
                if let Some(s) = retry_after {
                    self.blocked_until =
                        Some(Instant::now() + Duration::from_secs(s.min(24 * 3600)));
                }
                Flush::Retry
            }
            _ => {
                self.events.drain(..batch);
                self.persist();
                Flush::Dropped(batch)
            }
        }
    }
}

//! How many lines the request log may write in one summary period (a
//! minute), so no client can flood it: error replies of device endpoints
//! (`DeviceErrorBudget`: [`LINES_PER_KEY`] per app and error code, at most
//! [`DEVICE_ERROR_LINES`] in all), requests for paths no route serves and
//! management requests refused with 401 or 403 (`KindBudget`:
//! [`LINES_PER_KIND`] each). The first lines of a period are written, so a
//! misconfigured client stays visible; the rest are counted, and the summary
//! names how many and the `TOP` pairs they came from. All state is bounded,
//! and only the replies these budgets are about ever touch it: a successful
//! device request never does.
//!
//! A period ends when `Traffic::take` drains the budgets
//! (once a minute, from the summary task), so tests end one by calling it
//! instead of waiting.

use std::collections::hash_map::{Entry, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

/// Error lines written per app and error code in one period.
pub const LINES_PER_KEY: u32 = 10;

/// Device error lines written in one period, whatever their app and code:
/// made-up app ids each get [`LINES_PER_KEY`], but not all of them together.
pub const DEVICE_ERROR_LINES: u64 = 100;

/// Lines written in one period for each `KindBudget` (unknown paths, refused
/// management requests).
pub const LINES_PER_KIND: u64 = 20;

/// How many of the most frequent suppressed pairs the summary names.
pub(crate) const TOP: usize = 5;

/// Distinct (app, error code) pairs whose lines are counted per period: made-up
/// app ids cannot grow the budget without bound. Past it, errors are only counted.
const MAX_KEYS: usize = 4096;

/// Shards of the device error budget, so error replies on different apps
/// rarely share a lock.
const SHARDS: usize = 16;

/// Suppressed pairs tracked per shard (and per [`KindBudget`]) for the summary.
const TRACKED: usize = 8;

/// Whether a reply gets its own log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Log,
    /// Log it, with a note that further ones are only counted this period.
    LogLast(&'static str),
    Suppress,
}

/// A pair the summary names, with how many of its lines were suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The app id (device errors), method (unknown paths) or path (refusals).
    pub(crate) first: Box<str>,
    /// The error code (device errors and refusals) or path (unknown paths).
    pub(crate) second: Box<str>,
    /// Suppressed lines of this pair: exact while fewer than [`TRACKED`] pairs
    /// shared its shard, else an upper bound.
    pub(crate) count: u64,
}

/// One budget's period: what was suppressed, in all and by its top pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suppressed {
    /// `device_errors`, `unknown_paths` or `refused`.
    pub(crate) kind: &'static str,
    pub(crate) count: u64,
    /// The [`TOP`] most suppressed pairs, most first.
    pub(crate) top: Vec<Pair>,
}

impl Suppressed {
    /// The top pairs as one field: `a b: n, c d: m`.
    pub(crate) fn top_shown(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.top.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("{} {}: {}", p.first, p.second, p.count));
        }
        s
    }
}

/// The most frequent suppressed pairs, in bounded memory ("space saving"):
/// at most [`TRACKED`] counters; a new pair takes over the smallest one and
/// its count, so a pair more frequent than 1/[`TRACKED`] of all is never lost.
#[derive(Default)]
struct Heavy {
    pairs: Vec<(u64, Pair)>,
}

impl Heavy {
    fn add(&mut self, key: u64, first: &str, second: &str) {
        if let Some((_, p)) = self
            .pairs
            .iter_mut()
            .find(|(k, p)| *k == key && *p.first == *first && *p.second == *second)
        {
            p.count += 1;
            return;
        }
        let floor = if self.pairs.len() < TRACKED {
            None
        } else {
            let smallest = (0..self.pairs.len()).min_by_key(|&i| self.pairs[i].1.count);
            smallest.map(|i| self.pairs.swap_remove(i).1.count)
        };
        self.pairs.push((
            key,
            Pair {
                first: first.into(),
                second: second.into(),
                count: floor.unwrap_or(0) + 1,
            },
        ));
    }
}

/// The most suppressed pairs of several trackers, most first.
fn top_of(heavies: impl Iterator<Item = Heavy>) -> Vec<Pair> {
    let mut all: Vec<Pair> = heavies.flat_map(|h| h.pairs).map(|(_, p)| p).collect();
    all.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.first, &a.second).cmp(&(&b.first, &b.second)))
    });
    all.truncate(TOP);
    all
}

#[derive(Default)]
struct Shard {
    /// Lines written per (app, code) key this period.
    logged: HashMap<u64, u32>,
    heavy: Heavy,
}

/// The budget of device error lines.
pub(crate) struct DeviceErrorBudget {
    hasher: RandomState,
    shards: [Mutex<Shard>; SHARDS],
    lines: AtomicU64,
    suppressed: AtomicU64,
}

impl Default for DeviceErrorBudget {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: Default::default(),
            lines: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl DeviceErrorBudget {
    /// Whether an error reply for `app_id` with `code` gets a line: the first
    /// [`LINES_PER_KEY`] of a period for each pair do, up to
    /// [`DEVICE_ERROR_LINES`] in all; the rest are counted.
    pub(crate) fn admit(&self, app_id: &str, code: &str) -> Verdict {
        let key = self.hasher.hash_one((app_id, code));
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a hash: its low bits pick the shard"
        )]
        let mut guard = self.shards[key as usize % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *guard;
        let full = shard.logged.len() >= MAX_KEYS / SHARDS;
        let logged = match shard.logged.entry(key) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(e) => Some(e.insert(0)),
        };
        if let Some(logged) = logged.filter(|n| **n < LINES_PER_KEY) {
            let line = self.lines.fetch_add(1, Relaxed);
            if line < DEVICE_ERROR_LINES {
                *logged += 1;
                return if line + 1 == DEVICE_ERROR_LINES {
                    Verdict::LogLast(
                        "the period's budget of device error lines is spent; further ones are counted in the next summary, not logged",
                    )
                } else if *logged == LINES_PER_KEY {
                    Verdict::LogLast(
                        "further errors for this app and code are counted in the next summary, not logged",
                    )
                } else {
                    Verdict::Log
                };
            }
        }
        self.suppressed.fetch_add(1, Relaxed);
        shard.heavy.add(key, app_id, code);
        Verdict::Suppress
    }

    /// Ends the period: what was suppressed (`None` if nothing was). The
    /// budget starts afresh.
    pub(crate) fn take(&self) -> Option<Suppressed> {
        let heavies: Vec<Heavy> = self
            .shards
            .iter()
            .map(|s| std::mem::take(&mut *s.lock().unwrap_or_else(PoisonError::into_inner)).heavy)
            .collect();
        self.lines.store(0, Relaxed);
        let count = self.suppressed.swap(0, Relaxed);
        (count > 0).then(|| Suppressed {
            kind: "device_errors",
            count,
            top: top_of(heavies.into_iter()),
        })
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap().logged.len())
            .sum()
    }
}

/// The budget of one kind of line with no finer key: the first
/// [`LINES_PER_KIND`] of a period are written.
pub(crate) struct KindBudget {
    kind: &'static str,
    /// What the last line written says of the next ones.
    last: &'static str,
    hasher: RandomState,
    lines: AtomicU64,
    suppressed: AtomicU64,
    heavy: Mutex<Heavy>,
}

impl KindBudget {
    /// A budget named `kind` in the summary; `last` is the last line's note.
    pub(crate) fn new(kind: &'static str, last: &'static str) -> Self {
        Self {
            kind,
            last,
            hasher: RandomState::new(),
            lines: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            heavy: Mutex::default(),
        }
    }

    /// Whether a line about (`first`, `second`) is written (lock-free while
    /// the budget lasts).
    pub(crate) fn admit(&self, first: &str, second: &str) -> Verdict {
        let line = self.lines.fetch_add(1, Relaxed);
        if line + 1 < LINES_PER_KIND {
            return Verdict::Log;
        }
        if line + 1 == LINES_PER_KIND {
            return Verdict::LogLast(self.last);
        }
        self.suppressed.fetch_add(1, Relaxed);
        let key = self.hasher.hash_one((first, second));
        self.heavy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(key, first, second);
        Verdict::Suppress
    }

    /// Ends the period, like [`DeviceErrorBudget::take`].
    pub(crate) fn take(&self) -> Option<Suppressed> {
        let heavy = std::mem::take(&mut *self.heavy.lock().unwrap_or_else(PoisonError::into_inner));
        self.lines.store(0, Relaxed);
        let count = self.suppressed.swap(0, Relaxed);
        (count > 0).then(|| Suppressed {
            kind: self.kind,
            count,
            top: top_of(std::iter::once(heavy)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_budgeted_per_app_and_code() {
        let b = DeviceErrorBudget::default();
        let verdicts: Vec<Verdict> = (0..LINES_PER_KEY + 5)
            .map(|_| b.admit("com.a", "on_premise_app"))
            .collect();
        let last = LINES_PER_KEY as usize - 1;
        assert!(verdicts[..last].iter().all(|v| *v == Verdict::Log));
        assert!(matches!(verdicts[last], Verdict::LogLast(m) if m.contains("this app and code")));
        assert!(verdicts[last + 1..].iter().all(|v| *v == Verdict::Suppress));
        assert_eq!(b.admit("com.b", "on_premise_app"), Verdict::Log);
        assert_eq!(b.admit("com.a", "invalid_app_id"), Verdict::Log);
        let s = b.take().expect("lines were suppressed");
        assert_eq!(s.count, 5);
        assert_eq!(
            s.top,
            vec![Pair {
                first: "com.a".into(),
                second: "on_premise_app".into(),
                count: 5
            }]
        );
        assert_eq!(
            b.admit("com.a", "on_premise_app"),
            Verdict::Log,
            "a new period has a new budget"
        );
        assert_eq!(b.take(), None, "nothing suppressed, nothing to say");
    }

    #[test]
    fn made_up_app_ids_share_one_cap_and_the_summary_names_the_loudest() {
        let b = DeviceErrorBudget::default();
        let mut written = 0;
        for i in 0..MAX_KEYS * 2 {
            // One app is far louder than the thousands of made-up ones.
            for app in [format!("com.app{i}"), "com.loud".to_string()] {
                if b.admit(&app, "on_premise_app") != Verdict::Suppress {
                    written += 1;
                }
            }
        }
        assert_eq!(written, DEVICE_ERROR_LINES);
        assert!(b.keys() <= MAX_KEYS, "{}", b.keys());
        let s = b.take().unwrap();
        assert_eq!(s.count, (MAX_KEYS as u64 * 4) - DEVICE_ERROR_LINES);
        assert_eq!(s.top.len(), TOP);
        assert_eq!(&*s.top[0].first, "com.loud");
        assert!(s.top[0].count >= MAX_KEYS as u64 * 2 - LINES_PER_KEY as u64);
        assert!(s.top_shown().starts_with("com.loud on_premise_app: "));
        assert_eq!(b.admit("com.next", "x"), Verdict::Log, "a new period");
    }

    #[test]
    fn a_kind_keeps_its_first_lines_and_counts_the_rest_by_pair() {
        let k = KindBudget::new("unknown_paths", "more");
        let verdicts: Vec<Verdict> = (0..LINES_PER_KIND + 30)
            .map(|i| {
                let path = if i % 3 == 0 { "/wp-admin" } else { "/x" };
                k.admit("GET", path)
            })
            .collect();
        let last = usize::try_from(LINES_PER_KIND).unwrap() - 1;
        assert!(verdicts[..last].iter().all(|v| *v == Verdict::Log));
        assert_eq!(verdicts[last], Verdict::LogLast("more"));
        assert!(verdicts[last + 1..].iter().all(|v| *v == Verdict::Suppress));
        let s = k.take().unwrap();
        assert_eq!(s.kind, "unknown_paths");
        assert_eq!(s.count, 30);
        assert_eq!(s.top_shown(), "GET /x: 20, GET /wp-admin: 10");
        assert_eq!(k.admit("GET", "/"), Verdict::Log, "a new period");
    }

    #[test]
    fn the_heaviest_pairs_survive_a_stream_of_distinct_ones() {
        let mut h = Heavy::default();
        for i in 0..10_000u64 {
            h.add(i, &format!("junk{i}"), "c");
            if i % 4 == 0 {
                h.add(u64::MAX, "heavy", "c");
            }
        }
        assert!(h.pairs.len() <= TRACKED);
        let top = top_of(std::iter::once(h));
        assert_eq!(&*top[0].first, "heavy");
        assert!(top[0].count >= 2_500, "{}", top[0].count);
    }
}

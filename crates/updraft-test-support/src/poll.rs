//! Waiting for what a test cannot be told about directly (another node's
//! one-second revision poll, the batched writer, a start-up job): ask again
//! until the answer is the awaited one, within a bound.

use std::future::Future;
use std::time::Duration;

/// The pause between two questions of [`poll_until`].
pub(crate) const POLL_PAUSE: Duration = Duration::from_millis(100);

/// Asks `ask` until `done` holds for its answer, `POLL_PAUSE` (100 ms) apart, for
/// at most `within`; returns the last answer (the caller asserts on it, so a
/// timeout fails with what was seen).
pub async fn poll_until<T, F, Fut>(within: Duration, mut ask: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut last = ask().await;
    while !done(&last) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL_PAUSE).await;
        last = ask().await;
    }
    last
}

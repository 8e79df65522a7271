//! One delivery attempt: the POST, its headers and signature, and what the
//! answer means for the queue (delivered, try again later, give up, gone).

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use updraft_store::Attempt;

use super::{sign, target};

/// Seconds to wait after the n-th failed attempt (Standard Webhooks'
/// suggested schedule, as Svix and Capgo use): ten attempts over about
/// four days, after which the delivery is given up.
const BACKOFF_SECS: [i64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// Attempts made before a delivery is given up.
#[cfg(test)]
pub(crate) const MAX_ATTEMPTS: i64 = 10;

/// A longest wait a `Retry-After` may ask for.
const MAX_RETRY_AFTER_SECS: i64 = 86_400;

/// The most of a receiver's reply body kept in an error, in bytes.
const ERROR_BODY: usize = 200;

/// How long one attempt may take, connection included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

/// The delivery client: no redirects, a deadline, the resolver of
/// [`target`], and no proxy from the environment (a proxy would resolve
/// names itself, past the resolver's check).
pub(crate) fn client(allow_local: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Updraft-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(std::sync::Arc::new(target::PublicOnly { allow_local }))
        .build()
        .expect("the webhook client builds")
}

/// What one POST came to, before it is judged.
#[derive(Debug)]
pub(crate) struct Sent {
    /// The status, when the receiver answered.
    pub(crate) status: Option<u16>,
    /// Its `Retry-After` in seconds, when given as a number.
    pub(crate) retry_after: Option<i64>,
    /// What went wrong, when it was not 2xx.
    pub(crate) error: Option<String>,
    /// How long it took.
    pub(crate) took: Duration,
}

/// POSTs `body` as message `id`, signed with `secrets` at `now_secs`.
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    allow_local: bool,
    id: &str,
    now_secs: i64,
    body: &[u8],
    secrets: &[String],
) -> Sent {
    let start = Instant::now();
    let url = match target::check(url, allow_local) {
        Ok(u) => u,
        Err(e) => {
            return Sent {
                status: None,
                retry_after: None,
                error: Some(e),
                took: start.elapsed(),
            }
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let sig = sign::signature(secrets, id, now_secs, body);
    for (name, value) in [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", now_secs.to_string()),
        ("webhook-signature", sig),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    let res = http
        .post(url)
        .headers(headers)
        .body(body.to_vec())
        .send()
        .await;
    match res {
        Err(e) => Sent {
            status: None,
            retry_after: None,
            error: Some(format!("no answer: {}", without_url(&e))),
            took: start.elapsed(),
        },
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok());
            let error = if r.status().is_success() {
                None
            } else {
                Some(format!("HTTP {status}: {}", head_of(r).await))
            };
            Sent {
                status: Some(status),
                retry_after,
                error,
                took: start.elapsed(),
            }
        }
    }
}

/// The first [`ERROR_BODY`] bytes of a reply's body, read no further, as
/// printable text (a receiver's bytes go into the log and the database:
/// PostgreSQL refuses a NUL).
async fn head_of(mut r: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY {
        match r.chunk().await {
            Ok(Some(c)) => bytes.extend_from_slice(&c),
            _ => break,
        }
    }
    bytes.truncate(ERROR_BODY);
    printable(&String::from_utf8_lossy(&bytes))
}

/// `text` with each control character as a space.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A reqwest error with its causes, without the URL (which may hold a
/// receiver's token).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    if let Some(u) = e.url() {
        msg = msg.replace(u.as_str(), "the webhook URL");
    }
    printable(&msg)
}

/// What the queue does after an attempt that was the `attempts`-th (from
/// 1), made at `now_ms`.
pub(crate) fn judge(sent: Sent, attempts: i64, now_ms: i64) -> Attempt {
    match sent.status {
        Some(s) if (200..300).contains(&s) => return Attempt::Delivered { status: s },
        Some(410) => return Attempt::Gone,
        _ => {}
    }
    let retry_at = usize::try_from(attempts - 1)
        .ok()
        .and_then(|i| BACKOFF_SECS.get(i))
        .map(|&base| {
            // Busy receivers wait at least five minutes; a Retry-After is
            // honoured up to a day.
            let busy = matches!(sent.status, Some(429 | 502 | 503 | 504));
            let mut wait = if busy { base.max(300) } else { base };
            if let Some(ra) = sent.retry_after {
                wait = wait.max(ra.clamp(0, MAX_RETRY_AFTER_SECS));
            }
            now_ms.saturating_add(wait.saturating_mul(1000))
        });
    Attempt::Failed {
        status: sent.status,
        error: sent.error.unwrap_or_else(|| "failed".into()),
        retry_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(status: Option<u16>, retry_after: Option<i64>) -> Sent {
        Sent {
            status,
            retry_after,
            error: Some("x".into()),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn ten_attempts_in_all() {
        assert_eq!(
            usize::try_from(MAX_ATTEMPTS).unwrap(),
            BACKOFF_SECS.len() + 1
        );
    }

    #[test]
    fn answers_decide_the_next_step() {
        assert_eq!(
            judge(sent(Some(204), None), 1, 0),
            Attempt::Delivered { status: 204 }
        );
        assert_eq!(judge(sent(Some(410), None), 1, 0), Attempt::Gone);
        let retry = |s, ra, n| match judge(sent(s, ra), n, 1_000) {
            Attempt::Failed { retry_at, .. } => retry_at,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry(Some(500), None, 1), Some(6_000));
        assert_eq!(retry(None, None, 2), Some(301_000));
        assert_eq!(
            retry(Some(503), None, 1),
            Some(301_000),
            "busy: 5 min at least"
        );
        assert_eq!(retry(Some(500), Some(60), 1), Some(61_000));
        assert_eq!(retry(Some(500), Some(10_000_000), 1), Some(86_401_000));
        assert_eq!(retry(Some(500), None, MAX_ATTEMPTS - 1), Some(86_401_000));
        assert_eq!(retry(Some(500), None, MAX_ATTEMPTS), None, "given up");
    }
}

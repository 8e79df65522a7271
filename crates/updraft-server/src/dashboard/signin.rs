//! Signing in and out. The dashboard signs in with an API key, not with
//! passwords of its own: a key already carries a mode, an app scope, an
//! expiry and the audit trail's actor, so a page may do exactly what that
//! key may do through the API (`docs/dashboard.md` says why). Failed
//! attempts are counted per client address (a /64 for IPv6); past the
//! limit, a wrong key is answered 429 with `Retry-After`. A right key always
//! signs in: keys are about 238 random bits, so refusing one would protect
//! nothing, and everyone behind one NAT or one proxy shares an address, so a
//! block could otherwise be used to lock them out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::forms::{read_fields, same_origin};
use super::layout::{bare, failed, see_other, PageError, PageResult};
use super::session::{self, presented_token, Signed};
use crate::auth::{hash_secret, key_by_hash};
use crate::error::ApiError;
use crate::state::AppState;

/// Failed sign-ins allowed per address and window.
pub(crate) const MAX_FAILURES: u32 = 10;
/// The window failed sign-ins are counted over (15 minutes).
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most addresses tracked: past it, new ones share one count (so a flood
/// from many addresses costs bounded memory and is limited as one).
const MAX_TRACKED: usize = 100_000;
/// Ended windows are dropped at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Failed sign-ins per client address, in fixed windows (this node's own
/// count: behind a load balancer each node counts its share).
#[derive(Debug)]
pub(crate) struct Failures(Mutex<Tracked>);

#[derive(Debug)]
struct Tracked {
    windows: HashMap<IpAddr, (Instant, u32)>,
    pruned: Instant,
}

impl Default for Failures {
    fn default() -> Self {
        Self(Mutex::new(Tracked {
            windows: HashMap::new(),
            pruned: Instant::now(),
        }))
    }
}

/// The address failures are counted under: IPv4 as is, IPv6 by its /64
/// (one host usually holds a whole /64).
fn bucket(ip: Option<IpAddr>) -> IpAddr {
    match ip {
        None => OVERFLOW,
        Some(IpAddr::V4(v4)) => IpAddr::V4(v4),
        Some(IpAddr::V6(v6)) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// The count shared by addresses past [`MAX_TRACKED`] (and requests with no address).
const OVERFLOW: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

impl Failures {
    /// How long until failures from `ip` are answered normally again, when
    /// it used up its allowance.
    pub(crate) fn blocked(&self, ip: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let t = self.0.lock().expect("sign-in limiter lock");
        let key = bucket(ip);
        let (start, n) = t.windows.get(&key).or_else(|| {
            t.windows
                .get(&OVERFLOW)
                .filter(|_| t.windows.len() >= MAX_TRACKED)
        })?;
        let left = WINDOW.checked_sub(now.duration_since(*start))?;
        (*n >= MAX_FAILURES).then_some(left)
    }

    /// Counts one failed sign-in from `ip`.
    pub(crate) fn fail(&self, ip: Option<IpAddr>) {
        let now = Instant::now();
        let mut t = self.0.lock().expect("sign-in limiter lock");
        if now.duration_since(t.pruned) >= PRUNE_EVERY {
            t.windows
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            t.pruned = now;
        }
        let mut key = bucket(ip);
        if !t.windows.contains_key(&key) && t.windows.len() >= MAX_TRACKED {
            key = OVERFLOW;
        }
        let slot = t.windows.entry(key).or_insert((now, 0));
        if now.duration_since(slot.0) >= WINDOW {
            *slot = (now, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }
}

fn form(message: Option<&str>) -> Markup {
    bare(
        "Sign in",
        &html! {
            h1 { "Sign in to Updraft" }
            @if let Some(m) = message { p.error role="alert" #signin-error { (m) } }
            form.stack method="post" action="/ui/signin" {
                label for="key" { "API key" }
                input #key type="password" name="key" autocomplete="off" required
                    aria-describedby="key-help" aria-invalid=[message.map(|_| "true")];
                p.muted #key-help {
                    "The page lets you do what this key may do through the API: a "
                    code { "read" } " key can look but not change anything. Make one with "
                    code { "updraft api-key create" } "."
                }
                div { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// `GET /ui/signin`.
pub(crate) async fn page() -> Response {
    form(None).into_response()
}

/// `POST /ui/signin`: checks the key, opens a session, sets its cookie.
pub(crate) async fn submit(State(s): State<AppState>, req: Request) -> PageResult {
    same_origin(req.headers())?;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = crate::geo::client_ip(&s.config.server.trusted_proxies, req.headers(), peer);
    let headers = req.headers().clone();
    let fields = read_fields(req, &s).await?;
    let secret = fields.get("key").unwrap_or_default();
    let hash = hash_secret(secret);
    let key = if secret.is_empty() {
        Err(ApiError::unauthorized(
            "no_key_provided",
            "enter an API key",
        ))
    } else {
        key_by_hash(&s, &hash).await
    };
    let key = match key {
        Ok(k) => k,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let blocked = s.signin_failures.blocked(ip);
            s.signin_failures.fail(ip);
            if let Some(left) = blocked {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!(
                        "too many failed sign-ins from this address; wait {} minutes before trying another key",
                        left.as_secs().div_ceil(60)
                    ),
                );
                e.retry_after = Some(left.as_secs().max(1));
                return Err(e.into());
            }
            return Ok(failed(
                StatusCode::UNAUTHORIZED,
                form(Some(&e.body.message)),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // A session already in this browser ends: one browser, one session.
    if let Some(old) = presented_token(&headers) {
        s.store
            .end_session(&hash_secret(&old))
            .await
            .map_err(ApiError::from)?;
    }
    let token = session::open(&s, &hash, key.expires_at).await?;
    let mut res = see_other("/ui/");
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::cookie(&s, Some(&token)))
            .map_err(|e| ApiError::internal("cookie", e.to_string()))?,
    );
    Ok(res)
}

/// `POST /ui/signout`: ends the session (on every node: its row is gone)
/// and clears the cookie. Needs the session's CSRF token like every form.
pub(crate) async fn signout(State(s): State<AppState>, req: Request) -> PageResult {
    let had_cookie = presented_token(req.headers()).is_some();
    let clear = |mut res: Response| {
        if let Ok(v) = HeaderValue::from_str(&session::cookie(&s, None)) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res
    };
    match super::forms::Posted::from_request(req, &s).await {
        Ok(posted) => {
            end(&s, &posted.signed).await?;
            Ok(clear(see_other("/ui/signin")))
        }
        // Already signed out (or never in): nothing to end.
        Err(PageError::SignIn) if had_cookie => Ok(clear(see_other("/ui/signin"))),
        Err(e) => Err(e),
    }
}

async fn end(s: &AppState, signed: &Signed) -> Result<(), PageError> {
    s.store
        .end_session(&signed.token_hash)
        .await
        .map_err(ApiError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_and_ipv6_per_64() {
        let f = Failures::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            f.fail(Some(a));
        }
        assert!(f.blocked(Some(a)).is_none());
        f.fail(Some(a));
        assert!(f.blocked(Some(a)).is_some_and(|d| d <= WINDOW));
        assert!(
            f.blocked(Some(b)).is_none(),
            "another address is not blocked"
        );
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let v6c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            f.fail(Some(v6a));
        }
        assert!(f.blocked(Some(v6b)).is_some(), "same /64");
        assert!(f.blocked(Some(v6c)).is_none(), "another /64");
    }

    #[test]
    fn past_the_tracked_addresses_new_ones_share_one_count() {
        let f = Failures::default();
        // From 1: 0.0.0.0 is the shared count's own key.
        for i in 1..=u32::try_from(MAX_TRACKED).unwrap() {
            f.fail(Some(IpAddr::V4(i.into())));
        }
        let late: Vec<IpAddr> = (0..MAX_FAILURES)
            .map(|i| IpAddr::V4((u32::MAX - i).into()))
            .collect();
        for ip in &late {
            f.fail(Some(*ip));
        }
        assert_eq!(
            f.0.lock().unwrap().windows.len(),
            MAX_TRACKED + 1,
            "bounded"
        );
        assert!(
            f.blocked(Some(late[0])).is_some(),
            "the late ones are limited together"
        );
    }
}

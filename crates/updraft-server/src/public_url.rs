//! Where devices are sent for bundle files: the configured public URL, else
//! the `X-Forwarded-*` headers of a trusted reverse proxy, else the address
//! the server is bound to. Never a request's own `Host` header: an attacker
//! controls it, and a reply built from it can point devices (or a cache in
//! front of the server) anywhere.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Removes `X-Forwarded-Host`/`-Proto` from requests that do not come from a
/// trusted proxy, so everything after this layer can believe the ones left.
pub(crate) async fn strip_untrusted_forwarding(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    if headers.contains_key(FORWARDED_HOST) || headers.contains_key(FORWARDED_PROTO) {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if !peer.is_some_and(|ip| is_trusted(&state.config.server.trusted_proxies, ip)) {
            let headers = req.headers_mut();
            headers.remove(FORWARDED_HOST);
            headers.remove(FORWARDED_PROTO);
        }
    }
    next.run(req).await
}

/// Whether `ip` is one of the configured proxies (IPv4-mapped IPv6 counts as IPv4).
pub(crate) fn is_trusted(proxies: &[ipnet::IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        IpAddr::V4(_) => ip,
    };
    proxies.iter().any(|net| net.contains(&ip))
}

/// The base URL for this request's bundle links (no trailing slash).
pub(crate) fn base_url(
    configured: Option<&str>,
    headers: &HeaderMap,
    bound: SocketAddr,
    tls: bool,
) -> String {
    if let Some(u) = configured {
        return u.to_string();
    }
    let own_scheme = if tls { "https" } else { "http" };
    // The last value is the one the trusted proxy wrote; earlier ones (a proxy
    // that appends) came from the client.
    let forwarded = headers
        .get(FORWARDED_HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|h| is_host(h));
    match forwarded {
        Some(host) => {
            let scheme = headers
                .get(FORWARDED_PROTO)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| p == "http" || p == "https")
                .unwrap_or_else(|| own_scheme.to_string());
            format!("{scheme}://{host}")
        }
        None => format!("{own_scheme}://{bound}"),
    }
}

/// A bare `host[:port]` (name, IPv4 or bracketed IPv6): nothing that could
/// smuggle a path, user info or whitespace into a URL.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 260
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_host_header_is_never_used_and_forwarded_values_are_checked() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let evil = headers(&[("host", "attacker.example")]);
        assert_eq!(base_url(None, &evil, bound, false), "http://127.0.0.1:8080");
        assert_eq!(
            base_url(Some("https://u.example.com"), &evil, bound, false),
            "https://u.example.com"
        );
        let proxied = headers(&[
            ("x-forwarded-host", "from.the.client, updates.example.com"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        assert_eq!(
            base_url(None, &proxied, bound, false),
            "https://updates.example.com"
        );
        for bad in ["a.example/evil", "user@a.example", "a b", ""] {
            let h = headers(&[
                ("x-forwarded-host", bad),
                ("x-forwarded-proto", "javascript"),
            ]);
            assert_eq!(
                base_url(None, &h, bound, true),
                "https://127.0.0.1:8080",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn trusted_proxies_match_by_network() {
        let nets: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert!(is_trusted(&nets, "10.1.2.3".parse().unwrap()));
        assert!(is_trusted(&nets, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(is_trusted(&nets, "::1".parse().unwrap()));
        assert!(!is_trusted(&nets, "127.0.0.1".parse().unwrap()));
        assert!(!is_trusted(&[], "10.1.2.3".parse().unwrap()));
    }
}

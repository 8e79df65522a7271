//! Whether a phone can use a URL written into the app's capacitor config:
//! not a loopback, unspecified or link-local address (each names no server a
//! phone can reach), and whether iOS would refuse it as plain `http://`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{CliError, CliResult};

/// The fix printed with every unreachable device URL.
pub const FIX: &str = "pass the URL phones use: `updraft init --device-url https://updates.example.com`, and give the server the same address as UPDRAFT_PUBLIC_URL (or --public-url), so the bundle links it sends are reachable too";

/// The fix printed for a plain `http://` URL in a project with iOS.
pub const HTTPS_FIX: &str = "serve the updater over HTTPS (a reverse proxy such as Caddy or nginx in front of updraft-server, or --tls-cert/--tls-key), set UPDRAFT_PUBLIC_URL to the https:// address, then `updraft init --device-url https://…`";

/// Parses an absolute `http(s)` URL (usage error otherwise).
pub fn parse(what: &str, text: &str) -> CliResult<Url> {
    let url = Url::parse(text).map_err(|e| {
        CliError::usage(
            "invalid_url",
            format!("{what} {text:?} is not an absolute URL: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::usage(
            "invalid_url",
            format!("{what} {text:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// Why no phone can reach `url` (a sentence about its host), or `None` when
/// it could be reachable.
pub fn unreachable(url: &Url) -> Option<String> {
    let why = match url.host()? {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost"))
                .then_some("is, on a phone, the phone itself")
        }
        Host::Ipv4(ip) => ip_problem(IpAddr::V4(ip)),
        Host::Ipv6(ip) => ip_problem(IpAddr::V6(ip)),
    }?;
    Some(format!("{} {why}", url.host_str().unwrap_or_default()))
}

fn ip_problem(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => v4_problem(v4),
        IpAddr::V6(v6) => v6_problem(v6),
    }
}

fn v4_problem(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("is a loopback address, which on a phone is the phone itself")
    } else if ip.is_unspecified() {
        Some("is the address a server listens on, not one a phone can connect to")
    } else if ip.is_link_local() {
        Some("is a link-local address, reachable only on one network segment")
    } else {
        None
    }
}

fn v6_problem(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("is a loopback address, which on a phone is the phone itself")
    } else if ip.is_unspecified() {
        Some("is the address a server listens on, not one a phone can connect to")
    } else if ip.is_unicast_link_local() {
        Some("is a link-local address, reachable only on one network segment")
    } else {
        None
    }
}

/// Whether `url` is plain `http://`.
pub fn is_plain_http(url: &Url) -> bool {
    url.scheme() == "http"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(u: &str) -> bool {
        unreachable(&Url::parse(u).unwrap()).is_some()
    }

    #[test]
    fn addresses_no_phone_can_reach() {
        for u in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/updates",
            "http://localhost:8080",
            "http://LOCALHOST./x",
            "http://api.localhost",
            "http://0.0.0.0:8080",
            "http://[::1]:8080",
            "http://[::]:8080",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.10.1",
            "http://[fe80::1]",
            "http://2130706433/",
        ] {
            assert!(bad(u), "{u}");
        }
        for u in [
            "https://updates.example.com",
            "http://192.168.1.20:8080",
            "http://10.0.2.2:8080",
            "https://[2001:db8::1]/",
            "http://localhost.example.com",
        ] {
            assert!(!bad(u), "{u}");
        }
    }

    #[test]
    fn only_http_urls_with_a_host_parse() {
        assert!(parse("--device-url", "https://u.example.com").is_ok());
        assert!(parse("--device-url", "u.example.com").is_err());
        assert!(parse("--device-url", "ftp://u.example.com").is_err());
        assert!(is_plain_http(&Url::parse("http://x.example").unwrap()));
        assert!(!is_plain_http(&Url::parse("https://x.example").unwrap()));
    }
}

//! Whether a phone can use a URL written into the app's capacitor config:
//! not a loopback, unspecified or link-local address (each names no server a
//! phone can reach), and whether iOS would refuse it as plain `http://`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{CliError, CliResult};

/// The fix printed with every unreachable device URL.
pub(crate) const FIX: &str = "pass the URL phones use: `updraft init --device-url https://updates.example.com`, and give the server the same address as UPDRAFT_PUBLIC_URL (or --public-url), so the bundle links it sends are reachable too";

/// The fix printed for a plain `http://` URL in a project with iOS.
pub(crate) const HTTPS_FIX: &str = "serve the updater over HTTPS (a reverse proxy such as Caddy or nginx in front of updraft-server, or --tls-cert/--tls-key), set UPDRAFT_PUBLIC_URL to the https:// address, then `updraft init --device-url https://…`";

/// The paths `init` appends to the base URL devices use.
pub(crate) const ENDPOINTS: [&str; 3] = ["/updates", "/stats", "/channel_self"];

/// Parses an absolute `http(s)` URL with a host (usage error otherwise).
pub(crate) fn parse(what: &str, text: &str) -> CliResult<Url> {
    // A URL with a user name or password is not echoed: the password would be.
    let shown = if text.contains('@') {
        String::new()
    } else {
        format!(" {text:?}")
    };
    let url = Url::parse(text).map_err(|e| {
        CliError::usage(
            "invalid_url",
            format!("{what}{shown} is not an absolute URL: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::usage(
            "invalid_url",
            format!("{what}{shown} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// Parses the base URL devices use (`init --device-url`): as [`parse`], and
/// with nothing `init` cannot append its paths to or should not ship inside
/// the app: no user name or password, query, fragment or port 0, and not
/// already one of the [`ENDPOINTS`].
pub(crate) fn parse_base(what: &str, text: &str) -> CliResult<Url> {
    let url = parse(what, text)?;
    let refuse = |msg: String| Err(CliError::usage("invalid_url", msg));
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(format!("{what} must not contain a user name or password (user:pass@): it would ship inside the app, readable by anyone who has it"));
    }
    if url.port() == Some(0) {
        return refuse(format!(
            "{what} {text:?} has port 0, which no server listens on"
        ));
    }
    if url.query().is_some() {
        return refuse(format!("{what} {text:?} has a query (?…): devices are sent to the base URL followed by /updates, /stats and /channel_self, so it cannot have one"));
    }
    if url.fragment().is_some() {
        return refuse(format!("{what} {text:?} has a fragment (#…): devices are sent to the base URL followed by /updates, /stats and /channel_self, so it cannot have one"));
    }
    let path = url.path().trim_end_matches('/');
    if let Some(end) = ENDPOINTS.iter().find(|e| path.ends_with(*e)) {
        let mut base = url.clone();
        base.set_path(&path[..path.len() - end.len()]);
        let base = base.as_str().trim_end_matches('/').to_string();
        return Err(CliError::usage(
            "invalid_url",
            format!("{what} {text:?} already ends in {end}, but it is the base URL: init appends /updates, /stats and /channel_self to it"),
        )
        .hint(format!("pass the base: --device-url {base}")));
    }
    Ok(url)
}

/// The base of `url` when it ends in exactly one `end` (one of the
/// [`ENDPOINTS`]): `https://x/updates` is `https://x` for `/updates`, while
/// `https://x/updates/updates` and `https://x/updates/` have none.
pub(crate) fn endpoint_base<'a>(url: &'a str, end: &str) -> Option<&'a str> {
    url.strip_suffix(end)
        .filter(|base| !ENDPOINTS.iter().any(|e| base.ends_with(e)))
}

/// Why no phone can reach `url` (a sentence about its host), or `None` when
/// it could be reachable.
pub(crate) fn unreachable(url: &Url) -> Option<String> {
    if url.port() == Some(0) {
        return Some(format!(
            "{} has port 0, which no server listens on",
            url.host_str().unwrap_or_default()
        ));
    }
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
        v4 @ IpAddr::V4(_) => v4,
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
pub(crate) fn is_plain_http(url: &Url) -> bool {
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
            "https://updates.example.com:0/updates",
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

    fn refused(u: &str) -> String {
        let e = parse_base("--device-url", u).unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage, "{u}");
        e.message
    }

    #[test]
    fn a_device_base_url_has_nothing_init_cannot_append_to() {
        for u in [
            "https://u.example.com",
            "https://u.example.com/",
            "https://u.example.com:8443/updraft/",
            "http://192.168.1.20:8080",
        ] {
            assert!(parse_base("--device-url", u).is_ok(), "{u}");
        }
        let m = refused("https://admin:s3cret@u.example.com");
        assert!(m.contains("user name or password"), "{m}");
        assert!(!m.contains("s3cret"), "the password is not echoed: {m}");
        assert!(!refused("https://admin:s3cret@").contains("s3cret"));
        assert!(refused("https://u.example.com/?x=1").contains("query"));
        assert!(refused("https://u.example.com/?").contains("query"));
        assert!(refused("https://u.example.com/#top").contains("fragment"));
        assert!(refused("https://u.example.com:0").contains("port 0"));
        for (u, base) in [
            ("https://u.example.com/updates", "https://u.example.com"),
            ("https://u.example.com/x/stats/", "https://u.example.com/x"),
            (
                "https://u.example.com/channel_self",
                "https://u.example.com",
            ),
        ] {
            let e = parse_base("--device-url", u).unwrap_err();
            assert!(e.message.contains("already ends in"), "{u}: {}", e.message);
            assert_eq!(
                e.hint.as_deref(),
                Some(format!("pass the base: --device-url {base}").as_str())
            );
        }
    }

    #[test]
    fn an_endpoint_ends_in_exactly_one_path() {
        assert_eq!(
            endpoint_base("https://x/updates", "/updates"),
            Some("https://x")
        );
        assert_eq!(
            endpoint_base("https://x/a/stats", "/stats"),
            Some("https://x/a")
        );
        assert_eq!(endpoint_base("https://x/updates/updates", "/updates"), None);
        assert_eq!(endpoint_base("https://x/updates/", "/updates"), None);
        assert_eq!(endpoint_base("https://x/stats/updates", "/updates"), None);
        assert_eq!(endpoint_base("https://x/update", "/updates"), None);
    }
}

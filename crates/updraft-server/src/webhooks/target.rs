//! Where a webhook may be delivered. Unless `[webhooks] allow_local` is set,
//! only `https://` to public addresses: the URL is checked when it is set
//! and before each attempt, and the HTTP client's resolver drops every
//! non-public address a name resolves to (so a name that later points at
//! 127.0.0.1 or a cloud metadata address is refused at delivery, not only
//! at creation). Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The longest URL kept.
pub(crate) const MAX_URL: usize = 2048;

/// The URL, parsed, or why it cannot be a receiver.
pub(crate) fn check(url: &str, allow_local: bool) -> Result<Url, String> {
    if url.len() > MAX_URL {
        return Err(format!("a webhook URL is at most {MAX_URL} bytes"));
    }
    let u = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_local => {}
        "http" => {
            return Err(
                "a webhook URL must be https:// (the server allows http:// only with [webhooks] allow_local)"
                    .into(),
            )
        }
        other => return Err(format!("a webhook URL must be https://, not {other}://")),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("a webhook URL may not carry a user or password".into());
    }
    let Some(host) = u.host() else {
        return Err("a webhook URL needs a host".into());
    };
    if !allow_local {
        let literal = match host {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(d) => {
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") {
                    return Err(local_refused());
                }
                None
            }
        };
        if literal.is_some_and(|ip| !is_public(ip)) {
            return Err(local_refused());
        }
    }
    Ok(u)
}

fn local_refused() -> String {
    "a webhook URL must reach a public address (the server allows loopback and private ones only with [webhooks] allow_local)".into()
}

/// Whether `ip` is a public unicast address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_public(a),
        IpAddr::V6(a) => match embedded_v4(a) {
            Some(v4) => v4_public(v4),
            None => v6_public(a),
        },
    }
}

/// The IPv4 address an IPv6 one reaches: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`); `None` for any other.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let (s, o) = (a.segments(), a.octets());
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !(a.is_unspecified() || a.is_loopback()) {
        return Some(low);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

fn v4_public(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_multicast()
        || o0 == 0
        || (o0 == 100 && (64..128).contains(&o1)) // shared address space
        || (o0 == 192 && o1 == 0 && o2 == 0) // IETF protocol assignments
        || (o0 == 198 && (18..20).contains(&o1)) // benchmarking
        || o0 >= 240)
}

fn v6_public(a: Ipv6Addr) -> bool {
    let s = a.segments();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo (reaches IPv4 inside)
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard-only
}

/// The resolver of the delivery client: the system's, keeping only public
/// addresses unless local ones are allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicOnly {
    pub(crate) allow_local: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_local = self.allow_local;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_local || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that resolves to loopback is refused at delivery, whatever
    /// the URL check saw (as a name rebound after the check would be).
    #[tokio::test]
    async fn the_resolver_drops_non_public_addresses() {
        let strict = PublicOnly { allow_local: false };
        let name: Name = "localhost".parse().unwrap();
        let refused = strict.resolve(name).await.err().expect("refused");
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
        let open = PublicOnly { allow_local: true };
        let found: Vec<SocketAddr> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }

    #[test]
    fn only_https_to_public_hosts_by_default() {
        assert!(check("https://hooks.example.com/x", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://localhost:8443/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/x",
            "https://[::ffff:192.168.1.1]/x",
            "https://100.64.0.1/x",
            "https://user:pass@hooks.example.com/x",
            "not a url",
        ] {
            assert!(check(bad, false).is_err(), "{bad}");
        }
        assert!(check("http://127.0.0.1:9000/x", true).is_ok());
        assert!(check(&format!("https://e.com/{}", "a".repeat(MAX_URL)), true).is_err());
    }

    #[test]
    fn public_addresses() {
        for ip in [
            "8.8.8.8",
            "2606:4700::1111",
            "1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "192.168.0.1",
            "172.16.0.1",
            "fe80::1",
            "fd00::1",
            "::",
            "224.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}

//! A device's country, for targeting rules: the header the CDN or proxy in
//! front sets (`[geo] country_header`), believed only on a request from
//! `[server] trusted_proxies`; else the client address looked up in the
//! operator's MaxMind-format database (`[geo] database`). The client address
//! is the connection's peer, or, behind a trusted proxy, the last
//! `X-Forwarded-For` entry (the one that proxy added). Nothing a device
//! sends in its body, and no header from an untrusted peer, sets a country.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use maxminddb::PathElement;

use crate::config::GeoConfig;
use crate::public_url::is_trusted;
use crate::state::AppState;

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Where countries come from on this server.
pub(crate) struct Geo {
    header: Option<HeaderName>,
    db: Option<maxminddb::Reader<Vec<u8>>>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("header", &self.header)
            .field("database", &self.db.is_some())
            .finish()
    }
}

impl Geo {
    /// Opens the configured database (read whole into memory); an unreadable
    /// file or one that is not a MaxMind database stops the start.
    pub(crate) fn open(c: &GeoConfig) -> anyhow::Result<Self> {
        let db = match &c.database {
            None => None,
            Some(path) => Some(maxminddb::Reader::open_readfile(path).with_context(|| {
                format!(
                    "[geo] database {} cannot be read as a MaxMind (.mmdb) database",
                    path.display()
                )
            })?),
        };
        Ok(Self {
            header: c.country_header.clone(),
            db,
        })
    }

    /// The country of the device behind `headers` from `peer`, upper-case;
    /// `None` when neither source knows it.
    pub(crate) fn country(
        &self,
        proxies: &[ipnet::IpNet],
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<String> {
        let trusted = peer.is_some_and(|ip| is_trusted(proxies, ip));
        if let (Some(name), true) = (&self.header, trusted) {
            if let Some(c) = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(code)
            {
                return Some(c);
            }
        }
        let db = self.db.as_ref()?;
        // Behind a trusted proxy, the client is what the proxies recorded;
        // none usable means none known (never the proxy's own address).
        let client = if trusted {
            forwarded_for(proxies, headers)?
        } else {
            peer?
        };
        let found = db.lookup(client.to_canonical()).ok()?;
        let iso: Option<String> = found
            .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
            .ok()
            .flatten();
        iso.as_deref().and_then(code)
    }
}

/// A two-letter country code, upper-cased; `XX` (Cloudflare's "unknown"),
/// `T1` (Tor) and anything else not two letters are no country.
fn code(raw: &str) -> Option<String> {
    updraft_core::target::country_code(raw)
}

/// The client behind the trusted proxies: the `X-Forwarded-For` entries read
/// from the right (each proxy appends the address it saw), skipping those
/// of trusted proxies; the first other one. An entry that is not an address
/// ends the walk with none: what lies left of it cannot be trusted.
fn forwarded_for(proxies: &[ipnet::IpNet], headers: &HeaderMap) -> Option<IpAddr> {
    let values: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().ok())
        .collect::<Option<_>>()?;
    for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let entry = entry.trim();
        let ip = entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
        if !is_trusted(proxies, ip) {
            return Some(ip);
        }
    }
    None
}

/// The client's address: behind a trusted proxy, the one the proxies
/// recorded (else the proxy's own), otherwise the peer's. `None` without a
/// peer (a request not from a socket).
pub(crate) fn client_ip(
    proxies: &[ipnet::IpNet],
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<IpAddr> {
    let peer = peer?;
    if is_trusted(proxies, peer) {
        return Some(
            forwarded_for(proxies, headers)
                .unwrap_or(peer)
                .to_canonical(),
        );
    }
    Some(peer.to_canonical())
}

/// The requesting device's country (see the module docs), for handlers.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceCountry(pub(crate) Option<String>);

impl FromRequestParts<AppState> for DeviceCountry {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(state.geo.country(
            &state.config.server.trusted_proxies,
            &parts.headers,
            peer,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo_with_header() -> Geo {
        Geo {
            header: Some(HeaderName::from_static("cf-ipcountry")),
            db: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let g = geo_with_header();
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("cf-ipcountry", "fr")]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(g.country(&proxies, &h, Some(proxy)).as_deref(), Some("FR"));
        assert_eq!(g.country(&proxies, &h, Some(stranger)), None);
        assert_eq!(g.country(&proxies, &h, None), None);
        assert_eq!(g.country(&[], &h, Some(proxy)), None);
    }

    #[test]
    fn unknown_and_malformed_codes_are_no_country() {
        for bad in ["XX", "xx", "T1", "FRA", "", " ", "F", "é1"] {
            assert_eq!(code(bad), None, "{bad:?}");
        }
        assert_eq!(code(" de ").as_deref(), Some("DE"));
    }

    #[test]
    fn the_client_is_the_last_forwarded_entry_that_is_not_a_trusted_proxy() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.5"),
        ]);
        assert_eq!(
            forwarded_for(&proxies, &h),
            Some("198.51.100.7".parse().unwrap()),
            "the CDN edge (a trusted proxy) is skipped"
        );
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(
            forwarded_for(&proxies, &h),
            Some("2001:db8::1".parse().unwrap())
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.1, not-an-address, 10.0.0.5")]);
        assert_eq!(
            forwarded_for(&proxies, &h),
            None,
            "nothing left of a bad entry is believed"
        );
        assert_eq!(forwarded_for(&proxies, &HeaderMap::new()), None);
        let only_proxies = headers(&[("x-forwarded-for", "10.0.0.1, 10.0.0.2")]);
        assert_eq!(forwarded_for(&proxies, &only_proxies), None);
    }
}

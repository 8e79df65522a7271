//! What `serve` tells a person at start: a warning when phones may not reach
//! the bundle URLs, and on the first start the admin key, how to use it (curl
//! and the `updraft` CLI) and the URLs to put in the app. A URL no phone can
//! reach (loopback, `0.0.0.0`) is never suggested: a placeholder and what to
//! set instead are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::Config;

/// The base of the URLs devices use, as far as it is known at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceBase {
    /// The configured public URL.
    Public(String),
    /// The bound address, which other machines on its network can reach.
    Bound(String),
    /// Behind a trusted proxy: phones use its address, unknown here.
    Proxy,
    /// Loopback (or every interface, which is no address): no phone can use it.
    Unreachable(SocketAddr),
}

fn scheme(config: &Config) -> &'static str {
    if config.tls.cert.is_some() {
        "https"
    } else {
        "http"
    }
}

/// Where devices are told to go, without a request to look at.
pub(crate) fn device_base(config: &Config, bound: SocketAddr) -> DeviceBase {
    if let Some(u) = &config.server.public_url {
        return DeviceBase::Public(u.clone());
    }
    if !config.server.trusted_proxies.is_empty() {
        return DeviceBase::Proxy;
    }
    let ip = bound.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        DeviceBase::Unreachable(bound)
    } else {
        DeviceBase::Bound(format!("{}://{bound}", scheme(config)))
    }
}

/// Where management calls from this machine go: the public URL, else the
/// bound address (loopback for "every interface").
pub(crate) fn admin_base(config: &Config, bound: SocketAddr) -> String {
    if let Some(u) = &config.server.public_url {
        return u.clone();
    }
    let addr = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bound.port())
        }
        _ => bound,
    };
    format!("{}://{addr}", scheme(config))
}

/// The warning logged at every start when bundle URLs may not work for phones.
pub fn start_warning(config: &Config, bound: SocketAddr) -> Option<String> {
    match device_base(config, bound) {
        DeviceBase::Public(_) => None,
        DeviceBase::Bound(base) => Some(format!(
            "no public URL is set: devices are sent bundle URLs on {base}; set UPDRAFT_PUBLIC_URL to the address phones reach"
        )),
        DeviceBase::Proxy => Some(
            "no public URL is set: bundle URLs follow the X-Forwarded-Host of the trusted proxy (and requests from elsewhere get the bound address); set UPDRAFT_PUBLIC_URL to the address phones reach".into(),
        ),
        DeviceBase::Unreachable(addr) => Some(format!(
            "no public URL is set and {addr} is reachable from this machine only: phones cannot download bundles. \
             Set UPDRAFT_PUBLIC_URL (or --public-url) to the address phones use, and listen where they reach it"
        )),
    }
}

/// The first-start text: the admin key (unless it came from
/// `UPDRAFT_BOOTSTRAP_API_KEY`), how to use it, and the next steps.
pub fn banner(config: &Config, bound: SocketAddr, secret: &str) -> String {
    let admin = admin_base(config, bound);
    let key = if config.server.bootstrap_api_key.is_some() {
        "An admin API key was created from the configured bootstrap key (UPDRAFT_BOOTSTRAP_API_KEY,\n\
         UPDRAFT_BOOTSTRAP_API_KEY_FILE or [server] bootstrap_api_key). Put it in $KEY:\n\n    \
         export KEY=<the bootstrap key>"
            .to_string()
    } else {
        format!(
            "An admin API key was created. It is shown only this once; store it now:\n\n    export KEY={secret}"
        )
    };
    let (device, note) = match device_base(config, bound) {
        DeviceBase::Public(b) | DeviceBase::Bound(b) => (b, String::new()),
        DeviceBase::Proxy => (
            "https://<your proxy's public address>".to_string(),
            "\nBehind your reverse proxy, phones use the proxy's address; bundle URLs follow its\n\
             X-Forwarded-Host. Setting UPDRAFT_PUBLIC_URL to that address makes them independent of it.\n"
                .to_string(),
        ),
        DeviceBase::Unreachable(addr) => {
            let port = addr.port();
            let scheme = scheme(config);
            (
                format!("{scheme}://<address phones use>:{port}"),
                format!(
                    "\nPhones cannot reach {addr}: that address is this machine only, so no phone could download\n\
                     a bundle from it. Restart with the address phones use (this machine's address on their\n\
                     network, or your reverse proxy's public name), e.g.\n\n    \
                     updraft-server serve --listen 0.0.0.0:{port} --public-url {scheme}://<address phones use>:{port}\n\n\
                     (or UPDRAFT_PUBLIC_URL), and put that address in the URLs above.\n"
                ),
            )
        }
    };
    format!(
        r#"
Updraft is running at {admin}

{key}

The commands below use $KEY. To use the updraft CLI instead:

    updraft login --server {admin} --api-key "$KEY"

Next steps:
  1. Create an app:
       curl -X POST {admin}/api/v1/apps -H "Authorization: Bearer $KEY" -d '{{"app_id":"com.example.app"}}'
  2. Create a public channel:
       curl -X POST {admin}/api/v1/apps/com.example.app/channels -H "Authorization: Bearer $KEY" -d '{{"name":"production","public":true}}'
  3. Upload a bundle (a zip of your web build) and put it on the channel:
       curl -X POST "{admin}/api/v1/apps/com.example.app/bundles?version=1.0.1&channel=production" -H "Authorization: Bearer $KEY" --data-binary @dist.zip
  4. Point the app at Updraft in capacitor.config.json:
       "plugins": {{ "CapacitorUpdater": {{
         "updateUrl": "{device}/updates",
         "statsUrl": "{device}/stats",
         "channelUrl": "{device}/channel_self"
       }} }}
{note}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layer;

    /// A config listening on 127.0.0.1:8080 with `toml` over it.
    fn config(toml: &str) -> Config {
        Layer::from_toml("[server]\nlisten = \"127.0.0.1:8080\"", "base")
            .unwrap()
            .merge(Layer::from_toml(toml, "test").unwrap())
            .resolve()
            .unwrap()
    }

    #[test]
    fn loopback_is_never_offered_to_phones() {
        let c = config("");
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let text = banner(&c, bound, "upd_secret");
        assert!(text.contains("export KEY=upd_secret"), "{text}");
        assert!(
            text.contains(r#"updraft login --server http://127.0.0.1:8080 --api-key "$KEY""#),
            "{text}"
        );
        assert!(
            text.contains("curl -X POST http://127.0.0.1:8080/api/v1/apps"),
            "{text}"
        );
        assert!(
            text.contains(r#""updateUrl": "http://<address phones use>:8080/updates""#),
            "{text}"
        );
        assert!(!text.contains("127.0.0.1:8080/updates"), "{text}");
        assert!(
            text.contains("Phones cannot reach 127.0.0.1:8080"),
            "{text}"
        );
        assert!(start_warning(&c, bound)
            .unwrap()
            .contains("reachable from this machine only"));
    }

    #[test]
    fn a_public_url_is_used_for_everything_and_needs_no_warning() {
        let c = config(
            "[server]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://updates.example.com\"",
        );
        let bound: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let text = banner(&c, bound, "upd_secret");
        assert!(
            text.contains(r#""updateUrl": "https://updates.example.com/updates""#),
            "{text}"
        );
        assert!(!text.contains("0.0.0.0"), "{text}");
        assert!(!text.contains("Phones cannot reach"), "{text}");
        assert_eq!(start_warning(&c, bound), None);
    }

    #[test]
    fn a_lan_address_is_used_and_a_proxy_gets_a_placeholder() {
        let c = config("");
        let lan: SocketAddr = "192.168.1.20:8080".parse().unwrap();
        assert_eq!(
            device_base(&c, lan),
            DeviceBase::Bound("http://192.168.1.20:8080".into())
        );
        let proxied = config("[server]\ntrusted_proxies = [\"127.0.0.1\"]");
        let text = banner(&proxied, "127.0.0.1:8080".parse().unwrap(), "upd_secret");
        assert!(
            text.contains("https://<your proxy's public address>/updates"),
            "{text}"
        );
        assert!(
            text.contains("curl -X POST http://127.0.0.1:8080/api/v1/apps"),
            "{text}"
        );
    }

    #[test]
    fn a_given_key_is_not_repeated() {
        let secret = "given_bootstrap_key_0123456789";
        let c = config(&format!("[server]\nbootstrap_api_key = {secret:?}"));
        let text = banner(&c, "127.0.0.1:8080".parse().unwrap(), secret);
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("export KEY=<the bootstrap key>"), "{text}");
    }
}

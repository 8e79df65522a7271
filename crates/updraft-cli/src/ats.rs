//! App Transport Security: whether an iPhone app may fetch a plain `http://`
//! URL. Since iOS 10, ATS does not cover IP address literals, `.local` names
//! and single-label names; for a domain name the app's Info.plist must allow
//! it (`NSAllowsArbitraryLoads`, or an `NSExceptionDomains` entry for the host
//! with `NSExceptionAllowsInsecureHTTPLoads`).

use std::path::{Path, PathBuf};

use url::{Host, Url};

/// What iOS does with a plain `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// ATS does not apply to the host; the text says why.
    Exempt(String),
    /// The app's Info.plist allows it; the text says where.
    Allowed(String),
    /// iOS blocks it; the text says what the Info.plist lacks.
    Blocked(String),
}

/// What iOS does with plain-http `url` in the app of the project in `dir`.
pub(crate) fn plain_http(dir: &Path, url: &Url) -> Verdict {
    let host = match url.host() {
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Verdict::Exempt(format!(
                "{} is an IP address, which App Transport Security does not cover",
                url.host_str().unwrap_or_default()
            ))
        }
        Some(Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        None => return Verdict::Blocked("the URL has no host".into()),
    };
    if host.ends_with(".local") {
        return Verdict::Exempt(format!(
            "{host} is a .local name, which App Transport Security does not cover"
        ));
    }
    if !host.contains('.') {
        return Verdict::Exempt(format!(
            "{host} is a single-label name, which App Transport Security does not cover"
        ));
    }
    let Some(path) = info_plist(dir) else {
        return Verdict::Blocked(format!(
            "no Info.plist under {} allows it",
            dir.join("ios").display()
        ));
    };
    let shown = path
        .strip_prefix(dir)
        .unwrap_or(&path)
        .display()
        .to_string();
    let Some(root) = std::fs::read_to_string(&path).ok().and_then(|t| parse(&t)) else {
        return Verdict::Blocked(format!(
            "{shown} is not a readable XML plist, so nothing is known to allow it"
        ));
    };
    allowed_by(&root, &host, &shown)
}

fn allowed_by(root: &Value, host: &str, shown: &str) -> Verdict {
    let ats = root.get("NSAppTransportSecurity");
    if let Some(Value::Dict(entries)) = ats.and_then(|a| a.get("NSExceptionDomains")) {
        for (domain, entry) in entries {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            let covers = host == domain
                || (host.ends_with(&format!(".{domain}"))
                    && entry.get("NSIncludesSubdomains") == Some(&Value::True));
            if !covers {
                continue;
            }
            return if entry.get("NSExceptionAllowsInsecureHTTPLoads") == Some(&Value::True) {
                Verdict::Allowed(format!(
                    "{shown} allows plain http to {domain} (NSExceptionDomains)"
                ))
            } else {
                Verdict::Blocked(format!(
                    "{shown} has an NSExceptionDomains entry for {domain}, but without NSExceptionAllowsInsecureHTTPLoads"
                ))
            };
        }
    }
    if ats.and_then(|a| a.get("NSAllowsArbitraryLoads")) == Some(&Value::True) {
        // Apple: with any of these keys present, NSAllowsArbitraryLoads is ignored.
        let overriding = [
            "NSAllowsArbitraryLoadsInWebContent",
            "NSAllowsArbitraryLoadsForMedia",
            "NSAllowsLocalNetworking",
        ]
        .into_iter()
        .find(|k| ats.and_then(|a| a.get(k)).is_some());
        return match overriding {
            None => Verdict::Allowed(format!("{shown} sets NSAllowsArbitraryLoads")),
            Some(k) => Verdict::Blocked(format!(
                "{shown} sets NSAllowsArbitraryLoads, but iOS ignores it because {k} is set too"
            )),
        };
    }
    Verdict::Blocked(format!(
        "{shown} has neither NSAllowsArbitraryLoads nor an NSExceptionDomains entry for {host}"
    ))
}

/// The app's Info.plist: `ios/App/App/Info.plist` (where Capacitor puts it),
/// else the first one found in `ios/` outside Pods and build output.
fn info_plist(dir: &Path) -> Option<PathBuf> {
    let ios = dir.join("ios");
    let usual = ios.join("App").join("App").join("Info.plist");
    if usual.is_file() {
        return Some(usual);
    }
    find(&ios, 4)
}

fn find(dir: &Path, depth: usize) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in &entries {
        if e.file_name() == "Info.plist" && e.path().is_file() {
            return Some(e.path());
        }
    }
    if depth == 0 {
        return None;
    }
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let skip = matches!(name.as_str(), "Pods" | "build" | "DerivedData")
            || name.starts_with('.')
            || name.ends_with("Tests");
        if !skip && e.path().is_dir() {
            if let Some(p) = find(&e.path(), depth - 1) {
                return Some(p);
            }
        }
    }
    None
}

/// The parts of an XML property list these checks read.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Dict(Vec<(String, Value)>),
    True,
    False,
    Other,
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A tag of the plist: its name, whether it closes, whether it is empty (`<true/>`).
struct Tag<'a> {
    name: &'a str,
    close: bool,
    empty: bool,
    /// The text up to the next tag.
    text: &'a str,
}

fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |j| &after[j + 3..]);
            continue;
        }
        let Some(end) = rest.find('>') else { break };
        let inner = &rest[1..end];
        rest = &rest[end + 1..];
        if inner.starts_with('?') || inner.starts_with('!') {
            continue;
        }
        let close = inner.starts_with('/');
        let empty = inner.ends_with('/');
        let name = inner
            .trim_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        let text = &rest[..rest.find('<').unwrap_or(rest.len())];
        out.push(Tag {
            name,
            close,
            empty,
            text,
        });
    }
    out
}

/// The top-level value of an XML plist, `None` when it is not one.
fn parse(text: &str) -> Option<Value> {
    let tags = tags(text);
    let start = tags.iter().position(|t| t.name == "plist" && !t.close)? + 1;
    let mut i = start;
    value(&tags, &mut i, 0)
}

fn value(tags: &[Tag<'_>], i: &mut usize, depth: usize) -> Option<Value> {
    if depth > 64 {
        return None;
    }
    let t = tags.get(*i)?;
    *i += 1;
    if t.close {
        return None;
    }
    match t.name {
        "true" => Some(Value::True),
        "false" => Some(Value::False),
        _ if t.empty => Some(Value::Other),
        "dict" => {
            let mut entries = Vec::new();
            loop {
                let k = tags.get(*i)?;
                if k.close && k.name == "dict" {
                    *i += 1;
                    return Some(Value::Dict(entries));
                }
                if k.name != "key" || k.close {
                    return None;
                }
                let key = unescape(k.text.trim());
                *i += 1;
                if !(tags.get(*i)?.close && tags[*i].name == "key") {
                    return None;
                }
                *i += 1;
                entries.push((key, value(tags, i, depth + 1)?));
            }
        }
        "array" => loop {
            let t = tags.get(*i)?;
            if t.close && t.name == "array" {
                *i += 1;
                return Some(Value::Other);
            }
            value(tags, i, depth + 1)?;
        },
        name => {
            // A scalar: <string>…</string>, <integer>…</integer>, …
            let c = tags.get(*i)?;
            if !(c.close && c.name == name) {
                return None;
            }
            *i += 1;
            Some(Value::Other)
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plist(ats: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleDisplayName</key>
	<string>My App</string>
	<key>UISupportedInterfaceOrientations</key>
	<array>
		<string>UIInterfaceOrientationPortrait</string>
	</array>
	<!-- <key>NSAllowsArbitraryLoads</key><true/> -->
	<key>LSRequiresIPhoneOS</key>
	<true/>
	{ats}
</dict>
</plist>
"#
        )
    }

    fn verdict(ats: &str, host: &str) -> Verdict {
        allowed_by(&parse(&plist(ats)).unwrap(), host, "Info.plist")
    }

    fn allowed(v: &Verdict) -> bool {
        matches!(v, Verdict::Allowed(_))
    }

    #[test]
    fn arbitrary_loads_allow_every_host() {
        let ats = "<key>NSAppTransportSecurity</key><dict><key>NSAllowsArbitraryLoads</key><true/></dict>";
        assert!(allowed(&verdict(ats, "updates.example.com")));
        let off = "<key>NSAppTransportSecurity</key><dict><key>NSAllowsArbitraryLoads</key><false/></dict>";
        assert!(!allowed(&verdict(off, "updates.example.com")));
        let ignored = "<key>NSAppTransportSecurity</key><dict><key>NSAllowsArbitraryLoads</key><true/><key>NSAllowsLocalNetworking</key><true/></dict>";
        let v = verdict(ignored, "updates.example.com");
        assert!(
            matches!(&v, Verdict::Blocked(w) if w.contains("ignores")),
            "{v:?}"
        );
    }

    #[test]
    fn exception_domains_allow_their_host() {
        let ats = "<key>NSAppTransportSecurity</key><dict><key>NSExceptionDomains</key><dict>
            <key>updates.example.com</key><dict><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict>
            <key>example.org</key><dict><key>NSIncludesSubdomains</key><true/><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict>
            <key>example.net</key><dict><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict>
        </dict></dict>";
        assert!(allowed(&verdict(ats, "updates.example.com")));
        assert!(allowed(&verdict(ats, "a.example.org")));
        assert!(
            !allowed(&verdict(ats, "a.example.net")),
            "no NSIncludesSubdomains"
        );
        assert!(!allowed(&verdict(ats, "other.example.com")));
        let no_http = "<key>NSAppTransportSecurity</key><dict><key>NSExceptionDomains</key><dict>
            <key>updates.example.com</key><dict><key>NSIncludesSubdomains</key><true/></dict></dict></dict>";
        let v = verdict(no_http, "updates.example.com");
        assert!(
            matches!(&v, Verdict::Blocked(w) if w.contains("NSExceptionAllowsInsecureHTTPLoads")),
            "{v:?}"
        );
    }

    #[test]
    fn a_plist_without_ats_keys_blocks_domains() {
        let v = verdict("", "updates.example.com");
        assert!(
            matches!(&v, Verdict::Blocked(w) if w.contains("updates.example.com")),
            "{v:?}"
        );
        assert_eq!(parse("not a plist"), None);
        assert_eq!(parse("<plist><dict><key>a</key></plist>"), None);
    }

    #[test]
    fn hosts_ats_does_not_cover() {
        let dir = tempfile::tempdir().unwrap();
        for u in [
            "http://192.168.1.20:8080/updates",
            "http://[fd00::1]/updates",
            "http://my-mac.local:8080/updates",
            "http://buildbox/updates",
        ] {
            let v = plain_http(dir.path(), &Url::parse(u).unwrap());
            assert!(matches!(v, Verdict::Exempt(_)), "{u}: {v:?}");
        }
        let v = plain_http(
            dir.path(),
            &Url::parse("http://updates.example.com/updates").unwrap(),
        );
        assert!(matches!(v, Verdict::Blocked(_)), "{v:?}");
    }

    #[test]
    fn finds_the_info_plist_under_ios() {
        let dir = tempfile::tempdir().unwrap();
        let ats = "<key>NSAppTransportSecurity</key><dict><key>NSAllowsArbitraryLoads</key><true/></dict>";
        let p = dir.path().join("ios/MyApp/MyApp");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::create_dir_all(dir.path().join("ios/MyApp/Pods/X")).unwrap();
        std::fs::write(dir.path().join("ios/MyApp/Pods/X/Info.plist"), plist("")).unwrap();
        std::fs::write(p.join("Info.plist"), plist(ats)).unwrap();
        let url = Url::parse("http://updates.example.com/updates").unwrap();
        let v = plain_http(dir.path(), &url);
        assert!(
            matches!(&v, Verdict::Allowed(w) if w.contains("ios/MyApp/MyApp/Info.plist")),
            "{v:?}"
        );
    }
}

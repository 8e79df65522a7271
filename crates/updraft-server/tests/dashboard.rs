//! The dashboard over plain HTTP, as a hostile browser or script would use
//! it: sessions (cookie attributes, sign-out and a deleted or expired key
//! ending them on the server, idle and absolute expiry), CSRF and origin
//! checks on every form, the sign-in limit per address, the headers every
//! page carries, escaping, and that a page is exactly as allowed as the API
//! with the same key. The real browser run is in the CLI's tests
//! (`crates/updraft-cli/tests/dashboard.rs`).

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// A browser-like client: no redirects followed, one session cookie kept.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The page's CSRF token (from its first form).
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="_csrf" value=""#)
            .expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="_csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    fn new(server: &Server) -> Browser {
        Browser {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&mut self, r: reqwest::RequestBuilder) -> Reply {
        let r = match &self.cookie {
            Some(c) => r.header("cookie", format!("updraft_session={c}")),
            None => r,
        };
        let res = r.send().await.expect("the server answers");
        let headers = res.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let value = set
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("updraft_session=");
            self.cookie = (!value.is_empty()).then(|| value.to_string());
        }
        Reply {
            status: res.status().as_u16(),
            headers,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Reply {
        let r = self.http.get(format!("{}{path}", self.base));
        self.send(r).await
    }

    /// A form post from the dashboard's own page (`Sec-Fetch-Site: same-origin`).
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.post_from(path, fields, Some("same-origin"), &[]).await
    }

    async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        site: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(url_encoded(fields));
        if let Some(site) = site {
            r = r.header("sec-fetch-site", site);
        }
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    async fn sign_in(&mut self, key: &str) -> Reply {
        self.post("/ui/signin", &[("key", key)]).await
    }
}

fn url_encoded(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn key(server: &Server, body: serde_json::Value) -> String {
    server.ok("POST", "/keys", Some(body)).await["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn signing_in_opens_a_server_side_session_that_sign_out_ends() {
    let server = Server::start().await;
    let mut b = Browser::new(&server);
    let home = b.get("/").await;
    assert_eq!((home.status, home.location()), (303, "/ui/"));
    let page = b.get("/ui/").await;
    assert_eq!((page.status, page.location()), (303, "/ui/signin"));
    let form = b.get("/ui/signin").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"type="password""#), "{}", form.body);

    let r = b.sign_in(ADMIN).await;
    assert_eq!((r.status, r.location()), (303, "/ui/"));
    let cookie = r.headers[SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=604800"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let token = b.cookie.clone().unwrap();
    assert!(!cookie.contains(ADMIN), "the cookie never carries the key");

    let apps = b.get("/ui/").await;
    assert_eq!(apps.status, 200, "{}", apps.body);
    let h = &apps.headers;
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert!(!apps.body.contains("<script>"), "no inline script");

    // Sign-out needs the session's CSRF token, like every form.
    let refused = b.post("/ui/signout", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(b.get("/ui/").await.status, 200, "still signed in");
    let out = b.post("/ui/signout", &[("_csrf", &apps.csrf())]).await;
    assert_eq!((out.status, out.location()), (303, "/ui/signin"));
    assert!(out.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The old cookie, replayed, is dead on the server too.
    b.cookie = Some(token);
    assert_eq!(b.get("/ui/").await.location(), "/ui/signin");
}

/// What a refused form sends: a name, its fields, its `Sec-Fetch-Site`, other headers.
type Case<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<&'a str>,
    Vec<(&'a str, &'a str)>,
);

#[tokio::test]
async fn forms_need_the_sessions_token_and_the_dashboards_origin() {
    let server = Server::start().await;
    server.with_app().await;
    let mut b = Browser::new(&server);
    b.sign_in(ADMIN).await;
    let app = b.get(&format!("/ui/apps/{APP}")).await;
    assert_eq!(app.status, 200, "{}", app.body);
    let csrf = app.csrf();
    let path = format!("/ui/apps/{APP}/channels");
    let before = server
        .ok("GET", &format!("/apps/{APP}/channels"), None)
        .await;

    let cases: [Case; 5] = [
        ("no token", vec![("name", "x")], Some("same-origin"), vec![]),
        (
            "a wrong token",
            vec![("name", "x"), ("_csrf", "0000")],
            Some("same-origin"),
            vec![],
        ),
        (
            "another site",
            vec![("name", "x"), ("_csrf", &csrf)],
            Some("cross-site"),
            vec![],
        ),
        (
            "a sibling site",
            vec![("name", "x"), ("_csrf", &csrf)],
            Some("same-site"),
            vec![],
        ),
        (
            "another origin",
            vec![("name", "x"), ("_csrf", &csrf)],
            None,
            vec![("origin", "http://evil.example")],
        ),
    ];
    for (what, fields, site, extra) in cases {
        let r = b.post_from(&path, &fields, site, &extra).await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{what}"
        );
    }
    assert_eq!(
        server
            .ok("GET", &format!("/apps/{APP}/channels"), None)
            .await,
        before,
        "nothing changed"
    );

    // Without a session a form is refused before anything is read.
    let mut stranger = Browser::new(&server);
    let r = stranger
        .post(&path, &[("name", "x"), ("_csrf", &csrf)])
        .await;
    assert_eq!((r.status, r.location()), (303, "/ui/signin"));

    // The API's validation answers, as a page with its status.
    let blank = b.post(&path, &[("name", "  "), ("_csrf", &csrf)]).await;
    assert_eq!(blank.status, 400, "{}", blank.body);
    assert!(blank.body.contains("cannot be blank"), "{}", blank.body);

    // The right token from the dashboard's origin (an older browser sends only Origin).
    let host = server.base.trim_start_matches("http://").to_string();
    let ok = b
        .post_from(
            &path,
            &[("name", "qa"), ("ios", "on"), ("_csrf", &csrf)],
            None,
            &[("origin", &server.base)],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location()),
        (303, format!("/ui/apps/{APP}/channels/qa").as_str()),
        "{host}"
    );
    let qa = server
        .ok("GET", &format!("/apps/{APP}/channels/qa"), None)
        .await;
    assert_eq!(
        (qa["ios"].as_bool(), qa["android"].as_bool()),
        (Some(true), Some(false))
    );
    // Stamped with the session's key, as through the API.
    let audit = server
        .ok(
            "GET",
            &format!("/apps/{APP}/audit?kind=channel.created&limit=1"),
            None,
        )
        .await;
    assert_eq!(audit["items"][0]["actor"], "key:1", "{audit}");
}

#[tokio::test]
async fn a_page_is_exactly_as_allowed_as_the_api_with_its_key() {
    let server = Server::start().await;
    server.with_app().await;
    server.publish("1.0.1").await;
    server
        .ok(
            "POST",
            "/apps",
            Some(json!({"app_id": "com.example.other", "name": "<script>alert(1)</script>"})),
        )
        .await;
    let read = key(
        &server,
        json!({"name": "viewer", "mode": "read", "apps": [APP]}),
    )
    .await;
    let mut b = Browser::new(&server);
    assert_eq!(b.sign_in(&read).await.status, 303);

    let apps = b.get("/ui/").await;
    assert!(
        apps.body.contains(APP) && !apps.body.contains("com.example.other"),
        "{}",
        apps.body
    );
    assert!(
        !apps.body.contains("API keys"),
        "no keys page for a read key"
    );
    assert_eq!(b.get("/ui/apps/com.example.other").await.status, 403);
    assert_eq!(b.get("/ui/keys").await.status, 403);

    let channel = b.get(&format!("/ui/apps/{APP}/channels/production")).await;
    assert_eq!(channel.status, 200, "{}", channel.body);
    assert!(
        !channel.body.contains(">Deploy</button>") && !channel.body.contains("Save settings"),
        "no write forms"
    );
    let csrf = channel.csrf();
    let before = server
        .ok("GET", &format!("/apps/{APP}/channels/production"), None)
        .await;
    for (path, fields) in [
        (
            format!("/ui/apps/{APP}/channels/production/deploy"),
            vec![("bundle", "builtin")],
        ),
        (
            format!("/ui/apps/{APP}/channels/production/rollback"),
            vec![],
        ),
        (
            format!("/ui/apps/{APP}/channels/production"),
            vec![
                // Drawn with every flag off and "major"; only the policy changed.
                ("was_public", "off"),
                ("was_ios", "off"),
                ("was_android", "off"),
                ("was_electron", "off"),
                ("was_allow_device_self_set", "off"),
                ("was_allow_emulator", "off"),
                ("was_allow_device", "off"),
                ("was_allow_dev", "off"),
                ("was_allow_prod", "off"),
                ("was_disable_auto_update_under_native", "off"),
                ("was_disable_auto_update", "major"),
                ("disable_auto_update", "none"),
            ],
        ),
        (format!("/ui/apps/{APP}/channels"), vec![("name", "x")]),
        ("/ui/keys".to_string(), vec![("name", "x"), ("mode", "all")]),
    ] {
        let mut fields = fields.clone();
        fields.push(("_csrf", &csrf));
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    assert_eq!(
        server
            .ok("GET", &format!("/apps/{APP}/channels/production"), None)
            .await,
        before
    );

    // Every value is escaped.
    let mut admin = Browser::new(&server);
    admin.sign_in(ADMIN).await;
    let all = admin.get("/ui/").await;
    assert!(
        all.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        all.body
    );
    assert!(!all.body.contains("<script>alert"), "{}", all.body);
}

#[tokio::test]
async fn a_deleted_or_expired_key_ends_its_sessions() {
    let clock = TestClock::now();
    let server = Server::start_clocked(&clock).await;
    let now = clock_now(&clock);
    let short = key(
        &server,
        json!({"name": "short", "mode": "write", "expires_at": now + 3_600_000}),
    )
    .await;
    let doomed = key(&server, json!({"name": "doomed", "mode": "write"})).await;
    let mut a = Browser::new(&server);
    let mut b = Browser::new(&server);
    let mut c = Browser::new(&server);
    a.sign_in(&short).await;
    b.sign_in(&doomed).await;
    c.sign_in(ADMIN).await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.get("/ui/").await.status, 200);
    }
    let keys = server.ok("GET", "/keys", None).await;
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "doomed")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    server.ok("DELETE", &format!("/keys/{id}"), None).await;
    assert_eq!(b.get("/ui/").await.location(), "/ui/signin", "deleted key");

    clock.advance(3_600_000);
    assert_eq!(
        a.get("/ui/").await.location(),
        "/ui/signin",
        "the key expired"
    );
    assert_eq!(c.get("/ui/").await.status, 200);
    // Idle for 12 hours: over.
    clock.advance(12 * 3_600_000);
    assert_eq!(c.get("/ui/").await.location(), "/ui/signin", "idle");
}

#[tokio::test]
async fn sessions_end_after_a_week_however_often_used() {
    let clock = TestClock::now();
    let server = Server::start_clocked(&clock).await;
    let mut b = Browser::new(&server);
    b.sign_in(ADMIN).await;
    // 15 × 11 h = 165 h: still within the week.
    for _ in 0..15 {
        clock.advance(11 * 3_600_000);
        assert_eq!(b.get("/ui/").await.status, 200, "used every 11 hours");
    }
    clock.advance(11 * 3_600_000);
    assert_eq!(
        b.get("/ui/").await.location(),
        "/ui/signin",
        "7 days at most"
    );
}

fn clock_now(clock: &TestClock) -> i64 {
    use updraft_server::clock::Clock;
    clock.now_ms()
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address_only() {
    let server = Server::start_tweaked(Backend::Sqlite, |c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut b = Browser::new(&server);
    for i in 0..10 {
        let r = b
            .post_from(
                "/ui/signin",
                &[("key", "upd_wrong")],
                Some("same-origin"),
                &[("x-forwarded-for", "203.0.113.9")],
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.body);
        assert!(r.body.contains("not valid"));
    }
    // The 11th wrong key from that address is answered 429, with when to try again.
    let r = b
        .post_from(
            "/ui/signin",
            &[("key", "upd_wrong")],
            Some("same-origin"),
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(b.cookie.is_none());
    // Another address is answered as usual.
    let r = b
        .post_from(
            "/ui/signin",
            &[("key", "upd_wrong")],
            Some("same-origin"),
            &[("x-forwarded-for", "198.51.100.4")],
        )
        .await;
    assert_eq!(r.status, 401);
    // A right key signs in, even from the limited address (a colleague behind the same NAT).
    let r = b
        .post_from(
            "/ui/signin",
            &[("key", ADMIN)],
            Some("same-origin"),
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/ui/"));
    // A sign-in form posted from another site is refused before the key is read.
    let mut x = Browser::new(&server);
    let r = x
        .post_from("/ui/signin", &[("key", ADMIN)], Some("cross-site"), &[])
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn the_assets_are_embedded_and_cached_by_their_hash() {
    let server = Server::start().await;
    let mut b = Browser::new(&server);
    let page = b.get("/ui/signin").await;
    let css = page
        .body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|h| h.ends_with(".css")))
        .unwrap()
        .to_string();
    let js = page
        .body
        .split("src=\"")
        .find_map(|s| s.split('"').next().filter(|h| h.ends_with(".js")))
        .unwrap()
        .to_string();
    for (path, kind) in [(&css, "text/css"), (&js, "text/javascript")] {
        let r = b.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(!r.body.is_empty());
    }
    assert_eq!(b.get("/ui/assets/app.000000000000.css").await.status, 404);
}

#[tokio::test]
async fn hostile_names_links_and_paths() {
    let server = Server::start().await;
    server.with_app().await;
    // A channel named like a path step is refused by the API itself.
    for name in [".", ".."] {
        let (status, body) = server
            .api(
                "POST",
                &format!("/apps/{APP}/channels"),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_name")),
            "{name}"
        );
    }
    // Odd but valid names work through their percent-encoded paths.
    let odd = "ünïcode / with spaces?#";
    server.add_channel(json!({"name": odd})).await;
    // A bundle's link is drawn as a link only when it is a web address.
    let zip = bundle_zip("x");
    let (status, _) = server
        .upload(
            "1.0.1",
            "&link=javascript:alert(1)&comment=%3Cb%3Ehi%3C%2Fb%3E",
            zip,
        )
        .await;
    assert_eq!(status, 201);
    let mut b = Browser::new(&server);
    b.sign_in(ADMIN).await;
    let first = b.cookie.clone().unwrap();
    let bundles = b.get(&format!("/ui/apps/{APP}/bundles")).await;
    assert_eq!(bundles.status, 200, "{}", bundles.body);
    assert!(!bundles.body.contains("javascript:"), "{}", bundles.body);
    assert!(
        bundles.body.contains("&lt;b&gt;hi&lt;/b&gt;"),
        "{}",
        bundles.body
    );
    let encoded = urlencode(odd);
    let page = b.get(&format!("/ui/apps/{APP}/channels/{encoded}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Channel ünïcode / with spaces?#"),
        "{}",
        page.body
    );
    // Unknown pages under /ui/ are pages too.
    let missing = b.get("/ui/no-such-page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Signing in again in the same browser ends the session it had.
    b.sign_in(ADMIN).await;
    assert_ne!(b.cookie.as_deref(), Some(first.as_str()));
    let mut replay = Browser::new(&server);
    replay.cookie = Some(first);
    assert_eq!(replay.get("/ui/").await.location(), "/ui/signin");
}

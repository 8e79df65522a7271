//! The dashboard's sessions over plain HTTP, as a hostile browser or script
//! would use them: cookie attributes, sign-out and a deleted or expired key
//! ending sessions on the server, idle and absolute expiry, CSRF and origin
//! checks on every form, and the sign-in limit per address. Pages and
//! permissions are in `dashboard_pages.rs`; the real browser run is in the
//! CLI's tests (`crates/updraft-cli/tests/dashboard.rs`).

mod browser_client;

use browser_client::*;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use updraft_server::clock::TestClock;
use updraft_test_support::*;

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

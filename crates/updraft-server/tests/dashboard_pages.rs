//! The dashboard's pages over plain HTTP: a page is exactly as allowed as
//! the API with the same key, every value is escaped, odd names and hostile
//! links and paths are handled, and the assets are embedded and cached.

mod browser_client;

use browser_client::*;
use serde_json::json;
use updraft_test_support::*;

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
    // A gate chart's CSV names only a known gate.
    let gate = b
        .get(&format!(
            "/ui/apps/{APP}/channels/production/gate.csv?gate=x%0D%0Ainjected"
        ))
        .await;
    assert_eq!(gate.status, 404, "{}", gate.body);
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

#[tokio::test]
async fn the_dashboard_can_be_turned_off() {
    let server = Server::start_tweaked(Backend::Sqlite, |c| c.server.dashboard = false).await;
    let mut b = Browser::new(&server);
    for path in ["/", "/ui/", "/ui/signin", "/ui/apps/x"] {
        let r = b.get(path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
    let r = b.sign_in(ADMIN).await;
    assert_ne!(r.status, 303, "no sign-in: {}", r.body);
    assert!(b.cookie.is_none());
    // The management API is unchanged.
    assert_eq!(server.api("GET", "/apps", None).await.0, 200);
}

//! Targeting as a user runs it: a geographic public channel served by the
//! country the trusted proxy in front reports (and never by a header from
//! anyone else), the country from a MaxMind database written by an
//! independent implementation (Python's `mmdb-writer`), named cohorts that
//! rules name, and the refusals that change nothing.

use serde_json::{json, Value};
use updraft_server::config::Config;
use updraft_test_support::*;

/// `POST /updates` for the default device with `headers`; the reply.
async fn check_with(s: &Server, extra: Value, headers: &[(&str, &str)]) -> Value {
    let mut r = s.http.post(s.url("/updates")).json(&info(extra));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let res = r.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn behind_proxy(c: &mut Config) {
    c.geo.country_header = Some(axum::http::HeaderName::from_static("cf-ipcountry"));
    c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// Bundles 1.0.1 (production, public) and 1.0.2 on `eu`, public for `rule`.
async fn geographic(s: &Server, rule: Value) {
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let eu = s
        .add_channel(json!({"name": "eu", "bundle": "1.0.2", "public": true, "target": rule}))
        .await;
    assert_eq!(eu["channel"]["target"], rule, "{eu}");
    assert_eq!(
        eu["unpublished"],
        json!([]),
        "a targeted public channel takes nothing: {eu}"
    );
}

#[tokio::test]
async fn a_geographic_channel_follows_the_trusted_proxys_country_only() {
    let s = Server::start_tweaked(Backend::Sqlite, behind_proxy).await;
    geographic(&s, json!({"country": ["FR", "DE"]})).await;
    let fr = check_with(&s, json!({}), &[("CF-IPCountry", "fr")]).await;
    assert_eq!(fr["version"], "1.0.2", "{fr}");
    for other in [
        vec![("CF-IPCountry", "US")],
        vec![("CF-IPCountry", "XX")],
        vec![],
    ] {
        let v = check_with(&s, json!({}), &other).await;
        assert_eq!(v["version"], "1.0.1", "{other:?}: {v}");
    }
    // Explain says why, with the country given as the proxy would.
    let e = s
        .ok(
            "POST",
            &format!("/apps/{APP}/explain?country=de"),
            Some(info(json!({}))),
        )
        .await;
    assert_eq!(e["channel"], "eu", "{e}");
    let trace: Vec<String> = serde_json::from_value(e["trace"].clone()).unwrap();
    assert!(
        trace.contains(
            &"public channel eu is for country in FR, DE: the device (country DE) matches"
                .to_string()
        ),
        "{trace:?}"
    );
    let (st, bad) = s
        .api(
            "POST",
            &format!("/apps/{APP}/explain?country=France"),
            Some(info(json!({}))),
        )
        .await;
    assert_eq!(
        (st, bad["error"].as_str()),
        (400, Some("invalid_query_parameters")),
        "{bad}"
    );

    // A server that does not trust the sender ignores the header.
    let open = Server::start_tweaked(Backend::Sqlite, |c| {
        c.geo.country_header = Some(axum::http::HeaderName::from_static("cf-ipcountry"));
    })
    .await;
    geographic(&open, json!({"country": ["FR"]})).await;
    let spoofed = check_with(&open, json!({}), &[("CF-IPCountry", "FR")]).await;
    assert_eq!(
        spoofed["version"], "1.0.1",
        "an untrusted header set a country: {spoofed}"
    );
}

/// A MaxMind database mapping 127.0.0.0/8 to JP and 198.51.100.0/24 to BR,
/// written by `mmdb-writer`.
fn geo_database(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("countries.mmdb");
    python(
        "import sys\nfrom netaddr import IPSet\nfrom mmdb_writer import MMDBWriter\n\
         w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type='GeoLite2-Country')\n\
         w.insert_network(IPSet(['127.0.0.0/8']), {'country': {'iso_code': 'JP'}})\n\
         w.insert_network(IPSet(['198.51.100.0/24']), {'country': {'iso_code': 'BR'}})\n\
         w.to_db_file(sys.argv[1])",
        &[&path.display().to_string()],
        b"",
        "mmdb-writer",
    );
    path
}

#[tokio::test]
async fn the_geo_database_gives_the_client_address_country() {
    let dir = tempfile::tempdir().unwrap();
    let db = geo_database(dir.path());
    let direct =
        Server::start_tweaked(Backend::Sqlite, |c| c.geo.database = Some(db.clone())).await;
    geographic(&direct, json!({"country": ["JP"]})).await;
    let v = check_with(&direct, json!({}), &[("X-Forwarded-For", "198.51.100.7")]).await;
    assert_eq!(
        v["version"], "1.0.2",
        "127.0.0.1 is in JP; an untrusted X-Forwarded-For is ignored: {v}"
    );

    let proxied = Server::start_tweaked(Backend::Sqlite, |c| {
        c.geo.database = Some(db.clone());
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    geographic(&proxied, json!({"country": ["BR"]})).await;
    let v = check_with(
        &proxied,
        json!({}),
        &[("X-Forwarded-For", "203.0.113.1, 198.51.100.7")],
    )
    .await;
    assert_eq!(
        v["version"], "1.0.2",
        "the proxy's last X-Forwarded-For entry is in BR: {v}"
    );
    let v = check_with(&proxied, json!({}), &[("X-Forwarded-For", "203.0.113.1")]).await;
    assert_eq!(
        v["version"], "1.0.1",
        "an address the database lacks has no country: {v}"
    );

    // A file that is not a MaxMind database stops the start, naming it.
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"not a database").unwrap();
    let storage = Storage::new(Backend::Sqlite).await;
    let mut c = storage.config();
    c.geo.database = Some(junk);
    let err = updraft_server::open_and_start(c)
        .await
        .err()
        .expect("the start fails");
    assert!(format!("{err:#}").contains("[geo] database"), "{err:#}");
}

#[tokio::test]
async fn cohorts_are_named_by_rules_and_bad_rules_change_nothing() {
    let s = Server::start().await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    let cohorts = format!("/apps/{APP}/cohorts");

    // Refused with a precise error; nothing is stored.
    for (rule, code, says) in [
        (
            json!({"country": ["France"]}),
            "invalid_target",
            "two-letter",
        ),
        (
            json!({"platform": ["web"]}),
            "invalid_target",
            "\"web\" is not ios",
        ),
        (
            json!({"native": "newest"}),
            "invalid_target",
            "not a semver range",
        ),
        (
            json!({"region": ["EU"]}),
            "invalid_json_body",
            "unknown variant",
        ),
        (
            json!({"cohort": "testers"}),
            "unknown_cohort",
            "cohort testers",
        ),
    ] {
        let (st, v) = s
            .api(
                "POST",
                &format!("/apps/{APP}/channels"),
                Some(json!({"name": "beta", "bundle": "1.0.2", "public": true, "target": rule})),
            )
            .await;
        assert_eq!((st, v["error"].as_str()), (400, Some(code)), "{rule}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{rule}: {v}");
    }
    let (st, v) = s
        .api("GET", &format!("/apps/{APP}/channels/beta"), None)
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .api(
            "PUT",
            &format!("{cohorts}/testers"),
            Some(json!({"device_ids": ["not-a-uuid"]})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_cohort")),
        "{v}"
    );
    let (st, v) = s
        .api("PUT", &format!("{cohorts}/bad%20name"), Some(json!({})))
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_cohort")),
        "{v}"
    );
    assert_eq!(s.ok("GET", &cohorts, None).await, json!([]));

    // A cohort, a channel for it, and its members taking effect at once.
    let (st, made) = s
        .api(
            "PUT",
            &format!("{cohorts}/testers"),
            Some(json!({"device_ids": [DEV.to_uppercase()]})),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(
        made["device_ids"],
        json!([DEV]),
        "device ids are kept lower-case: {made}"
    );
    s.add_channel(
        json!({"name": "beta", "bundle": "1.0.2", "public": true, "target": {"cohort": "testers"}}),
    )
    .await;
    assert_eq!(s.check(json!({})).await["version"], "1.0.2");
    let (st, v) = s
        .api(
            "PUT",
            &format!("{cohorts}/testers"),
            Some(json!({"custom_ids": ["qa-1"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        s.check(json!({})).await["version"],
        "1.0.1",
        "the device left the cohort"
    );
    assert_eq!(
        s.check(json!({"custom_id": "qa-1"})).await["version"],
        "1.0.2"
    );

    // In use: not deleted; once no rule names it, deleted.
    let (st, v) = s.api("DELETE", &format!("{cohorts}/testers"), None).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("channel beta"),
        "{v}"
    );
    s.set_channel("beta", json!({"target": null})).await;
    let (st, _) = s.api("DELETE", &format!("{cohorts}/testers"), None).await;
    assert_eq!(st, 204);
    let (st, _) = s.api("DELETE", &format!("{cohorts}/testers"), None).await;
    assert_eq!(st, 404);

    // A rollout step naming a cohort the app lacks is refused too.
    let (st, v) = s
        .api(
            "POST",
            &format!("/apps/{APP}/channels/production/rollout"),
            Some(json!({"bundle": "1.0.2", "plan": {"steps": [{"percent": 100, "target": {"cohort": "nobody"}}]}})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("unknown_cohort")),
        "{v}"
    );
}

#[tokio::test]
async fn explain_shows_each_rule_and_the_facts_it_read() {
    let s = Server::start().await;
    geographic(
        &s,
        json!({"all": [{"country": ["FR", "DE"]}, {"not": {"custom_id": {"prefix": "qa-"}}}]}),
    )
    .await;
    s.bundle("1.0.3").await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/channels/eu/rollout"),
        Some(json!({"bundle": "1.0.3", "plan": {"steps": [
            {"percent": 100, "target": {"native": ">=1.0.0, <2"}}
        ], "auto_advance": false, "auto_promote": false}})),
    )
    .await;
    let mut seen = Vec::new();
    for (country, extra) in [
        ("FR", json!({})),
        ("FR", json!({"custom_id": "qa-3"})),
        (
            "DE",
            json!({"version_build": "2.0.0", "version_name": "2.0.0"}),
        ),
    ] {
        let e = s
            .ok(
                "POST",
                &format!("/apps/{APP}/explain?country={country}"),
                Some(info(extra.clone())),
            )
            .await;
        seen.push(json!({"country": country, "request": extra, "outcome": e["outcome"], "trace": e["trace"]}));
    }
    insta::assert_json_snapshot!(seen);
}

#[tokio::test]
async fn a_device_cannot_choose_a_channel_whose_rule_it_does_not_match() {
    let s = Server::start_tweaked(Backend::Sqlite, behind_proxy).await;
    s.with_app().await;
    s.bundle("1.0.1").await;
    s.bundle("1.0.2").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.add_channel(
        json!({"name": "android2", "bundle": "1.0.2", "allow_device_self_set": true,
        "target": {"native": ">=2.0.0"}}),
    )
    .await;
    // An old plugin keeps its choice on the server (as an override, which
    // rules do not bind): the choice itself is refused.
    for plugin in ["7.0.0", "8.51.14"] {
        let ask = info(json!({"channel": "android2", "plugin_version": plugin}));
        let (st, v) = s.device("POST", "/channel_self", &ask).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["error"], "channel_self_set_not_allowed", "{plugin}: {v}");
        assert_eq!(
            s.check(json!({"plugin_version": plugin})).await["version"],
            "1.0.1"
        );
    }
    let fits = info(json!({"channel": "android2", "plugin_version": "7.0.0",
        "version_build": "2.1.0", "version_name": "2.1.0"}));
    let (st, v) = s.device("POST", "/channel_self", &fits).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")), "{v}");
}

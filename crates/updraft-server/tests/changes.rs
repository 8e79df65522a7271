//! The change log over HTTP: every management write and device-scoped change
//! is listed with who made it and when (by the server's clock), pages by id,
//! is reachable through the typed client, and stays within a key's apps.

use serde_json::json;
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// 2026-01-01T00:00:00Z: the time the test clock stands at.
const T0: i64 = 1_767_225_600_000;

async fn at_t0() -> (Server, TestClock) {
    let clock = TestClock::at(T0);
    (Server::start_clocked(&clock).await, clock)
}

fn after(id: i64, limit: Option<i64>) -> updraft_protocol::api::ChangeListQuery {
    updraft_protocol::api::ChangeListQuery {
        after: Some(id),
        limit,
    }
}

fn kinds(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn management_writes_and_device_choices_are_logged_with_who_and_when() {
    let (s, clock) = at_t0().await;
    s.with_app().await;
    clock.advance(60_000);
    s.bundle("1.0.1").await;
    s.set_channel("production", json!({"bundle": "1.0.1"}))
        .await;
    s.ok(
        "POST",
        &format!("/apps/{APP}/channels"),
        Some(json!({"name": "beta", "allow_device_self_set": true})),
    )
    .await;
    let mut body = info(json!({"plugin_version": "6.25.8"}));
    body["channel"] = json!("beta");
    let (_, r) = s.device("POST", "/channel_self", &body).await;
    assert_eq!(r, json!({"status": "ok"}));
    let page = s.ok("GET", &format!("/apps/{APP}/changes"), None).await;
    assert_eq!(
        kinds(&page),
        [
            "app.created",
            "channel.created",
            "bundle.created",
            "channel.updated",
            "channel.created",
            "device.self_assigned"
        ],
        "{page}"
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items[0]["actor"], "key:1",
        "a key by id: its name is not shown to every reader of the log"
    );
    assert_eq!(items[0]["at"], T0, "the time comes from the server's clock");
    assert_eq!(items[2]["at"], T0 + 60_000);
    assert_eq!(items[3]["payload"]["bundle"], "1.0.1");
    assert_eq!(items[5]["actor"], "device");
    assert_eq!(items[5]["device_id"], DEV);
    assert_eq!(page["next_after"], items[5]["id"]);
    // Paging: after an id, at most `limit`.
    let after = items[1]["id"].as_i64().unwrap();
    let page = s
        .ok(
            "GET",
            &format!("/apps/{APP}/changes?after={after}&limit=2"),
            None,
        )
        .await;
    assert_eq!(kinds(&page), ["bundle.created", "channel.updated"]);
    assert_eq!(page["next_after"], items[3]["id"]);
}

#[tokio::test]
async fn the_client_reads_the_log_and_a_key_of_another_app_cannot() {
    let s = Server::start().await;
    s.with_app().await;
    let (_, k) = s
        .api(
            "POST",
            "/keys",
            Some(json!({"name": "reader", "mode": "read", "apps": [APP]})),
        )
        .await;
    let reader = updraft_client::Client::new(&s.base, k["secret"].as_str().unwrap()).unwrap();
    let page = reader.list_changes(APP, &after(0, Some(1))).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].kind, "app.created");
    let rest = reader
        .list_changes(APP, &after(page.next_after, None))
        .await
        .unwrap();
    assert_eq!(rest.items[0].kind, "channel.created");
    let up_to_date = reader
        .list_changes(APP, &after(rest.next_after, None))
        .await
        .unwrap();
    assert!(up_to_date.items.is_empty());
    assert_eq!(up_to_date.next_after, rest.next_after);
    // A key limited to another app is refused, as on every app endpoint.
    s.ok(
        "POST",
        "/apps",
        Some(json!({"app_id": "com.example.other"})),
    )
    .await;
    let (_, k) = s
        .api(
            "POST",
            "/keys",
            Some(json!({"name": "other", "mode": "all", "apps": ["com.example.other"]})),
        )
        .await;
    let other = updraft_client::Client::new(&s.base, k["secret"].as_str().unwrap()).unwrap();
    let refused = other.list_changes(APP, &after(0, None)).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    let own = other
        .list_changes("com.example.other", &after(0, None))
        .await
        .unwrap();
    assert_eq!(own.items.len(), 1, "only its own app's changes");
    // No key at all.
    let (st, _) = s
        .api_as("", "GET", &format!("/apps/{APP}/changes"), None)
        .await;
    assert_eq!(st, 401);
}

/// Ids are taken before commit (PostgreSQL): a reader paging the log never
/// steps over a change whose transaction is still open and commits late.
#[tokio::test]
async fn a_page_stops_below_a_change_that_commits_late() {
    use sqlx::Connection as _;
    let s = Server::start_on(Backend::Postgres).await;
    s.with_app().await;
    let mut late = sqlx::PgConnection::connect(s.config.database.url.expose())
        .await
        .unwrap();
    let mut tx = late.begin().await.unwrap();
    let (late_id,): (i64,) = sqlx::query_as(
        "INSERT INTO changes (app_id, kind, payload, actor, at_ms) \
         VALUES ($1, 'test.late', '{}', 'system', 0) RETURNING id",
    )
    .bind(APP)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    // A write after it gets a higher id and commits first.
    s.add_channel(json!({"name": "beta"})).await;
    let page = s.ok("GET", &format!("/apps/{APP}/changes"), None).await;
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id < late_id),
        "nothing past the open change is listed yet: {page}"
    );
    assert_eq!(page["next_after"], ids.last().copied().unwrap_or(0));
    tx.commit().await.unwrap();
    // Paging on from next_after now gives the late change, then the write.
    let next = page["next_after"].as_i64().unwrap();
    let path = format!("/apps/{APP}/changes?after={next}");
    let rest = poll_until(
        std::time::Duration::from_secs(5),
        || s.ok("GET", &path, None),
        |p| kinds(p).len() >= 2,
    )
    .await;
    assert_eq!(kinds(&rest), ["test.late", "channel.created"]);
}

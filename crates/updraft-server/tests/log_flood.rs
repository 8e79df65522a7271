//! The request log cannot be flooded (issue #10's review): made-up app ids,
//! unknown paths and bad API keys against a real server write at most their
//! budget of lines a minute, and the summary says how many more there were and
//! where they came from. An internal error on a device endpoint is logged with
//! the request id the client got. PostgreSQL must be reachable at
//! `UPDRAFT_TEST_POSTGRES_URL`; the test needing it fails, never skips, without it.
//!
//! The log is captured in process: the tests run on tokio's current-thread
//! runtime, so the server's tasks log through the subscriber set on this thread.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sqlx::Connection as _;
use tracing::subscriber::DefaultGuard;
use updraft_server::log_budget::{DEVICE_ERROR_LINES, LINES_PER_KEY, LINES_PER_KIND};
use updraft_test_support::*;

/// JSON log lines written while it lives, at info.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start() -> (Captured, DefaultGuard) {
        let c = Captured::default();
        let writer = c.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(move || writer.clone())
            .finish();
        (c, tracing::subscriber::set_default(subscriber))
    }

    /// The lines so far, each one JSON object.
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The lines whose fields match `pred`.
    fn matching(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| pred(&l["fields"]))
            .collect()
    }

    /// The summary line of the budget `kind`.
    fn summary(&self, kind: &str) -> Value {
        let found = self.matching(|f| {
            f["message"] == "log lines counted but not written" && f["lines"] == kind
        });
        assert_eq!(found.len(), 1, "one summary line for {kind}: {found:?}");
        found[0]["fields"].clone()
    }
}

#[tokio::test]
async fn made_up_app_ids_cannot_flood_the_log_and_the_summary_names_the_loudest() {
    let (log, _guard) = Captured::start();
    let mut s = Server::start().await;
    const MADE_UP: u64 = 300;
    const LOUD: u64 = 150;
    let mut sent = 0;
    for i in 0..MADE_UP {
        let (status, _) = s
            .device(
                "POST",
                "/updates",
                &info(json!({"app_id": format!("com.made.up{i}")})),
            )
            .await;
        assert_eq!(status, 429, "an unknown app gets on_premise_app");
        sent += 1;
        if i % 2 == 0 {
            s.device("POST", "/updates", &info(json!({"app_id": "com.loud.app"})))
                .await;
            sent += 1;
        }
    }
    assert_eq!(sent, MADE_UP + LOUD);
    s.stop().await;

    let failed = log.matching(|f| f["message"] == "device request failed");
    assert_eq!(
        failed.len() as u64,
        DEVICE_ERROR_LINES,
        "at most the cap, whatever the number of app ids"
    );
    let loud = failed
        .iter()
        .filter(|l| l["fields"]["app_id"] == "com.loud.app")
        .count();
    assert_eq!(
        u32::try_from(loud),
        Ok(LINES_PER_KEY),
        "one app's own budget"
    );
    let last = failed.last().unwrap();
    assert!(
        last["fields"]["more"]
            .as_str()
            .is_some_and(|m| m.contains("budget of device error lines is spent")),
        "the last line says that the rest is counted: {last}"
    );
    let summary = log.summary("device_errors");
    assert_eq!(summary["suppressed"], sent - DEVICE_ERROR_LINES);
    let top = summary["top"].as_str().unwrap();
    let expected = format!(
        "com.loud.app on_premise_app: {}",
        LOUD - LINES_PER_KEY as u64
    );
    assert!(
        top.starts_with(&expected),
        "the loudest pair first, counted exactly: {top}"
    );
    assert_eq!(top.split(", ").count(), 5, "the top five: {top}");
    let traffic = log.matching(|f| f["message"] == "device traffic" && f["endpoint"] == "/updates");
    assert_eq!(
        traffic[0]["fields"]["status_4xx"], sent,
        "every reply is counted"
    );
}

#[tokio::test]
async fn unknown_paths_and_bad_keys_keep_their_first_lines_and_are_summarised() {
    let (log, _guard) = Captured::start();
    let mut s = Server::start().await;
    const EACH: u64 = 50;
    for i in 0..EACH {
        let path = if i % 5 == 0 { "/wp-login.php" } else { "/.env" };
        assert_eq!(s.get_status(path).await, 404);
        let (status, _) = s
            .api_as("upd_wrong_key_0123456789", "GET", "/apps", None)
            .await;
        assert_eq!(status, 401);
    }
    // A request that is neither still gets its line once the budgets are spent.
    s.ok("GET", "/apps", None).await;
    s.stop().await;

    let api =
        |status: u16| log.matching(move |f| f["message"] == "api request" && f["status"] == status);
    let unknown = api(404);
    assert_eq!(unknown.len() as u64, LINES_PER_KIND);
    assert_eq!(
        unknown[0]["fields"]["path"], "/wp-login.php",
        "the first lines are kept"
    );
    assert_eq!(unknown[0]["fields"]["error"], "not_found");
    assert!(unknown.last().unwrap()["fields"]["more"].is_string());
    let refused = api(401);
    assert_eq!(refused.len() as u64, LINES_PER_KIND);
    assert_eq!(refused[0]["fields"]["error"], "invalid_apikey");
    assert_eq!(
        api(200).len(),
        1,
        "other management requests are not limited"
    );

    let summary = log.summary("unknown_paths");
    assert_eq!(summary["suppressed"], EACH - LINES_PER_KIND);
    assert_eq!(summary["top"], "GET /.env: 24, GET /wp-login.php: 6");
    let summary = log.summary("refused");
    assert_eq!(summary["suppressed"], EACH - LINES_PER_KIND);
    assert_eq!(summary["top"], "/api/v1/apps invalid_apikey: 30");
}

#[tokio::test]
async fn a_wrong_method_without_a_key_is_limited_but_an_error_with_a_valid_key_is_not() {
    let (log, _guard) = Captured::start();
    let mut s = Server::start().await;
    const EACH: u64 = 50;
    for _ in 0..EACH {
        let res = s.http.put(s.url("/api/v1/apps")).send().await.unwrap();
        assert_eq!(res.status(), 405, "no route for PUT, before any key check");
    }
    const KEYED: u64 = LINES_PER_KIND + 5;
    for _ in 0..KEYED {
        let (status, _) = s.api("GET", "/apps/com.not.there", None).await;
        assert_eq!(status, 404);
    }
    s.stop().await;

    let api =
        |status: u16| log.matching(move |f| f["message"] == "api request" && f["status"] == status);
    let wrong_method = api(405);
    assert_eq!(wrong_method.len() as u64, LINES_PER_KIND, "405 is limited");
    assert!(wrong_method.last().unwrap()["fields"]["more"].is_string());
    assert_eq!(
        api(404).len() as u64,
        KEYED,
        "an error answered to a valid key is logged every time"
    );
    let summary = log.summary("unknown_paths");
    assert_eq!(summary["suppressed"], EACH - LINES_PER_KIND);
    assert_eq!(summary["top"], "PUT /api/v1/apps: 30");
}

/// A table the app's snapshot is read from is renamed behind the server's back.
async fn break_the_store(url: &str) {
    const SQL: &str = "ALTER TABLE channels RENAME TO channels_gone";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&mut c).await.unwrap();
    }
}

#[tokio::test]
async fn an_internal_error_on_a_device_endpoint_is_logged_with_its_request_id() {
    let (log, _guard) = Captured::start();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut s = Server::start_on(backend).await;
        s.with_app().await;
        break_the_store(s.config.database.url.expose()).await;
        let res = s
            .http
            .post(s.url("/updates"))
            .json(&info(json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 500, "{backend:?}");
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "internal_error");
        assert!(
            !body.to_string().contains("channels"),
            "no cause to the client: {body}"
        );
        s.stop().await;

        let lines = log.matching(|f| f["request_id"] == id.as_str());
        assert_eq!(lines.len(), 1, "{backend:?}: {lines:?}");
        let line = &lines[0];
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(line["fields"]["message"], "device request failed");
        assert_eq!(line["fields"]["status"], 500);
        assert_eq!(line["fields"]["app_id"], APP);
        assert!(
            line["fields"]["cause"]
                .as_str()
                .is_some_and(|c| c.starts_with("store: ") && c.contains("channels")),
            "{backend:?}: the cause is on the request's line: {line}"
        );
    }
}

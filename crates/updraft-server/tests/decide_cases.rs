//! Every decision case of `updraft-core`'s `cases/decide/` against the real
//! server over HTTP, on SQLite and on PostgreSQL: each case's state is seeded
//! through the store (one app per case), its request is POSTed to `/updates`
//! and the reply compared byte for byte as JSON; `explain` must return the same
//! reply, the case's channel and trace lines; the offer is counted exactly when
//! the reply is an update. PostgreSQL at `UPDRAFT_TEST_POSTGRES_URL`: fails,
//! never skips.

mod common;

use common::*;
use updraft_core::cases::{self, Case};
use updraft_protocol::api::{BundleMeta, NewApp};
use updraft_server::config::Config;
use updraft_store::{NewBundle, Store, Write};

/// Every case the server can hold, with its file name.
fn server_cases() -> Vec<(String, Case)> {
    let mut paths: Vec<_> = std::fs::read_dir(cases::DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for path in paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = cases::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in parsed.cases {
            if case.core_only.is_none() {
                all.push((file.clone(), case));
            }
        }
    }
    assert!(!all.is_empty(), "no cases in {}", cases::DIR);
    all
}

/// The app id case `i` runs under (each case has its own app).
fn app_of(i: usize) -> String {
    format!("com.case{i}.app")
}

/// Creates case `case`'s state under `app` through the store.
async fn seed(store: &dyn Store, app: &str, case: &Case) -> Result<(), String> {
    let e = |what: &str| {
        let what = what.to_string();
        move |err: updraft_store::StoreError| format!("seeding {what}: {err}")
    };
    let s = &case.state;
    let device = case.device_request()?.device_id;
    store
        .create_app(
            &NewApp {
                app_id: app.into(),
                name: None,
            },
            0,
        )
        .await
        .map_err(e("the app"))?;
    store
        .update_app(app, &s.app)
        .await
        .map_err(e("app settings"))?;
    for b in &s.bundles {
        let new = NewBundle {
            app_id: app.into(),
            version: b.version.clone(),
            checksum: b.checksum.clone(),
            session_key: b.session_key.clone(),
            key_id: b.key_id.clone(),
            electron_checksum: b.electron_checksum.clone(),
            storage: b.storage,
            blob_sha256: b.blob_sha256.clone(),
            size: None,
            external_url: b.external_url.clone(),
            manifest: b.manifest.clone(),
            meta: BundleMeta {
                min_update_version: b.min_update_version.clone(),
                native_packages: None,
                link: b.link.clone(),
                comment: b.comment.clone(),
            },
        };
        store.create_bundle(&new, 0).await.map_err(e(&b.version))?;
    }
    for c in &s.channels {
        store
            .create_channel(app, c, 0)
            .await
            .map_err(e("a channel"))?;
    }
    if let Some(o) = &s.device.forced {
        store
            .set_override(app, &device, o, 0)
            .await
            .map_err(e("the override"))?;
    }
    let failed: Vec<Write> = s
        .device
        .failed
        .iter()
        .map(|v| Write::Failed {
            app_id: app.into(),
            device_id: device.clone(),
            version: v.clone(),
            at: 0,
        })
        .collect();
    store
        .write_batch(&failed)
        .await
        .map_err(e("rollback blocks"))?;
    Ok(())
}

/// Runs one seeded case against the server; the first difference found.
async fn run(s: &Server, app: &str, case: &Case) -> Result<(), String> {
    let mut body = case.request.clone();
    body["app_id"] = app.into();
    let (status, got) = s.device("POST", "/updates", &body).await;
    let want = case.expected_reply(&s.base);
    if status != 200 || got != want {
        return Err(format!("/updates: {status}\n  got  {got}\n  want {want}"));
    }
    let (status, e) = s
        .api("POST", &format!("/apps/{app}/explain"), Some(body))
        .await;
    if status != 200 {
        return Err(format!("explain: {status} {e}"));
    }
    if e["reply"] != got {
        return Err(format!(
            "explain disagrees with /updates\n  explain  {}\n  /updates {got}",
            e["reply"]
        ));
    }
    let outcome = &e["outcome"];
    let agrees = match outcome["result"].as_str() {
        Some("update") => outcome["version"] == got["version"] && got.get("url").is_some(),
        Some("revert_to_builtin") => got == serde_json::json!({"version": "builtin"}),
        Some("no_update") => outcome["error"] == got["error"] && outcome["kind"] == got["kind"],
        _ => false,
    };
    if !agrees {
        return Err(format!(
            "explain's outcome {outcome} is not the reply {got}"
        ));
    }
    if let Some(channel) = &case.channel {
        if e["channel"].as_str() != channel.as_deref() {
            return Err(format!("channel: got {}, want {channel:?}", e["channel"]));
        }
    }
    let trace: Vec<String> = serde_json::from_value(e["trace"].clone()).unwrap_or_default();
    cases::trace_has(&trace, &case.trace)
}

/// Seeds every case, starts the server on `config` and runs them all.
async fn run_all(config: Config) {
    let all = server_cases();
    let mut failures = Vec::new();
    {
        let store = updraft_server::open_store(&config).await.unwrap();
        for (i, (file, case)) in all.iter().enumerate() {
            if let Err(err) = seed(&*store, &app_of(i), case).await {
                failures.push(format!("{file} / {}: {err}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let mut s = Server::start_with(config.clone()).await;
    for (i, (file, case)) in all.iter().enumerate() {
        if let Err(err) = run(&s, &app_of(i), case).await {
            failures.push(format!("{file} / {}: {err}", case.name));
        }
    }
    // Offers are counted for update replies only (explain counts nothing).
    s.stop().await;
    let store = updraft_server::open_store(&config).await.unwrap();
    for (i, (file, case)) in all.iter().enumerate() {
        let offers = store.list_offers(&app_of(i)).await.unwrap();
        let counted: i64 = offers.iter().map(|o| o.count).sum();
        let update = case.reply.get("url").is_some();
        if counted != i64::from(update) {
            failures.push(format!(
                "{file} / {}: {counted} offer(s) counted for this reply",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_decision_case_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run_all(config(dir.path())).await;
}

#[tokio::test]
async fn every_decision_case_on_postgres() {
    let db = updraft_store_postgres::testing::TestDatabase::create()
        .await
        .expect("PostgreSQL must be reachable at UPDRAFT_TEST_POSTGRES_URL");
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.database_url = db.url.clone();
    run_all(c).await;
}

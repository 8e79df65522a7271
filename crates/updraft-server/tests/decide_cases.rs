//! Every decision case of `updraft-core`'s `cases/decide/` against the real
//! server over HTTP, on SQLite and on PostgreSQL, behind a trusted proxy
//! that reports the case's country (`CF-IPCountry`): each case's state is seeded
//! through the store (one app per case, rollouts included), the server's
//! clock is set to the case's `now_ms`, its request is POSTed to `/updates`
//! and the reply compared byte for byte as JSON; `explain` must return the same
//! reply, the case's channel, rollout arm and trace lines; the offer is counted
//! exactly when the reply is an update, and no rollout moved while the cases
//! ran. PostgreSQL at `UPDRAFT_TEST_POSTGRES_URL`: fails, never skips.

mod decide_seed;

use decide_seed::rollouts::rollouts_unmoved;
use decide_seed::{app_of, seed, server_cases};
use updraft_core::cases::{self, Case};
use updraft_protocol::api::Arm;
use updraft_server::clock::TestClock;
use updraft_test_support::*;

/// The arm explain's trace shows in the resolved channel's rollout: the first
/// `-> candidate` or `-> stable` after the line naming the rollout (a
/// candidate missing from the snapshot turns it stable); `None` when no
/// rollout took part.
fn arm_in(trace: &[String]) -> Result<Option<Arm>, String> {
    let Some(at) = trace.iter().position(|l| l.contains(" has rollout ")) else {
        return Ok(None);
    };
    let rest = &trace[at + 1..];
    let mut arm = rest.iter().find_map(|l| {
        if l.contains(" -> candidate") {
            Some(Arm::Candidate)
        } else if l.ends_with(" -> stable") {
            Some(Arm::Stable)
        } else {
            None
        }
    });
    if rest
        .iter()
        .any(|l| l.ends_with("; the device gets the stable bundle"))
    {
        arm = Some(Arm::Stable);
    }
    arm.map(Some).ok_or_else(|| {
        format!(
            "the trace names a rollout but no arm:\n  {}",
            trace.join("\n  ")
        )
    })
}

/// Runs one seeded case against the server; the first difference found.
async fn run(s: &Server, app: &str, case: &Case) -> Result<(), String> {
    let mut body = case.request.clone();
    body["app_id"] = app.into();
    // The country comes as the trusted proxy in front would send it.
    let mut check = s.http.post(s.url("/updates")).json(&body);
    if let Some(c) = &case.country {
        check = check.header("CF-IPCountry", c);
    }
    let res = check.send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let got: serde_json::Value = res.json().await.unwrap_or_default();
    let want = case.expected_reply(&s.base);
    if status != 200 || got != want {
        return Err(format!("/updates: {status}\n  got  {got}\n  want {want}"));
    }
    let query = case
        .country
        .as_ref()
        .map_or_else(String::new, |c| format!("?country={c}"));
    let (status, e) = s
        .api("POST", &format!("/apps/{app}/explain{query}"), Some(body))
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
    if let Some(want) = case.arm {
        let got = arm_in(&trace)?;
        if got != want {
            return Err(format!("arm: got {got:?}, want {want:?}"));
        }
    }
    cases::trace_has(&trace, &case.trace)
}

/// Seeds every case on fresh storage on `backend`, starts the server over it
/// on a test clock and runs them all, each at its `now_ms`.
async fn run_all(backend: Backend) {
    let storage = Storage::new(backend).await;
    let config = storage.config();
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
    let clock = TestClock::at(0);
    // Behind a proxy that reports countries, as a CDN would.
    let mut proxied = storage.config();
    proxied.geo.country_header = Some(axum::http::HeaderName::from_static("cf-ipcountry"));
    proxied.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let runtime = updraft_server::Runtime {
        clock: std::sync::Arc::new(clock.clone()),
        ..Default::default()
    };
    let mut s = Server::start_runtime(proxied, runtime).await;
    for (i, (file, case)) in all.iter().enumerate() {
        clock.set(case.now_ms);
        if let Err(err) = run(&s, &app_of(i), case).await {
            failures.push(format!("{file} / {}: {err}", case.name));
        }
    }
    // Offers are counted for update replies only (explain counts nothing);
    // the rollouts stand where they were seeded.
    s.stop().await;
    let store = updraft_server::open_store(&config).await.unwrap();
    for (i, (file, case)) in all.iter().enumerate() {
        if let Err(err) = rollouts_unmoved(&*store, &app_of(i), case).await {
            failures.push(format!("{file} / {}: {err}", case.name));
        }
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
    run_all(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_decision_case_on_postgres() {
    run_all(Backend::Postgres).await;
}

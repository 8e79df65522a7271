//! An app's statistics: for its latest bundles over a window (a day, a
//! week or 30 days), each release's funnel, failure and crash rates and
//! launch times side by side, and for each the devices running it by hour
//! (a chart, its numbers and its CSV), and the app's update checks per
//! hour. Everything comes from `/api/v1/apps/{app}/metrics` (one call per
//! bundle) and `/api/v1/apps/{app}/checks`.

use axum::extract::State;
use axum::response::IntoResponse;
use futures::StreamExt;
use maud::html;
use updraft_protocol::api::*;

use super::charts::{self, Point};
use super::layout::{page, rate, seg, PageResult};
use super::release::adoption;
use super::session::Signed;
use crate::error::ApiError;
use crate::rejection::{Path, Query};
use crate::routes::{api, devices, rollouts};
use crate::state::AppState;

/// Bundles shown: the newest live ones.
const LATEST: usize = 5;
/// The windows offered, in days.
const WINDOWS: [i64; 3] = [1, 7, 30];

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Window {
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    bundle: Option<String>,
}

fn days(w: &Window) -> i64 {
    w.days.filter(|d| WINDOWS.contains(d)).unwrap_or(1)
}

/// The last `days` ending now: `(since, until)`, never before 1970.
fn window(s: &AppState, days: i64) -> (i64, i64) {
    let until = s.now_ms() + 1;
    (until.saturating_sub(days * 86_400_000).max(0), until)
}

async fn metrics(
    s: &AppState,
    signed: &Signed,
    app_id: &str,
    version: &str,
    days: i64,
) -> Result<ReleaseMetrics, ApiError> {
    let (since, until) = window(s, days);
    let m = rollouts::metrics(
        State(s.clone()),
        signed.auth.clone(),
        Path(app_id.to_string()),
        Query(MetricsQuery {
            bundle: Some(version.to_string()),
            since: Some(since),
            until: Some(until),
            ..MetricsQuery::default()
        }),
    )
    .await?;
    Ok(m.0)
}

/// The app's update checks per hour over the last `days`.
async fn checks(
    s: &AppState,
    signed: &Signed,
    app_id: &str,
    days: i64,
) -> Result<Vec<Point>, ApiError> {
    let (since, until) = window(s, days);
    let c = devices::check_counts(
        State(s.clone()),
        signed.auth.clone(),
        Path(app_id.to_string()),
        Query(ChecksQuery {
            since: Some(since),
            until: Some(until),
        }),
    )
    .await?
    .0;
    Ok(c.hours
        .iter()
        .map(|h| Point {
            at: h.at,
            value: h.checks as f64,
        })
        .collect())
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v} ms"))
}

/// `GET /ui/apps/{app}/stats?days=`.
pub(crate) async fn page_of(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
    Query(w): Query<Window>,
) -> PageResult {
    let auth = signed.auth.clone();
    let app = api::get_app(State(s.clone()), auth.clone(), Path(app_id.clone()))
        .await?
        .0;
    let mut bundles = api::list_bundles(State(s.clone()), auth, Path(app_id.clone()))
        .await?
        .0;
    bundles.retain(|b| !b.deleted);
    bundles.sort_by_key(|b| std::cmp::Reverse((b.created_at, b.id)));
    bundles.truncate(LATEST);
    let days = days(&w);
    let (st, si, ap) = (&s, &signed, &app_id);
    let versions: Vec<String> = bundles.iter().map(|b| b.version.clone()).collect();
    let found: Vec<ReleaseMetrics> = futures::stream::iter(versions)
        .map(|v| async move { metrics(st, si, ap, &v, days).await })
        .buffered(2)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let per_hour = checks(&s, &signed, &app_id, days).await?;
    let base = format!("/ui/apps/{}/stats", seg(&app_id));
    let body = html! {
        h1 { "Statistics" }
        form method="get" action=(base) {
            label for="stats-days" { "Window" }
            div.actions {
                select #stats-days name="days" {
                    @for d in WINDOWS {
                        option value=(d) selected[d == days] { @if d == 1 { "the last 24 hours" } @else { "the last " (d) " days" } }
                    }
                }
                button type="submit" { "Show" }
            }
        }
        h2 { "Update checks" }
        (charts::line("checks-chart", "Update checks per hour", &per_hour, None, &format!("{base}/checks.csv?days={days}")))
        @if found.is_empty() {
            p.notice { "No bundle yet." }
        } @else {
            h2 { "Releases side by side" }
            div.table-wrap { table #releases {
                thead { tr {
                    th scope="col" { "Bundle" } th.num scope="col" { "Offered" } th.num scope="col" { "Installed" }
                    th.num scope="col" { "Ready" } th.num scope="col" { "Rolled back" } th.num scope="col" { "Failure rate" }
                    th.num scope="col" { "Crash rate" } th.num scope="col" { "Launch p50" } th.num scope="col" { "Launch p90" }
                } }
                tbody {
                    @for m in &found {
                        tr data-bundle=(m.bundle) {
                            th scope="row" .mono { (m.bundle) }
                            td.num { (m.stages.offered) }
                            td.num data-stat="installed" { (m.stages.installed) }
                            td.num { (m.stages.ready) }
                            td.num { (m.stages.rolled_back) }
                            td.num { (rate(m.failure_rate)) }
                            td.num { (rate(m.crash_rate)) }
                            td.num { (ms(m.launch_p50_ms)) }
                            td.num { (ms(m.launch_p90_ms)) }
                        }
                    }
                }
            } }
            h2 { "Devices running each bundle, by hour" }
            p.muted { "Devices that installed the bundle in the window and did not roll back from it, counted at the end of each hour." }
            div.cards {
                @for (i, m) in found.iter().enumerate() {
                    div {
                        (charts::line(
                            &format!("adoption-{i}"),
                            &format!("Bundle {}", m.bundle),
                            &adoption(m),
                            None,
                            &format!("{base}/adoption.csv?days={days}&bundle={}", seg(&m.bundle)),
                        ))
                    }
                }
            }
        }
    };
    Ok(page(
        "Statistics",
        &signed,
        &[
            ("Apps", "/ui/".into()),
            (&app.name, format!("/ui/apps/{}", seg(&app_id))),
        ],
        &body,
    )
    .into_response())
}

/// `GET /ui/apps/{app}/stats/adoption.csv?bundle=&days=`: one chart's numbers.
pub(crate) async fn adoption_csv(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
    Query(w): Query<Window>,
) -> PageResult {
    let version = w.bundle.clone().unwrap_or_default();
    let m = metrics(&s, &signed, &app_id, &version, days(&w)).await?;
    Ok(charts::csv(&format!("{version}-adoption"), &adoption(&m)))
}

/// `GET /ui/apps/{app}/stats/checks.csv?days=`: the checks chart's numbers.
pub(crate) async fn checks_csv(
    State(s): State<AppState>,
    signed: Signed,
    Path(app_id): Path<String>,
    Query(w): Query<Window>,
) -> PageResult {
    let points = checks(&s, &signed, &app_id, days(&w)).await?;
    Ok(charts::csv("update-checks", &points))
}

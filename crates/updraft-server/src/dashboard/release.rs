//! A release's numbers on its channel's page: the funnel of the last 24
//! hours, its rates, and the adoption chart with its CSV, all from
//! `/api/v1/apps/{app}/metrics`.

use axum::extract::State;
use maud::{html, Markup};
use updraft_protocol::api::*;

use super::charts::{self, Point};
use super::layout::{rate, PageResult};
use super::session::Signed;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::rejection::{Path, Query};
use crate::routes::rollouts;
use crate::state::AppState;

pub(crate) fn funnel(base: &str, m: &ReleaseMetrics) -> Markup {
    let st = &m.stages;
    let rows: [(&str, &str, u64); 6] = [
        ("offered", "Offered", st.offered),
        (
            "download_started",
            "Started downloading",
            st.download_started,
        ),
        ("downloaded", "Downloaded", st.downloaded),
        ("installed", "Installed", st.installed),
        ("ready", "Reported ready", st.ready),
        ("rolled_back", "Rolled back", st.rolled_back),
    ];
    html! {
        section #release aria-labelledby="release-title" {
            h2 #release-title { "Release of " span.mono { (m.bundle) } ", last 24 hours" }
            div.table-wrap { table #funnel {
                thead { tr { th scope="col" { "Stage" } th.num scope="col" { "Devices" } } }
                tbody {
                    @for (key, label, n) in rows {
                        tr data-stage=(key) { th scope="row" { (label) } td.num { (n) } }
                    }
                }
            } }
            p {
                "Failure rate " strong data-stat="failure_rate" { (rate(m.failure_rate)) }
                ", crash rate " strong data-stat="crash_rate" { (rate(m.crash_rate)) }
                ", completion " strong data-stat="completion_rate" { (rate(m.completion_rate)) }
                @if let Some(p50) = m.launch_p50_ms { ", launch p50 " (p50) " ms" }
            }
            (charts::line(
                "adoption-chart",
                "Devices running it, by hour",
                &adoption(m),
                None,
                &format!("{base}/adoption.csv"),
            ))
        }
    }
}

/// The last 24 hours of what channel `c` releases: `trying`, the candidate
/// of its active rollout, else its own bundle. Asked by version, from what
/// the page already read, so a change made meanwhile (a rollout reverted,
/// the channel moved) cannot turn the page into an error; `None` for the
/// builtin bundle, which has no release metrics.
pub(crate) async fn last_day(
    s: &AppState,
    auth: &Auth,
    c: &Channel,
    trying: Option<&str>,
) -> Result<Option<ReleaseMetrics>, ApiError> {
    let version = trying.unwrap_or(&c.bundle_version);
    if c.bundle_id.is_none() && trying.is_none() || version == "builtin" {
        return Ok(None);
    }
    let mut m = rollouts::metrics(
        State(s.clone()),
        auth.clone(),
        Path(c.app_id.clone()),
        Query(MetricsQuery {
            bundle: Some(version.to_string()),
            ..MetricsQuery::default()
        }),
    )
    .await?
    .0;
    m.channel = Some(c.name.clone());
    Ok(Some(m))
}

/// A release's adoption curve: devices running it at the end of each hour.
pub(crate) fn adoption(m: &ReleaseMetrics) -> Vec<Point> {
    m.adoption
        .iter()
        .map(|p| Point {
            at: p.at,
            value: p.devices as f64,
        })
        .collect()
}

/// `GET /ui/apps/{app}/channels/{name}/adoption.csv`: the adoption chart's numbers.
pub(crate) async fn adoption_csv(
    State(s): State<AppState>,
    signed: Signed,
    Path((app_id, name)): Path<(String, String)>,
) -> PageResult {
    let m = rollouts::metrics(
        State(s),
        signed.auth,
        Path(app_id),
        Query(MetricsQuery {
            channel: Some(name.clone()),
            ..MetricsQuery::default()
        }),
    )
    .await?
    .0;
    Ok(charts::csv(&format!("{name}-adoption"), &adoption(&m)))
}

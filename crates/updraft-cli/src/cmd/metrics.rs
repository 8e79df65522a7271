//! `metrics`: how one bundle's release went over a window.

use serde_json::json;
use updraft_protocol::api::MetricsQuery;

use crate::args::MetricsArgs;
use crate::error::{CliError, CliResult};
use crate::expiry::now_ms;
use crate::render::{metrics as view, Paint};
use crate::Ctx;

/// The query the flags describe (`now` for `--last`).
fn query(a: &MetricsArgs, now: i64) -> CliResult<MetricsQuery> {
    let (since, until) = match a.last {
        Some(secs) => {
            let span = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            (Some(now.saturating_sub(span)), Some(now))
        }
        None => (a.since, a.until),
    };
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(CliError::usage(
                "invalid_window",
                "--since must be before --until",
            ));
        }
    }
    Ok(MetricsQuery {
        bundle: a.bundle.clone(),
        channel: a.channel.clone(),
        since,
        until,
    })
}

pub(crate) async fn metrics(ctx: &Ctx, a: MetricsArgs) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let q = query(&a, now_ms())?;
    let client = ctx.client()?;
    let m = client.release_metrics(&app, &q).await?;
    ctx.out
        .result(|| view::metrics(&m, Paint::for_stdout()), json!(m));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn args(flags: &[&str]) -> MetricsArgs {
        let mut argv = vec!["updraft", "metrics"];
        argv.extend_from_slice(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Metrics(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_window_is_the_last_span_or_the_dates_given() {
        let now = 1_767_261_600_000;
        let q = query(&args(&["--channel", "production", "--last", "2h"]), now).unwrap();
        assert_eq!((q.since, q.until), (Some(now - 7_200_000), Some(now)));
        assert_eq!(q.channel.as_deref(), Some("production"));
        let q = query(
            &args(&[
                "--bundle",
                "1.0.2",
                "--since",
                "2026-01-01",
                "--until",
                "2026-01-02T00:00:00Z",
            ]),
            now,
        )
        .unwrap();
        assert_eq!(
            (q.since, q.until, q.bundle.as_deref()),
            (
                Some(1_767_225_600_000),
                Some(1_767_312_000_000),
                Some("1.0.2")
            )
        );
        let q = query(&args(&["--bundle", "1.0.2"]), now).unwrap();
        assert_eq!(
            (q.since, q.until),
            (None, None),
            "the server's default: 24h"
        );
        let e = query(
            &args(&[
                "--bundle",
                "1.0.2",
                "--since",
                "2026-01-02",
                "--until",
                "2026-01-01",
            ]),
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_window");
    }

    #[test]
    fn exactly_one_of_channel_or_bundle() {
        let parse = |flags: &[&str]| {
            let mut argv = vec!["updraft", "metrics"];
            argv.extend_from_slice(flags);
            Cli::try_parse_from(argv).map(|_| ())
        };
        assert!(parse(&[]).is_err());
        assert!(parse(&["--channel", "a", "--bundle", "1.0.0"]).is_err());
        assert!(parse(&["--bundle", "1.0.0", "--last", "1h", "--since", "2026-01-01"]).is_err());
        assert!(parse(&["--bundle", "1.0.0", "--since", "yesterday"]).is_err());
    }
}

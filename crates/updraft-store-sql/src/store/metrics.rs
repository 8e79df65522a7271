//! [`sql_metrics!`]: a bundle's release metrics over a window, counted in SQL
//! over its release rows (`release_devices`, found by the window of each
//! device's first signal): the funnel, rates, percentiles and adoption. The
//! counts and installs per bucket come from one pass over the window, grouped
//! by `flags` (summed up by [`Tally`](crate::tally::Tally)); each percentile
//! walks an index to its rank; rollbacks per bucket are a grouped count read
//! from an index. No row of the window reaches the store: each result is a
//! group, one value or a bucket.
//! Expanded by [`sql_store!`](crate::sql_store) inside its module, so it
//! shares that module's imports and helpers.

/// Defines `mod metrics` in the store's module: `release_metrics`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_metrics {
    ($db:ty) => {
        mod metrics {
            use super::*;

            /// The window's rows: `$1` app, `$2` bundle id, `[$3, $4)` first signal.
            const WINDOW: &str = "app_id = $1 AND bundle_id = $2 AND first_at >= $3 AND first_at < $4";

            /// The window's devices grouped by `flags` (what they reported) and
            /// the adoption bucket of their install (`NULL`: none before the
            /// end): every count of the metrics and adoption's installs, from
            /// one pass over the window and a few dozen groups per bucket.
            fn groups_sql() -> String {
                format!(
                    "SELECT flags, CASE WHEN installed_at < $4 THEN (installed_at - $3) / $5 END AS b, COUNT(*) AS n, \
                     MIN(offered_at) AS first_offer, MIN(first_at) AS first_seen \
                     FROM release_devices WHERE {WINDOW} GROUP BY 1, 2"
                )
            }

            /// The value of `column` at 0-based `offset` in ascending order among
            /// the `count` window rows that have one, walked in the order of the
            /// column's index (`release_devices_launch`, `_download_to_ready`,
            /// `_installed`): no sort, no list. A rank in the upper half is
            /// walked to from the top, so a p90 reads a tenth of the index.
            async fn at_offset(
                pool: &sqlx::Pool<$db>,
                column: &str,
                window: (&str, i64, i64, i64),
                (offset, count): (Option<i64>, u64),
            ) -> StoreResult<Option<i64>> {
                let Some(offset) = offset else {
                    return Ok(None);
                };
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                let (order, offset) = if offset * 2 >= count { ("DESC", count - 1 - offset) } else { ("ASC", offset) };
                let q = format!(
                    "SELECT {column} AS v FROM release_devices WHERE {column} IS NOT NULL AND {WINDOW} \
                     ORDER BY {column} {order} LIMIT 1 OFFSET $5"
                );
                let (app_id, bundle_id, since, until) = window;
                let r = sqlx::query(&q)
                    .bind(app_id)
                    .bind(bundle_id)
                    .bind(since)
                    .bind(until)
                    .bind(offset.max(0))
                    .fetch_optional(pool)
                    .await
                    .map_err(backend)?;
                r.map(|r| r.try_get::<i64, _>("v")).transpose().map_err(backend)
            }

            /// Devices installed and not rolled back at the end of each of the
            /// window's buckets: `installs` per bucket (from the groups) less the
            /// rollbacks after an install, counted from the later of the two
            /// times (read from `release_devices_installed` alone), summed up in
            /// order.
            async fn adoption(
                pool: &sqlx::Pool<$db>,
                window: (&str, i64, i64, i64),
                (bucket, mut delta): (i64, Vec<i64>),
            ) -> StoreResult<Vec<AdoptionPoint>> {
                let (app_id, bundle_id, since, until) = window;
                let q = format!(
                    "SELECT (CASE WHEN rolled_back_at > installed_at THEN rolled_back_at ELSE installed_at END - $3) / $5 AS b, \
                     COUNT(*) AS n FROM release_devices WHERE installed_at IS NOT NULL AND installed_at < $4 \
                     AND rolled_back_at IS NOT NULL AND rolled_back_at < $4 AND {WINDOW} GROUP BY 1"
                );
                let rs = sqlx::query(&q)
                    .bind(app_id)
                    .bind(bundle_id)
                    .bind(since)
                    .bind(until)
                    .bind(bucket)
                    .fetch_all(pool)
                    .await
                    .map_err(backend)?;
                for r in &rs {
                    let b: i64 = r.try_get("b").map_err(backend)?;
                    let n: i64 = r.try_get("n").map_err(backend)?;
                    if let Some(d) = usize::try_from(b).ok().and_then(|b| delta.get_mut(b)) {
                        *d -= n;
                    }
                }
                let mut running = 0_i64;
                let mut out = Vec::with_capacity(delta.len());
                for (i, d) in delta.into_iter().enumerate() {
                    running += d;
                    let end = since.saturating_add(bucket.saturating_mul(i64::try_from(i + 1).unwrap_or(i64::MAX)));
                    out.push(AdoptionPoint { at: end.min(until), devices: u64::try_from(running).unwrap_or(0) });
                }
                Ok(out)
            }

            pub(super) async fn release_metrics(
                pool: &sqlx::Pool<$db>,
                app_id: &str,
                version: &str,
                since: i64,
                until: i64,
            ) -> StoreResult<ReleaseMetrics> {
                if since >= until {
                    return Err(StoreError::Invalid(format!("the window's start ({since}) must be before its end ({until})")));
                }
                let bundle = sqlx::query("SELECT id FROM bundles WHERE app_id = $1 AND version = $2")
                    .bind(app_id)
                    .bind(version)
                    .fetch_optional(pool)
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::UnknownBundle(format!("bundle {version:?} is not a bundle of app {app_id}")))?;
                let bundle_id: i64 = bundle.try_get("id").map_err(backend)?;
                let window = (app_id, bundle_id, since, until);
                let (bucket, points) = $crate::adoption_buckets(since, until);
                let rs = sqlx::query(&groups_sql())
                    .bind(app_id)
                    .bind(bundle_id)
                    .bind(since)
                    .bind(until)
                    .bind(bucket)
                    .fetch_all(pool)
                    .await
                    .map_err(backend)?;
                let mut t = $crate::tally::Tally::default();
                let mut installs = vec![0_i64; points];
                let (mut first_offer, mut first_seen): (Option<i64>, Option<i64>) = (None, None);
                for r in &rs {
                    let flags: i64 = r.try_get("flags").map_err(backend)?;
                    let n: i64 = r.try_get("n").map_err(backend)?;
                    t.add(flags, u64::try_from(n).unwrap_or(0));
                    let b: Option<i64> = r.try_get("b").map_err(backend)?;
                    if let Some(d) = b.and_then(|b| usize::try_from(b).ok()).and_then(|b| installs.get_mut(b)) {
                        *d += n;
                    }
                    let earliest = |a: Option<i64>, b: Option<i64>| a.into_iter().chain(b).min();
                    first_offer = earliest(first_offer, r.try_get("first_offer").map_err(backend)?);
                    first_seen = earliest(first_seen, r.try_get("first_seen").map_err(backend)?);
                }
                let total = t.devices;
                let rate = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
                let rank = |p: u64, of: u64| $crate::rank_offset(p, of);
                let ms = |v: Option<i64>| v.map(|v| u64::try_from(v).unwrap_or(0));
                let (d2r, launches, installed) = (t.download_to_ready_samples, t.launch_samples, t.installed);
                let d2r_50 = at_offset(pool, "download_to_ready_ms", window, (rank(50, d2r), d2r)).await?;
                let d2r_90 = at_offset(pool, "download_to_ready_ms", window, (rank(90, d2r), d2r)).await?;
                let launch_50 = at_offset(pool, "launch_ms", window, (rank(50, launches), launches)).await?;
                let launch_90 = at_offset(pool, "launch_ms", window, (rank(90, launches), launches)).await?;
                // The install that brought a share of the window's devices, if so many installed.
                let reach = |p: u64| rank(p, total).filter(|o| u64::try_from(*o).is_ok_and(|o| o < installed));
                let at_50 = at_offset(pool, "installed_at", window, (reach(50), installed)).await?;
                let at_95 = at_offset(pool, "installed_at", window, (reach(95), installed)).await?;
                // From the window's first offer (or first contact, when no offer was seen).
                let start = first_offer.or(first_seen);
                let since_start = |at: Option<i64>| Some((at? - start?).max(0));
                Ok(ReleaseMetrics {
                    bundle: version.to_string(),
                    channel: None,
                    since,
                    until,
                    total,
                    failure_rate: rate(t.failed, t.attempted),
                    crash_rate: rate(t.crashed, t.ran),
                    error_rate: rate(t.errored, t.ran),
                    completion_rate: rate(t.completed, t.installed),
                    download_to_ready_p50_ms: ms(d2r_50),
                    download_to_ready_p90_ms: ms(d2r_90),
                    launch_p50_ms: ms(launch_50),
                    launch_p90_ms: ms(launch_90),
                    time_to_50_ms: since_start(at_50),
                    time_to_95_ms: since_start(at_95),
                    adoption: adoption(pool, window, (bucket, installs)).await?,
                    funnel: t.funnel,
                    stages: t.stages,
                })
            }
        }
    };
}

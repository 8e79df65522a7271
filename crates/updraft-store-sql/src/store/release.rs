//! [`sql_release!`]: the per-device release rows (`release_devices`): the
//! upsert of a release signal (written by telemetry batches, on the hot
//! path's writer) and the health of each arm of a rollout counted over them.
//! Expanded by [`sql_store!`](crate::sql_store) inside its module, so it
//! shares that module's imports and helpers.

/// Defines `mod release` in the store's module: `write_signals` (inside a
/// telemetry batch's transaction) and `arm_health`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_release {
    ($db:ty) => {
        mod release {
            use super::*;

            /// The upsert of release rows, merged per device beforehand (a
            /// statement may not touch one row twice). The row keeps the earliest
            /// time of each signal (a late event from a device's queue moves it
            /// back, a repeat never forward), the launch time of the earliest
            /// `Ready` that carried one, and the rollout and arm last given. A row
            /// that would change nothing (a repeated offer) is not rewritten.
            const INSERT: &str = "INSERT INTO release_devices (app_id, bundle_id, device_id, rollout_id, arm, first_at, \
                 offered_at, download_at, downloaded_at, installed_at, ready_at, rolled_back_at, failed_at, crashed_at, \
                 errored_at, launch_ms, flags, download_to_ready_ms, arm_flags) ";
            const ON_CONFLICT: &str = " ON CONFLICT (app_id, bundle_id, device_id) DO UPDATE SET \
                 rollout_id = COALESCE(excluded.rollout_id, release_devices.rollout_id), \
                 arm = CASE WHEN excluded.rollout_id IS NULL THEN release_devices.arm ELSE excluded.arm END, \
                 first_at = CASE WHEN excluded.first_at < release_devices.first_at THEN excluded.first_at ELSE release_devices.first_at END, \
                 offered_at = CASE WHEN excluded.offered_at < release_devices.offered_at THEN excluded.offered_at ELSE COALESCE(release_devices.offered_at, excluded.offered_at) END, \
                 download_at = CASE WHEN excluded.download_at < release_devices.download_at THEN excluded.download_at ELSE COALESCE(release_devices.download_at, excluded.download_at) END, \
                 downloaded_at = CASE WHEN excluded.downloaded_at < release_devices.downloaded_at THEN excluded.downloaded_at ELSE COALESCE(release_devices.downloaded_at, excluded.downloaded_at) END, \
                 installed_at = CASE WHEN excluded.installed_at < release_devices.installed_at THEN excluded.installed_at ELSE COALESCE(release_devices.installed_at, excluded.installed_at) END, \
                 ready_at = CASE WHEN excluded.ready_at < release_devices.ready_at THEN excluded.ready_at ELSE COALESCE(release_devices.ready_at, excluded.ready_at) END, \
                 rolled_back_at = CASE WHEN excluded.rolled_back_at < release_devices.rolled_back_at THEN excluded.rolled_back_at ELSE COALESCE(release_devices.rolled_back_at, excluded.rolled_back_at) END, \
                 failed_at = CASE WHEN excluded.failed_at < release_devices.failed_at THEN excluded.failed_at ELSE COALESCE(release_devices.failed_at, excluded.failed_at) END, \
                 crashed_at = CASE WHEN excluded.crashed_at < release_devices.crashed_at THEN excluded.crashed_at ELSE COALESCE(release_devices.crashed_at, excluded.crashed_at) END, \
                 errored_at = CASE WHEN excluded.errored_at < release_devices.errored_at THEN excluded.errored_at ELSE COALESCE(release_devices.errored_at, excluded.errored_at) END, \
                 launch_ms = CASE WHEN excluded.launch_ms IS NOT NULL AND (release_devices.launch_ms IS NULL \
                 OR excluded.ready_at < release_devices.ready_at) THEN excluded.launch_ms ELSE release_devices.launch_ms END, \
                 flags = release_devices.flags | excluded.flags, \
                 arm_flags = CASE WHEN excluded.rollout_id IS NULL THEN release_devices.arm_flags \
                 WHEN excluded.rollout_id IS DISTINCT FROM release_devices.rollout_id \
                 OR excluded.arm IS DISTINCT FROM release_devices.arm THEN excluded.arm_flags \
                 ELSE release_devices.arm_flags | excluded.arm_flags END, \
                 download_to_ready_ms = \
                 CASE WHEN excluded.ready_at < release_devices.ready_at THEN excluded.ready_at ELSE COALESCE(release_devices.ready_at, excluded.ready_at) END \
                 - CASE WHEN excluded.download_at < release_devices.download_at THEN excluded.download_at ELSE COALESCE(release_devices.download_at, excluded.download_at) END \
                 WHERE excluded.first_at < release_devices.first_at \
                 OR (excluded.rollout_id IS NOT NULL AND (excluded.rollout_id IS DISTINCT FROM release_devices.rollout_id \
                 OR excluded.arm IS DISTINCT FROM release_devices.arm)) \
                 OR (excluded.offered_at IS NOT NULL AND (release_devices.offered_at IS NULL OR excluded.offered_at < release_devices.offered_at)) \
                 OR (excluded.download_at IS NOT NULL AND (release_devices.download_at IS NULL OR excluded.download_at < release_devices.download_at)) \
                 OR (excluded.downloaded_at IS NOT NULL AND (release_devices.downloaded_at IS NULL OR excluded.downloaded_at < release_devices.downloaded_at)) \
                 OR (excluded.installed_at IS NOT NULL AND (release_devices.installed_at IS NULL OR excluded.installed_at < release_devices.installed_at)) \
                 OR (excluded.ready_at IS NOT NULL AND (release_devices.ready_at IS NULL OR excluded.ready_at < release_devices.ready_at)) \
                 OR (excluded.rolled_back_at IS NOT NULL AND (release_devices.rolled_back_at IS NULL OR excluded.rolled_back_at < release_devices.rolled_back_at)) \
                 OR (excluded.failed_at IS NOT NULL AND (release_devices.failed_at IS NULL OR excluded.failed_at < release_devices.failed_at)) \
                 OR (excluded.crashed_at IS NOT NULL AND (release_devices.crashed_at IS NULL OR excluded.crashed_at < release_devices.crashed_at)) \
                 OR (excluded.errored_at IS NOT NULL AND (release_devices.errored_at IS NULL OR excluded.errored_at < release_devices.errored_at)) \
                 OR (excluded.launch_ms IS NOT NULL AND release_devices.launch_ms IS NULL) \
                 OR (release_devices.arm_flags | excluded.arm_flags) <> release_devices.arm_flags";

            /// The time columns, in `INSERT`'s order.
            const SIGNALS: [Signal; 9] = [
                Signal::Offered,
                Signal::DownloadStarted,
                Signal::Downloaded,
                Signal::Installed,
                Signal::Ready,
                Signal::RolledBack,
                Signal::Failed,
                Signal::Crashed,
                Signal::Errored,
            ];

            /// A batch's signals for one app, bundle and device, merged.
            struct Merged {
                rollout: Option<(i64, Arm)>,
                first_at: i64,
                times: [Option<i64>; 9],
                /// `(ready at, launch ms)` of the earliest ready with a launch time.
                launch: Option<(i64, i64)>,
            }

            impl Merged {
                /// The row's `flags`: a bit for each signal seen, and one for a
                /// launch time (`$crate::tally`).
                fn flags(&self) -> i64 {
                    let seen = SIGNALS.iter().zip(self.times).filter(|(_, t)| t.is_some());
                    let launch = if self.launch.is_some() { $crate::tally::LAUNCH } else { 0 };
                    seen.fold(launch, |f, (s, _)| f | $crate::tally::bit(*s))
                }

                /// Ready minus download start, when the batch has both.
                fn download_to_ready(&self) -> Option<i64> {
                    Some(self.times[4]? - self.times[1]?)
                }
            }

            /// The ids of the live bundles a batch names, by app and version
            /// (one query per app).
            async fn bundle_ids<'a>(
                tx: &mut Tx<'_>,
                named: &std::collections::BTreeSet<(&'a str, &'a str)>,
            ) -> StoreResult<std::collections::HashMap<(&'a str, &'a str), i64>> {
                let mut ids = std::collections::HashMap::new();
                let mut apps: Vec<&str> = named.iter().map(|(app, _)| *app).collect();
                apps.dedup();
                for app in apps {
                    let versions: Vec<&str> = named.iter().filter(|(a, _)| *a == app).map(|(_, v)| *v).collect();
                    for chunk in pow2_chunks(&versions, 512) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, version FROM bundles WHERE deleted = FALSE AND app_id = ");
                        qb.push_bind(app).push(" AND version IN (");
                        let mut list = qb.separated(", ");
                        for v in chunk {
                            list.push_bind(*v);
                        }
                        qb.push(")");
                        for r in qb.build().fetch_all(&mut **tx).await.map_err(backend)? {
                            let version: String = r.try_get("version").map_err(backend)?;
                            let id: i64 = r.try_get("id").map_err(backend)?;
                            if let Some(v) = chunk.iter().find(|v| **v == version) {
                                ids.insert((app, *v), id);
                            }
                        }
                    }
                }
                Ok(ids)
            }

            /// Writes a batch's release signals inside its transaction: merged per
            /// app, bundle and device (in batch order, so the rollout last given
            /// wins), then upserted many rows per statement, in key order. Signals
            /// for a bundle the app does not have (or deleted) are dropped.
            pub(super) async fn write_signals(tx: &mut Tx<'_>, signals: &[&ReleaseSignal]) -> StoreResult<()> {
                let mut merged: std::collections::BTreeMap<(&str, &str, &str), Merged> = std::collections::BTreeMap::new();
                for s in signals {
                    let key = (s.app_id.as_str(), s.version.as_str(), s.device_id.as_str());
                    let m = merged.entry(key).or_insert(Merged { rollout: None, first_at: s.at, times: [None; 9], launch: None });
                    m.first_at = m.first_at.min(s.at);
                    if let Some(i) = SIGNALS.iter().position(|x| *x == s.signal) {
                        m.times[i] = Some(m.times[i].map_or(s.at, |t| t.min(s.at)));
                    }
                    if s.rollout.is_some() {
                        m.rollout = s.rollout;
                    }
                    if let (Signal::Ready, Some(ms)) = (s.signal, s.value_ms) {
                        if m.launch.is_none_or(|(at, _)| s.at < at) {
                            m.launch = Some((s.at, ms));
                        }
                    }
                }
                let named: std::collections::BTreeSet<(&str, &str)> = merged.keys().map(|(a, v, _)| (*a, *v)).collect();
                let ids = bundle_ids(tx, &named).await?;
                let rows: Vec<(i64, &str, &str, &Merged)> = merged
                    .iter()
                    .filter_map(|((app, version, device), m)| Some((*ids.get(&(*app, *version))?, *app, *device, m)))
                    .collect();
                for chunk in pow2_chunks(&rows, 512) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(INSERT);
                    qb.push_values(chunk, |mut b, (bundle_id, app, device, m)| {
                        b.push_bind(*app)
                            .push_bind(*bundle_id)
                            .push_bind(*device)
                            .push_bind(m.rollout.map(|(id, _)| id))
                            .push_bind(m.rollout.map(|(_, arm)| arm.as_str()))
                            .push_bind(m.first_at);
                        for t in m.times {
                            b.push_bind(t);
                        }
                        b.push_bind(m.launch.map(|(_, ms)| ms))
                            .push_bind(m.flags())
                            .push_bind(m.download_to_ready())
                            // Only signals the server attributed to an arm count for it.
                            .push_bind(if m.rollout.is_some() { m.flags() } else { 0 });
                    });
                    qb.push(ON_CONFLICT);
                    qb.build().execute(&mut **tx).await.map_err(backend)?;
                }
                Ok(())
            }

            /// The devices of a rollout by arm and what they did while in it
            /// (`arm_flags`; the launch bit from `flags`, as the launch-time
            /// index holds every launch time of the arm), counted from
            /// `release_devices_arm` alone (a few dozen groups at most).
            const _: () = assert!($crate::tally::LAUNCH == 512, "ARM_COUNTS names the launch bit");
            const ARM_COUNTS: &str = "SELECT arm, arm_flags | (flags & 512) AS flags, COUNT(*) AS n FROM release_devices \
                 WHERE rollout_id = $1 GROUP BY arm, arm_flags | (flags & 512)";

            /// One arm's launch time at a rank counted from the top, read in
            /// order from `release_devices_arm_launch` alone (no list is loaded).
            const ARM_LAUNCH_FROM_TOP: &str = "SELECT launch_ms FROM release_devices \
                 WHERE rollout_id = $1 AND arm = $2 AND launch_ms IS NOT NULL ORDER BY launch_ms DESC LIMIT 1 OFFSET $3";

            /// The p90 of an arm's `samples` launch times: the nearest rank,
            /// walked to from the top (a tenth of the arm's entries).
            async fn launch_p90(pool: &sqlx::Pool<$db>, rollout_id: i64, arm: Arm, samples: u64) -> StoreResult<Option<u64>> {
                let Some(offset) = $crate::rank_offset(90, samples) else {
                    return Ok(None);
                };
                let from_top = i64::try_from(samples).unwrap_or(i64::MAX) - 1 - offset;
                let r = sqlx::query(ARM_LAUNCH_FROM_TOP)
                    .bind(rollout_id)
                    .bind(arm.as_str())
                    .bind(from_top.max(0))
                    .fetch_optional(pool)
                    .await
                    .map_err(backend)?;
                let v: Option<i64> = r.map(|r| r.try_get("launch_ms")).transpose().map_err(backend)?;
                Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
            }

            /// `(candidate, stable)`: both arms counted in one pass, then each
            /// arm's launch-time p90 at its rank in the index.
            pub(super) async fn arm_health(pool: &sqlx::Pool<$db>, rollout_id: i64) -> StoreResult<(ArmHealth, ArmHealth)> {
                let rs = sqlx::query(ARM_COUNTS).bind(rollout_id).fetch_all(pool).await.map_err(backend)?;
                let (mut candidate, mut stable) = ($crate::tally::Tally::default(), $crate::tally::Tally::default());
                for r in &rs {
                    let arm: Option<String> = r.try_get("arm").map_err(backend)?;
                    let flags: i64 = r.try_get("flags").map_err(backend)?;
                    let n = u64::try_from(r.try_get::<i64, _>("n").map_err(backend)?).unwrap_or(0);
                    match arm.as_deref().and_then(Arm::parse) {
                        Some(Arm::Candidate) => candidate.add(flags, n),
                        Some(Arm::Stable) => stable.add(flags, n),
                        None => {}
                    }
                }
                let mut arms = (candidate.arm_health(), stable.arm_health());
                arms.0.launch_p90_ms = launch_p90(pool, rollout_id, Arm::Candidate, arms.0.launch_samples).await?;
                arms.1.launch_p90_ms = launch_p90(pool, rollout_id, Arm::Stable, arms.1.launch_samples).await?;
                Ok(arms)
            }
        }
    };
}

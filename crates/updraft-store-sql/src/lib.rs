//! What Updraft's SQL stores share: the queries (written once, in the SQL both
//! SQLite and PostgreSQL accept, with `$n` placeholders), error mapping, and
//! [`sql_store!`], which implements every `updraft_store` resource trait (and
//! so `Store`) for a concrete sqlx database, one file of queries per resource
//! under `store/`. Each database crate owns only its connection setup and
//! migrations.

#![deny(missing_docs)]

pub use async_trait;
pub use serde_json;
pub use sqlx;
pub use updraft_core;
pub use updraft_protocol;
pub use updraft_store;

use updraft_store::StoreError;

mod chunks;
mod store;
pub mod tally;

pub use chunks::pow2_chunks;

/// Maps a sqlx error: unique violations become `Conflict(msg)`, the rest `Backend`.
pub fn map_err(e: sqlx::Error, conflict: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(conflict.to_string())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::Conflict(format!("{conflict} (still referenced)"))
        }
        _ => backend(e),
    }
}

/// Maps a sqlx error with no expected conflict: `Unavailable` when it may
/// pass ([`is_transient`]), `Backend` otherwise.
// By value so that every query can say `.map_err(backend)`.
#[allow(clippy::needless_pass_by_value)]
pub fn backend(e: sqlx::Error) -> StoreError {
    if is_transient(&e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// Whether an error may pass if the same work is retried: the connection or
/// pool failed, the peer spoke no PostgreSQL (a TCP proxy or load balancer
/// in front of a database that is down accepts, then closes or answers
/// garbage: a protocol error, not bad data), SQLite was busy, locked, out of disk or could not do I/O, or
/// PostgreSQL reported a connection problem (SQLSTATE class 08), a
/// serialization failure or deadlock (40), too few resources (53), an operator
/// intervention such as a shutdown (57) or a system error (58), a read-only
/// transaction (25), a lock timeout or a missing grant. Everything else
/// (constraints, bad data, bad encoding) fails again the same way.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| transient_code(&c)),
        _ => false,
    }
}

/// A PostgreSQL SQLSTATE (always five characters) or an SQLite result code
/// (a number whose low byte is the primary code).
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        // Also a read-only transaction (25006: a failover, a pooler pointed at
        // a standby), a lock timeout (55P03) and a missing grant (42501): the
        // whole database refuses, not one record; an operator fixes it.
        return matches!(&code[..2], "08" | "25" | "40" | "53" | "57" | "58")
            || code == "55P03"
            || code == "42501";
    }
    match code.parse::<u32>() {
        // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL
        Ok(n) => matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14 | 15),
        Err(_) => false,
    }
}

/// Refuses a telemetry batch holding a NUL in any string: PostgreSQL cannot
/// store one and SQLite would cut the text at it. The server refuses such
/// strings at the edge; this keeps every store alike for any other caller.
pub fn refuse_nul(batch: &[updraft_store::Write]) -> Result<(), StoreError> {
    use updraft_store::Write;
    let nul = |s: &str| s.contains('\0');
    let opt = |s: &Option<String>| s.as_deref().is_some_and(nul);
    for w in batch {
        let bad = match w {
            Write::Seen(d) => {
                nul(&d.app_id)
                    || nul(&d.device_id)
                    || [
                        &d.custom_id,
                        &d.platform,
                        &d.plugin_version,
                        &d.version_name,
                        &d.version_build,
                        &d.version_code,
                        &d.version_os,
                        &d.default_channel,
                        &d.key_id,
                    ]
                    .into_iter()
                    .any(opt)
            }
            Write::Event(e) => {
                nul(&e.app_id)
                    || nul(&e.device_id)
                    || nul(&e.action)
                    || nul(&e.version_name)
                    || opt(&e.old_version_name)
                    || opt(&e.metadata)
            }
            Write::Offered {
                app_id, version, ..
            } => nul(app_id) || nul(version),
            Write::Checked { app_id, .. } => nul(app_id),
            Write::Failed {
                app_id,
                device_id,
                version,
                ..
            } => nul(app_id) || nul(device_id) || nul(version),
            Write::Release(s) => nul(&s.app_id) || nul(&s.device_id) || nul(&s.version),
        };
        if bad {
            return Err(StoreError::Invalid(format!(
                "a {} write holds a NUL character, which the database cannot store",
                w.kind()
            )));
        }
    }
    Ok(())
}

/// The 0-based offset of the `p`-th percentile among `n` ascending values by
/// the nearest-rank rule (the value at rank `ceil(p * n / 100)`, at least 1);
/// `None` when there are no values.
#[doc(hidden)]
pub fn rank_offset(p: u64, n: u64) -> Option<i64> {
    if n == 0 {
        return None;
    }
    let rank = (u128::from(p.min(100)) * u128::from(n))
        .div_ceil(100)
        .max(1);
    i64::try_from(rank - 1).ok()
}

/// Most points of a release's adoption curve: a week of hours.
pub const MAX_ADOPTION_POINTS: i64 = 168;

const HOUR_MS: i64 = 3_600_000;

/// The buckets of an adoption curve over `[since, until)` (`since < until`):
/// `(bucket length in ms, number of points)`. Buckets are hours, or as many
/// whole hours as keep the points at [`MAX_ADOPTION_POINTS`] or fewer.
#[doc(hidden)]
pub fn adoption_buckets(since: i64, until: i64) -> (i64, usize) {
    // Both positive: the quotient rounded up.
    let up = |a: i64, b: i64| a / b + i64::from(a % b != 0);
    let span = until.saturating_sub(since).max(1);
    let bucket = up(up(span, HOUR_MS), MAX_ADOPTION_POINTS).saturating_mul(HOUR_MS);
    (bucket, usize::try_from(up(span, bucket)).unwrap_or(0))
}

/// The channel columns, joined with the bundle's version name.
pub const CHANNEL_SELECT: &str = "SELECT c.id, c.app_id, c.name, c.bundle_id, b.version AS bundle_version, \
     c.public, c.ios, c.android, c.electron, c.allow_device_self_set, c.allow_emulator, c.allow_device, \
     c.allow_dev, c.allow_prod, c.disable_auto_update, c.disable_auto_update_under_native, c.target, c.critical, c.created_at, c.updated_at \
     FROM channels c LEFT JOIN bundles b ON b.id = c.bundle_id";

/// The bundle columns.
pub const BUNDLE_SELECT: &str = "SELECT id, app_id, version, checksum, session_key, key_id, storage, blob_sha256, size, \
     external_url, manifest, min_update_version, native_packages, link, comment, deleted, created_at, electron_checksum, revoked_at, revoked_reason FROM bundles";

/// The app columns.
pub const APP_SELECT: &str =
    "SELECT app_id, name, expose_metadata, allow_device_custom_id, public_key, created_at, revision FROM apps";

/// The device columns, with the override resolved to names.
pub const DEVICE_SELECT: &str = "SELECT d.app_id, d.device_id, d.custom_id, d.platform, d.plugin_version, d.version_name, \
     d.version_build, d.version_code, d.version_os, d.is_prod, d.is_emulator, d.default_channel, d.key_id, d.last_seen, \
     oc.name AS override_channel, ob.version AS override_bundle \
     FROM devices d \
     LEFT JOIN device_overrides o ON o.app_id = d.app_id AND o.device_id = d.device_id \
     LEFT JOIN channels oc ON oc.id = o.channel_id \
     LEFT JOIN bundles ob ON ob.id = o.bundle_id";

/// Start of the multi-row insert of device rows (followed by `VALUES …` and [`DEVICE_ON_CONFLICT`]).
pub const DEVICE_INSERT: &str = "INSERT INTO devices (app_id, device_id, custom_id, platform, plugin_version, version_name, \
     version_build, version_code, version_os, is_prod, is_emulator, default_channel, key_id, last_seen) ";

pub use updraft_store::LAST_SEEN_REFRESH_MS;

/// Upsert rule for device rows: an empty or missing `custom_id` keeps the stored
/// one, and so does a missing `version_name`. A row older than the stored one
/// (an event sent late from a device's queue) never replaces it.
/// A row whose fields are all unchanged is rewritten only when its `last_seen` is
/// [`LAST_SEEN_REFRESH_MS`] old: devices check on every foreground (often twice a
/// tick), and rewriting identical rows was most of the writer's work.
pub const DEVICE_ON_CONFLICT: &str = " ON CONFLICT (app_id, device_id) DO UPDATE SET \
     custom_id = COALESCE(excluded.custom_id, devices.custom_id), platform = excluded.platform, \
     plugin_version = excluded.plugin_version, \
     version_name = COALESCE(excluded.version_name, devices.version_name), \
     version_build = excluded.version_build, version_code = excluded.version_code, \
     version_os = excluded.version_os, is_prod = excluded.is_prod, is_emulator = excluded.is_emulator, \
     default_channel = excluded.default_channel, key_id = excluded.key_id, last_seen = excluded.last_seen \
     WHERE (devices.last_seen IS NULL OR excluded.last_seen >= devices.last_seen) AND ( \
     devices.last_seen IS NULL OR excluded.last_seen - devices.last_seen >= 300000 \
     OR COALESCE(excluded.custom_id, devices.custom_id) IS DISTINCT FROM devices.custom_id \
     OR excluded.platform IS DISTINCT FROM devices.platform \
     OR excluded.plugin_version IS DISTINCT FROM devices.plugin_version \
     OR COALESCE(excluded.version_name, devices.version_name) IS DISTINCT FROM devices.version_name \
     OR excluded.version_build IS DISTINCT FROM devices.version_build \
     OR excluded.version_code IS DISTINCT FROM devices.version_code \
     OR excluded.version_os IS DISTINCT FROM devices.version_os \
     OR excluded.is_prod IS DISTINCT FROM devices.is_prod \
     OR excluded.is_emulator IS DISTINCT FROM devices.is_emulator \
     OR excluded.default_channel IS DISTINCT FROM devices.default_channel \
     OR excluded.key_id IS DISTINCT FROM devices.key_id)";

#[cfg(test)]
mod tests {
    use super::{adoption_buckets, rank_offset};

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(rank_offset(90, 0), None);
        assert_eq!(rank_offset(90, 1), Some(0));
        assert_eq!(rank_offset(50, 4), Some(1), "rank 2 of 4");
        assert_eq!(rank_offset(90, 10), Some(8), "rank 9 of 10");
        assert_eq!(rank_offset(90, 11), Some(9), "rank ceil(9.9) = 10 of 11");
        assert_eq!(rank_offset(95, 1_000_000), Some(949_999));
    }

    #[test]
    fn adoption_has_hourly_points_up_to_a_week_then_coarser() {
        let hour = 3_600_000;
        assert_eq!(adoption_buckets(0, 24 * hour), (hour, 24));
        assert_eq!(
            adoption_buckets(0, hour / 2),
            (hour, 1),
            "a part of an hour is one point"
        );
        assert_eq!(adoption_buckets(0, 168 * hour), (hour, 168));
        assert_eq!(adoption_buckets(0, 169 * hour), (2 * hour, 85));
        let (bucket, points) = adoption_buckets(0, 365 * 24 * hour);
        assert!(points <= 168 && bucket % hour == 0, "{bucket} {points}");
    }

    #[test]
    fn the_refresh_interval_in_the_sql_is_the_constant() {
        assert!(super::DEVICE_ON_CONFLICT.contains(&format!(">= {}", super::LAST_SEEN_REFRESH_MS)));
    }
}

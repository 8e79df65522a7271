//! What Updraft's SQL stores share: the queries (written once, in the SQL both
//! SQLite and PostgreSQL accept, with `$n` placeholders), error mapping, and
//! [`sql_store!`], which implements `updraft_store::Store` for a concrete sqlx
//! database. Each database crate owns only its connection setup and migrations.

pub use async_trait;
pub use serde_json;
pub use sqlx;
pub use updraft_protocol;
pub use updraft_store;

use updraft_store::StoreError;

mod store_macro;

/// Maps a sqlx error: unique violations become `Conflict(msg)`, the rest `Backend`.
pub fn map_err(e: sqlx::Error, conflict: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(conflict.to_string())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::Conflict(format!("{conflict} (still referenced)"))
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Maps a sqlx error with no expected conflict.
pub fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The channel columns, joined with the bundle's version name.
pub const CHANNEL_SELECT: &str = "SELECT c.id, c.app_id, c.name, c.bundle_id, b.version AS bundle_version, \
     c.public, c.ios, c.android, c.electron, c.allow_device_self_set, c.allow_emulator, c.allow_device, \
     c.allow_dev, c.allow_prod, c.disable_auto_update, c.disable_auto_update_under_native, c.created_at, c.updated_at \
     FROM channels c LEFT JOIN bundles b ON b.id = c.bundle_id";

/// The bundle columns.
pub const BUNDLE_SELECT: &str = "SELECT id, app_id, version, checksum, session_key, key_id, storage, blob_sha256, size, \
     external_url, manifest, min_update_version, native_packages, link, comment, deleted, created_at, electron_checksum FROM bundles";

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

/// Upsert rule for device rows: an empty or missing `custom_id` keeps the stored one.
/// A row whose fields are all unchanged is rewritten only when its `last_seen` is
/// [`LAST_SEEN_REFRESH_MS`] old: devices check on every foreground (often twice a
/// tick), and rewriting identical rows was most of the writer's work.
pub const DEVICE_ON_CONFLICT: &str = " ON CONFLICT (app_id, device_id) DO UPDATE SET \
     custom_id = COALESCE(excluded.custom_id, devices.custom_id), platform = excluded.platform, \
     plugin_version = excluded.plugin_version, version_name = excluded.version_name, \
     version_build = excluded.version_build, version_code = excluded.version_code, \
     version_os = excluded.version_os, is_prod = excluded.is_prod, is_emulator = excluded.is_emulator, \
     default_channel = excluded.default_channel, key_id = excluded.key_id, last_seen = excluded.last_seen \
     WHERE devices.last_seen IS NULL OR excluded.last_seen - devices.last_seen >= 300000 \
     OR COALESCE(excluded.custom_id, devices.custom_id) IS DISTINCT FROM devices.custom_id \
     OR excluded.platform IS DISTINCT FROM devices.platform \
     OR excluded.plugin_version IS DISTINCT FROM devices.plugin_version \
     OR excluded.version_name IS DISTINCT FROM devices.version_name \
     OR excluded.version_build IS DISTINCT FROM devices.version_build \
     OR excluded.version_code IS DISTINCT FROM devices.version_code \
     OR excluded.version_os IS DISTINCT FROM devices.version_os \
     OR excluded.is_prod IS DISTINCT FROM devices.is_prod \
     OR excluded.is_emulator IS DISTINCT FROM devices.is_emulator \
     OR excluded.default_channel IS DISTINCT FROM devices.default_channel \
     OR excluded.key_id IS DISTINCT FROM devices.key_id";

#[cfg(test)]
mod tests {
    #[test]
    fn the_refresh_interval_in_the_sql_is_the_constant() {
        assert!(super::DEVICE_ON_CONFLICT.contains(&format!(">= {}", super::LAST_SEEN_REFRESH_MS)));
    }
}

//! [`sql_store!`]: the `Store` implementation, written once for every sqlx database.
//!
//! The queries use only SQL that SQLite (≥ 3.35) and PostgreSQL both accept;
//! the macro exists because sqlx's generic bounds over `Database` would have to
//! be repeated on every function, while the code itself is identical.

/// Implements `updraft_store::Store` for `$store`, a struct with a field
/// `pool: sqlx::Pool<$db>` and a `migrator()` function returning its migrations.
/// `$begin` opens a write transaction (`BEGIN IMMEDIATE` on SQLite, so a
/// transaction never has to upgrade its lock and fail with "database is locked").
#[macro_export]
macro_rules! sql_store {
    ($store:ident, $db:ty, $begin:expr) => {
        mod sql_store_impl {
            use super::$store;
            use $crate::async_trait::async_trait;
            use $crate::serde_json;
            use $crate::sqlx::{self, Row as _};
            use $crate::updraft_protocol::api::*;
            use $crate::updraft_store::*;
            use $crate::{backend, map_err, APP_SELECT, BUNDLE_SELECT, CHANNEL_SELECT, DEVICE_INSERT, DEVICE_ON_CONFLICT, DEVICE_SELECT};

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx<'a> = sqlx::Transaction<'a, $db>;
            const BEGIN: &str = $begin;

            $crate::sql_telemetry!($db);

            fn app_row(r: &DbRow) -> Result<App, sqlx::Error> {
                Ok(App {
                    app_id: r.try_get("app_id")?,
                    name: r.try_get("name")?,
                    expose_metadata: r.try_get("expose_metadata")?,
                    allow_device_custom_id: r.try_get("allow_device_custom_id")?,
                    public_key: r.try_get("public_key")?,
                    created_at: r.try_get("created_at")?,
                })
            }

            fn bundle_row(r: &DbRow) -> Result<Bundle, sqlx::Error> {
                let storage: String = r.try_get("storage")?;
                let native: String = r.try_get("native_packages")?;
                let manifest: String = r.try_get("manifest")?;
                Ok(Bundle {
                    id: r.try_get("id")?,
                    app_id: r.try_get("app_id")?,
                    version: r.try_get("version")?,
                    checksum: r.try_get("checksum")?,
                    session_key: r.try_get("session_key")?,
                    key_id: r.try_get("key_id")?,
                    electron_checksum: r.try_get("electron_checksum")?,
                    storage: if storage == "external" { BundleStorage::External } else { BundleStorage::Stored },
                    blob_sha256: r.try_get("blob_sha256")?,
                    size: r.try_get("size")?,
                    external_url: r.try_get("external_url")?,
                    manifest: serde_json::from_str(&manifest).unwrap_or_default(),
                    min_update_version: r.try_get("min_update_version")?,
                    native_packages: serde_json::from_str(&native).unwrap_or(serde_json::Value::Array(vec![])),
                    link: r.try_get("link")?,
                    comment: r.try_get("comment")?,
                    deleted: r.try_get("deleted")?,
                    created_at: r.try_get("created_at")?,
                })
            }

            fn channel_row(r: &DbRow) -> Result<Channel, sqlx::Error> {
                let dau: String = r.try_get("disable_auto_update")?;
                let bundle_version: Option<String> = r.try_get("bundle_version")?;
                Ok(Channel {
                    id: r.try_get("id")?,
                    app_id: r.try_get("app_id")?,
                    name: r.try_get("name")?,
                    bundle_id: r.try_get("bundle_id")?,
                    bundle_version: bundle_version.unwrap_or_else(|| "builtin".to_string()),
                    public: r.try_get("public")?,
                    ios: r.try_get("ios")?,
                    android: r.try_get("android")?,
                    electron: r.try_get("electron")?,
                    allow_device_self_set: r.try_get("allow_device_self_set")?,
                    allow_emulator: r.try_get("allow_emulator")?,
                    allow_device: r.try_get("allow_device")?,
                    allow_dev: r.try_get("allow_dev")?,
                    allow_prod: r.try_get("allow_prod")?,
                    disable_auto_update: DisableAutoUpdate::parse(&dau).unwrap_or(DisableAutoUpdate::Major),
                    disable_auto_update_under_native: r.try_get("disable_auto_update_under_native")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn device_row(r: &DbRow) -> Result<Device, sqlx::Error> {
                let oc: Option<String> = r.try_get("override_channel")?;
                let ob: Option<String> = r.try_get("override_bundle")?;
                let device_override = match (oc, ob) {
                    (Some(channel), _) => Some(DeviceOverride::Channel { channel }),
                    (None, Some(version)) => Some(DeviceOverride::Bundle { version }),
                    _ => None,
                };
                Ok(Device {
                    app_id: r.try_get("app_id")?,
                    device_id: r.try_get("device_id")?,
                    custom_id: r.try_get("custom_id")?,
                    platform: r.try_get("platform")?,
                    plugin_version: r.try_get("plugin_version")?,
                    version_name: r.try_get("version_name")?,
                    version_build: r.try_get("version_build")?,
                    version_code: r.try_get("version_code")?,
                    version_os: r.try_get("version_os")?,
                    is_prod: r.try_get("is_prod")?,
                    is_emulator: r.try_get("is_emulator")?,
                    default_channel: r.try_get("default_channel")?,
                    key_id: r.try_get("key_id")?,
                    last_seen: r.try_get("last_seen")?,
                    device_override,
                    failed_bundles: Vec::new(),
                })
            }

            fn key_row(r: &DbRow) -> Result<StoredKey, sqlx::Error> {
                let mode: String = r.try_get("mode")?;
                let apps: String = r.try_get("apps")?;
                Ok(StoredKey {
                    key: ApiKey {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        mode: KeyMode::parse(&mode).unwrap_or(KeyMode::Read),
                        apps: serde_json::from_str(&apps).unwrap_or_default(),
                        expires_at: r.try_get("expires_at")?,
                        created_at: r.try_get("created_at")?,
                    },
                    hash: r.try_get("key_hash")?,
                })
            }

            fn rows<T>(rs: Vec<DbRow>, f: fn(&DbRow) -> Result<T, sqlx::Error>) -> StoreResult<Vec<T>> {
                rs.iter().map(f).collect::<Result<Vec<_>, _>>().map_err(backend)
            }

            async fn bump(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE apps SET revision = revision + 1 WHERE app_id = $1")
                    .bind(app_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn require_app(tx: &mut Tx<'_>, app_id: &str) -> StoreResult<()> {
                let found = sqlx::query("SELECT 1 AS one FROM apps WHERE app_id = $1")
                    .bind(app_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend)?;
                match found {
                    Some(_) => Ok(()),
                    None => Err(StoreError::NotFound(format!("app {app_id} not found"))),
                }
            }

            async fn channel_in(tx: &mut Tx<'_>, app_id: &str, name: &str) -> StoreResult<Option<Channel>> {
                let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 AND c.name = $2");
                let r = sqlx::query(&q).bind(app_id).bind(name).fetch_optional(&mut **tx).await.map_err(backend)?;
                r.as_ref().map(channel_row).transpose().map_err(backend)
            }

            /// The id of a live bundle, locked until `tx` ends: a no-op update
            /// takes the row lock on PostgreSQL, so deleting a bundle and pointing
            /// a channel (or a pin) at it serialise, and the loser sees the
            /// winner's result (SQLite's `BEGIN IMMEDIATE` serialises anyway).
            async fn live_bundle_id(tx: &mut Tx<'_>, app_id: &str, version: &str) -> StoreResult<i64> {
                let r = sqlx::query("UPDATE bundles SET deleted = deleted WHERE app_id = $1 AND version = $2 AND deleted = FALSE RETURNING id")
                    .bind(app_id)
                    .bind(version)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend)?;
                match r {
                    Some(r) => r.try_get("id").map_err(backend),
                    None => Err(StoreError::NotFound(format!("bundle {version} not found in app {app_id}"))),
                }
            }

            /// Applies a patch to an existing channel row (inside `tx`).
            async fn apply_patch(
                tx: &mut Tx<'_>,
                current: Channel,
                patch: &ChannelPatch,
                now: i64,
                created: bool,
            ) -> StoreResult<ChannelWrite> {
                let mut c = current.clone();
                if let Some(name) = &patch.name {
                    c.name = name.clone();
                }
                if let Some(b) = &patch.bundle {
                    c.bundle_id = match b.as_deref() {
                        None | Some("") | Some("builtin") | Some("unknown") => None,
                        Some(v) => Some(live_bundle_id(tx, &c.app_id, v).await?),
                    };
                }
                if let Some(v) = patch.public {
                    c.public = v;
                }
                if let Some(v) = patch.ios {
                    c.ios = v;
                }
                if let Some(v) = patch.android {
                    c.android = v;
                }
                if let Some(v) = patch.electron {
                    c.electron = v;
                }
                if let Some(v) = patch.allow_device_self_set {
                    c.allow_device_self_set = v;
                }
                if let Some(v) = patch.allow_emulator {
                    c.allow_emulator = v;
                }
                if let Some(v) = patch.allow_device {
                    c.allow_device = v;
                }
                if let Some(v) = patch.allow_dev {
                    c.allow_dev = v;
                }
                if let Some(v) = patch.allow_prod {
                    c.allow_prod = v;
                }
                if let Some(v) = patch.disable_auto_update {
                    c.disable_auto_update = v;
                }
                if let Some(v) = patch.disable_auto_update_under_native {
                    c.disable_auto_update_under_native = v;
                }
                let mut unpublished = Vec::new();
                if c.public {
                    let taken = sqlx::query(
                        "UPDATE channels SET public = FALSE, updated_at = $3 WHERE app_id = $1 AND id <> $2 AND public = TRUE \
                         AND ((ios = TRUE AND $4 = TRUE) OR (android = TRUE AND $5 = TRUE) OR (electron = TRUE AND $6 = TRUE)) \
                         RETURNING name",
                    )
                    .bind(&c.app_id)
                    .bind(c.id)
                    .bind(now)
                    .bind(c.ios)
                    .bind(c.android)
                    .bind(c.electron)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(backend)?;
                    for r in taken {
                        unpublished.push(r.try_get::<String, _>("name").map_err(backend)?);
                    }
                }
                sqlx::query(
                    "UPDATE channels SET name = $2, bundle_id = $3, public = $4, ios = $5, android = $6, electron = $7, \
                     allow_device_self_set = $8, allow_emulator = $9, allow_device = $10, allow_dev = $11, allow_prod = $12, \
                     disable_auto_update = $13, disable_auto_update_under_native = $14, updated_at = $15 WHERE id = $1",
                )
                .bind(c.id)
                .bind(&c.name)
                .bind(c.bundle_id)
                .bind(c.public)
                .bind(c.ios)
                .bind(c.android)
                .bind(c.electron)
                .bind(c.allow_device_self_set)
                .bind(c.allow_emulator)
                .bind(c.allow_device)
                .bind(c.allow_dev)
                .bind(c.allow_prod)
                .bind(c.disable_auto_update.as_str())
                .bind(c.disable_auto_update_under_native)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|e| map_err(e, &format!("a channel named {} already exists", c.name)))?;
                if created || c.bundle_id != current.bundle_id {
                    sqlx::query("INSERT INTO deploys (app_id, channel_id, bundle_id, deployed_at) VALUES ($1, $2, $3, $4)")
                        .bind(&c.app_id)
                        .bind(c.id)
                        .bind(c.bundle_id)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                }
                bump(tx, &c.app_id).await?;
                let channel = channel_in(tx, &c.app_id, &c.name)
                    .await?
                    .ok_or_else(|| StoreError::Backend("channel vanished".into()))?;
                Ok(ChannelWrite { channel, unpublished })
            }

            #[async_trait]
            impl Store for $store {
                async fn migrate(&self) -> StoreResult<()> {
                    $store::migrator().run(&self.pool).await.map_err(|e| StoreError::Backend(e.to_string()))
                }

                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
                    Ok(())
                }

                async fn create_app(&self, app: &NewApp, now: i64) -> StoreResult<App> {
                    let name = app.name.clone().unwrap_or_else(|| app.app_id.clone());
                    let q = "INSERT INTO apps (app_id, name, expose_metadata, allow_device_custom_id, revision, created_at) \
                             VALUES ($1, $2, FALSE, TRUE, 1, $3)";
                    sqlx::query(q)
                        .bind(&app.app_id)
                        .bind(&name)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| map_err(e, &format!("app {} already exists", app.app_id)))?;
                    self.get_app(&app.app_id).await?.ok_or_else(|| StoreError::Backend("app vanished".into()))
                }

                async fn list_apps(&self) -> StoreResult<Vec<App>> {
                    let q = format!("{APP_SELECT} ORDER BY app_id");
                    rows(sqlx::query(&q).fetch_all(&self.pool).await.map_err(backend)?, app_row)
                }

                async fn get_app(&self, app_id: &str) -> StoreResult<Option<App>> {
                    let q = format!("{APP_SELECT} WHERE app_id = $1");
                    let r = sqlx::query(&q).bind(app_id).fetch_optional(&self.pool).await.map_err(backend)?;
                    r.as_ref().map(app_row).transpose().map_err(backend)
                }

                async fn update_app(&self, app_id: &str, patch: &AppPatch) -> StoreResult<App> {
                    let r = sqlx::query(
                        "UPDATE apps SET name = COALESCE($2, name), expose_metadata = COALESCE($3, expose_metadata), \
                         allow_device_custom_id = COALESCE($4, allow_device_custom_id), \
                         public_key = NULLIF(COALESCE($5, public_key), ''), revision = revision + 1 \
                         WHERE app_id = $1",
                    )
                    .bind(app_id)
                    .bind(&patch.name)
                    .bind(patch.expose_metadata)
                    .bind(patch.allow_device_custom_id)
                    .bind(&patch.public_key)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                    if r.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("app {app_id} not found")));
                    }
                    self.get_app(app_id).await?.ok_or_else(|| StoreError::NotFound(format!("app {app_id} not found")))
                }

                async fn delete_app(&self, app_id: &str) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, app_id).await?;
                    for table in ["offers", "events", "device_failures", "device_overrides", "devices", "deploys", "channels", "bundles"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE app_id = $1"))
                            .bind(app_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                    sqlx::query("DELETE FROM apps WHERE app_id = $1").bind(app_id).execute(&mut *tx).await.map_err(backend)?;
                    tx.commit().await.map_err(backend)
                }

                async fn create_bundle(&self, b: &NewBundle, now: i64) -> StoreResult<Bundle> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, &b.app_id).await?;
                    let native = b.meta.native_packages.clone().unwrap_or(serde_json::Value::Array(vec![]));
                    let storage = match b.storage {
                        BundleStorage::Stored => "stored",
                        BundleStorage::External => "external",
                    };
                    sqlx::query(
                        "INSERT INTO bundles (app_id, version, checksum, session_key, key_id, storage, blob_sha256, size, \
                         external_url, min_update_version, native_packages, link, comment, deleted, created_at, manifest, electron_checksum) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, FALSE, $14, $15, $16)",
                    )
                    .bind(&b.app_id)
                    .bind(&b.version)
                    .bind(&b.checksum)
                    .bind(&b.session_key)
                    .bind(&b.key_id)
                    .bind(storage)
                    .bind(&b.blob_sha256)
                    .bind(b.size)
                    .bind(&b.external_url)
                    .bind(&b.meta.min_update_version)
                    .bind(native.to_string())
                    .bind(&b.meta.link)
                    .bind(&b.meta.comment)
                    .bind(now)
                    .bind(serde_json::to_string(&b.manifest).unwrap_or_else(|_| "[]".into()))
                    .bind(&b.electron_checksum)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        map_err(e, &format!(
                            "bundle {} already exists in app {} (version names are never reused, even after a delete); pick a new version",
                            b.version, b.app_id
                        ))
                    })?;
                    bump(&mut tx, &b.app_id).await?;
                    tx.commit().await.map_err(backend)?;
                    self.get_bundle(&b.app_id, &b.version)
                        .await?
                        .ok_or_else(|| StoreError::Backend("bundle vanished".into()))
                }

                async fn list_bundles(&self, app_id: &str) -> StoreResult<Vec<Bundle>> {
                    let q = format!("{BUNDLE_SELECT} WHERE app_id = $1 AND deleted = FALSE ORDER BY id DESC");
                    rows(sqlx::query(&q).bind(app_id).fetch_all(&self.pool).await.map_err(backend)?, bundle_row)
                }

                async fn get_bundle(&self, app_id: &str, version: &str) -> StoreResult<Option<Bundle>> {
                    let q = format!("{BUNDLE_SELECT} WHERE app_id = $1 AND version = $2");
                    let r = sqlx::query(&q).bind(app_id).bind(version).fetch_optional(&self.pool).await.map_err(backend)?;
                    r.as_ref().map(bundle_row).transpose().map_err(backend)
                }

                async fn update_bundle_meta(&self, app_id: &str, version: &str, meta: &BundleMeta) -> StoreResult<Bundle> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let r = sqlx::query(
                        "UPDATE bundles SET min_update_version = COALESCE($3, min_update_version), \
                         native_packages = COALESCE($4, native_packages), link = COALESCE($5, link), \
                         comment = COALESCE($6, comment) WHERE app_id = $1 AND version = $2 AND deleted = FALSE",
                    )
                    .bind(app_id)
                    .bind(version)
                    .bind(&meta.min_update_version)
                    .bind(meta.native_packages.as_ref().map(|v| v.to_string()))
                    .bind(&meta.link)
                    .bind(&meta.comment)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    if r.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("bundle {version} not found in app {app_id}")));
                    }
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)?;
                    self.get_bundle(app_id, version).await?.ok_or_else(|| StoreError::Backend("bundle vanished".into()))
                }

                async fn delete_bundle(&self, app_id: &str, version: &str) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let id = live_bundle_id(&mut tx, app_id, version).await?;
                    let users = sqlx::query("SELECT name FROM channels WHERE bundle_id = $1 ORDER BY name")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(backend)?;
                    if !users.is_empty() {
                        let names: Vec<String> = users.iter().filter_map(|r| r.try_get("name").ok()).collect();
                        return Err(StoreError::Conflict(format!(
                            "bundle {version} is used by channel(s) {}; point them at another bundle first",
                            names.join(", ")
                        )));
                    }
                    let pins = sqlx::query("SELECT COUNT(*) AS n FROM device_overrides WHERE bundle_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend)?;
                    let n: i64 = pins.try_get("n").map_err(backend)?;
                    if n > 0 {
                        return Err(StoreError::Conflict(format!(
                            "bundle {version} is pinned on {n} device(s); remove those overrides first"
                        )));
                    }
                    sqlx::query("UPDATE bundles SET deleted = TRUE WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(backend)?;
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)
                }

                async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool> {
                    let r = sqlx::query("SELECT 1 AS one FROM bundles WHERE blob_sha256 = $1 AND deleted = FALSE LIMIT 1")
                        .bind(sha256)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(r.is_some())
                }

                async fn create_channel(&self, app_id: &str, patch: &ChannelPatch, now: i64) -> StoreResult<ChannelWrite> {
                    let name = patch
                        .name
                        .clone()
                        .filter(|n| !n.trim().is_empty())
                        .ok_or_else(|| StoreError::Invalid("a channel needs a name".into()))?;
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, app_id).await?;
                    sqlx::query(
                        "INSERT INTO channels (app_id, name, bundle_id, public, ios, android, electron, allow_device_self_set, \
                         allow_emulator, allow_device, allow_dev, allow_prod, disable_auto_update, \
                         disable_auto_update_under_native, created_at, updated_at) \
                         VALUES ($1, $2, NULL, FALSE, TRUE, TRUE, TRUE, FALSE, TRUE, TRUE, TRUE, TRUE, 'major', TRUE, $3, $3)",
                    )
                    .bind(app_id)
                    .bind(&name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_err(e, &format!("channel {name} already exists in app {app_id}")))?;
                    let current = channel_in(&mut tx, app_id, &name)
                        .await?
                        .ok_or_else(|| StoreError::Backend("channel vanished".into()))?;
                    let w = apply_patch(&mut tx, current, patch, now, true).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(w)
                }

                async fn update_channel(&self, app_id: &str, name: &str, patch: &ChannelPatch, now: i64) -> StoreResult<ChannelWrite> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let current = channel_in(&mut tx, app_id, name)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                    let w = apply_patch(&mut tx, current, patch, now, false).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(w)
                }

                async fn list_channels(&self, app_id: &str) -> StoreResult<Vec<Channel>> {
                    let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 ORDER BY c.name, c.id");
                    rows(sqlx::query(&q).bind(app_id).fetch_all(&self.pool).await.map_err(backend)?, channel_row)
                }

                async fn get_channel(&self, app_id: &str, name: &str) -> StoreResult<Option<Channel>> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let c = channel_in(&mut tx, app_id, name).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(c)
                }

                async fn delete_channel(&self, app_id: &str, name: &str) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let c = channel_in(&mut tx, app_id, name)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                    for q in [
                        "DELETE FROM device_overrides WHERE channel_id = $1",
                        "DELETE FROM deploys WHERE channel_id = $1",
                        "DELETE FROM channels WHERE id = $1",
                    ] {
                        sqlx::query(q).bind(c.id).execute(&mut *tx).await.map_err(backend)?;
                    }
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)
                }

                async fn deploy_history(&self, app_id: &str, name: &str) -> StoreResult<Vec<Deploy>> {
                    let rs = sqlx::query(
                        "SELECT d.id, c.name AS channel, d.bundle_id, b.version, d.deployed_at FROM deploys d \
                         JOIN channels c ON c.id = d.channel_id LEFT JOIN bundles b ON b.id = d.bundle_id \
                         WHERE d.app_id = $1 AND c.name = $2 ORDER BY d.id DESC",
                    )
                    .bind(app_id)
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                    rs.iter()
                        .map(|r| {
                            let v: Option<String> = r.try_get("version")?;
                            Ok(Deploy {
                                id: r.try_get("id")?,
                                channel: r.try_get("channel")?,
                                bundle_id: r.try_get("bundle_id")?,
                                bundle_version: v.unwrap_or_else(|| "builtin".into()),
                                deployed_at: r.try_get("deployed_at")?,
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)
                }

                async fn rollback_channel(&self, app_id: &str, name: &str, now: i64) -> StoreResult<ChannelWrite> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let current = channel_in(&mut tx, app_id, name)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                    let history = sqlx::query(
                        "SELECT d.bundle_id, b.version, b.deleted FROM deploys d LEFT JOIN bundles b ON b.id = d.bundle_id \
                         WHERE d.channel_id = $1 ORDER BY d.id DESC",
                    )
                    .bind(current.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let mut previous: Option<Option<String>> = None;
                    for r in &history {
                        let id: Option<i64> = r.try_get("bundle_id").map_err(backend)?;
                        if id == current.bundle_id {
                            continue;
                        }
                        let deleted: Option<bool> = r.try_get("deleted").map_err(backend)?;
                        if deleted == Some(true) {
                            continue;
                        }
                        previous = Some(r.try_get("version").map_err(backend)?);
                        break;
                    }
                    let Some(previous) = previous else {
                        return Err(StoreError::Conflict(format!(
                            "channel {name} has no earlier bundle to go back to"
                        )));
                    };
                    let patch = ChannelPatch { bundle: Some(previous), ..Default::default() };
                    let w = apply_patch(&mut tx, current, &patch, now, false).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(w)
                }

                async fn list_devices(&self, app_id: &str, query: &DeviceQuery) -> StoreResult<Page<Device>> {
                    let limit = query.limit.clamp(1, 1000);
                    let search = query.search.as_ref().map(|s| format!("{}%", s.to_lowercase().replace('%', "")));
                    let q = format!(
                        "{DEVICE_SELECT} WHERE d.app_id = $1 AND ($2 IS NULL OR d.device_id > $2) \
                         AND ($3 IS NULL OR d.device_id LIKE $3 OR lower(d.custom_id) LIKE $3) \
                         ORDER BY d.device_id LIMIT $4"
                    );
                    let rs = sqlx::query(&q)
                        .bind(app_id)
                        .bind(&query.cursor)
                        .bind(&search)
                        .bind(limit + 1)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    let mut items = rows(rs, device_row)?;
                    let next_cursor = if items.len() as i64 > limit {
                        items.truncate(limit as usize);
                        items.last().map(|d| d.device_id.clone())
                    } else {
                        None
                    };
                    // The bundles each listed device rolled back from, in one query over the page's id range.
                    if let (Some(first), Some(last)) = (items.first(), items.last()) {
                        let fs = sqlx::query(
                            "SELECT f.device_id, b.version FROM device_failures f JOIN bundles b ON b.id = f.bundle_id \
                             WHERE f.app_id = $1 AND f.device_id >= $2 AND f.device_id <= $3 ORDER BY f.failed_at",
                        )
                        .bind(app_id)
                        .bind(&first.device_id)
                        .bind(&last.device_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                        let mut by_device: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
                        for r in &fs {
                            let (Ok(d), Ok(v)) = (r.try_get::<String, _>("device_id"), r.try_get::<String, _>("version")) else {
                                continue;
                            };
                            by_device.entry(d).or_default().push(v);
                        }
                        for d in &mut items {
                            if let Some(v) = by_device.remove(&d.device_id) {
                                d.failed_bundles = v;
                            }
                        }
                    }
                    Ok(Page { items, next_cursor })
                }

                async fn get_device(&self, app_id: &str, device_id: &str) -> StoreResult<Option<Device>> {
                    let q = format!("{DEVICE_SELECT} WHERE d.app_id = $1 AND d.device_id = $2");
                    let r = sqlx::query(&q).bind(app_id).bind(device_id).fetch_optional(&self.pool).await.map_err(backend)?;
                    let Some(mut d) = r.as_ref().map(device_row).transpose().map_err(backend)? else {
                        // A device an admin overrode before it ever checked in still has an override.
                        let o = sqlx::query(
                            "SELECT c.name AS channel, b.version AS version FROM device_overrides o \
                             LEFT JOIN channels c ON c.id = o.channel_id LEFT JOIN bundles b ON b.id = o.bundle_id \
                             WHERE o.app_id = $1 AND o.device_id = $2",
                        )
                        .bind(app_id)
                        .bind(device_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                        return Ok(o.map(|r| {
                            let channel: Option<String> = r.try_get("channel").ok().flatten();
                            let version: Option<String> = r.try_get("version").ok().flatten();
                            Device {
                                app_id: app_id.to_string(),
                                device_id: device_id.to_string(),
                                custom_id: None,
                                platform: None,
                                plugin_version: None,
                                version_name: None,
                                version_build: None,
                                version_code: None,
                                version_os: None,
                                is_prod: None,
                                is_emulator: None,
                                default_channel: None,
                                key_id: None,
                                last_seen: None,
                                device_override: match (channel, version) {
                                    (Some(channel), _) => Some(DeviceOverride::Channel { channel }),
                                    (None, Some(version)) => Some(DeviceOverride::Bundle { version }),
                                    _ => None,
                                },
                                failed_bundles: Vec::new(),
                            }
                        }));
                    };
                    let fs = sqlx::query(
                        "SELECT b.version FROM device_failures f JOIN bundles b ON b.id = f.bundle_id \
                         WHERE f.app_id = $1 AND f.device_id = $2 ORDER BY f.failed_at",
                    )
                    .bind(app_id)
                    .bind(device_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                    d.failed_bundles = fs.iter().filter_map(|r| r.try_get("version").ok()).collect();
                    Ok(Some(d))
                }

                async fn set_override(&self, app_id: &str, device_id: &str, o: &SetOverride, now: i64) -> StoreResult<()> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, app_id).await?;
                    let (channel_id, bundle_id) = match (&o.channel, &o.bundle) {
                        (Some(name), None) => {
                            let c = channel_in(&mut tx, app_id, name)
                                .await?
                                .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                            (Some(c.id), None)
                        }
                        (None, Some(version)) => (None, Some(live_bundle_id(&mut tx, app_id, version).await?)),
                        _ => {
                            return Err(StoreError::Invalid(
                                "give exactly one of `channel` (put the device on a channel) or `bundle` (pin it to a bundle)".into(),
                            ))
                        }
                    };
                    sqlx::query(
                        "INSERT INTO device_overrides (app_id, device_id, channel_id, bundle_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (app_id, device_id) DO UPDATE SET channel_id = excluded.channel_id, \
                         bundle_id = excluded.bundle_id, created_at = excluded.created_at, self_set = FALSE",
                    )
                    .bind(app_id)
                    .bind(device_id)
                    .bind(channel_id)
                    .bind(bundle_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)
                }

                async fn remove_override(&self, app_id: &str, device_id: &str) -> StoreResult<bool> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let r = sqlx::query("DELETE FROM device_overrides WHERE app_id = $1 AND device_id = $2")
                        .bind(app_id)
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(r.rows_affected() > 0)
                }

                async fn clear_failures(&self, app_id: &str, device_id: &str, version: Option<&str>) -> StoreResult<u64> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, app_id).await?;
                    let r = sqlx::query(
                        "DELETE FROM device_failures WHERE app_id = $1 AND device_id = $2 \
                         AND ($3 IS NULL OR bundle_id IN (SELECT id FROM bundles WHERE app_id = $1 AND version = $3))",
                    )
                    .bind(app_id)
                    .bind(device_id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    bump(&mut tx, app_id).await?;
                    tx.commit().await.map_err(backend)?;
                    Ok(r.rows_affected())
                }

                async fn failures_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>> {
                    let rs = sqlx::query("SELECT app_id, device_id, bundle_id FROM device_failures WHERE failed_at >= $1")
                        .bind(since)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    rs.iter()
                        .map(|r| Ok((r.try_get("app_id")?, r.try_get("device_id")?, r.try_get("bundle_id")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)
                }

                async fn self_assigned_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>> {
                    let rs = sqlx::query("SELECT app_id, device_id, channel_id FROM device_overrides WHERE self_set AND created_at >= $1")
                        .bind(since)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    rs.iter()
                        .map(|r| Ok((r.try_get("app_id")?, r.try_get("device_id")?, r.try_get("channel_id")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)
                }

                async fn self_assign(&self, app_id: &str, device_id: &str, channel: Option<&str>, cap: i64, now: i64) -> StoreResult<SelfAssign> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    require_app(&mut tx, app_id).await?;
                    let existing: Option<bool> = sqlx::query("SELECT self_set FROM device_overrides WHERE app_id = $1 AND device_id = $2")
                        .bind(app_id)
                        .bind(device_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?
                        .map(|r| r.try_get("self_set"))
                        .transpose()
                        .map_err(backend)?;
                    if existing == Some(false) {
                        return Ok(SelfAssign::AdminOverride);
                    }
                    let Some(name) = channel else {
                        if existing.is_some() {
                            // Rare (only a device that had chosen a channel), so an
                            // app-wide change; new choices are not (see below).
                            let r = sqlx::query("DELETE FROM device_overrides WHERE app_id = $1 AND device_id = $2 AND self_set")
                                .bind(app_id)
                                .bind(device_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(backend)?;
                            if r.rows_affected() == 0 {
                                // An admin's override replaced it meanwhile.
                                return Ok(SelfAssign::AdminOverride);
                            }
                            bump(&mut tx, app_id).await?;
                        }
                        tx.commit().await.map_err(backend)?;
                        return Ok(SelfAssign::Done);
                    };
                    if existing.is_none() {
                        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM device_overrides WHERE app_id = $1 AND self_set")
                            .bind(app_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(backend)?
                            .try_get("n")
                            .map_err(backend)?;
                        if n >= cap {
                            return Ok(SelfAssign::Full);
                        }
                    }
                    let c = channel_in(&mut tx, app_id, name)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                    // An admin override written meanwhile is not replaced (the WHERE).
                    let r = sqlx::query(
                        "INSERT INTO device_overrides (app_id, device_id, channel_id, bundle_id, created_at, self_set) VALUES ($1, $2, $3, NULL, $4, TRUE) \
                         ON CONFLICT (app_id, device_id) DO UPDATE SET channel_id = excluded.channel_id, bundle_id = NULL, \
                         created_at = excluded.created_at WHERE device_overrides.self_set",
                    )
                    .bind(app_id)
                    .bind(device_id)
                    .bind(c.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    if r.rows_affected() == 0 {
                        return Ok(SelfAssign::AdminOverride);
                    }
                    // Device-scoped: no app revision bump; nodes poll `self_assigned_since`.
                    tx.commit().await.map_err(backend)?;
                    Ok(SelfAssign::Done)
                }

                async fn create_api_key(&self, key: &NewApiKey, hash: &str, now: i64) -> StoreResult<ApiKey> {
                    let apps = serde_json::to_string(&key.apps).map_err(|e| StoreError::Invalid(e.to_string()))?;
                    let r = sqlx::query(
                        "INSERT INTO api_keys (name, mode, apps, key_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         RETURNING id, name, mode, apps, key_hash, expires_at, created_at",
                    )
                    .bind(&key.name)
                    .bind(key.mode.as_str())
                    .bind(apps)
                    .bind(hash)
                    .bind(key.expires_at)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_err(e, "this API key already exists"))?;
                    Ok(key_row(&r).map_err(backend)?.key)
                }

                async fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>> {
                    let r = sqlx::query(
                        "SELECT id, name, mode, apps, key_hash, expires_at, created_at FROM api_keys WHERE key_hash = $1",
                    )
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                    r.as_ref().map(key_row).transpose().map_err(backend)
                }

                async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
                    let rs = sqlx::query("SELECT id, name, mode, apps, key_hash, expires_at, created_at FROM api_keys ORDER BY id")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(rows(rs, key_row)?.into_iter().map(|k| k.key).collect())
                }

                async fn delete_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
                    // A permanent admin: the kind that must always remain (an expiring
                    // one would leave nobody once it expires). `$1` keeps the binds aligned.
                    const ADMIN: &str = "mode = 'all' AND apps = '[]' AND expires_at IS NULL AND $1 = $1";
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    // Locks every live admin row (PostgreSQL; SQLite's BEGIN IMMEDIATE
                    // already serialises writers), so a concurrent delete of another
                    // admin key waits and then sees this one gone.
                    sqlx::query(&format!("UPDATE api_keys SET name = name WHERE {ADMIN}"))
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    let target = sqlx::query(&format!("SELECT id, ({ADMIN}) AS admin FROM api_keys WHERE id = $2"))
                        .bind(now)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?
                        .ok_or_else(|| StoreError::NotFound(format!("API key {id} not found")))?;
                    if target.try_get::<bool, _>("admin").map_err(backend)? {
                        let others: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM api_keys WHERE {ADMIN} AND id <> $2"))
                            .bind(now)
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(backend)?
                            .try_get("n")
                            .map_err(backend)?;
                        if others == 0 {
                            return Err(StoreError::Conflict(
                                "this is the last unexpired key with mode all and no app limit; create another admin key before deleting it".into(),
                            ));
                        }
                    }
                    sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(backend)?;
                    tx.commit().await.map_err(backend)
                }

                async fn count_api_keys(&self) -> StoreResult<i64> {
                    let r = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await.map_err(backend)?;
                    r.try_get("n").map_err(backend)
                }

                async fn write_batch(&self, batch: &[Write]) -> StoreResult<()> {
                    telemetry::write_batch(self.batch_pool(), batch).await
                }

                async fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64> {
                    telemetry::prune_events(self.batch_pool(), before, limit).await
                }

                async fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>> {
                    telemetry::list_events(&self.pool, app_id, query).await
                }

                async fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>> {
                    telemetry::list_offers(&self.pool, app_id).await
                }

                async fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>> {
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                    let q = format!("{APP_SELECT} WHERE app_id = $1");
                    let Some(r) = sqlx::query(&q).bind(app_id).fetch_optional(&mut *tx).await.map_err(backend)? else {
                        return Ok(None);
                    };
                    let app = app_row(&r).map_err(backend)?;
                    let revision: i64 = r.try_get("revision").map_err(backend)?;
                    let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 ORDER BY c.name, c.id");
                    let channels = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, channel_row)?;
                    let q = format!("{BUNDLE_SELECT} WHERE app_id = $1 AND deleted = FALSE");
                    let bundles = rows(sqlx::query(&q).bind(app_id).fetch_all(&mut *tx).await.map_err(backend)?, bundle_row)?;
                    let os = sqlx::query("SELECT device_id, channel_id, bundle_id FROM device_overrides WHERE app_id = $1")
                        .bind(app_id)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(backend)?;
                    let overrides = os
                        .iter()
                        .map(|r| Ok((r.try_get("device_id")?, r.try_get("channel_id")?, r.try_get("bundle_id")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)?;
                    let fs = sqlx::query(
                        "SELECT f.device_id, f.bundle_id FROM device_failures f \
                         WHERE f.app_id = $1 AND (f.bundle_id IN (SELECT bundle_id FROM channels WHERE app_id = $1 AND bundle_id IS NOT NULL) \
                         OR f.bundle_id IN (SELECT bundle_id FROM device_overrides WHERE app_id = $1 AND bundle_id IS NOT NULL))",
                    )
                    .bind(app_id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let failures = fs
                        .iter()
                        .map(|r| Ok((r.try_get("device_id")?, r.try_get("bundle_id")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)?;
                    tx.commit().await.map_err(backend)?;
                    Ok(Some(AppSnapshotData { app, revision, channels, bundles, overrides, failures }))
                }

                async fn app_revisions(&self) -> StoreResult<Vec<(String, i64)>> {
                    let rs = sqlx::query("SELECT app_id, revision FROM apps").fetch_all(&self.pool).await.map_err(backend)?;
                    rs.iter()
                        .map(|r| Ok((r.try_get("app_id")?, r.try_get("revision")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(backend)
                }
            }
        }
    };
}

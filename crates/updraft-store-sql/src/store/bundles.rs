//! [`sql_bundles!`]: the `BundleStore` queries. Expanded by [`sql_store!`](crate::sql_store)
//! inside its module, so it shares that module's imports and helpers.

/// Implements `BundleStore` for `$store`, and defines `bundle_row` and
/// `live_bundle_id` (the bundle a path names) and `referenced_bundle_id` (the
/// bundle a body names: a channel's, a pin's, a rollout's candidate).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_bundles {
    ($store:ident) => {
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
                revoked_at: r.try_get("revoked_at")?,
                revoked_reason: r.try_get("revoked_reason")?,
            })
        }

        /// The id of a live bundle and when it was revoked, locked until `tx`
        /// ends: a no-op update takes the row lock on PostgreSQL, so deleting
        /// or revoking a bundle and pointing a channel (or a pin) at it
        /// serialise, and the loser sees the winner's result (SQLite's
        /// `BEGIN IMMEDIATE` serialises anyway).
        async fn live_bundle(tx: &mut Tx<'_>, app_id: &str, version: &str) -> StoreResult<(i64, Option<i64>)> {
            let r = sqlx::query(
                "UPDATE bundles SET deleted = deleted WHERE app_id = $1 AND version = $2 AND deleted = FALSE \
                 RETURNING id, revoked_at",
            )
            .bind(app_id)
            .bind(version)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
            match r {
                Some(r) => Ok((r.try_get("id").map_err(backend)?, r.try_get("revoked_at").map_err(backend)?)),
                None => Err(StoreError::NotFound(format!("bundle {version} not found in app {app_id}"))),
            }
        }

        /// The id of a live bundle (see `live_bundle`).
        async fn live_bundle_id(tx: &mut Tx<'_>, app_id: &str, version: &str) -> StoreResult<i64> {
            Ok(live_bundle(tx, app_id, version).await?.0)
        }

        /// `live_bundle_id` for a bundle named in a request body: one that does
        /// not exist makes the request bad, not its URL's resource missing;
        /// a revoked one is refused.
        async fn referenced_bundle_id(tx: &mut Tx<'_>, app_id: &str, version: &str) -> StoreResult<i64> {
            let (id, revoked) = live_bundle(tx, app_id, version).await.map_err(|e| match e {
                StoreError::NotFound(_) => {
                    StoreError::UnknownBundle(format!("bundle {version:?} is not an uploaded bundle of app {app_id}"))
                }
                other => other,
            })?;
            if revoked.is_some() {
                return Err(StoreError::Revoked(format!(
                    "bundle {version} of app {app_id} was revoked and is never deployed again; upload a new version"
                )));
            }
            Ok(id)
        }

        /// A bundle's metadata, as the audit trail shows it before and after a change.
        fn meta_of(b: &Bundle) -> serde_json::Value {
            serde_json::json!({
                "min_update_version": b.min_update_version,
                "native_packages": b.native_packages,
                "link": b.link,
                "comment": b.comment,
            })
        }

        /// The bundle `version` of the app, deleted or not, read inside `tx`.
        async fn bundle_in(tx: &mut Tx<'_>, app_id: &str, version: &str) -> StoreResult<Bundle> {
            let q = format!("{BUNDLE_SELECT} WHERE app_id = $1 AND version = $2");
            let r = sqlx::query(&q).bind(app_id).bind(version).fetch_one(&mut **tx).await.map_err(backend)?;
            bundle_row(&r).map_err(backend)
        }

        #[async_trait]
        impl BundleStore for $store {
            async fn create_bundle(&self, b: &NewBundle, stamp: &Stamp) -> StoreResult<Bundle> {
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
                .bind(stamp.at_ms)
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
                record(&mut tx, Some(&b.app_id), "bundle.created", None, serde_json::json!({ "version": b.version }), stamp).await?;
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

            async fn update_bundle_meta(&self, app_id: &str, version: &str, meta: &BundleMeta, stamp: &Stamp) -> StoreResult<Bundle> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // What the audit trail shows as before (a deleted one is refused below).
                let before = bundle_in(&mut tx, app_id, version).await.ok().map(|b| meta_of(&b));
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
                let after = meta_of(&bundle_in(&mut tx, app_id, version).await?);
                let payload = serde_json::json!({ "version": version, "meta": meta, "before": before, "after": after });
                record(&mut tx, Some(app_id), "bundle.updated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                self.get_bundle(app_id, version).await?.ok_or_else(|| StoreError::Backend("bundle vanished".into()))
            }

            async fn delete_bundle(&self, app_id: &str, version: &str, stamp: &Stamp) -> StoreResult<()> {
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
                let trial = sqlx::query(
                    "SELECT c.name FROM rollouts r JOIN channels c ON c.id = r.channel_id \
                     WHERE r.candidate_id = $1 AND r.state IN ('running', 'paused') ORDER BY c.name",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
                if !trial.is_empty() {
                    let names: Vec<String> = trial.iter().filter_map(|r| r.try_get("name").ok()).collect();
                    return Err(StoreError::Conflict(format!(
                        "bundle {version} is the candidate of the active rollout on channel(s) {}; promote or revert it first",
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
                let blob: Option<String> = sqlx::query("SELECT blob_sha256 FROM bundles WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get("blob_sha256"))
                    .map_err(backend)?;
                hold_in(&mut tx, &blob.into_iter().collect::<Vec<_>>(), stamp.at_ms).await?;
                bump(&mut tx, app_id).await?;
                record(&mut tx, Some(app_id), "bundle.deleted", None, serde_json::json!({ "version": version }), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn revoke_bundle(&self, app_id: &str, version: &str, reason: Option<&str>, stamp: &Stamp) -> StoreResult<Revocation> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let done = revoke_in(&mut tx, app_id, version, reason, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(done)
            }

            async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool> {
                // A live bundle's zip, or a manifest file some app keeps.
                let r = sqlx::query(BLOB_USED)
                    .bind(sha256)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(r.is_some())
            }
        }
    };
}

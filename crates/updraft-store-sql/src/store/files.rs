//! [`sql_files!`]: the `FileStore` queries (an app's manifest files, the
//! manifests that name them, and what a cleanup may forget). Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `FileStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_files {
    ($store:ident, $db:ty) => {
        /// No live bundle of the file's app names it.
        /// (Nor is it the patch of a file a live bundle names.)
        const UNNAMED: &str = "NOT EXISTS (SELECT 1 FROM bundle_files bf JOIN bundles b ON b.id = bf.bundle_id \
             WHERE bf.sha256 = app_files.sha256 AND b.app_id = app_files.app_id AND b.deleted = FALSE) \
             AND NOT EXISTS (SELECT 1 FROM file_patches fp JOIN bundle_files bf ON bf.sha256 = fp.to_sha256 \
             JOIN bundles b ON b.id = bf.bundle_id WHERE fp.app_id = app_files.app_id \
             AND fp.patch_sha256 = app_files.sha256 AND b.app_id = app_files.app_id AND b.deleted = FALSE)";

        /// Moves the time of the app's files among `shas` forward to `at`
        /// (locking their rows until `tx` ends: a cleanup waiting on them
        /// then sees the new time) and returns the ones the app has.
        async fn touch_files(
            tx: &mut Tx<'_>,
            app_id: &str,
            shas: &[&str],
            at: i64,
        ) -> StoreResult<std::collections::HashSet<String>> {
            let mut found = std::collections::HashSet::new();
            for chunk in pow2_chunks(shas, 512) {
                let mut qb = sqlx::QueryBuilder::<$db>::new("UPDATE app_files SET touched_at = CASE WHEN ");
                qb.push_bind(at)
                    .push(" > touched_at THEN ")
                    .push_bind(at)
                    .push(" ELSE touched_at END WHERE app_id = ")
                    .push_bind(app_id)
                    .push(" AND sha256 IN (");
                let mut list = qb.separated(", ");
                for sha in chunk {
                    list.push_bind(*sha);
                }
                qb.push(") RETURNING sha256");
                for r in qb.build().fetch_all(&mut **tx).await.map_err(backend)? {
                    found.insert(r.try_get::<String, _>("sha256").map_err(backend)?);
                }
            }
            Ok(found)
        }

        #[async_trait]
        impl FileStore for $store {
            async fn add_file(&self, app_id: &str, sha256: &str, size: i64, at: i64) -> StoreResult<()> {
                let r = sqlx::query(
                    "INSERT INTO app_files (app_id, sha256, size, touched_at) SELECT app_id, $2, $3, $4 FROM apps WHERE app_id = $1 \
                     ON CONFLICT (app_id, sha256) DO UPDATE SET \
                     touched_at = CASE WHEN excluded.touched_at > app_files.touched_at THEN excluded.touched_at ELSE app_files.touched_at END",
                )
                .bind(app_id)
                .bind(sha256)
                .bind(size)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("app {app_id} not found")));
                }
                Ok(())
            }

            async fn missing_files(&self, app_id: &str, shas: &[String], at: i64) -> StoreResult<Vec<String>> {
                let mut unique: Vec<&str> = shas.iter().map(String::as_str).collect();
                unique.sort_unstable();
                unique.dedup();
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let found = touch_files(&mut tx, app_id, &unique, at).await?;
                tx.commit().await.map_err(backend)?;
                let mut seen = std::collections::HashSet::new();
                Ok(shas
                    .iter()
                    .filter(|s| !found.contains(s.as_str()) && seen.insert(s.as_str()))
                    .cloned()
                    .collect())
            }

            async fn list_files(&self, app_id: &str) -> StoreResult<Vec<(String, i64)>> {
                let rs = sqlx::query("SELECT sha256, size FROM app_files WHERE app_id = $1 ORDER BY sha256")
                    .bind(app_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rs.iter()
                    .map(|r| Ok((r.try_get("sha256")?, r.try_get("size")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }

            async fn file_sizes(&self, app_id: &str, shas: &[String]) -> StoreResult<Vec<(String, i64)>> {
                let mut unique: Vec<&str> = shas.iter().map(String::as_str).collect();
                unique.sort_unstable();
                unique.dedup();
                let mut out = Vec::new();
                for chunk in pow2_chunks(&unique, 512) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT sha256, size FROM app_files WHERE app_id = ");
                    qb.push_bind(app_id).push(" AND sha256 IN (");
                    let mut list = qb.separated(", ");
                    for sha in chunk {
                        list.push_bind(*sha);
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&self.pool).await.map_err(backend)? {
                        out.push((r.try_get("sha256").map_err(backend)?, r.try_get("size").map_err(backend)?));
                    }
                }
                Ok(out)
            }

            async fn set_manifest(&self, app_id: &str, version: &str, manifest: &[ManifestEntry], stamp: &Stamp) -> StoreResult<Bundle> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let id = live_bundle_id(&mut tx, app_id, version).await?;
                let current: String = sqlx::query("SELECT manifest FROM bundles WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?
                    .try_get("manifest")
                    .map_err(backend)?;
                let current: Vec<ManifestEntry> = serde_json::from_str(&current).unwrap_or_default();
                if !current.is_empty() {
                    drop(tx);
                    if current == manifest {
                        return self.get_bundle(app_id, version).await?.ok_or_else(|| StoreError::Backend("bundle vanished".into()));
                    }
                    return Err(StoreError::Conflict(format!(
                        "bundle {version} already has a manifest of {} files; upload a new version instead",
                        current.len()
                    )));
                }
                let mut named: Vec<&str> = Vec::with_capacity(manifest.len());
                for e in manifest {
                    match stored_file(e) {
                        Some(sha) => named.push(sha),
                        None => {
                            return Err(StoreError::Invalid(format!(
                                "manifest entry {} does not name a stored file ({STORED_FILE_PREFIX}<sha256>)",
                                e.file_name
                            )))
                        }
                    }
                }
                named.sort_unstable();
                named.dedup();
                let found = touch_files(&mut tx, app_id, &named, stamp.at_ms).await?;
                if let Some(e) = manifest.iter().find(|e| stored_file(e).is_some_and(|sha| !found.contains(sha))) {
                    return Err(StoreError::Invalid(format!(
                        "manifest entry {} names {}, which is not a file of app {app_id}: upload it first",
                        e.file_name, e.download_url
                    )));
                }
                sqlx::query("UPDATE bundles SET manifest = $2 WHERE id = $1")
                    .bind(id)
                    .bind(serde_json::to_string(manifest).map_err(|e| StoreError::Backend(e.to_string()))?)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                for chunk in pow2_chunks(&named, 512) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO bundle_files (bundle_id, sha256) ");
                    qb.push_values(chunk, |mut b, sha| {
                        b.push_bind(id).push_bind(*sha);
                    });
                    qb.push(" ON CONFLICT (bundle_id, sha256) DO NOTHING");
                    qb.build().execute(&mut *tx).await.map_err(backend)?;
                }
                bump(&mut tx, app_id).await?;
                let payload = serde_json::json!({ "version": version, "manifest_files": manifest.len() });
                record(&mut tx, Some(app_id), "bundle.updated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                self.get_bundle(app_id, version).await?.ok_or_else(|| StoreError::Backend("bundle vanished".into()))
            }

            async fn unused_files(&self, before: i64, limit: i64) -> StoreResult<Vec<(String, String)>> {
                let rs = sqlx::query(&format!(
                    "SELECT app_id, sha256 FROM app_files WHERE touched_at < $1 AND {UNNAMED} ORDER BY touched_at LIMIT $2"
                ))
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rs.iter()
                    .map(|r| Ok((r.try_get("app_id")?, r.try_get("sha256")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }

            async fn forget_file(&self, app_id: &str, sha256: &str, before: i64, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let r = sqlx::query(&format!(
                    "DELETE FROM app_files WHERE app_id = $1 AND sha256 = $2 AND touched_at < $3 AND {UNNAMED}"
                ))
                .bind(app_id)
                .bind(sha256)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if r.rows_affected() > 0 {
                    hold_in(&mut tx, &[sha256.to_string()], now).await?;
                    // Patches to it, and the record of its own patch, go with it.
                    sqlx::query("DELETE FROM file_patches WHERE app_id = $1 AND (to_sha256 = $2 OR patch_sha256 = $2)")
                        .bind(app_id)
                        .bind(sha256)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(r.rows_affected() > 0)
            }

            async fn file_patches(&self, app_id: &str, pairs: &[(String, String)]) -> StoreResult<Vec<FilePatch>> {
                let mut out = Vec::new();
                for chunk in pow2_chunks(pairs, 256) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT from_sha256, to_sha256, patch_sha256, size FROM file_patches WHERE app_id = ",
                    );
                    qb.push_bind(app_id).push(" AND (");
                    let mut first = true;
                    for (from, to) in chunk {
                        if !first {
                            qb.push(" OR ");
                        }
                        first = false;
                        qb.push("(from_sha256 = ").push_bind(from).push(" AND to_sha256 = ").push_bind(to).push(")");
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&self.pool).await.map_err(backend)? {
                        out.push(FilePatch {
                            from_sha256: r.try_get("from_sha256").map_err(backend)?,
                            to_sha256: r.try_get("to_sha256").map_err(backend)?,
                            patch_sha256: r.try_get("patch_sha256").map_err(backend)?,
                            size: r.try_get("size").map_err(backend)?,
                        });
                    }
                }
                Ok(out)
            }

            async fn add_file_patch(&self, app_id: &str, patch: &FilePatch, at: i64) -> StoreResult<FilePatch> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let known: Option<String> = sqlx::query_scalar("SELECT app_id FROM apps WHERE app_id = $1")
                    .bind(app_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                if known.is_none() {
                    return Err(StoreError::NotFound(format!("app {app_id} not found")));
                }
                let inserted = sqlx::query(
                    "INSERT INTO file_patches (app_id, from_sha256, to_sha256, patch_sha256, size, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id, from_sha256, to_sha256) DO NOTHING",
                )
                .bind(app_id)
                .bind(&patch.from_sha256)
                .bind(&patch.to_sha256)
                .bind(&patch.patch_sha256)
                .bind(patch.size)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected()
                    > 0;
                if !inserted {
                    let r = sqlx::query(
                        "SELECT patch_sha256, size FROM file_patches WHERE app_id = $1 AND from_sha256 = $2 AND to_sha256 = $3",
                    )
                    .bind(app_id)
                    .bind(&patch.from_sha256)
                    .bind(&patch.to_sha256)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let stored = FilePatch {
                        patch_sha256: r.try_get("patch_sha256").map_err(backend)?,
                        size: r.try_get("size").map_err(backend)?,
                        ..patch.clone()
                    };
                    tx.commit().await.map_err(backend)?;
                    return Ok(stored);
                }
                if let Some(sha) = &patch.patch_sha256 {
                    sqlx::query(
                        "INSERT INTO app_files (app_id, sha256, size, touched_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (app_id, sha256) DO UPDATE SET \
                         touched_at = CASE WHEN excluded.touched_at > app_files.touched_at THEN excluded.touched_at ELSE app_files.touched_at END",
                    )
                    .bind(app_id)
                    .bind(sha)
                    .bind(patch.size)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(patch.clone())
            }
        }
    };
}

//! [`sql_channels!`]: the `ChannelStore` queries (channels, deploy history,
//! rollback). Expanded by [`sql_store!`](crate::sql_store) inside its module,
//! so it shares that module's imports and helpers.

/// Implements `ChannelStore` for `$store`, and defines `channel_row` and
/// `channel_in` (overrides and the snapshot read channels too).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_channels {
    ($store:ident) => {
        fn channel_row(r: &DbRow) -> Result<Channel, sqlx::Error> {
            let dau: String = r.try_get("disable_auto_update")?;
            let bundle_version: Option<String> = r.try_get("bundle_version")?;
            let target: Option<String> = r.try_get("target")?;
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
                target: target
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(format!("a channel's target: {e}").into()))?,
                critical: r.try_get("critical")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        async fn channel_in(tx: &mut Tx<'_>, app_id: &str, name: &str) -> StoreResult<Option<Channel>> {
            let q = format!("{CHANNEL_SELECT} WHERE c.app_id = $1 AND c.name = $2");
            let r = sqlx::query(&q).bind(app_id).bind(name).fetch_optional(&mut **tx).await.map_err(backend)?;
            r.as_ref().map(channel_row).transpose().map_err(backend)
        }

        /// Applies a patch to an existing channel row (inside `tx`).
        async fn apply_patch(
            tx: &mut Tx<'_>,
            current: Channel,
            patch: &ChannelPatch,
            stamp: &Stamp,
            created: bool,
        ) -> StoreResult<ChannelWrite> {
            let now = stamp.at_ms;
            let mut c = current.clone();
            if let Some(name) = &patch.name {
                c.name = name.clone();
            }
            if let Some(b) = &patch.bundle {
                c.bundle_id = match b.as_deref() {
                    None | Some("") | Some("builtin") | Some("unknown") => None,
                    Some(v) => Some(referenced_bundle_id(tx, &c.app_id, v).await?),
                };
            }
            let deployed = created || c.bundle_id != current.bundle_id;
            c.critical = match patch.critical {
                Some(v) => v,
                None if deployed => false,
                None => current.critical,
            };
            if c.critical && c.bundle_id.is_none() {
                return Err(StoreError::Invalid(
                    "a critical deploy needs a bundle: the builtin bundle cannot be critical".into(),
                ));
            }
            if !created && c.bundle_id != current.bundle_id {
                // The rollout owns the channel's bundle until it ends: a
                // deploy now would change its stable arm under it. A
                // critical deploy ends it instead (reverted, superseded).
                let active = sqlx::query(
                    "SELECT r.id, b.version FROM rollouts r JOIN bundles b ON b.id = r.candidate_id \
                     WHERE r.channel_id = $1 AND r.state IN ('running', 'paused')",
                )
                .bind(c.id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
                if let Some(r) = active {
                    let version: String = r.try_get("version").map_err(backend)?;
                    if !c.critical {
                        return Err(StoreError::Conflict(format!(
                            "channel {} has an active rollout of {version}: promote or revert it first \
                             (or deploy with critical, which supersedes it)",
                            current.name
                        )));
                    }
                    let id: i64 = r.try_get("id").map_err(backend)?;
                    supersede_rollout(tx, &c.app_id, id, &version, now, stamp).await?;
                }
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
            if let Some(t) = &patch.target {
                if let Some(rule) = t {
                    require_cohorts(tx, &c.app_id, rule).await?;
                }
                c.target = t.clone();
            }
            // Public channels with a rule share their platforms; one without
            // takes the platforms from the others without one.
            let mut unpublished = Vec::new();
            if c.public && c.target.is_none() {
                let taken = sqlx::query(
                    "UPDATE channels SET public = FALSE, updated_at = $3 WHERE app_id = $1 AND id <> $2 AND public = TRUE AND target IS NULL \
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
                 disable_auto_update = $13, disable_auto_update_under_native = $14, target = $16, critical = $17, \
                 updated_at = $15 WHERE id = $1",
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
            .bind(c.target.as_ref().map(|t| serde_json::to_string(t).unwrap_or_default()))
            .bind(c.critical)
            .execute(&mut **tx)
            .await
            .map_err(|e| map_err(e, &format!("a channel named {} already exists", c.name)))?;
            if deployed {
                sqlx::query("INSERT INTO deploys (app_id, channel_id, bundle_id, deployed_at, critical) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&c.app_id)
                    .bind(c.id)
                    .bind(c.bundle_id)
                    .bind(now)
                    .bind(c.critical)
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

        /// Reverts the channel's active rollout `id` (of `version`) because a
        /// critical deploy takes the channel, recording `rollout.reverted`.
        async fn supersede_rollout(
            tx: &mut Tx<'_>,
            app_id: &str,
            id: i64,
            version: &str,
            now: i64,
            stamp: &Stamp,
        ) -> StoreResult<()> {
            let why = format!("superseded by a critical deploy (the rollout of {version} ends)");
            let reverted = sqlx::query(&format!(
                "UPDATE rollouts SET state = 'reverted', ended_at = $2, reason = $3, revision = revision + 1 \
                 WHERE id = $1 AND state IN {ACTIVE}"
            ))
            .bind(id)
            .bind(now)
            .bind(&why)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            if reverted.rows_affected() == 1 {
                let after = rollout_by_id(tx, app_id, id)
                    .await?
                    .ok_or_else(|| StoreError::Backend("rollout vanished".into()))?;
                record_rollout(tx, "rollout.reverted", &after, Some(&why), stamp).await?;
            }
            Ok(())
        }

        /// The newest bundle of the channel's deploy history that is not
        /// `current` and is neither deleted nor revoked (`Some(None)`:
        /// builtin); `None` when there is none. Rollback and revocation both
        /// go back to it.
        async fn previous_deploy(tx: &mut Tx<'_>, channel_id: i64, current: Option<i64>) -> StoreResult<Option<Option<String>>> {
            let history = sqlx::query(
                "SELECT d.bundle_id, b.version, b.deleted, b.revoked_at FROM deploys d \
                 LEFT JOIN bundles b ON b.id = d.bundle_id WHERE d.channel_id = $1 ORDER BY d.id DESC",
            )
            .bind(channel_id)
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)?;
            for r in &history {
                let id: Option<i64> = r.try_get("bundle_id").map_err(backend)?;
                let deleted: Option<bool> = r.try_get("deleted").map_err(backend)?;
                let revoked: Option<i64> = r.try_get("revoked_at").map_err(backend)?;
                if id == current || deleted == Some(true) || revoked.is_some() {
                    continue;
                }
                return Ok(Some(r.try_get("version").map_err(backend)?));
            }
            Ok(None)
        }

        /// Records a channel write in the change log (inside its transaction):
        /// the channel before (none for a new one) and after, for the audit trail.
        async fn record_channel(
            tx: &mut Tx<'_>,
            kind: &str,
            before: Option<&Channel>,
            w: &ChannelWrite,
            stamp: &Stamp,
        ) -> StoreResult<()> {
            let payload = serde_json::json!({
                "channel": w.channel.name,
                "bundle": w.channel.bundle_version,
                "unpublished": w.unpublished,
                "critical": w.channel.critical,
                "before": before,
                "after": w.channel,
            });
            record(tx, Some(&w.channel.app_id), kind, None, payload, stamp).await
        }

        #[async_trait]
        impl ChannelStore for $store {
            async fn create_channel(&self, app_id: &str, patch: &ChannelPatch, stamp: &Stamp) -> StoreResult<ChannelWrite> {
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
                .bind(stamp.at_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_err(e, &format!("channel {name} already exists in app {app_id}")))?;
                let current = channel_in(&mut tx, app_id, &name)
                    .await?
                    .ok_or_else(|| StoreError::Backend("channel vanished".into()))?;
                let w = apply_patch(&mut tx, current, patch, stamp, true).await?;
                record_channel(&mut tx, "channel.created", None, &w, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(w)
            }

            async fn update_channel(&self, app_id: &str, name: &str, patch: &ChannelPatch, stamp: &Stamp) -> StoreResult<ChannelWrite> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let current = channel_in(&mut tx, app_id, name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                let before = current.clone();
                let w = apply_patch(&mut tx, current, patch, stamp, false).await?;
                record_channel(&mut tx, "channel.updated", Some(&before), &w, stamp).await?;
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

            async fn delete_channel(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let c = channel_in(&mut tx, app_id, name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                // The channel's rollouts go with it; the release rows of their
                // bundles stay (they are the bundles' metrics) and go with the app.
                for q in [
                    "DELETE FROM rollout_checks WHERE rollout_id IN (SELECT id FROM rollouts WHERE channel_id = $1)",
                    "DELETE FROM rollouts WHERE channel_id = $1",
                    "DELETE FROM device_overrides WHERE channel_id = $1",
                    "DELETE FROM deploys WHERE channel_id = $1",
                    "DELETE FROM channels WHERE id = $1",
                ] {
                    sqlx::query(q).bind(c.id).execute(&mut *tx).await.map_err(backend)?;
                }
                bump(&mut tx, app_id).await?;
                record(&mut tx, Some(app_id), "channel.deleted", None, serde_json::json!({ "channel": name }), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn deploy_history(&self, app_id: &str, name: &str) -> StoreResult<Vec<Deploy>> {
                let rs = sqlx::query(
                    "SELECT d.id, c.name AS channel, d.bundle_id, b.version, d.critical, d.deployed_at FROM deploys d \
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
                            critical: r.try_get("critical")?,
                            deployed_at: r.try_get("deployed_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }

            async fn rollback_channel(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<ChannelWrite> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let current = channel_in(&mut tx, app_id, name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("channel {name} not found in app {app_id}")))?;
                let Some(previous) = previous_deploy(&mut tx, current.id, current.bundle_id).await? else {
                    return Err(StoreError::Conflict(format!(
                        "channel {name} has no earlier bundle to go back to"
                    )));
                };
                let patch = ChannelPatch { bundle: Some(previous), ..Default::default() };
                let before = current.clone();
                let w = apply_patch(&mut tx, current, &patch, stamp, false).await?;
                record_channel(&mut tx, "channel.rolled_back", Some(&before), &w, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(w)
            }
        }
    };
}

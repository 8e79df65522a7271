//! [`sql_revoke!`]: revoking a bundle, the one write that touches bundles,
//! rollouts and channels at once. Expanded by [`sql_store!`](crate::sql_store)
//! inside its module, so it shares that module's imports and helpers
//! (`live_bundle`, `apply_patch`, `rollout_by_id`, ...).

/// Defines `revoke_in`, the body of `BundleStore::revoke_bundle`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_revoke {
    () => {
        /// Revokes the bundle inside `tx` (see `BundleStore::revoke_bundle`).
        async fn revoke_in(
            tx: &mut Tx<'_>,
            app_id: &str,
            version: &str,
            reason: Option<&str>,
            stamp: &Stamp,
        ) -> StoreResult<Revocation> {
            let (id, revoked) = live_bundle(tx, app_id, version).await?;
            let mut done = Revocation {
                bundle: bundle_in(tx, app_id, version).await?,
                channels: Vec::new(),
                rollouts: Vec::new(),
                changed: false,
            };
            if revoked.is_some() {
                return Ok(done);
            }
            sqlx::query("UPDATE bundles SET revoked_at = $2, revoked_reason = $3 WHERE id = $1")
                .bind(id)
                .bind(stamp.at_ms)
                .bind(reason)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            let why = match reason {
                Some(r) => format!("bundle {version} revoked: {r}"),
                None => format!("bundle {version} revoked"),
            };
            // Rollouts first: a channel with an active rollout takes no deploy.
            // A rollout trying the bundle ends, and so does one whose stable
            // arm is the bundle (the channel moves under it).
            let active = sqlx::query(&format!(
                "SELECT r.id FROM rollouts r JOIN channels c ON c.id = r.channel_id \
                 WHERE r.app_id = $1 AND r.state IN {ACTIVE} AND (r.candidate_id = $2 OR c.bundle_id = $2) ORDER BY r.id"
            ))
            .bind(app_id)
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)?;
            for r in active {
                let rollout: i64 = r.try_get("id").map_err(backend)?;
                // Only if still active: a promotion or revert that committed
                // meanwhile (its row lock waited for) stands.
                let reverted = sqlx::query(&format!(
                    "UPDATE rollouts SET state = 'reverted', ended_at = $2, reason = $3, revision = revision + 1 \
                     WHERE id = $1 AND state IN {ACTIVE}"
                ))
                .bind(rollout)
                .bind(stamp.at_ms)
                .bind(&why)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                if reverted.rows_affected() == 0 {
                    continue;
                }
                let after = rollout_by_id(tx, app_id, rollout)
                    .await?
                    .ok_or_else(|| StoreError::Backend("rollout vanished".into()))?;
                record_rollout(tx, "rollout.reverted", &after, Some(&why), stamp).await?;
                done.rollouts.push(rollout);
            }
            // Locked and read again after any write they waited for: a deploy
            // that committed meanwhile moved its channel off the bundle.
            let serving = sqlx::query(
                "UPDATE channels SET bundle_id = bundle_id WHERE app_id = $1 AND bundle_id = $2 RETURNING name",
            )
            .bind(app_id)
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)?;
            let mut names = serving
                .iter()
                .map(|r| r.try_get::<String, _>("name"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            names.sort();
            for name in names {
                let current = channel_in(tx, app_id, &name)
                    .await?
                    .ok_or_else(|| StoreError::Backend("channel vanished".into()))?;
                let previous = previous_deploy(tx, current.id, current.bundle_id).await?.unwrap_or(None);
                let patch = ChannelPatch { bundle: Some(previous), ..Default::default() };
                let before = current.clone();
                let w = apply_patch(tx, current, &patch, stamp, false).await?;
                record_channel(tx, "channel.rolled_back", Some(&before), &w, stamp).await?;
                done.channels.push(ChannelMove { channel: w.channel.name, bundle: w.channel.bundle_version });
            }
            bump(tx, app_id).await?;
            let payload = serde_json::json!({
                "version": version,
                "reason": reason,
                "channels": done.channels,
                "rollouts": done.rollouts,
            });
            record(tx, Some(app_id), "bundle.revoked", None, payload, stamp).await?;
            done.bundle = bundle_in(tx, app_id, version).await?;
            done.changed = true;
            Ok(done)
        }
    };
}

//! [`sql_devices!`]: the `DeviceStore` queries (devices, overrides and pins,
//! rollback blocks, a device's own channel choice). Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `DeviceStore` for `$store`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_devices {
    ($store:ident) => {
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

        /// A device's override as the audit trail shows it (`channel` or
        /// `bundle` by name, `self_set`), read inside `tx`; null when none.
        async fn override_of(tx: &mut Tx<'_>, app_id: &str, device_id: &str) -> StoreResult<serde_json::Value> {
            let r = sqlx::query(
                "SELECT c.name AS channel, b.version AS bundle, o.self_set FROM device_overrides o \
                 LEFT JOIN channels c ON c.id = o.channel_id LEFT JOIN bundles b ON b.id = o.bundle_id \
                 WHERE o.app_id = $1 AND o.device_id = $2",
            )
            .bind(app_id)
            .bind(device_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
            let Some(r) = r else { return Ok(serde_json::Value::Null) };
            let channel: Option<String> = r.try_get("channel").map_err(backend)?;
            let bundle: Option<String> = r.try_get("bundle").map_err(backend)?;
            let self_set: bool = r.try_get("self_set").map_err(backend)?;
            Ok(serde_json::json!({ "channel": channel, "bundle": bundle, "self_set": self_set }))
        }

        #[async_trait]
        impl DeviceStore for $store {
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
                // `limit` is in 1..=1000, so it fits a usize.
                let page = usize::try_from(limit).unwrap_or(1000);
                let next_cursor = if items.len() > page {
                    items.truncate(page);
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

            async fn set_override(&self, app_id: &str, device_id: &str, o: &SetOverride, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                let before = override_of(&mut tx, app_id, device_id).await?;
                let (channel_id, bundle_id) = match (&o.channel, &o.bundle) {
                    (Some(name), None) => {
                        // A channel named in the body that does not exist makes the request bad (400), not the device missing.
                        let c = channel_in(&mut tx, app_id, name)
                            .await?
                            .ok_or_else(|| StoreError::UnknownChannel(format!("channel {name:?} is not a channel of app {app_id}")))?;
                        (Some(c.id), None)
                    }
                    (None, Some(version)) => (None, Some(referenced_bundle_id(&mut tx, app_id, version).await?)),
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
                .bind(stamp.at_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                bump(&mut tx, app_id).await?;
                let after = override_of(&mut tx, app_id, device_id).await?;
                let payload = serde_json::json!({ "channel": o.channel, "bundle": o.bundle, "before": before, "after": after });
                record(&mut tx, Some(app_id), "device.override_set", Some(device_id), payload, stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn remove_override(&self, app_id: &str, device_id: &str, stamp: &Stamp) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let before = override_of(&mut tx, app_id, device_id).await?;
                let r = sqlx::query("DELETE FROM device_overrides WHERE app_id = $1 AND device_id = $2")
                    .bind(app_id)
                    .bind(device_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if r.rows_affected() == 0 {
                    // Nothing to remove: the route refuses it (404), so nothing is recorded.
                    return Ok(false);
                }
                bump(&mut tx, app_id).await?;
                let payload = serde_json::json!({ "existed": true, "before": before, "after": {} });
                record(&mut tx, Some(app_id), "device.override_removed", Some(device_id), payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }

            async fn clear_failures(&self, app_id: &str, device_id: &str, version: Option<&str>, stamp: &Stamp) -> StoreResult<u64> {
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
                let payload = serde_json::json!({ "version": version, "cleared": r.rows_affected() });
                record(&mut tx, Some(app_id), "device.blocks_cleared", Some(device_id), payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(r.rows_affected())
            }

            async fn self_assign(&self, app_id: &str, device_id: &str, channel: Option<&str>, cap: i64, stamp: &Stamp) -> StoreResult<SelfAssign> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                let current = sqlx::query("SELECT self_set, channel_id FROM device_overrides WHERE app_id = $1 AND device_id = $2")
                    .bind(app_id)
                    .bind(device_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                let existing: Option<bool> = current.as_ref().map(|r| r.try_get("self_set")).transpose().map_err(backend)?;
                let current_channel: Option<i64> = match &current {
                    Some(r) => r.try_get("channel_id").map_err(backend)?,
                    None => None,
                };
                if existing == Some(false) {
                    return Ok(SelfAssign::AdminOverride);
                }
                let Some(name) = channel else {
                    if existing.is_some() {
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
                        // Device-scoped: no revision bump; nodes apply it in place.
                        record(&mut tx, Some(app_id), "device.self_unassigned", Some(device_id), serde_json::json!({}), stamp).await?;
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
                if existing == Some(true) && current_channel == Some(c.id) {
                    // The same choice again (an old plugin repeats it): nothing changes, nothing is recorded.
                    return Ok(SelfAssign::Done);
                }
                // An admin override written meanwhile is not replaced (the WHERE).
                let r = sqlx::query(
                    "INSERT INTO device_overrides (app_id, device_id, channel_id, bundle_id, created_at, self_set) VALUES ($1, $2, $3, NULL, $4, TRUE) \
                     ON CONFLICT (app_id, device_id) DO UPDATE SET channel_id = excluded.channel_id, bundle_id = NULL, \
                     created_at = excluded.created_at WHERE device_overrides.self_set",
                )
                .bind(app_id)
                .bind(device_id)
                .bind(c.id)
                .bind(stamp.at_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if r.rows_affected() == 0 {
                    return Ok(SelfAssign::AdminOverride);
                }
                // Device-scoped: no app revision bump; nodes apply it in place.
                let payload = serde_json::json!({ "channel": name, "channel_id": c.id });
                record(&mut tx, Some(app_id), "device.self_assigned", Some(device_id), payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(SelfAssign::Done)
            }
        }
    };
}

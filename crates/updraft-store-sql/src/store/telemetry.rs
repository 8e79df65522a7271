//! [`sql_telemetry!`]: the `TelemetryStore` queries (batched device rows,
//! events, offer counts, rollback blocks, release signals; event listing and
//! pruning).
//! Expanded by [`sql_store!`](crate::sql_store) inside its module, so these
//! functions share its imports, transaction type and helpers.

/// Implements `TelemetryStore` for `$store` through `mod telemetry`, whose
/// functions work on a `Pool<$db>`: batches and pruning go through the
/// store's `batch_pool()`, reads through its `pool`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_telemetry {
    ($store:ident, $db:ty) => {
        mod telemetry {
            use super::*;

            pub(super) async fn write_batch(pool: &sqlx::Pool<$db>, batch: &[Write]) -> StoreResult<()> {
                $crate::refuse_nul(batch)?;
                let mut tx = pool.begin_with(BEGIN).await.map_err(backend)?;
                let live: std::collections::HashSet<String> = sqlx::query("SELECT app_id FROM apps")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?
                    .iter()
                    .map(|r| r.try_get("app_id"))
                    .collect::<Result<_, _>>()
                    .map_err(backend)?;
                // Telemetry for an app deleted meanwhile is dropped. Device rows are
                // merged per device (the latest wins; a missing custom_id or running
                // bundle keeps the earlier one) and written many rows per statement.
                // Rows borrow from the batch: nothing is copied.
                struct Row<'b> {
                    d: &'b DeviceSeen,
                    custom_id: Option<&'b str>,
                    version_name: Option<&'b str>,
                }
                let mut seen: Vec<Row<'_>> = Vec::new();
                let mut at: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
                let mut events: Vec<&NewEvent> = Vec::new();
                for w in batch {
                    match w {
                        Write::Seen(d) if live.contains(&d.app_id) => {
                            let custom_id = d.custom_id.as_deref().filter(|c| !c.is_empty());
                            match at.get(&(d.app_id.as_str(), d.device_id.as_str())) {
                                // A row older than the one kept (a late event) loses.
                                Some(&i) if d.seen_at < seen[i].d.seen_at => {}
                                Some(&i) => {
                                    let (kept_custom_id, running) = (seen[i].custom_id, seen[i].version_name);
                                    seen[i] = Row {
                                        d,
                                        custom_id: custom_id.or(kept_custom_id),
                                        version_name: d.version_name.as_deref().or(running),
                                    };
                                }
                                None => {
                                    at.insert((d.app_id.as_str(), d.device_id.as_str()), seen.len());
                                    seen.push(Row { d, custom_id, version_name: d.version_name.as_deref() });
                                }
                            }
                        }
                        Write::Event(e) if live.contains(&e.app_id) => events.push(e),
                        _ => {}
                    }
                }
                // In key order: neighbouring rows share B-tree pages, so each page is
                // found and dirtied once per batch instead of once per row.
                seen.sort_unstable_by(|a, b| (&a.d.app_id, &a.d.device_id).cmp(&(&b.d.app_id, &b.d.device_id)));
                for chunk in pow2_chunks(&seen, 512) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(DEVICE_INSERT);
                    qb.push_values(chunk, |mut b, r| {
                        let d = r.d;
                        b.push_bind(d.app_id.as_str())
                            .push_bind(d.device_id.as_str())
                            .push_bind(r.custom_id)
                            .push_bind(d.platform.as_deref())
                            .push_bind(d.plugin_version.as_deref())
                            .push_bind(r.version_name)
                            .push_bind(d.version_build.as_deref())
                            .push_bind(d.version_code.as_deref())
                            .push_bind(d.version_os.as_deref())
                            .push_bind(d.is_prod)
                            .push_bind(d.is_emulator)
                            .push_bind(d.default_channel.as_deref())
                            .push_bind(d.key_id.as_deref())
                            .push_bind(d.seen_at);
                    });
                    qb.push(DEVICE_ON_CONFLICT);
                    qb.build().execute(&mut *tx).await.map_err(backend)?;
                }
                for chunk in pow2_chunks(&events, 1024) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO events (app_id, device_id, action, version_name, old_version_name, metadata, created_at) ",
                    );
                    qb.push_values(chunk, |mut b, e| {
                        b.push_bind(e.app_id.as_str())
                            .push_bind(e.device_id.as_str())
                            .push_bind(e.action.as_str())
                            .push_bind(e.version_name.as_str())
                            .push_bind(e.old_version_name.as_deref())
                            .push_bind(e.metadata.as_deref())
                            .push_bind(e.created_at);
                    });
                    qb.build().execute(&mut *tx).await.map_err(backend)?;
                }
                let signals: Vec<&ReleaseSignal> = batch
                    .iter()
                    .filter_map(|w| match w {
                        Write::Release(s) if live.contains(&s.app_id) => Some(s),
                        _ => None,
                    })
                    .collect();
                release::write_signals(&mut tx, &signals).await?;
                for w in batch {
                    match w {
                        Write::Seen(_) | Write::Event(_) | Write::Offered { .. } | Write::Checked { .. } | Write::Release(_) => {}
                        Write::Failed { app_id, device_id, version, at } => {
                            // Device-scoped: no app revision bump; a change row in
                            // this transaction tells every node to apply it in place,
                            // only for a new block (a repeated rollback just moves
                            // `failed_at`: the log does not grow with it).
                            let known = sqlx::query(
                                "SELECT 1 AS known FROM device_failures f JOIN bundles b ON b.id = f.bundle_id \
                                 WHERE f.app_id = $1 AND f.device_id = $2 AND b.app_id = $1 AND b.version = $3",
                            )
                            .bind(app_id)
                            .bind(device_id)
                            .bind(version)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(backend)?
                            .is_some();
                            let blocked = sqlx::query(
                                "INSERT INTO device_failures (app_id, device_id, bundle_id, failed_at) \
                                 SELECT $1, $2, id, $4 FROM bundles WHERE app_id = $1 AND version = $3 \
                                 ON CONFLICT (app_id, device_id, bundle_id) DO UPDATE SET failed_at = excluded.failed_at \
                                 RETURNING bundle_id",
                            )
                            .bind(app_id)
                            .bind(device_id)
                            .bind(version)
                            .bind(at)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(backend)?;
                            if let Some(r) = blocked.filter(|_| !known) {
                                let bundle_id: i64 = r.try_get("bundle_id").map_err(backend)?;
                                let payload = serde_json::json!({ "version": version, "bundle_id": bundle_id });
                                let stamp = Stamp::new(*at, Actor::Device);
                                record(&mut tx, Some(app_id), "device.rollback_blocked", Some(device_id), payload, &stamp).await?;
                            }
                        }
                    }
                }
                // The counters last: every node's batch adds to the same row of
                // the hour, so its lock is held only for the commit.
                let mut offers: std::collections::BTreeMap<(&str, &str, i64), i64> = std::collections::BTreeMap::new();
                for w in batch {
                    if let Write::Offered { app_id, version, day, count } = w {
                        if live.contains(app_id) {
                            *offers.entry((app_id.as_str(), version.as_str(), *day)).or_default() += count;
                        }
                    }
                }
                let offers: Vec<_> = offers.into_iter().collect();
                for chunk in pow2_chunks(&offers, 1024) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO offers (app_id, version, day, count) ");
                    qb.push_values(chunk, |mut b, ((app, version, day), n)| {
                        b.push_bind(*app).push_bind(*version).push_bind(*day).push_bind(*n);
                    });
                    qb.push(" ON CONFLICT (app_id, version, day) DO UPDATE SET count = offers.count + excluded.count");
                    qb.build().execute(&mut *tx).await.map_err(backend)?;
                }
                let mut checks: std::collections::BTreeMap<(&str, i64), i64> = std::collections::BTreeMap::new();
                for w in batch {
                    if let Write::Checked { app_id, hour, count } = w {
                        if live.contains(app_id) {
                            *checks.entry((app_id.as_str(), *hour)).or_default() += count;
                        }
                    }
                }
                let checks: Vec<_> = checks.into_iter().collect();
                for chunk in pow2_chunks(&checks, 1024) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO check_counts (app_id, hour, count) ");
                    qb.push_values(chunk, |mut b, ((app, hour), n)| {
                        b.push_bind(*app).push_bind(*hour).push_bind(*n);
                    });
                    qb.push(" ON CONFLICT (app_id, hour) DO UPDATE SET count = check_counts.count + excluded.count");
                    qb.build().execute(&mut *tx).await.map_err(backend)?;
                }
                tx.commit().await.map_err(backend)
            }

            /// One batch of `delete` (the store's own statement: `$1` the
            /// cut-off, `$2` the batch size).
            pub(super) async fn prune_events(pool: &sqlx::Pool<$db>, delete: &str, before: i64, limit: i64) -> StoreResult<u64> {
                let mut tx = pool.begin_with(BEGIN).await.map_err(backend)?;
                let r = sqlx::query(delete)
                .bind(before)
                .bind(limit.max(1))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(r.rows_affected())
            }

            pub(super) async fn list_events(pool: &sqlx::Pool<$db>, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>> {
                let rs = sqlx::query(
                    "SELECT id, device_id, action, version_name, old_version_name, metadata, created_at FROM events \
                     WHERE app_id = $1 AND ($2 IS NULL OR device_id = $2) AND ($3 IS NULL OR action = $3) \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(app_id)
                .bind(&query.device_id)
                .bind(&query.action)
                .bind(query.limit.clamp(1, 1000))
                .fetch_all(pool)
                .await
                .map_err(backend)?;
                rs.iter()
                    .map(|r| {
                        let meta: Option<String> = r.try_get("metadata")?;
                        Ok(Event {
                            id: r.try_get("id")?,
                            device_id: r.try_get("device_id")?,
                            action: r.try_get("action")?,
                            version_name: r.try_get("version_name")?,
                            old_version_name: r.try_get("old_version_name")?,
                            metadata: meta.and_then(|m| serde_json::from_str(&m).ok()),
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }

            pub(super) async fn list_offers(pool: &sqlx::Pool<$db>, app_id: &str) -> StoreResult<Vec<OfferCount>> {
                let rs = sqlx::query("SELECT version, day, count FROM offers WHERE app_id = $1 ORDER BY day DESC, version")
                    .bind(app_id)
                    .fetch_all(pool)
                    .await
                    .map_err(backend)?;
                rs.iter()
                    .map(|r| Ok(OfferCount { version: r.try_get("version")?, day: r.try_get("day")?, count: r.try_get("count")? }))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }
        }

        #[async_trait]
        impl TelemetryStore for $store {
            async fn write_batch(&self, batch: &[Write]) -> StoreResult<()> {
                telemetry::write_batch(self.batch_pool(), batch).await
            }

            async fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64> {
                let days = self.drop_event_days(before).await;
                let rows = telemetry::prune_events(self.batch_pool(), $store::EVENT_BATCH_DELETE, before, limit).await?;
                Ok(days + rows)
            }

            async fn prepare_events(&self, now_ms: i64) -> StoreResult<()> {
                self.prepare_event_days(now_ms).await
            }

            async fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>> {
                telemetry::list_events(&self.pool, app_id, query).await
            }

            async fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>> {
                telemetry::list_offers(&self.pool, app_id).await
            }

            async fn check_counts(&self, app_id: &str, since_hour: i64, until_hour: i64) -> StoreResult<Vec<(i64, i64)>> {
                let rs = sqlx::query(
                    "SELECT hour, count FROM check_counts WHERE app_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour",
                )
                .bind(app_id)
                .bind(since_hour)
                .bind(until_hour)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rs.iter()
                    .map(|r| Ok((r.try_get("hour")?, r.try_get("count")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(backend)
            }

            async fn prune_check_counts(&self, before_hour: i64, limit: i64) -> StoreResult<u64> {
                let r = sqlx::query(
                    "DELETE FROM check_counts WHERE (app_id, hour) IN \
                     (SELECT app_id, hour FROM check_counts WHERE hour < $1 LIMIT $2)",
                )
                .bind(before_hour)
                .bind(limit)
                .execute(self.batch_pool())
                .await
                .map_err(backend)?;
                Ok(r.rows_affected())
            }
        }
    };
}

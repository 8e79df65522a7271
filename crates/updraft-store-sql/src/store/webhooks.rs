//! [`sql_webhooks!`]: the `WebhookStore` queries, and `enqueue_webhooks`,
//! which `record` calls for every change. Expanded by
//! [`sql_store!`](crate::sql_store) inside its module, so it shares that
//! module's imports and helpers.

/// Implements `WebhookStore` for `$store`, and defines `enqueue_webhooks`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_webhooks {
    ($store:ident) => {
        const WEBHOOK_SELECT: &str = "SELECT id, app_id, url, events, description, enabled, disabled_reason, \
             failure_streak, previous_secret_until, created_at, updated_at FROM webhooks";
        const DELIVERY_SELECT: &str = "SELECT id, webhook_id, kind, change_id, state, attempts, next_attempt_at, \
             last_status, last_error, created_at, delivered_at, body FROM webhook_deliveries";

        /// `events` as stored: `*` for all, else `,a,b,`.
        fn events_text(events: &[String]) -> String {
            if events.is_empty() {
                "*".into()
            } else {
                format!(",{},", events.join(","))
            }
        }

        fn webhook_row(r: &DbRow) -> Result<Webhook, sqlx::Error> {
            let events: String = r.try_get("events")?;
            Ok(Webhook {
                id: r.try_get("id")?,
                app_id: r.try_get("app_id")?,
                url: r.try_get("url")?,
                events: events.split(',').filter(|e| !e.is_empty() && *e != "*").map(str::to_string).collect(),
                description: r.try_get("description")?,
                enabled: r.try_get("enabled")?,
                disabled_reason: r.try_get("disabled_reason")?,
                failure_streak: r.try_get("failure_streak")?,
                previous_secret_until: r.try_get("previous_secret_until")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn delivery_row(r: &DbRow) -> Result<WebhookDelivery, sqlx::Error> {
            let state: String = r.try_get("state")?;
            let body: String = r.try_get("body")?;
            Ok(WebhookDelivery {
                id: r.try_get("id")?,
                webhook_id: r.try_get("webhook_id")?,
                kind: r.try_get("kind")?,
                change_id: r.try_get("change_id")?,
                state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_status: r.try_get("last_status")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                delivered_at: r.try_get("delivered_at")?,
                body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            })
        }

        async fn webhook_in(tx: &mut Tx<'_>, app_id: &str, id: i64) -> StoreResult<Webhook> {
            let q = format!("{WEBHOOK_SELECT} WHERE app_id = $1 AND id = $2");
            let r = sqlx::query(&q).bind(app_id).bind(id).fetch_optional(&mut **tx).await.map_err(backend)?;
            match r {
                Some(r) => webhook_row(&r).map_err(backend),
                None => Err(StoreError::NotFound(format!("webhook {id} not found in app {app_id}"))),
            }
        }

        /// Queues the change `change_id` for every enabled webhook of the app
        /// subscribed to `kind` (inside the change's transaction).
        async fn enqueue_webhooks(
            tx: &mut Tx<'_>,
            app_id: &str,
            change_id: i64,
            kind: &str,
            payload: &serde_json::Value,
            stamp: &Stamp,
        ) -> StoreResult<()> {
            if !WEBHOOK_EVENTS.contains(&kind) {
                return Ok(());
            }
            let mut data = serde_json::Map::new();
            match payload {
                serde_json::Value::Object(m) => data.extend(m.clone()),
                other => {
                    data.insert("payload".into(), other.clone());
                }
            }
            data.insert("app_id".into(), app_id.into());
            data.insert("change_id".into(), change_id.into());
            data.insert("actor".into(), stamp.actor.label().into());
            data.insert("at_ms".into(), stamp.at_ms.into());
            let body = $crate::updraft_core::webhook::body(kind, stamp.at_ms, data);
            sqlx::query(
                "INSERT INTO webhook_deliveries (webhook_id, app_id, change_id, kind, body, state, attempts, \
                 next_attempt_at, created_at) \
                 SELECT id, app_id, $2, $3, $4, 'pending', 0, $5, $5 FROM webhooks \
                 WHERE app_id = $1 AND enabled = TRUE AND (events = '*' OR events LIKE $6)",
            )
            .bind(app_id)
            .bind(change_id)
            .bind(kind)
            .bind(body.to_string())
            .bind(stamp.at_ms)
            .bind(format!("%,{kind},%"))
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            Ok(())
        }

        #[async_trait]
        impl WebhookStore for $store {
            async fn create_webhook(&self, app_id: &str, new: &NewWebhook, secret: &str, max: i64, stamp: &Stamp) -> StoreResult<Webhook> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                require_app(&mut tx, app_id).await?;
                under_cap(&mut tx, app_id, "webhooks", max, "webhooks").await?;
                let r = sqlx::query(
                    "INSERT INTO webhooks (app_id, url, events, description, secret, enabled, failure_streak, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, TRUE, 0, $6, $6) RETURNING id",
                )
                .bind(app_id)
                .bind(&new.url)
                .bind(events_text(&new.events))
                .bind(&new.description)
                .bind(secret)
                .bind(stamp.at_ms)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
                let id: i64 = r.try_get("id").map_err(backend)?;
                let w = webhook_in(&mut tx, app_id, id).await?;
                record(&mut tx, Some(app_id), "webhook.created", None, webhook_payload(&w), stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(w)
            }

            async fn list_webhooks(&self, app_id: &str) -> StoreResult<Vec<Webhook>> {
                let q = format!("{WEBHOOK_SELECT} WHERE app_id = $1 ORDER BY id");
                rows(sqlx::query(&q).bind(app_id).fetch_all(&self.pool).await.map_err(backend)?, webhook_row)
            }

            async fn get_webhook(&self, app_id: &str, id: i64) -> StoreResult<Option<Webhook>> {
                let mut tx = self.pool.begin().await.map_err(backend)?;
                match webhook_in(&mut tx, app_id, id).await {
                    Ok(w) => Ok(Some(w)),
                    Err(StoreError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            }

            async fn update_webhook(&self, app_id: &str, id: i64, patch: &WebhookPatch, stamp: &Stamp) -> StoreResult<Webhook> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let before = webhook_in(&mut tx, app_id, id).await?;
                let enabling = patch.enabled == Some(true);
                // One statement: fields not given keep what is stored at the
                // time of the write, not at the time of a read before it.
                sqlx::query(
                    "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events), \
                     description = COALESCE($5, description), enabled = COALESCE($6, enabled), updated_at = $7, \
                     failure_streak = CASE WHEN $8 THEN 0 ELSE failure_streak END, \
                     disabled_reason = CASE WHEN $8 THEN NULL ELSE disabled_reason END \
                     WHERE app_id = $1 AND id = $2",
                )
                .bind(app_id)
                .bind(id)
                .bind(&patch.url)
                .bind(patch.events.as_deref().map(events_text))
                .bind(&patch.description)
                .bind(patch.enabled)
                .bind(stamp.at_ms)
                .bind(enabling)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                let new_url = patch.url.as_ref().is_some_and(|u| *u != before.url);
                if enabling || new_url {
                    // A fresh start: the queue's backoff was the old receiver's.
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $2, attempts = 0 \
                         WHERE webhook_id = $1 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(stamp.at_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
                let w = webhook_in(&mut tx, app_id, id).await?;
                let mut payload = webhook_payload(&w);
                payload["before"] = webhook_audit(&before);
                payload["after"] = webhook_audit(&w);
                record(&mut tx, Some(app_id), "webhook.updated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(w)
            }

            async fn delete_webhook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                webhook_in(&mut tx, app_id, id).await?;
                for q in ["DELETE FROM webhook_deliveries WHERE webhook_id = $1", "DELETE FROM webhooks WHERE id = $1"] {
                    sqlx::query(q).bind(id).execute(&mut *tx).await.map_err(backend)?;
                }
                record(&mut tx, Some(app_id), "webhook.deleted", None, serde_json::json!({ "webhook_id": id }), stamp).await?;
                tx.commit().await.map_err(backend)
            }

            async fn rotate_webhook_secret(
                &self,
                app_id: &str,
                id: i64,
                secret: &str,
                previous_until: i64,
                stamp: &Stamp,
            ) -> StoreResult<Webhook> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                webhook_in(&mut tx, app_id, id).await?;
                let keep = previous_until > stamp.at_ms;
                sqlx::query(
                    "UPDATE webhooks SET previous_secret = CASE WHEN $3 THEN secret ELSE NULL END, \
                     previous_secret_until = CASE WHEN $3 THEN $4 ELSE NULL END, secret = $5, updated_at = $6 \
                     WHERE app_id = $1 AND id = $2",
                )
                .bind(app_id)
                .bind(id)
                .bind(keep)
                .bind(previous_until)
                .bind(secret)
                .bind(stamp.at_ms)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                let w = webhook_in(&mut tx, app_id, id).await?;
                let payload = serde_json::json!({ "webhook_id": id, "previous_secret_until": w.previous_secret_until });
                record(&mut tx, Some(app_id), "webhook.rotated", None, payload, stamp).await?;
                tx.commit().await.map_err(backend)?;
                Ok(w)
            }

            async fn webhook_secrets(&self, app_id: &str, id: i64, now_ms: i64) -> StoreResult<Vec<String>> {
                let r = sqlx::query("SELECT secret, previous_secret, previous_secret_until FROM webhooks WHERE app_id = $1 AND id = $2")
                    .bind(app_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::NotFound(format!("webhook {id} not found in app {app_id}")))?;
                secrets_of(&r, now_ms).map_err(backend)
            }

            async fn list_deliveries(&self, app_id: &str, id: i64, limit: i64) -> StoreResult<Vec<WebhookDelivery>> {
                let q = format!("{DELIVERY_SELECT} WHERE app_id = $1 AND webhook_id = $2 ORDER BY id DESC LIMIT $3");
                let rs = sqlx::query(&q)
                    .bind(app_id)
                    .bind(id)
                    .bind(limit.clamp(1, 200))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows(rs, delivery_row)
            }

            async fn claim_deliveries(&self, now_ms: i64, lease_ms: i64, limit: i64) -> StoreResult<Vec<DueDelivery>> {
                // A plain read first: an empty queue takes no write lock.
                let any = sqlx::query(
                    "SELECT 1 AS one FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
                     AND (lease_until IS NULL OR lease_until <= $1) LIMIT 1",
                )
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                if any.is_none() {
                    return Ok(Vec::new());
                }
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // The head of each enabled webhook's queue, if due and free.
                let heads = sqlx::query(
                    "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     WHERE w.enabled = TRUE AND d.state = 'pending' \
                     AND d.id = (SELECT MIN(h.id) FROM webhook_deliveries h WHERE h.webhook_id = d.webhook_id AND h.state = 'pending') \
                     AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1) \
                     ORDER BY d.next_attempt_at, d.id LIMIT $2",
                )
                .bind(now_ms)
                .bind(limit.max(1))
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
                let lease = now_ms.saturating_add(lease_ms);
                let mut due = Vec::new();
                for h in heads {
                    let id: i64 = h.try_get("id").map_err(backend)?;
                    // Claimed only if still due and free: on PostgreSQL a
                    // second node waits for the row lock, then sees the lease.
                    // The attempt counts now, so one whose end is never
                    // recorded still runs out of attempts.
                    let claimed = sqlx::query(
                        "UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1 \
                         WHERE id = $1 AND state = 'pending' AND next_attempt_at <= $3 \
                         AND (lease_until IS NULL OR lease_until <= $3)",
                    )
                    .bind(id)
                    .bind(lease)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    if claimed.rows_affected() == 0 {
                        continue;
                    }
                    let q = format!("{DELIVERY_SELECT} WHERE id = $1");
                    let r = sqlx::query(&q).bind(id).fetch_one(&mut *tx).await.map_err(backend)?;
                    let delivery = delivery_row(&r).map_err(backend)?;
                    let w = sqlx::query("SELECT app_id, url, secret, previous_secret, previous_secret_until FROM webhooks WHERE id = $1")
                        .bind(delivery.webhook_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend)?;
                    due.push(DueDelivery {
                        app_id: w.try_get("app_id").map_err(backend)?,
                        url: w.try_get("url").map_err(backend)?,
                        secrets: secrets_of(&w, now_ms).map_err(backend)?,
                        lease,
                        delivery,
                    });
                }
                tx.commit().await.map_err(backend)?;
                Ok(due)
            }

            async fn finish_delivery(&self, id: i64, lease: i64, attempt: &Attempt, now_ms: i64, disable_after: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                // Only the holder of this claim records it: a node whose
                // lease ran out (and was claimed again) changes nothing.
                let Some(r) = sqlx::query(
                    "UPDATE webhook_deliveries SET lease_until = NULL WHERE id = $1 AND lease_until = $2 \
                     AND state = 'pending' RETURNING webhook_id",
                )
                .bind(id)
                .bind(lease)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
                else {
                    return Ok(false);
                };
                let webhook: i64 = r.try_get("webhook_id").map_err(backend)?;
                let (state, status, error, next, delivered): (&str, Option<i64>, Option<&str>, Option<i64>, Option<i64>) = match attempt {
                    Attempt::Delivered { status } => ("delivered", Some(i64::from(*status)), None, None, Some(now_ms)),
                    Attempt::Failed { status, error, retry_at: Some(at) } => {
                        ("pending", status.map(i64::from), Some(error.as_str()), Some(*at), None)
                    }
                    Attempt::Failed { status, error, retry_at: None } => ("failed", status.map(i64::from), Some(error.as_str()), None, None),
                    Attempt::Gone => ("failed", Some(410), Some("410 Gone: the receiver asked for no more deliveries"), None, None),
                };
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = $2, last_status = $3, last_error = $4, \
                     next_attempt_at = $5, delivered_at = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(state)
                .bind(status)
                .bind(error)
                .bind(next)
                .bind(delivered)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                match attempt {
                    Attempt::Delivered { .. } => {
                        sqlx::query("UPDATE webhooks SET failure_streak = 0 WHERE id = $1")
                            .bind(webhook)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                    Attempt::Failed { .. } => {
                        sqlx::query(
                            "UPDATE webhooks SET failure_streak = failure_streak + 1, \
                             enabled = CASE WHEN failure_streak + 1 >= $2 THEN FALSE ELSE enabled END, \
                             disabled_reason = CASE WHEN failure_streak + 1 >= $2 THEN $3 ELSE disabled_reason END \
                             WHERE id = $1",
                        )
                        .bind(webhook)
                        .bind(disable_after)
                        .bind(format!("{disable_after} failed attempts in a row"))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    }
                    Attempt::Gone => {
                        sqlx::query(
                            "UPDATE webhooks SET failure_streak = failure_streak + 1, enabled = FALSE, \
                             disabled_reason = 'the receiver answered 410 Gone' WHERE id = $1",
                        )
                        .bind(webhook)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    }
                }
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }

            async fn prune_deliveries(&self, before: i64, limit: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin_with(BEGIN).await.map_err(backend)?;
                let done = sqlx::query(
                    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                     WHERE created_at < $1 AND state <> 'pending' ORDER BY id LIMIT $2)",
                )
                .bind(before)
                .bind(limit.max(1))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(done.rows_affected())
            }
        }

        /// A webhook's change payload: never its URL (a receiver's URL may
        /// carry its token, and read keys read the log), only its host.
        /// The host of a webhook's URL, without user info: its path and
        /// query may hold the receiver's credentials, and the change log is
        /// readable by any read key of the app.
        fn webhook_host(url: &str) -> &str {
            let rest = url.split("://").nth(1).unwrap_or_default();
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            authority.rsplit('@').next().unwrap_or_default()
        }

        fn webhook_payload(w: &Webhook) -> serde_json::Value {
            serde_json::json!({ "webhook_id": w.id, "host": webhook_host(&w.url), "enabled": w.enabled, "events": w.events })
        }

        /// A webhook as the audit trail shows it before and after a change:
        /// its host, never its whole URL.
        fn webhook_audit(w: &Webhook) -> serde_json::Value {
            serde_json::json!({
                "host": webhook_host(&w.url),
                "events": w.events,
                "description": w.description,
                "enabled": w.enabled,
                "disabled_reason": w.disabled_reason,
            })
        }

        /// The current secret, then the previous one while its grace lasts.
        fn secrets_of(r: &DbRow, now_ms: i64) -> Result<Vec<String>, sqlx::Error> {
            let mut out = vec![r.try_get::<String, _>("secret")?];
            let previous: Option<String> = r.try_get("previous_secret")?;
            let until: Option<i64> = r.try_get("previous_secret_until")?;
            if let (Some(p), Some(u)) = (previous, until) {
                if u > now_ms {
                    out.push(p);
                }
            }
            Ok(out)
        }
    };
}

//! Outbound webhooks: the delivery worker. Events are queued by the change
//! log itself (a delivery row per subscription, written in the change's own
//! transaction; see `WebhookStore`), so nothing is lost between a write and
//! its event, and the queue survives restarts. Every node runs the worker;
//! a lease on each delivery row lets one node attempt it at a time, and only
//! the head of each webhook's queue is ever claimed, so a webhook receives
//! its events one at a time and in order. A failed attempt is retried with
//! exponential backoff ([`deliver`]); a 410 or a long failure streak turns
//! the webhook off. Signing is [`sign`]; where deliveries may go, [`target`].

pub(crate) mod deliver;
pub(crate) mod sign;
pub(crate) mod target;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::task::JoinHandle;
use updraft_store::{Attempt, DueDelivery, Store};

use crate::clock::Clock;
use crate::traffic::Traffic;

/// How long a claimed delivery is held by its node: past one attempt's
/// deadline, so a node that dies mid-attempt only delays it.
const LEASE_MS: i64 = 60_000;

/// Deliveries attempted at once by one node (each of another webhook).
const BATCH: i64 = 16;

/// Failed attempts in a row after which a webhook is turned off: with the
/// backoff schedule, several days of a receiver failing every event.
pub(crate) const DISABLE_AFTER: i64 = 30;

/// What the worker needs.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http: reqwest::Client,
    pub(crate) allow_local: bool,
    pub(crate) traffic: Arc<Traffic>,
}

/// Starts the worker: every `every`, it attempts the due deliveries.
pub(crate) fn spawn(w: Worker, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            w.pass().await;
        }
    })
}

impl Worker {
    /// Attempts every due delivery, a batch at a time.
    async fn pass(&self) {
        loop {
            let due = match self
                .store
                .claim_deliveries(self.clock.now_ms(), LEASE_MS, BATCH)
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the webhook queue; trying again shortly");
                    return;
                }
            };
            let full = i64::try_from(due.len()).unwrap_or(0) >= BATCH;
            join_all(due.into_iter().map(|d| self.attempt(d))).await;
            if !full {
                return;
            }
        }
    }

    /// One attempt of a claimed delivery, and its record.
    async fn attempt(&self, d: DueDelivery) {
        let body = serde_json::to_vec(&d.delivery.body).unwrap_or_default();
        let id = format!("msg_{}", d.delivery.id);
        let now = self.clock.now_ms();
        let sent = deliver::post(
            &self.http,
            &d.url,
            self.allow_local,
            &id,
            now.div_euclid(1000),
            &body,
            &d.secrets,
        )
        .await;
        let attempts = d.delivery.attempts;
        let outcome = deliver::judge(sent, attempts, self.clock.now_ms());
        self.traffic.metrics.webhook(&outcome);
        match &outcome {
            Attempt::Delivered { .. } => {}
            Attempt::Gone => tracing::warn!(
                app_id = d.app_id,
                webhook = d.delivery.webhook_id,
                delivery = d.delivery.id,
                "the receiver answered 410 Gone; the webhook is turned off"
            ),
            Attempt::Failed {
                status,
                error,
                retry_at,
            } => tracing::warn!(
                app_id = d.app_id,
                webhook = d.delivery.webhook_id,
                delivery = d.delivery.id,
                attempts,
                status,
                error = error.as_str(),
                retry_at,
                "a webhook delivery failed"
            ),
        }
        match self
            .store
            .finish_delivery(
                d.delivery.id,
                d.lease,
                &outcome,
                self.clock.now_ms(),
                DISABLE_AFTER,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                delivery = d.delivery.id,
                "a webhook attempt outlived its lease; another claim records it"
            ),
            // The lease runs out and the attempt is made again: a receiver
            // may see this message id twice (Standard Webhooks receivers
            // deduplicate by it).
            Err(e) => {
                tracing::warn!(delivery = d.delivery.id, error = %e, "could not record a webhook attempt");
            }
        }
    }
}

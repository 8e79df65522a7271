//! [`WebhookStore`]: an app's outbound webhooks and their delivery queue.
//! Deliveries are queued by the change log itself: every change of a kind in
//! [`WEBHOOK_EVENTS`](updraft_protocol::api::WEBHOOK_EVENTS) adds one row per
//! enabled subscription to it, in the change's own transaction.

use async_trait::async_trait;
use updraft_protocol::api::{NewWebhook, Webhook, WebhookDelivery, WebhookPatch};

use crate::{Stamp, StoreResult};

/// A delivery claimed for one attempt, with what signing it needs.
#[derive(Clone)]
pub struct DueDelivery {
    /// The delivery (`attempts` counts this one).
    pub delivery: WebhookDelivery,
    /// The claim: when its lease ends; only this claim may record the attempt.
    pub lease: i64,
    /// The app.
    pub app_id: String,
    /// Where to POST it.
    pub url: String,
    /// The secrets to sign with: the current one, then the previous one
    /// while its grace lasts.
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for DueDelivery {
    /// Everything but the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("delivery", &self.delivery)
            .field("lease", &self.lease)
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// 2xx: delivered.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Failed; try again at `retry_at`, or give up (`None`). A failure adds
    /// to the webhook's streak, which `disable_after` streaks turn it off.
    Failed {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again (epoch ms); `None`: give up on this delivery.
        retry_at: Option<i64>,
    },
    /// 410 Gone: the receiver wants no more; the webhook is disabled.
    Gone,
}

/// Webhooks. Each method is one transaction; subscription writes append
/// their change (`webhook.created`, `webhook.updated`, `webhook.deleted`,
/// `webhook.rotated`), deliveries do not.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates an enabled webhook with `secret`. `NotFound` when the app
    /// does not exist; `Conflict` when it has `max` webhooks already. The
    /// caller has checked the URL and events.
    async fn create_webhook(
        &self,
        app_id: &str,
        new: &NewWebhook,
        secret: &str,
        max: i64,
        stamp: &Stamp,
    ) -> StoreResult<Webhook>;
    /// The app's webhooks by id.
    async fn list_webhooks(&self, app_id: &str) -> StoreResult<Vec<Webhook>>;
    /// One webhook of the app; `None` when there is none.
    async fn get_webhook(&self, app_id: &str, id: i64) -> StoreResult<Option<Webhook>>;
    /// Applies the fields `patch` gives; enabling clears the failure streak
    /// and the disabled reason. Enabling or a new URL makes the pending
    /// deliveries due at once with their attempts reset (their backoff was
    /// the old receiver's). `NotFound` when there is no such webhook.
    async fn update_webhook(
        &self,
        app_id: &str,
        id: i64,
        patch: &WebhookPatch,
        stamp: &Stamp,
    ) -> StoreResult<Webhook>;
    /// Deletes the webhook and its deliveries. `NotFound` when there is none.
    async fn delete_webhook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()>;
    /// Makes `secret` the signing secret; the old one keeps signing until
    /// `previous_until` (epoch ms; at or before now: dropped).
    async fn rotate_webhook_secret(
        &self,
        app_id: &str,
        id: i64,
        secret: &str,
        previous_until: i64,
        stamp: &Stamp,
    ) -> StoreResult<Webhook>;
    /// The secrets signing for the webhook now (as in [`DueDelivery::secrets`]).
    async fn webhook_secrets(&self, app_id: &str, id: i64, now_ms: i64)
        -> StoreResult<Vec<String>>;
    /// The webhook's deliveries, newest first, at most `limit` (1..=200).
    async fn list_deliveries(
        &self,
        app_id: &str,
        id: i64,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Claims at most `limit` due deliveries for one attempt each, holding
    /// them until `now_ms + lease_ms` and counting the attempt: of each
    /// enabled webhook only the head of its queue (its oldest pending
    /// delivery), and only when it is due and no one holds it. Across nodes
    /// each is claimed by one.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records the attempt of the claim `lease` on delivery `id` and
    /// releases it; updates the webhook's failure streak, disabling it after
    /// `disable_after` failures in a row or on [`Attempt::Gone`]. False (and
    /// nothing changed) when the claim is no longer held: its lease ran out
    /// and another claim took it, or the webhook was deleted.
    async fn finish_delivery(
        &self,
        id: i64,
        lease: i64,
        attempt: &Attempt,
        now_ms: i64,
        disable_after: i64,
    ) -> StoreResult<bool>;
    /// Deletes at most `limit` finished deliveries created before `before`;
    /// returns how many went.
    async fn prune_deliveries(&self, before: i64, limit: i64) -> StoreResult<u64>;
}

//! Outbound webhooks and inbound deploy hooks: the calls of
//! `/apps/{app}/webhooks` and `/apps/{app}/hooks`.

use updraft_protocol::api::{
    CreatedHook, CreatedWebhook, Hook, NewHook, NewWebhook, RotateSecret, TestDelivery, Webhook,
    WebhookDelivery, WebhookPatch,
};

use crate::{enc, Client, Result};

fn path(app: &str) -> String {
    format!("/apps/{}/webhooks", enc(app))
}

impl Client {
    /// `GET /apps/{app}/webhooks`: the app's webhooks, never their secrets.
    pub async fn list_webhooks(&self, app: &str) -> Result<Vec<Webhook>> {
        self.get(&path(app)).await
    }

    /// `POST /apps/{app}/webhooks`: subscribes a URL; the reply holds the
    /// signing secret, shown this once.
    pub async fn create_webhook(&self, app: &str, new: &NewWebhook) -> Result<CreatedWebhook> {
        self.post(&path(app), new).await
    }

    /// `GET /apps/{app}/webhooks/{id}`.
    pub async fn get_webhook(&self, app: &str, id: i64) -> Result<Webhook> {
        self.get(&format!("{}/{id}", path(app))).await
    }

    /// `PATCH /apps/{app}/webhooks/{id}`: URL, events, description, on or off.
    pub async fn update_webhook(
        &self,
        app: &str,
        id: i64,
        patch: &WebhookPatch,
    ) -> Result<Webhook> {
        self.patch(&format!("{}/{id}", path(app)), patch).await
    }

    /// `DELETE /apps/{app}/webhooks/{id}`.
    pub async fn delete_webhook(&self, app: &str, id: i64) -> Result<()> {
        self.delete(&format!("{}/{id}", path(app))).await
    }

    /// `POST /apps/{app}/webhooks/{id}/rotate`: a new secret (in the reply
    /// only); the old one keeps signing for the grace given.
    pub async fn rotate_secret(
        &self,
        app: &str,
        id: i64,
        body: &RotateSecret,
    ) -> Result<CreatedWebhook> {
        self.post(&format!("{}/{id}/rotate", path(app)), body).await
    }

    /// `POST /apps/{app}/webhooks/{id}/test`: sends a `webhook.test` event now.
    pub async fn test_webhook(&self, app: &str, id: i64) -> Result<TestDelivery> {
        self.post(&format!("{}/{id}/test", path(app)), &serde_json::json!({}))
            .await
    }

    /// `GET /apps/{app}/webhooks/{id}/deliveries`: newest first, at most `limit`.
    pub async fn list_deliveries(
        &self,
        app: &str,
        id: i64,
        limit: Option<i64>,
    ) -> Result<Vec<WebhookDelivery>> {
        let q = limit.map(|l| format!("?limit={l}")).unwrap_or_default();
        self.get(&format!("{}/{id}/deliveries{q}", path(app))).await
    }
}

impl Client {
    /// `POST /apps/{app}/hooks`: an inbound deploy hook; the reply holds its
    /// path and secret, shown this once.
    pub async fn create_hook(&self, app: &str, new: &NewHook) -> Result<CreatedHook> {
        self.post(&format!("/apps/{}/hooks", enc(app)), new).await
    }

    /// `GET /apps/{app}/hooks`: never their tokens or secrets.
    pub async fn list_hooks(&self, app: &str) -> Result<Vec<Hook>> {
        self.get(&format!("/apps/{}/hooks", enc(app))).await
    }

    /// `DELETE /apps/{app}/hooks/{id}`.
    pub async fn delete_hook(&self, app: &str, id: i64) -> Result<()> {
        self.delete(&format!("/apps/{}/hooks/{id}", enc(app))).await
    }
}

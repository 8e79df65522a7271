//! Outbound webhooks (`/api/v1/apps/{app_id}/webhooks`): a subscription, its
//! creation (the one reply that shows its secret), a secret rotation, the
//! delivery log and a test delivery.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every event a webhook may subscribe to: the change log's kinds that
/// concern a release. `webhook.test` is sent by a test delivery only.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "bundle.created",
    "bundle.updated",
    "bundle.deleted",
    "bundle.revoked",
    "channel.created",
    "channel.updated",
    "channel.rolled_back",
    "channel.deleted",
    "rollout.started",
    "rollout.advanced",
    "rollout.paused",
    "rollout.resumed",
    "rollout.promoted",
    "rollout.reverted",
    "rollout.alert",
    "deploy.scheduled",
    "deploy.executed",
    "deploy.failed",
    "deploy.cancelled",
];

/// The schema of an event list: strings among [`WEBHOOK_EVENTS`].
fn events_schema() -> utoipa::openapi::schema::Array {
    events_array(false)
}

/// [`events_schema`], or `null`.
fn optional_events_schema() -> utoipa::openapi::schema::Array {
    events_array(true)
}

fn events_array(nullable: bool) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let kind = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::from(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(kind)
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(WEBHOOK_EVENTS.iter().copied())),
        )
        .build()
}

/// `POST /api/v1/apps/{app_id}/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are POSTed: an `https://` URL (`http://` and private
    /// addresses only when the server allows them).
    #[schema(example = "https://hooks.example.com/updraft")]
    pub url: String,
    /// The events to send; empty or absent: all of them.
    #[serde(default)]
    #[schema(schema_with = events_schema)]
    pub events: Vec<String>,
    /// A note for people: one line of at most 200 characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// `PATCH /api/v1/apps/{app_id}/webhooks/{id}`: the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    /// See [`NewWebhook::url`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// See [`NewWebhook::events`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_events_schema)]
    pub events: Option<Vec<String>>,
    /// See [`NewWebhook::description`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
    /// Turns it off or back on. Events are not queued while it is off;
    /// those queued before are sent once it is on again, which also clears
    /// the failure streak and the reason it was turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A webhook as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Server-assigned id.
    pub id: i64,
    /// The app whose changes it sends.
    pub app_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The events it sends; empty: all.
    pub events: Vec<String>,
    /// A note for people.
    pub description: Option<String>,
    /// Whether events are queued and sent.
    pub enabled: bool,
    /// Why the server turned it off (a 410 reply, a long failure streak).
    pub disabled_reason: Option<String>,
    /// Deliveries that failed in a row (attempts, not events).
    pub failure_streak: i64,
    /// Until when (epoch ms) the secret before the last rotation still signs too.
    pub previous_secret_until: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

/// Reply to a webhook creation: the webhook and its signing secret, shown
/// this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    /// The webhook as it is listed from now on.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The Standard Webhooks secret (`whsec_` and base64 of 32 random bytes).
    pub secret: String,
}

/// `POST /api/v1/apps/{app_id}/webhooks/{id}/rotate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing beside the new one, in seconds
    /// (default 86,400; 0 drops it at once; at most 604,800).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_seconds"
    )]
    #[schema(maximum = 604_800)]
    pub grace_seconds: Option<u64>,
}

/// A count of seconds as JSON Schema's `integer` allows it: `30` or `30.0`.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 1e15 => Ok(Some(
            format!("{f:.0}")
                .parse()
                .map_err(serde::de::Error::custom)?,
        )),
        _ => Err(serde::de::Error::custom(format!(
            "grace_seconds must be a whole number of seconds, not {n}"
        ))),
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its turn or its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: out of attempts, or the receiver answered 410.
    Failed,
}

impl DeliveryState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One event queued for one webhook, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    /// Server-assigned id; the `webhook-id` header is `msg_<id>`, the same on every attempt.
    pub id: i64,
    /// The webhook.
    pub webhook_id: i64,
    /// The event type (the change's kind).
    #[serde(rename = "type")]
    pub kind: String,
    /// The change it came from.
    pub change_id: Option<i64>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (epoch ms), while pending.
    pub next_attempt_at: Option<i64>,
    /// The last attempt's HTTP status, when the receiver answered.
    pub last_status: Option<i64>,
    /// The last attempt's error, when it did not answer 2xx.
    pub last_error: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When the receiver answered 2xx (epoch ms).
    pub delivered_at: Option<i64>,
    /// The body sent (JSON).
    pub body: Value,
}

/// Reply to a test delivery, sent at once and outside the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestDelivery {
    /// Whether the receiver answered 2xx.
    pub ok: bool,
    /// Its HTTP status, when it answered.
    pub status: Option<u16>,
    /// What went wrong otherwise.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
}

/// Query of `GET /api/v1/apps/{app_id}/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListQuery {
    /// How many, newest first (1 to 200, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

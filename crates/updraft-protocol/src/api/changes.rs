//! The change log (`/api/v1/apps/{app_id}/changes`): one entry, the query
//! and a page of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of the change log (`GET /api/v1/apps/{app_id}/changes`): a
/// management write or a device-scoped change, recorded in the same
/// transaction as the write itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// Increasing (not gapless) position in the log.
    pub id: i64,
    /// The app it changed; null for changes outside any app (API keys).
    pub app_id: Option<String>,
    /// The app's revision after the change, when the app still exists.
    pub revision: Option<i64>,
    /// What happened, such as `channel.updated` or `device.self_assigned`.
    #[schema(example = "channel.updated")]
    pub kind: String,
    /// The device a device-scoped change is about.
    pub device_id: Option<String>,
    /// The kind's details (the channel name, the bundle version, …).
    pub payload: Value,
    /// Who made it: `key:<id>` (an API key, by id: its name is shown by
    /// `GET /api/v1/keys` to those allowed), `hook:<id>` (an inbound deploy
    /// hook), `admin`, `device` or `system`.
    pub actor: String,
    /// Epoch milliseconds.
    pub at: i64,
}

/// Query of `GET /api/v1/apps/{app_id}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeListQuery {
    /// Only changes with a higher id (default 0: from the oldest kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many changes (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// `GET /api/v1/apps/{app_id}/changes`: changes after `after`, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangePage {
    /// The changes, oldest first.
    pub items: Vec<Change>,
    /// The id to pass as `after` for the next page (the last id returned, or
    /// the `after` given when nothing is newer).
    pub next_after: i64,
}

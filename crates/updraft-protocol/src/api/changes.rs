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

/// Query of `GET /api/v1/apps/{app_id}/audit`: filters, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this kind (`channel.updated`), or kinds starting with it when it
    /// ends with a dot (`rollout.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^[a-z_]+(\.[a-z_]*)?$")]
    pub kind: Option<String>,
    /// Only changes by this actor (`key:12`, `hook:3`, `schedule:7`, `admin`, `system`, `device`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^((key|hook|schedule):[0-9]{1,19}|admin|device|system)$")]
    pub actor: Option<String>,
    /// Only changes at or after this time (epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Only changes before this time (epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// Include devices' own changes (their channel choices, rollback blocks); default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<bool>,
    /// Only changes with a lower id: the previous page's `next_before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// One field a change changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The field's name.
    pub field: String,
    /// Its value before (null when it had none).
    pub before: Value,
    /// Its value after (null when it has none).
    pub after: Value,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The change's id.
    pub id: i64,
    /// Epoch milliseconds.
    pub at: i64,
    /// What happened (`channel.updated`, …).
    pub kind: String,
    /// Who: `key:<id>`, `hook:<id>`, `schedule:<id>`, `admin`, `device`, `system`.
    pub actor: String,
    /// The key's name, for a caller whose key may list that key (mode `all`
    /// over its apps); null otherwise, or when the key was deleted.
    pub actor_name: Option<String>,
    /// The device, for a device's own change.
    pub device_id: Option<String>,
    /// The fields the write changed, from the object before and after it
    /// (for writes that record both); empty otherwise.
    pub changes: Vec<FieldChange>,
    /// The change's whole payload.
    pub payload: Value,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The entries, newest first.
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next_before: Option<i64>,
}

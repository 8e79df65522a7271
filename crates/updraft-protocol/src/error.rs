//! Error envelopes.
//!
//! Two shapes exist on the wire (reference/capgo-backend.md §1.0):
//! - a *hard* error (4xx/5xx): `{"error","message","moreInfo":{…}}`;
//! - a *soft* device error (HTTP 200): `{"error","message","kind",…extras flat}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of every non-2xx reply, device and management API alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_json_body`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// Extra detail; always an object (possibly empty) for Capgo compatibility.
    #[serde(rename = "moreInfo", default)]
    #[schema(value_type = Object)]
    pub more_info: Map<String, Value>,
}

impl ErrorBody {
    /// An error envelope without extra detail.
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            message: message.into(),
            more_info: Map::new(),
        }
    }
}

/// A soft error at HTTP 200 outside `/updates` (`/channel_self`'s refusals):
/// `{"error","message",…extras flat}`, as Capgo's `simpleError200` sends it.
/// `/updates` sends [`crate::device::NoUpdate`], which adds `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftError {
    /// Stable machine-readable code, e.g. `channel_not_found`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// Capgo spreads `moreInfo` flat into the body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

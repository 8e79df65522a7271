//! `explain`: what the server would answer one device, and why.

use serde::{Deserialize, Serialize};

/// Reply to `explain`: what the server would answer the device, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The decision.
    pub outcome: ExplainOutcome,
    /// The channel the device resolved to, if any.
    pub channel: Option<String>,
    /// Every rule evaluated, in order.
    pub trace: Vec<String>,
    /// The JSON body `POST /updates` would send this device, exactly (bundle
    /// URLs use the server's public URL as this request sees it).
    #[schema(value_type = Object)]
    pub reply: crate::device::UpdatesReply,
}

/// The decision `explain` reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ExplainOutcome {
    /// The device would be offered this bundle.
    Update {
        /// The bundle's version name.
        version: String,
    },
    /// The device would be sent back to its builtin bundle.
    RevertToBuiltin,
    /// No update, with the soft error code the device would get.
    NoUpdate {
        /// Stable soft error code, e.g. `no_new_version_available`.
        error: String,
        /// Human-readable reason.
        message: String,
        /// How the plugin treats the reply.
        kind: crate::device::ReplyKind,
    },
}

/// Query of the explain calls: facts the server would otherwise take from
/// the device's connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    /// The device's country (ISO 3166-1 alpha-2, any case), as the proxy in
    /// front of the server or its geo database would report it; absent:
    /// unknown (matches no country rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
}

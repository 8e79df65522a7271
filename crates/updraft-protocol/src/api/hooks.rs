//! Inbound deploy hooks (`/api/v1/apps/{app_id}/hooks`, called at
//! `/api/v1/hooks/{token}`): a URL bound to one app and one action, which a
//! CI run or a monitoring alert calls with an HMAC-signed body instead of an
//! API key.

use serde::{Deserialize, Serialize};

use super::RolloutPlan;

/// What a hook does when called with a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookAction {
    /// Points the channel at the bundle the call names.
    Promote,
    /// Starts a rollout of the bundle the call names on the channel.
    StartRollout,
    /// Pauses the channel's active rollout (an alert fired).
    PauseRollout,
}

impl HookAction {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::StartRollout => "start_rollout",
            Self::PauseRollout => "pause_rollout",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "promote" => Self::Promote,
            "start_rollout" => Self::StartRollout,
            "pause_rollout" => Self::PauseRollout,
            _ => return None,
        })
    }
}

/// `POST /api/v1/apps/{app_id}/hooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    /// What the hook does.
    pub action: HookAction,
    /// The channel it acts on.
    #[schema(
        example = "production",
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub channel: String,
    /// Where the call's JSON body names the bundle (promote, start_rollout),
    /// as a JSON pointer; default `/bundle`. For a GitHub release event,
    /// `/release/tag_name` (a leading `v` is dropped: `v1.2.3` names 1.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "/release/tag_name",
        max_length = 200,
        pattern = r"^(/[^\x00-\x1f\x7f-\x9f]*)?$"
    )]
    pub version_pointer: Option<String>,
    /// The plan of the rollouts it starts (start_rollout); the default plan when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RolloutPlan>,
    /// A note for people: one line of at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// A hook as listed: never its secret nor its URL's token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hook {
    /// Server-assigned id; its changes are stamped `hook:<id>`.
    pub id: i64,
    /// The app it acts on.
    pub app_id: String,
    /// What it does.
    pub action: HookAction,
    /// The channel it acts on.
    pub channel: String,
    /// See [`NewHook::version_pointer`].
    pub version_pointer: Option<String>,
    /// See [`NewHook::plan`].
    pub plan: Option<RolloutPlan>,
    /// A note for people.
    pub description: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When a call was last accepted to act (epoch ms); a GitHub ping or
    /// an event the hook ignores does not count.
    pub last_used_at: Option<i64>,
}

/// Reply to a hook's creation: the only time its URL and secret are shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedHook {
    /// The hook as listed from now on.
    #[serde(flatten)]
    pub hook: Hook,
    /// The path to call, `/api/v1/hooks/<token>` (the token is random and
    /// not listed again).
    pub path: String,
    /// The signing secret (`whsec_` and base64 of 32 random bytes): as GitHub's
    /// webhook secret, or as a Standard Webhooks secret.
    pub secret: String,
}

/// What a call to a hook did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookResult {
    /// The hook.
    pub hook_id: i64,
    /// Its action.
    pub action: HookAction,
    /// False when there was nothing to do (a GitHub ping, a release event
    /// other than published, a rollout already paused).
    pub changed: bool,
    /// What happened, for people.
    pub detail: String,
    /// The bundle promoted or tried (a summary only: the reply may be
    /// shown to whoever sees the sender's delivery log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The rollout started or paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_id: Option<i64>,
}

//! API keys (`/api/v1/keys`): what a key may do, a key as listed, its
//! creation and the one reply that shows its secret.

use serde::{Deserialize, Serialize};

/// What an API key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// Read everything in scope.
    Read,
    /// Read, and upload bundles.
    Upload,
    /// Read, upload, and change apps, channels and devices.
    Write,
    /// Everything, including managing API keys.
    All,
}

impl KeyMode {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Upload => "upload",
            Self::Write => "write",
            Self::All => "all",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "read" => Self::Read,
            "upload" => Self::Upload,
            "write" => Self::Write,
            "all" => Self::All,
            _ => return None,
        })
    }
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Server-assigned id.
    pub id: i64,
    /// A label for people.
    pub name: String,
    /// What the key may do.
    pub mode: KeyMode,
    /// Allow-list of app ids; empty means every app.
    pub apps: Vec<String>,
    /// Epoch milliseconds from which the key is refused; `null`: never.
    pub expires_at: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub name: String,
    /// What the key may do.
    pub mode: KeyMode,
    /// Allow-list of app ids; empty means every app.
    #[serde(default)]
    pub apps: Vec<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Reply to key creation: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key as it is listed from now on.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The bearer token; the server keeps only its SHA-256.
    pub secret: String,
}

//! Targeting rules (which devices a channel or a rollout step reaches) and
//! the app's named cohorts those rules can name.

use serde::{Deserialize, Serialize};

/// A rule a device matches or not. One key per object:
/// `{"all": [..]}`, `{"any": [..]}`, `{"not": rule}`, `{"platform": ["ios"]}`,
/// `{"native": ">=2.0.0, <3"}`, `{"country": ["FR", "DE"]}`,
/// `{"custom_id": {"prefix": "qa-"}}`, `{"device_id": [uuid, ..]}`,
/// `{"cohort": "beta"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schema(no_recursion)]
pub enum Target {
    /// Every rule matches (an empty list matches every device).
    All(Vec<Target>),
    /// At least one rule matches (an empty list matches no device).
    Any(Vec<Target>),
    /// The rule does not match.
    Not(Box<Target>),
    /// The device's platform is one of these (`ios`, `android`, `electron`).
    Platform(Vec<String>),
    /// The device's native version (`version_build`) is in this semver range
    /// (`>=2.0.0, <3`); a native version that is not semver matches no range.
    Native(String),
    /// The device's country (ISO 3166-1 alpha-2, any case) is one of these;
    /// a device whose country is unknown matches none.
    Country(Vec<String>),
    /// The device's custom id (where the app allows them).
    CustomId(CustomIdRule),
    /// The device id is one of these (UUIDs, any case).
    DeviceId(Vec<String>),
    /// The device is in the app's named cohort.
    Cohort(String),
}

/// How a custom id is matched; a device without one matches none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CustomIdRule {
    /// Exactly this custom id.
    Equals(String),
    /// One of these custom ids.
    In(Vec<String>),
    /// A custom id starting with this (not empty).
    Prefix(String),
}

/// One of the app's named cohorts: devices by id and by custom id, named by
/// targeting rules (`{"cohort": name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedCohort {
    /// Unique within the app.
    pub name: String,
    /// Device ids (UUIDs, matched in any case).
    pub device_ids: Vec<String>,
    /// Custom ids (matched exactly, where the app allows them).
    pub custom_ids: Vec<String>,
    /// Epoch milliseconds of the last change.
    pub updated_at: i64,
}

/// Create or replace a named cohort's members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CohortMembers {
    /// Device ids (UUIDs).
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Custom ids.
    #[serde(default)]
    pub custom_ids: Vec<String>,
}

//! `GET /health`: whether the server and its database answer; `GET
//! /health/ready`: whether this node can serve everything (database and
//! file storage); `GET /health/live`: whether the process answers at all.

use serde::{Deserialize, Serialize};

/// `GET /health` (no key): whether the server and its database answer. HTTP
/// 200 with `{"status":"ok","database":"ok"}`, or 503 with
/// `{"status":"degraded","database":"unavailable"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The server's overall health.
    pub status: HealthStatus,
    /// Whether the database answers.
    pub database: DatabaseHealth,
}

impl Health {
    /// Everything answers.
    pub const OK: Health = Health {
        status: HealthStatus::Ok,
        database: DatabaseHealth::Ok,
    };
    /// The database does not answer.
    pub const DEGRADED: Health = Health {
        status: HealthStatus::Degraded,
        database: DatabaseHealth::Unavailable,
    };
}

/// The server's overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Serving normally.
    Ok,
    /// Up, but a dependency (the database) does not answer.
    Degraded,
}

/// Whether the database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseHealth {
    /// It answered a ping.
    Ok,
    /// It did not answer.
    Unavailable,
}

/// `GET /health/ready` (no key): whether this node can serve every request,
/// for a load balancer's readiness probe. HTTP 200 when both answer, 503
/// naming the one that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ok` when both answer, else `degraded`.
    pub status: HealthStatus,
    /// Whether the database answers.
    pub database: DatabaseHealth,
    /// Whether the file storage (the data directory or the bucket) answers.
    pub storage: StorageHealth,
}

/// Whether the file storage answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageHealth {
    /// It answered a listing.
    Ok,
    /// It did not answer, or refused this server.
    Unavailable,
}

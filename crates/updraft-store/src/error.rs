//! `StoreError`, what every store operation can fail with, and `StoreResult`.

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input names a bundle that is not a live (uploaded, not deleted)
    /// bundle of the app: a bad request, not a missing resource of the URL.
    #[error("{0}")]
    UnknownBundle(String),
    /// The input names a channel the app does not have (a bad request, as
    /// [`UnknownBundle`](Self::UnknownBundle)).
    #[error("{0}")]
    UnknownChannel(String),
    /// A targeting rule names a cohort the app does not have.
    #[error("{0}")]
    UnknownCohort(String),
    /// The input names a revoked bundle for a channel, a rollout or a pin.
    #[error("{0}")]
    Revoked(String),
    /// The operation conflicts with what exists (duplicate, still in use).
    #[error("{0}")]
    Conflict(String),
    /// The input breaks a rule the store enforces.
    #[error("{0}")]
    Invalid(String),
    /// The database failed; details are for the log, not the user.
    #[error("database error: {0}")]
    Backend(String),
    /// The database could not be reached or did not finish the work for a
    /// reason that passes (connection lost, busy or locked, serialization
    /// failure, deadlock): the same operation may succeed if retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether retrying the same operation later can succeed. Every other
    /// error is permanent for that input: retrying it changes nothing.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

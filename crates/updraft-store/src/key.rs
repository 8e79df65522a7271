//! [`KeyStore`]: management API keys, stored as hashes ([`StoredKey`]).

use async_trait::async_trait;
use updraft_protocol::api::{ApiKey, NewApiKey};

use crate::{Stamp, StoreResult};

/// A stored API key with its secret's hash, for authentication.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// The key as listed.
    pub key: ApiKey,
    /// The hash of its secret, as given to [`KeyStore::create_api_key`]
    /// (lowercase hex SHA-256).
    pub hash: String,
}

/// API keys. Each method is one transaction; each write appends its change
/// (`key.created`, `key.deleted`, outside any app) in it.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a key under `hash`, the hash of its secret (which the store
    /// never sees), and returns it. `Conflict` when a key has this hash.
    async fn create_api_key(
        &self,
        key: &NewApiKey,
        hash: &str,
        stamp: &Stamp,
    ) -> StoreResult<ApiKey>;
    /// The key whose secret hashes to `hash`, expired or not; `None` when
    /// there is none.
    async fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>>;
    /// Every key, oldest first, without hashes; empty when there are none.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Deletes key `id`, unless it is the last unscoped `all` key without an
    /// expiry (`Conflict`): a permanent admin must always remain. Two
    /// concurrent deletes of the last two such keys cannot both succeed.
    /// The stamp's time is the time of the request. `NotFound` when there is
    /// no key `id`.
    async fn delete_api_key(&self, id: i64, stamp: &Stamp) -> StoreResult<()>;
    /// How many keys are stored, expired ones included.
    async fn count_api_keys(&self) -> StoreResult<i64>;
}

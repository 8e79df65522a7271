//! [`KeyStore`]: management API keys, stored as hashes ([`StoredKey`]).

use async_trait::async_trait;
use updraft_protocol::api::{ApiKey, NewApiKey};

use crate::StoreResult;

/// A stored API key with its secret's hash, for authentication.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key: ApiKey,
    pub hash: String,
}

/// API keys. Each method is one transaction.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn create_api_key(&self, key: &NewApiKey, hash: &str, now: i64) -> StoreResult<ApiKey>;
    async fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Deletes key `id`, unless it is the last unscoped `all` key without an
    /// expiry (`Conflict`): a permanent admin must always remain. Two
    /// concurrent deletes of the last two such keys cannot both succeed.
    /// `now` is the time of the request.
    async fn delete_api_key(&self, id: i64, now: i64) -> StoreResult<()>;
    async fn count_api_keys(&self) -> StoreResult<i64>;
}

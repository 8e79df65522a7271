//! API keys made outside the management API: the first admin key on an
//! empty database, and `updraft-server admin create-key` from a shell.

use updraft_protocol::api::{KeyMode, NewApiKey};
use updraft_store::{Actor, Stamp, Store};

use crate::auth;
use crate::clock::now_ms;

/// Creates the first admin key on an empty database; returns its secret.
pub async fn bootstrap_key(
    store: &dyn Store,
    given: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if store.count_api_keys().await? > 0 {
        return Ok(None);
    }
    let secret = given.map(str::to_string).unwrap_or_else(auth::new_secret);
    let key = NewApiKey {
        name: "admin (first start)".into(),
        mode: KeyMode::All,
        apps: vec![],
        expires_at: None,
    };
    store
        .create_api_key(
            &key,
            &auth::hash_secret(&secret),
            &Stamp::new(now_ms(), Actor::Admin),
        )
        .await?;
    Ok(Some(secret))
}

/// Creates `key` with a new random secret and returns the secret (the shell's
/// `updraft-server admin create-key`).
pub async fn create_key(store: &dyn Store, key: &NewApiKey) -> anyhow::Result<String> {
    let secret = auth::new_secret();
    store
        .create_api_key(
            key,
            &auth::hash_secret(&secret),
            &Stamp::new(now_ms(), Actor::Admin),
        )
        .await?;
    Ok(secret)
}

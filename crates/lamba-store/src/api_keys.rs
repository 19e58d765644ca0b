//! Operator API keys: [`ApiKeyRepository`].

use async_trait::async_trait;
use lamba_model::{ApiKey, ApiKeyDigest};

use super::StoreResult;

#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>>;
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when the id or the key exists.
    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// Adds `key` only when no API key exists at all, atomically even when
    /// several servers start at once on one database. `Ok(true)` if added.
    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
    /// Adds `key` unless a key with the same digest exists. `Ok(true)` if added.
    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
}

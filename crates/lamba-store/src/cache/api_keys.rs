//! API keys pass through: a key is read once per operator request by
//! digest, and revoking one must take effect at once.

use async_trait::async_trait;
use lamba_model::{ApiKey, ApiKeyDigest};

use super::CachedStore;
use crate::{ApiKeyRepository, StoreResult};

#[async_trait]
impl ApiKeyRepository for CachedStore {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>> {
        self.inner.find_api_key_by_digest(digest).await
    }

    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.inner.add_api_key(key).await
    }

    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        self.inner.add_first_api_key(key).await
    }

    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        self.inner.ensure_api_key(key).await
    }
}

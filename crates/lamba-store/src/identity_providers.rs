//! Upstream identity providers: [`IdentityProviderRepository`].

use async_trait::async_trait;
use lamba_model::{IdentityProvider, IdentityProviderId, IdentityProviderType};

use super::StoreResult;

/// The columns every provider query reads, in this order.
pub const PROVIDER_COLUMNS: &str = "id, name, name_normalized, provider_type, enabled, config, \
     reconcile_lambda_id, secrets, secrets_sealed, insert_instant, last_update_instant";

#[async_trait]
pub trait IdentityProviderRepository: Send + Sync {
    async fn lookup_identity_provider(
        &self,
        id: IdentityProviderId,
    ) -> StoreResult<Option<IdentityProvider>>;
    /// All providers, or those of one type, ordered by name then id.
    async fn list_identity_providers(
        &self,
        provider_type: Option<IdentityProviderType>,
    ) -> StoreResult<Vec<IdentityProvider>>;
    /// With its managed domains, in one transaction. Fails with
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) naming `id`,
    /// `name` or `domains` when one is taken, and
    /// [`StoreError::Reference`](crate::StoreError::Reference) when the
    /// reconcile lambda does not exist.
    async fn add_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<()>;
    /// Replaces every mutable field and the managed domains, in one
    /// transaction; `Ok(false)` when the provider does not exist.
    async fn update_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<bool>;
    /// `Ok(false)` when the provider does not exist.
    async fn delete_identity_provider(&self, id: IdentityProviderId) -> StoreResult<bool>;
}

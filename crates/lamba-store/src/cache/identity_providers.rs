//! The identity provider list is cached under one entry (the sign-in page
//! and every federated login read it); a lookup by id is served from it.
//! Every write forgets it, here and, through the change feed, on every node.

use async_trait::async_trait;
use lamba_model::{
    FederationRequest, IdentityProvider, IdentityProviderId, IdentityProviderLink,
    IdentityProviderType, Instant, UserId,
};

use super::CachedStore;
use crate::{
    FederationRequestRepository, IdentityProviderLinkRepository, IdentityProviderRepository,
    Outbox, StoreResult,
};

impl CachedStore {
    async fn all_identity_providers(&self) -> StoreResult<Vec<IdentityProvider>> {
        let inner = &self.inner;
        let providers = self
            .read_through(&self.identity_providers, (), async move {
                inner.list_identity_providers(None).await.map(Some)
            })
            .await?;
        Ok(providers.unwrap_or_default())
    }
}

#[async_trait]
impl IdentityProviderRepository for CachedStore {
    async fn lookup_identity_provider(
        &self,
        id: IdentityProviderId,
    ) -> StoreResult<Option<IdentityProvider>> {
        Ok(self
            .all_identity_providers()
            .await?
            .into_iter()
            .find(|p| p.id == id))
    }

    async fn list_identity_providers(
        &self,
        provider_type: Option<IdentityProviderType>,
    ) -> StoreResult<Vec<IdentityProvider>> {
        let mut providers = self.all_identity_providers().await?;
        if let Some(wanted) = provider_type {
            providers.retain(|p| p.provider_type() == wanted);
        }
        Ok(providers)
    }

    async fn add_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<()> {
        let result = self.inner.add_identity_provider(provider).await;
        self.forget_identity_providers();
        result
    }

    async fn update_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<bool> {
        let result = self.inner.update_identity_provider(provider).await;
        self.forget_identity_providers();
        result
    }

    async fn delete_identity_provider(&self, id: IdentityProviderId) -> StoreResult<bool> {
        let result = self.inner.delete_identity_provider(id).await;
        self.forget_identity_providers();
        result
    }
}

/// Links pass through: each is read once per federated login.
#[async_trait]
impl IdentityProviderLinkRepository for CachedStore {
    async fn add_link(&self, link: &IdentityProviderLink, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_link(link, outbox).await
    }

    async fn find_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
    ) -> StoreResult<Option<IdentityProviderLink>> {
        self.inner.find_link(provider, provider_user_id).await
    }

    async fn find_linked_user(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        application: lamba_model::ApplicationId,
    ) -> StoreResult<Option<crate::LinkedUser>> {
        self.inner
            .find_linked_user(provider, provider_user_id, application)
            .await
    }

    async fn list_links(
        &self,
        user_id: UserId,
        provider: Option<IdentityProviderId>,
    ) -> StoreResult<Vec<IdentityProviderLink>> {
        self.inner.list_links(user_id, provider).await
    }

    async fn delete_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        user_id: UserId,
        outbox: &Outbox,
    ) -> StoreResult<Option<IdentityProviderLink>> {
        self.inner
            .delete_link(provider, provider_user_id, user_id, outbox)
            .await
    }

    async fn touch_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        at: Instant,
    ) -> StoreResult<bool> {
        self.inner.touch_link(provider, provider_user_id, at).await
    }
}

/// Single use and short-lived: never cached.
#[async_trait]
impl FederationRequestRepository for CachedStore {
    async fn add_federation_request(&self, request: &FederationRequest) -> StoreResult<()> {
        self.inner.add_federation_request(request).await
    }

    async fn take_federation_request(
        &self,
        state_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Option<FederationRequest>> {
        self.inner.take_federation_request(state_digest, now).await
    }

    async fn remember_assertion(
        &self,
        provider: IdentityProviderId,
        assertion_digest: &[u8],
        expires: Instant,
        now: Instant,
    ) -> StoreResult<bool> {
        self.inner
            .remember_assertion(provider, assertion_digest, expires, now)
            .await
    }
}

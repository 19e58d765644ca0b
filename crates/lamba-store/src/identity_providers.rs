//! Upstream identity providers and the links between local users and their
//! upstream identities: [`IdentityProviderRepository`],
//! [`IdentityProviderLinkRepository`].

use async_trait::async_trait;
use lamba_model::{
    ApplicationId, FederationRequest, IdentityProvider, IdentityProviderId, IdentityProviderLink,
    IdentityProviderType, Instant, Registration, User, UserId,
};

use super::{Outbox, StoreResult};

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

/// The columns every link query reads.
pub const LINK_COLUMNS: &str = "identity_provider_id, identity_provider_user_id, user_id, \
     display_name, insert_instant, last_login_instant";

/// A returning federated login's reads, from one query: the link, its
/// user, and the user's registration to the application signed in to.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkedUser {
    pub link: IdentityProviderLink,
    pub user: User,
    pub registration: Option<Registration>,
}

/// Links between local users and their upstream identities.
#[async_trait]
pub trait IdentityProviderLinkRepository: Send + Sync {
    /// With `outbox` (its webhook events), in one transaction. Fails with
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when the
    /// upstream identity is linked already, and
    /// [`StoreError::Reference`](crate::StoreError::Reference) when the
    /// provider or the user does not exist.
    async fn add_link(&self, link: &IdentityProviderLink, outbox: &Outbox) -> StoreResult<()>;
    async fn find_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
    ) -> StoreResult<Option<IdentityProviderLink>>;
    /// As [`find_link`](Self::find_link), with the linked user and their
    /// registration to `application`, in one read (a federated login's
    /// hot path: three point reads would be three round trips).
    async fn find_linked_user(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        application: ApplicationId,
    ) -> StoreResult<Option<LinkedUser>>;
    /// A user's links (to one provider, or to all), oldest first.
    async fn list_links(
        &self,
        user_id: UserId,
        provider: Option<IdentityProviderId>,
    ) -> StoreResult<Vec<IdentityProviderLink>>;
    /// Removes the link if it belongs to `user_id`, with `outbox`, in one
    /// transaction, and returns it; `None` (and no event) when there was no
    /// such link.
    async fn delete_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        user_id: UserId,
        outbox: &Outbox,
    ) -> StoreResult<Option<IdentityProviderLink>>;
    /// Records a login through the link; `Ok(false)` when it is gone.
    async fn touch_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        at: Instant,
    ) -> StoreResult<bool>;
}

/// The columns every federation request query reads.
pub const FEDERATION_REQUEST_COLUMNS: &str = "state_digest, identity_provider_id, \
     application_id, browser_digest, authorize_request, insert_instant, expires_instant, \
     pending_link";

/// Browsers on their way to an upstream provider and back.
#[async_trait]
pub trait FederationRequestRepository: Send + Sync {
    /// Fails with [`StoreError::Reference`](crate::StoreError::Reference)
    /// when the provider or the application does not exist.
    async fn add_federation_request(&self, request: &FederationRequest) -> StoreResult<()>;
    /// Removes the request and returns it if it has not expired at `now`:
    /// each state is answered once, whichever node the callback reaches.
    async fn take_federation_request(
        &self,
        state_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Option<FederationRequest>>;
    /// Records that the SAML assertion whose ID hashes to
    /// `assertion_digest` was accepted from `provider`, remembered until
    /// `expires`. `Ok(false)` when it is remembered already (a replay),
    /// decided atomically across nodes; an entry past its expiry at `now`
    /// is replaced.
    async fn remember_assertion(
        &self,
        provider: IdentityProviderId,
        assertion_digest: &[u8],
        expires: Instant,
        now: Instant,
    ) -> StoreResult<bool>;
}

//! The storage interface: one trait per aggregate, and [`Store`], which a
//! backend implements once. `lamba-store-sqlite` and `lamba-store-postgres`
//! are the two backends; the binary picks one from the database URL and
//! everything above sees only `Arc<dyn Store>`.
//!
//! Lookups return `Ok(None)` for "not found"; `Err` always means the
//! database failed or answered something it should not have.

use std::sync::Arc;

use async_trait::async_trait;
use lamba_model::{ApplicationId, LambdaId};
pub use lamba_model::{AuthorizationCode, CodeConsumption, LoginSession, RefreshToken, Rotation};
use uuid::Uuid;

mod api_keys;
mod applications;
mod audit;
mod cache;
pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod event_log;
mod identity_providers;
mod keys;
mod lambdas;
pub mod rows;
mod scopes;
mod sessions;
mod tenancy;
mod users;
mod webhook;

pub use api_keys::ApiKeyRepository;
pub use applications::ApplicationRepository;

pub use audit::{AuditRepository, LoginFailureRepository};
pub use cache::CachedStore;
pub use event_log::EventLogRepository;
pub use identity_providers::{
    FEDERATION_REQUEST_COLUMNS, FederationRequestRepository, IdentityProviderLinkRepository,
    IdentityProviderRepository, LINK_COLUMNS, LinkedUser, PROVIDER_COLUMNS,
};
pub use keys::KeyRepository;
pub use lambdas::LambdaRepository;
pub use scopes::{ScopeFilter, ScopeGuard, ScopeRepository, ScopedRefreshGrant};
pub use sessions::{RefreshGrant, SessionRepository};
pub use tenancy::TenancyRepository;
pub use users::UserRepository;
pub use webhook::{
    DeliveryFilter, EndedScope, Outbox, RetryOutcome, UNFINISHED_LAST_ATTEMPT, WebhookRepository,
};

/// A change to stored data that caches must hear of. Backends report every
/// write they make; PostgreSQL also reports the writes of other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Lambda(LambdaId),
    Application(ApplicationId),
    /// Signing keys were added, rotated or removed.
    SigningKeys,
    /// A login session ended: its tokens are dead on every node.
    SessionEnded(Uuid),
    /// An access token (by `jti`) was revoked, until the instant after which
    /// no token can carry it (`None` from a node of an older version, which
    /// did not say).
    AccessTokenRevoked(Uuid, Option<lamba_model::Instant>),
    /// A scoped session ended: its tokens are dead on every node.
    ScopeEnded(Uuid),
    /// A project, its catalog or its environments changed.
    Project(lamba_model::ProjectId),
    /// A membership changed or was removed.
    Member(lamba_model::ProjectId, lamba_model::UserId),
    /// A webhook was added, changed or removed.
    Webhooks,
    /// An identity provider was added, changed or removed.
    IdentityProviders,
    /// The feed may have missed changes (its connection dropped): forget
    /// everything cached, and cache nothing until [`Change::Live`].
    Lost,
    /// The feed is live again: every change from now on is reported.
    Live,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same unique key already exists.
    #[error("a record with this {0} already exists")]
    Conflict(&'static str),
    /// The write names a row that does not exist, or removes one that
    /// others still name (a foreign key refused it).
    #[error("a referenced record is missing or still referenced")]
    Reference,
    /// The database holds something this version cannot read.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database is out of reach for now: a connection failed or was
    /// cut, the pool had none free in time, the database is busy, locked
    /// or shutting down. The same request may succeed shortly (a 503, not
    /// a 500).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database refused the statement, or failed in a way retrying
    /// will not fix.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the server keeps, behind one object.
///
/// Writes that take an [`Outbox`] store its events in their own
/// transaction, and only when the write takes effect.
#[async_trait]
pub trait Store:
    LambdaRepository
    + ApiKeyRepository
    + ApplicationRepository
    + UserRepository
    + KeyRepository
    + SessionRepository
    + TenancyRepository
    + ScopeRepository
    + EventLogRepository
    + AuditRepository
    + LoginFailureRepository
    + WebhookRepository
    + IdentityProviderRepository
    + IdentityProviderLinkRepository
    + FederationRequestRepository
    + Send
    + Sync
    + 'static
{
    /// The backend's name, for logs: `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Waits for in-flight statements and closes every connection.
    async fn close(&self);
    /// Changes to stored data, from this process and, where the backend
    /// is shared, from every other node.
    fn changes(&self) -> tokio::sync::broadcast::Receiver<Change>;
    /// Whether [`Store::changes`] reports every change right now.
    fn is_change_feed_live(&self) -> bool;
}

pub type DynStore = Arc<dyn Store>;

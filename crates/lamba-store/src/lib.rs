//! The storage interface: one trait per aggregate, and [`Store`], which a
//! backend implements once. `lamba-store-sqlite` and `lamba-store-postgres`
//! are the two backends; the binary picks one from the database URL and
//! everything above sees only `Arc<dyn Store>`.
//!
//! Lookups return `Ok(None)` for "not found"; `Err` always means the
//! database failed or answered something it should not have.

use std::sync::Arc;

use async_trait::async_trait;
use lamba_model::{
    ApiKey, ApiKeyDigest, Application, ApplicationId, Instant, Lambda, LambdaId, LambdaType,
    Registration, ServerSecret, SigningKeyRecord, User, UserId,
};
pub use lamba_model::{AuthorizationCode, CodeConsumption, LoginSession, RefreshToken, Rotation};
use uuid::Uuid;

mod audit;
mod cache;
pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod event_log;
mod tenancy;
mod webhook;

pub use audit::{AuditRepository, LoginFailureRepository};
pub use cache::CachedStore;
pub use event_log::EventLogRepository;
pub use tenancy::{
    ScopeFilter, ScopeGuard, ScopeRepository, ScopedRefreshGrant, TenancyRepository,
};
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
    /// An access token (by `jti`) was revoked.
    AccessTokenRevoked(Uuid),
    /// A scoped session ended: its tokens are dead on every node.
    ScopeEnded(Uuid),
    /// A project, its catalog or its environments changed.
    Project(lamba_model::ProjectId),
    /// A membership changed or was removed.
    Member(lamba_model::ProjectId, lamba_model::UserId),
    /// A webhook was added, changed or removed.
    Webhooks,
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
    /// The database could not be reached or refused the statement.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait LambdaRepository: Send + Sync {
    async fn lookup_lambda(&self, id: LambdaId) -> StoreResult<Option<Lambda>>;
    /// All lambdas, or those of one type, ordered by name then id.
    async fn list_lambdas(&self, lambda_type: Option<LambdaType>) -> StoreResult<Vec<Lambda>>;
    /// Fails with [`StoreError::Conflict`] when the id is taken.
    async fn add_lambda(&self, lambda: &Lambda) -> StoreResult<()>;
    /// Replaces every mutable field; `Ok(false)` when the lambda does not exist.
    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool>;
    /// `Ok(false)` when the lambda does not exist; [`StoreError::Reference`]
    /// when an application still names it.
    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool>;
}

#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>>;
    /// Fails with [`StoreError::Conflict`] when the id or the key exists.
    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// Adds `key` only when no API key exists at all, atomically even when
    /// several servers start at once on one database. `Ok(true)` if added.
    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
    /// Adds `key` unless a key with the same digest exists. `Ok(true)` if added.
    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
}

#[async_trait]
pub trait ApplicationRepository: Send + Sync {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>>;
    /// All applications, ordered by name then id.
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
    /// [`StoreError::Conflict`] when the id is taken; [`StoreError::Reference`]
    /// when a named lambda does not exist.
    async fn add_application(&self, application: &Application) -> StoreResult<()>;
    async fn update_application(&self, application: &Application) -> StoreResult<bool>;
    /// Removes the application and its registrations.
    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool>;
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Case-insensitive, by [`User::normalize_email`].
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// [`StoreError::Conflict`] with `"email"` when the email is taken.
    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()>;
    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool>;
    /// Removes the user and their registrations.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>>;
    /// A user's registrations, ordered by application id.
    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>>;
    /// [`StoreError::Conflict`] when it exists; [`StoreError::Reference`]
    /// when the user or the application does not.
    async fn add_registration(&self, registration: &Registration) -> StoreResult<()>;
    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool>;
    async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores `secret` unless one of that name exists, and returns the one
    /// stored: every node ends up with the same secret.
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret>;
    /// Every signing key, newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds `key` only when no active key of its algorithm exists, atomically
    /// across nodes. `Ok(true)` if added.
    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool>;
    /// Retires the active keys of `key.algorithm` (no longer signing from
    /// `now`, published until `expires`) and adds `key`, in one transaction.
    async fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
        now: Instant,
        expires: Instant,
    ) -> StoreResult<()>;
    /// Removes keys whose publication ended before `now`; returns how many.
    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64>;
}

/// A refresh token with what rotating it needs, read in one query: its login
/// session, its user, and the user's roles in the token's application
/// (empty without a registration).
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshGrant {
    pub token: RefreshToken,
    pub session: LoginSession,
    pub user: User,
    pub roles: Vec<String>,
}

/// Login sessions, authorization codes, refresh tokens and revoked access
/// tokens. Every method that ends or revokes something reports it on the
/// change feed, so that every node rejects the dead tokens at once.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()>;
    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>>;
    /// A user's sessions, newest first (ended ones included).
    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>>;
    /// Sets `last_used_instant` of an active session.
    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()>;
    /// Ends an active session, its scoped sessions and all their refresh
    /// tokens, in one transaction; reports [`Change::SessionEnded`].
    /// Returns the scopes it ended, or `None` when the session was not
    /// active (and then nothing is stored, the outbox's events neither).
    async fn end_login_session(
        &self,
        id: Uuid,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    /// Ids of sessions that ended at or after `since`: the set a node keeps
    /// in memory to reject their unexpired tokens without a query.
    async fn list_sessions_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>>;

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Marks the code used, atomically: of two concurrent exchanges exactly
    /// one sees [`CodeConsumption::Fresh`].
    async fn consume_authorization_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<CodeConsumption>;

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>>;
    /// The token with its session, user and roles, in one round trip.
    async fn find_refresh_grant(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>>;
    /// Marks `old_id` used, stores `new` and records the use of its login
    /// session (`last_used_instant = now`), atomically: of two concurrent
    /// rotations of one token exactly one sees [`Rotation::Rotated`].
    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        new: &RefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation>;
    /// Moves a reusable token's expiry (the `SlidingWindow` policy).
    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()>;
    /// Revokes one token; `Ok(false)` when it was unknown or revoked already.
    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool>;
    /// Revokes every token of a family; returns how many were live.
    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64>;
    /// Revokes every token whose family began with this code exchange.
    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<u64>;

    /// Records a revoked access token until it would have expired anyway;
    /// reports [`Change::AccessTokenRevoked`].
    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()>;
    /// The revoked access tokens that have not expired at `now`.
    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<Uuid>>;
    /// Deletes what can no longer matter: expired codes, refresh tokens and
    /// revocations, and sessions ended before `ended_before`.
    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64>;
}

/// Everything the server keeps, behind one object.
///
/// Writes that take an [`Outbox`] store its events in their own
/// transaction, and only when the write takes effect (see [`webhook`]).
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

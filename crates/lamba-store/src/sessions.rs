//! Login sessions, authorization codes, refresh tokens and revoked access
//! tokens: [`SessionRepository`].

use async_trait::async_trait;
use lamba_model::{AuthorizationCode, CodeConsumption, LoginSession, RefreshToken, Rotation};
use lamba_model::{Instant, User, UserId};
use uuid::Uuid;

use super::{Outbox, StoreResult};

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
    /// tokens, in one transaction; reports [`Change::SessionEnded`](crate::Change::SessionEnded).
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
    /// The code, used or not, without consuming it: an exchange checks the
    /// client, redirect URI and PKCE first, so that a wrong attempt (an
    /// intercepted code tried without its verifier) does not burn it.
    async fn find_authorization_code(
        &self,
        code_digest: &[u8],
    ) -> StoreResult<Option<AuthorizationCode>>;
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
    /// Every token of a family, used, revoked or not, oldest first.
    async fn list_refresh_family(&self, family_id: Uuid) -> StoreResult<Vec<RefreshToken>>;
    /// Revokes every token whose family began with this code exchange;
    /// returns the families it revoked live tokens of.
    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Vec<Uuid>>;

    /// Records a revoked access token until it would have expired anyway;
    /// reports [`Change::AccessTokenRevoked`](crate::Change::AccessTokenRevoked).
    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()>;
    /// The revoked access tokens that have not expired at `now`, each with
    /// its expiry (when the in-memory list may forget it).
    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<(Uuid, Instant)>>;
    /// Whether `jti` is revoked and not expired at `now`: one indexed
    /// lookup, what a check costs while the change feed is down.
    async fn is_access_token_revoked(&self, jti: Uuid, now: Instant) -> StoreResult<bool>;
    /// Deletes what can no longer matter: expired codes, refresh tokens and
    /// revocations, and sessions ended before `ended_before`.
    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64>;
}

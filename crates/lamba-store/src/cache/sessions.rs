//! Login sessions, codes and tokens pass through: whether a session is
//! live is never read from the cache.

use async_trait::async_trait;
use lamba_model::{Instant, UserId};

use super::CachedStore;
use crate::{
    AuthorizationCode, CodeConsumption, LoginSession, Outbox, RefreshGrant, RefreshToken, Rotation,
    SessionRepository, StoreResult,
};
use uuid::Uuid;

#[async_trait]
impl SessionRepository for CachedStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_login_session(session, outbox).await
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        self.inner.lookup_login_session(id).await
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        self.inner.list_login_sessions(user_id).await
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        self.inner.touch_login_session(id, now).await
    }

    async fn end_login_session(
        &self,
        id: Uuid,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        self.inner.end_login_session(id, now, reason, outbox).await
    }

    async fn list_sessions_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        self.inner.list_sessions_ended_since(since).await
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.inner.add_authorization_code(code).await
    }

    async fn find_authorization_code(
        &self,
        code_digest: &[u8],
    ) -> StoreResult<Option<AuthorizationCode>> {
        self.inner.find_authorization_code(code_digest).await
    }

    async fn consume_authorization_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<CodeConsumption> {
        self.inner
            .consume_authorization_code(code_digest, now)
            .await
    }

    async fn list_refresh_family(&self, family_id: Uuid) -> StoreResult<Vec<RefreshToken>> {
        self.inner.list_refresh_family(family_id).await
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.inner.add_refresh_token(token).await
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        self.inner.find_refresh_token(token_digest).await
    }

    async fn find_refresh_grant(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>> {
        self.inner.find_refresh_grant(token_digest).await
    }

    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        new: &RefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        self.inner
            .rotate_refresh_token(old_id, new, now, outbox)
            .await
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        self.inner.extend_refresh_token(id, expires).await
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        self.inner.revoke_refresh_token(id, now).await
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        self.inner.revoke_refresh_family(family_id, now).await
    }

    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Vec<Uuid>> {
        self.inner
            .revoke_refresh_tokens_of_code(code_digest, now)
            .await
    }

    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()> {
        self.inner.revoke_access_token(jti, expires).await
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<(Uuid, Instant)>> {
        self.inner.list_revoked_access_tokens(now).await
    }

    async fn is_access_token_revoked(&self, jti: Uuid, now: Instant) -> StoreResult<bool> {
        self.inner.is_access_token_revoked(jti, now).await
    }

    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64> {
        self.inner.prune_sessions(now, ended_before).await
    }
}

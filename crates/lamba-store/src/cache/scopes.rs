//! Scoped sessions pass through: whether a scope is live is never read
//! from the cache.

use async_trait::async_trait;
use lamba_model::{Environment, Instant, ProjectId, ScopedRefreshToken, ScopedSession};

use super::CachedStore;
use crate::{
    Outbox, Rotation, ScopeFilter, ScopeGuard, ScopeRepository, ScopedRefreshGrant, StoreResult,
};
use uuid::Uuid;

#[async_trait]
impl ScopeRepository for CachedStore {
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        self.inner
            .add_scoped_session(scope, refresh, guard, outbox)
            .await
    }

    async fn lookup_scoped_session(&self, id: Uuid) -> StoreResult<Option<ScopedSession>> {
        self.inner.lookup_scoped_session(id).await
    }

    async fn list_scoped_sessions(
        &self,
        project_id: ProjectId,
        environment: Environment,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<ScopedSession>> {
        self.inner
            .list_scoped_sessions(project_id, environment, after, limit)
            .await
    }

    async fn find_scoped_refresh_grant(
        &self,
        token_digest: &[u8],
    ) -> StoreResult<Option<ScopedRefreshGrant>> {
        self.inner.find_scoped_refresh_grant(token_digest).await
    }

    async fn rotate_scoped_refresh_token(
        &self,
        old_id: Uuid,
        new: &ScopedRefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        self.inner
            .rotate_scoped_refresh_token(old_id, new, now, outbox)
            .await
    }

    async fn end_scoped_sessions(
        &self,
        filter: &ScopeFilter,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>> {
        self.inner
            .end_scoped_sessions(filter, now, reason, outbox)
            .await
    }

    async fn list_scopes_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        self.inner.list_scopes_ended_since(since).await
    }
}

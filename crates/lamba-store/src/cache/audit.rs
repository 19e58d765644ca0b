//! The audit trail and the login-failure counters pass through: they are
//! written more than read, and a lockout must be seen by every node.

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant};

use super::CachedStore;
use crate::{AuditRepository, LoginFailureRepository, StoreResult};

#[async_trait]
impl AuditRepository for CachedStore {
    async fn append_audit_events(&self, events: &[lamba_model::AuditEvent]) -> StoreResult<()> {
        self.inner.append_audit_events(events).await
    }

    async fn search_audit_events(
        &self,
        filter: &lamba_model::AuditFilter,
    ) -> StoreResult<Vec<lamba_model::AuditEvent>> {
        self.inner.search_audit_events(filter).await
    }

    async fn prune_audit_events(&self, older_than: Instant) -> StoreResult<u64> {
        self.inner.prune_audit_events(older_than).await
    }
}

#[async_trait]
impl LoginFailureRepository for CachedStore {
    async fn login_locked_until(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<Option<Instant>> {
        self.inner
            .login_locked_until(application_id, identifier_digest)
            .await
    }

    async fn add_login_failure(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        now: Instant,
        window_started_before: Instant,
    ) -> StoreResult<u64> {
        self.inner
            .add_login_failure(
                application_id,
                identifier_digest,
                now,
                window_started_before,
            )
            .await
    }

    async fn lock_login(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        until: Instant,
    ) -> StoreResult<()> {
        self.inner
            .lock_login(application_id, identifier_digest, until)
            .await
    }

    async fn clear_login_failures(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<()> {
        self.inner
            .clear_login_failures(application_id, identifier_digest)
            .await
    }

    async fn prune_login_failures(&self, before: Instant) -> StoreResult<u64> {
        self.inner.prune_login_failures(before).await
    }
}

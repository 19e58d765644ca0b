//! The audit log's storage (append, search, prune by age), and the
//! failed-sign-in counters of the lockout policy.
//!
//! The audit log is append-only: there is no way to change or delete an
//! event except pruning past the retention period.

use async_trait::async_trait;
use lamba_model::{ApplicationId, AuditEvent, AuditFilter, Instant};

use crate::StoreResult;

#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends the events, in one statement or transaction. An event whose
    /// id exists already is skipped, so a retried batch is harmless.
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// One page of the events that match, newest first by
    /// `(occurred_at, id)`, at most `filter.limit` of them, starting after
    /// `filter.after`.
    async fn search_audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Deletes events that occurred before `older_than`; returns how many.
    async fn prune_audit_events(&self, older_than: Instant) -> StoreResult<u64>;
}

/// Failed sign-ins per (application, identifier), shared by every node.
/// The identifier is a SHA-256 digest of the normalised email, so no email
/// is kept for accounts that do not exist.
#[async_trait]
pub trait LoginFailureRepository: Send + Sync {
    /// Until when sign-ins of this identifier are refused, if a lockout is on
    /// record (it may have ended already: compare with now).
    async fn login_locked_until(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<Option<Instant>>;
    /// Counts one failure, atomically, and returns the count of the current
    /// window. A window that began at or before `window_started_before` is
    /// over: the count starts again at one.
    async fn add_login_failure(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        now: Instant,
        window_started_before: Instant,
    ) -> StoreResult<u64>;
    /// Locks the identifier until `until` and resets its count.
    async fn lock_login(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        until: Instant,
    ) -> StoreResult<()>;
    /// Forgets the failures and any lockout (a successful sign-in).
    async fn clear_login_failures(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<()>;
    /// Deletes records whose window began before `before` and whose lockout,
    /// if any, ended before it; returns how many.
    async fn prune_login_failures(&self, before: Instant) -> StoreResult<u64>;
}

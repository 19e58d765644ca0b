//! Scoped sessions and their refresh tokens: [`ScopeRepository`], and what
//! entering a project must still find true when the scope is stored
//! ([`ScopeGuard`]).

use async_trait::async_trait;
use lamba_model::{
    Environment, Instant, LoginSession, ProjectId, Rotation, ScopedRefreshToken, ScopedSession,
    UserId,
};
use uuid::Uuid;

use crate::{Outbox, StoreResult};

/// Which active scoped sessions to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeFilter {
    /// Every scope of a project (archived, deleted).
    Project(ProjectId),
    /// Every scope of one environment (disabled).
    Environment(ProjectId, Environment),
    /// One member's scopes in a project, in one environment or both.
    Member(ProjectId, UserId, Option<Environment>),
    /// These scopes.
    Ids(Vec<Uuid>),
}

/// What entering a project read, which must still hold when the scope is
/// stored: the project (and its catalog) and the membership unchanged, the
/// member not locked, the login live. Checked in the inserting statement
/// while holding those rows, so a concurrent change either makes the
/// insert fail or comes after it and ends the new scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeGuard {
    pub project_revision: i64,
    pub member_revision: i64,
}

/// A scoped refresh token with its scope and the scope's login session,
/// read in one query.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopedRefreshGrant {
    pub token: ScopedRefreshToken,
    pub scope: ScopedSession,
    pub login: LoginSession,
}

/// Scoped sessions and their refresh tokens.
#[async_trait]
pub trait ScopeRepository: Send + Sync {
    /// Stores a new scope and, when its contract is refreshable, its first
    /// refresh token, atomically, if `guard` still holds (`Ok(false)`
    /// otherwise, and nothing is stored). `None` skips the check: only for
    /// scopes with no membership behind them (tests).
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool>;
    async fn lookup_scoped_session(&self, id: Uuid) -> StoreResult<Option<ScopedSession>>;
    /// Active scopes of a project environment ordered by id, after `after`.
    async fn list_scoped_sessions(
        &self,
        project_id: ProjectId,
        environment: Environment,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<ScopedSession>>;
    async fn find_scoped_refresh_grant(
        &self,
        token_digest: &[u8],
    ) -> StoreResult<Option<ScopedRefreshGrant>>;
    /// Marks `old_id` used, stores `new` and records the scope's use,
    /// atomically; of two concurrent rotations exactly one wins.
    async fn rotate_scoped_refresh_token(
        &self,
        old_id: Uuid,
        new: &ScopedRefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation>;
    /// Ends the active scopes `filter` names and revokes their refresh
    /// tokens; reports each on the feed. Returns the ended scopes.
    async fn end_scoped_sessions(
        &self,
        filter: &ScopeFilter,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>>;
    /// Ids of scopes that ended at or after `since`.
    async fn list_scopes_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>>;
}

//! Storage of the tenancy model and of scoped sessions.

use async_trait::async_trait;
pub use lamba_model::Rotation;
use lamba_model::{
    Environment, Instant, LoginSession, Project, ProjectId, ProjectMember, ProjectRole, RoleId,
    ScopedRefreshToken, ScopedSession, UserId, Workspace, WorkspaceId,
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

/// Workspaces, projects, role catalogs and members. Writes that take
/// something away from members end the affected scoped sessions in the
/// same transaction, and report each on the change feed.
#[async_trait]
pub trait TenancyRepository: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the id is taken.
    async fn add_workspace(&self, workspace: &Workspace) -> StoreResult<()>;
    async fn lookup_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    /// Ordered by name then id.
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn update_workspace(&self, workspace: &Workspace) -> StoreResult<bool>;
    /// [`crate::StoreError::Reference`] while it has projects.
    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool>;

    /// [`crate::StoreError::Reference`] when the workspace does not exist.
    async fn add_project(&self, project: &Project) -> StoreResult<()>;
    async fn lookup_project(&self, id: ProjectId) -> StoreResult<Option<Project>>;
    /// A workspace's projects, ordered by name then id.
    async fn list_projects(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Project>>;
    /// Replaces the project and ends the scopes `revoke` names, atomically.
    /// Returns the ended scopes, or `None` when the project does not exist.
    async fn update_project(
        &self,
        project: &Project,
        revoke: &[ScopeFilter],
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    /// Ends the project's scopes and removes it with its roles and members.
    async fn delete_project(
        &self,
        id: ProjectId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool>;

    /// [`crate::StoreError::Conflict`] with `"name"` when the project has a
    /// role of that name; [`crate::StoreError::Reference`] without the project.
    async fn add_role(&self, role: &ProjectRole) -> StoreResult<()>;
    async fn lookup_role(
        &self,
        project_id: ProjectId,
        id: RoleId,
    ) -> StoreResult<Option<ProjectRole>>;
    /// A project's catalog, ordered by name.
    async fn list_roles(&self, project_id: ProjectId) -> StoreResult<Vec<ProjectRole>>;
    /// Replaces the role and ends the scopes that hold it, atomically.
    async fn update_role(
        &self,
        role: &ProjectRole,
        previous_name: &str,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    async fn delete_role(&self, project_id: ProjectId, id: RoleId) -> StoreResult<bool>;

    /// [`crate::StoreError::Conflict`] when the user is a member already;
    /// [`crate::StoreError::Reference`] when the user or project is missing.
    async fn add_member(&self, member: &ProjectMember, outbox: &Outbox) -> StoreResult<()>;
    async fn lookup_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>>;
    /// A page of a project's members ordered by user id, after `after`.
    async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<ProjectMember>>;
    /// A user's memberships, ordered by project id.
    async fn list_memberships(&self, user_id: UserId) -> StoreResult<Vec<ProjectMember>>;
    /// Replaces the member and ends all their scopes in the project,
    /// atomically, if its `revision` is still the stored one (else
    /// [`crate::StoreError::Conflict`] with `"revision"`: another write came
    /// first). `None` when they are not a member.
    async fn update_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    /// Removes the member and ends their scopes, atomically.
    async fn delete_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
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

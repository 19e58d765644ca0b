//! Storage of the tenancy model: [`TenancyRepository`].

use async_trait::async_trait;
use lamba_model::{
    Instant, Project, ProjectId, ProjectMember, ProjectRole, RoleId, UserId, Workspace, WorkspaceId,
};
use uuid::Uuid;

use crate::{Outbox, ScopeFilter, StoreResult};

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
    /// Removes the member and ends their scopes, atomically, if its
    /// `revision` is still the stored one (else
    /// [`crate::StoreError::Conflict`] with `"revision"`), so that whatever
    /// the caller checked of the member still holds. `None` when they are
    /// not a member.
    async fn delete_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>>;
}

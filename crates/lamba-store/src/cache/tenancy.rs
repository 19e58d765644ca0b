//! Projects, their role catalogs and memberships are cached (read on
//! every switch-context); writes forget what they touched.

use async_trait::async_trait;
use lamba_model::{
    Instant, Project, ProjectId, ProjectMember, ProjectRole, RoleId, UserId, Workspace, WorkspaceId,
};

use super::CachedStore;
use crate::{Outbox, ScopeFilter, StoreResult, TenancyRepository};
use uuid::Uuid;

#[async_trait]
impl TenancyRepository for CachedStore {
    async fn add_workspace(&self, workspace: &Workspace) -> StoreResult<()> {
        self.inner.add_workspace(workspace).await
    }

    async fn lookup_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        self.inner.lookup_workspace(id).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.inner.list_workspaces().await
    }

    async fn update_workspace(&self, workspace: &Workspace) -> StoreResult<bool> {
        self.inner.update_workspace(workspace).await
    }

    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool> {
        self.inner.delete_workspace(id).await
    }

    async fn add_project(&self, project: &Project) -> StoreResult<()> {
        let result = self.inner.add_project(project).await;
        self.forget_project(project.id);
        result
    }

    async fn lookup_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        self.read_through(&self.projects, id, self.inner.lookup_project(id))
            .await
    }

    async fn list_projects(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Project>> {
        self.inner.list_projects(workspace_id).await
    }

    async fn update_project(
        &self,
        project: &Project,
        revoke: &[ScopeFilter],
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self
            .inner
            .update_project(project, revoke, now, outbox)
            .await;
        self.forget_project(project.id);
        result
    }

    async fn delete_project(
        &self,
        id: ProjectId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let result = self.inner.delete_project(id, now, outbox).await;
        self.forget_project(id);
        result
    }

    async fn add_role(&self, role: &ProjectRole) -> StoreResult<()> {
        let result = self.inner.add_role(role).await;
        self.forget_project(role.project_id);
        result
    }

    async fn lookup_role(
        &self,
        project_id: ProjectId,
        id: RoleId,
    ) -> StoreResult<Option<ProjectRole>> {
        self.inner.lookup_role(project_id, id).await
    }

    async fn list_roles(&self, project_id: ProjectId) -> StoreResult<Vec<ProjectRole>> {
        let inner = &self.inner;
        let roles = self
            .read_through(&self.roles, project_id, async move {
                inner.list_roles(project_id).await.map(Some)
            })
            .await?;
        Ok(roles.unwrap_or_default())
    }

    async fn update_role(
        &self,
        role: &ProjectRole,
        previous_name: &str,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self
            .inner
            .update_role(role, previous_name, now, outbox)
            .await;
        self.forget_project(role.project_id);
        result
    }

    async fn delete_role(&self, project_id: ProjectId, id: RoleId) -> StoreResult<bool> {
        let result = self.inner.delete_role(project_id, id).await;
        self.forget_project(project_id);
        result
    }

    async fn add_member(&self, member: &ProjectMember, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_member(member, outbox).await
    }

    async fn lookup_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>> {
        self.read_through(
            &self.members,
            (project_id, user_id),
            self.inner.lookup_member(project_id, user_id),
        )
        .await
    }

    async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<ProjectMember>> {
        self.inner.list_members(project_id, after, limit).await
    }

    async fn list_memberships(&self, user_id: UserId) -> StoreResult<Vec<ProjectMember>> {
        self.inner.list_memberships(user_id).await
    }

    async fn update_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self.inner.update_member(member, now, outbox).await;
        self.forget_member(member.project_id, member.user_id);
        result
    }

    async fn delete_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self.inner.delete_member(member, now, outbox).await;
        self.forget_member(member.project_id, member.user_id);
        result
    }
}

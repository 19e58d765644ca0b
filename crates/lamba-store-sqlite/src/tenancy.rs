//! Workspaces, projects, roles, members and scoped sessions on SQLite.
//!
//! Every write that takes something away from members ends the affected
//! scoped sessions in its own transaction, and reports each after commit.

use async_trait::async_trait;
use lamba_model::{
    Instant, Project, ProjectId, ProjectMember, ProjectRole, RoleId, UserId, Workspace, WorkspaceId,
};
use lamba_store::{Change, Outbox, ScopeFilter, StoreError, StoreResult, TenancyRepository, codec};
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::scopes::Target;
use crate::scopes::end_scopes;

use super::webhook::insert_outbox;
use super::{SqliteStore, backend, write_error};

const WORKSPACE_COLUMNS: &str = "id, name, insert_instant, last_update_instant";

fn workspace_from_row(row: &SqliteRow) -> StoreResult<Workspace> {
    lamba_store::rows::workspace(&crate::Lite(row))
}

const PROJECT_COLUMNS: &str = "id, workspace_id, name, state, visibility, environments, \
     insert_instant, last_update_instant";

fn project_from_row(row: &SqliteRow) -> StoreResult<Project> {
    lamba_store::rows::project(&crate::Lite(row))
}

const ROLE_COLUMNS: &str =
    "id, project_id, name, description, permissions, insert_instant, last_update_instant";

fn role_from_row(row: &SqliteRow) -> StoreResult<ProjectRole> {
    lamba_store::rows::role(&crate::Lite(row))
}

const MEMBER_COLUMNS: &str =
    "project_id, user_id, roles, locked, insert_instant, last_update_instant";

fn member_from_row(row: &SqliteRow) -> StoreResult<ProjectMember> {
    lamba_store::rows::member(&crate::Lite(row))
}

#[async_trait]
impl TenancyRepository for SqliteStore {
    async fn add_workspace(&self, workspace: &Workspace) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES (?, ?, ?, ?)"
        ))
        .bind(workspace.id.to_string())
        .bind(&workspace.name)
        .bind(workspace.insert_instant.as_millis())
        .bind(workspace.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        Ok(())
    }

    async fn lookup_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        let rows = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn update_workspace(&self, workspace: &Workspace) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE workspaces SET name = ?, last_update_instant = ? WHERE id = ?")
                .bind(&workspace.name)
                .bind(workspace.last_update_instant.as_millis())
                .bind(workspace.id.to_string())
                .execute(&mut *self.writer.lock().await?)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM workspaces WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(|e| write_error(e, "id"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_project(&self, project: &Project) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(project.id.to_string())
        .bind(project.workspace_id.to_string())
        .bind(&project.name)
        .bind(project.state.as_str())
        .bind(project.visibility.as_str())
        .bind(codec::environments(&project.environments)?)
        .bind(project.insert_instant.as_millis())
        .bind(project.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Project(project.id));
        Ok(())
    }

    async fn lookup_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS}, revision FROM projects WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn list_projects(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS}, revision FROM projects WHERE workspace_id = ? ORDER BY name, id"
        ))
        .bind(workspace_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(project_from_row).collect()
    }

    async fn update_project(
        &self,
        project: &Project,
        revoke: &[ScopeFilter],
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        // The write comes first so that the transaction holds the write lock
        // from its first statement (a read first could not upgrade under
        // a concurrent writer).
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE projects SET name = ?, state = ?, visibility = ?, environments = ?, \
             last_update_instant = ?, revision = revision + 1 WHERE id = ?",
        )
        .bind(&project.name)
        .bind(project.state.as_str())
        .bind(project.visibility.as_str())
        .bind(codec::environments(&project.environments)?)
        .bind(project.last_update_instant.as_millis())
        .bind(project.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !updated {
            tx.rollback().await.map_err(backend)?;
            return Ok(None);
        }
        let mut ended = Vec::new();
        for filter in revoke {
            ended
                .extend(end_scopes(&mut tx, Target::Filter(filter), now, "project_changed").await?);
        }
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Project(project.id));
        Ok(Some(self.report_ended(&ended)))
    }

    async fn delete_project(
        &self,
        id: ProjectId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let deleted = sqlx::query("DELETE FROM projects WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "id"))?
            .rows_affected()
            == 1;
        if !deleted {
            tx.rollback().await.map_err(backend)?;
            return Ok(false);
        }
        let ended = end_scopes(
            &mut tx,
            Target::Filter(&ScopeFilter::Project(id)),
            now,
            "project_deleted",
        )
        .await?;
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Project(id));
        // The project's webhooks went with it (the foreign key cascades).
        let _ = self.changes.send(Change::Webhooks);
        self.report_ended(&ended);
        Ok(true)
    }

    async fn add_role(&self, role: &ProjectRole) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO project_roles ({ROLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(role.id.to_string())
        .bind(role.project_id.to_string())
        .bind(&role.name)
        .bind(&role.description)
        .bind(codec::permissions(&role.permissions)?)
        .bind(role.insert_instant.as_millis())
        .bind(role.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "name"))?;
        let _ = self.changes.send(Change::Project(role.project_id));
        Ok(())
    }

    async fn lookup_role(
        &self,
        project_id: ProjectId,
        id: RoleId,
    ) -> StoreResult<Option<ProjectRole>> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM project_roles WHERE project_id = ? AND id = ?"
        ))
        .bind(project_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(role_from_row).transpose()
    }

    async fn list_roles(&self, project_id: ProjectId) -> StoreResult<Vec<ProjectRole>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM project_roles WHERE project_id = ? ORDER BY name, id"
        ))
        .bind(project_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(role_from_row).collect()
    }

    async fn update_role(
        &self,
        role: &ProjectRole,
        previous_name: &str,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        // The catalog is part of the project's revision (see add_scoped_session).
        sqlx::query("UPDATE projects SET revision = revision + 1 WHERE id = ?")
            .bind(role.project_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE project_roles SET name = ?, description = ?, permissions = ?, \
             last_update_instant = ? WHERE project_id = ? AND id = ?",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(codec::permissions(&role.permissions)?)
        .bind(role.last_update_instant.as_millis())
        .bind(role.project_id.to_string())
        .bind(role.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "name"))?
        .rows_affected()
            == 1;
        if !updated {
            tx.rollback().await.map_err(backend)?;
            return Ok(None);
        }
        let ended = end_scopes(
            &mut tx,
            Target::Role(role.project_id, previous_name),
            now,
            "role_changed",
        )
        .await?;
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Project(role.project_id));
        Ok(Some(self.report_ended(&ended)))
    }

    async fn delete_role(&self, project_id: ProjectId, id: RoleId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM project_roles WHERE project_id = ? AND id = ?")
            .bind(project_id.to_string())
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            let _ = self.changes.send(Change::Project(project_id));
        }
        Ok(deleted)
    }

    async fn add_member(&self, member: &ProjectMember, outbox: &Outbox) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO project_members ({MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
        let query = sqlx::query(&sql)
            .bind(member.project_id.to_string())
            .bind(member.user_id.to_string())
            .bind(codec::roles(&member.roles)?)
            .bind(member.locked)
            .bind(member.insert_instant.as_millis())
            .bind(member.last_update_instant.as_millis());
        self.execute_with_outbox(query, outbox, |e| write_error(e, "member"))
            .await?;
        Ok(())
    }

    async fn lookup_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members WHERE project_id = ? AND user_id = ?"
        ))
        .bind(project_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(member_from_row).transpose()
    }

    async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<ProjectMember>> {
        // Ids are stored hyphenated and lower-case, so their text order is
        // their byte order, as on PostgreSQL; every id sorts after "".
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members WHERE project_id = ? AND user_id > ? \
             ORDER BY user_id LIMIT ?"
        ))
        .bind(project_id.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(member_from_row).collect()
    }

    async fn list_memberships(&self, user_id: UserId) -> StoreResult<Vec<ProjectMember>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members WHERE user_id = ? ORDER BY project_id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(member_from_row).collect()
    }

    async fn update_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE project_members SET roles = ?, locked = ?, last_update_instant = ?, \
             revision = revision + 1 WHERE project_id = ? AND user_id = ? AND revision = ?",
        )
        .bind(codec::roles(&member.roles)?)
        .bind(member.locked)
        .bind(member.last_update_instant.as_millis())
        .bind(member.project_id.to_string())
        .bind(member.user_id.to_string())
        .bind(member.revision)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !updated {
            // Either no such member, or another write got there first.
            let exists =
                sqlx::query("SELECT 1 FROM project_members WHERE project_id = ? AND user_id = ?")
                    .bind(member.project_id.to_string())
                    .bind(member.user_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .is_some();
            tx.rollback().await.map_err(backend)?;
            return if exists {
                Err(StoreError::Conflict("revision"))
            } else {
                Ok(None)
            };
        }
        let filter = ScopeFilter::Member(member.project_id, member.user_id, None);
        let ended = end_scopes(&mut tx, Target::Filter(&filter), now, "membership_changed").await?;
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self
            .changes
            .send(Change::Member(member.project_id, member.user_id));
        Ok(Some(self.report_ended(&ended)))
    }

    async fn delete_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let (project_id, user_id) = (member.project_id, member.user_id);
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let deleted = sqlx::query(
            "DELETE FROM project_members WHERE project_id = ? AND user_id = ? AND revision = ?",
        )
        .bind(project_id.to_string())
        .bind(user_id.to_string())
        .bind(member.revision)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !deleted {
            // Either no such member, or another write got there first.
            let exists =
                sqlx::query("SELECT 1 FROM project_members WHERE project_id = ? AND user_id = ?")
                    .bind(project_id.to_string())
                    .bind(user_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .is_some();
            tx.rollback().await.map_err(backend)?;
            return if exists {
                Err(StoreError::Conflict("revision"))
            } else {
                Ok(None)
            };
        }
        let filter = ScopeFilter::Member(project_id, user_id, None);
        let ended = end_scopes(&mut tx, Target::Filter(&filter), now, "membership_removed").await?;
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Member(project_id, user_id));
        Ok(Some(self.report_ended(&ended)))
    }
}

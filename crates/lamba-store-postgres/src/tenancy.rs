//! Workspaces, projects, roles, members and scoped sessions on PostgreSQL.
//!
//! Every write that takes something away from members ends the affected
//! scoped sessions in its own transaction; the `NOTIFY` of each ended scope
//! is sent in that transaction, so every node hears of it at commit.

use async_trait::async_trait;
use lamba_model::{
    Instant, Project, ProjectId, ProjectMember, ProjectRole, RoleId, UserId, Workspace, WorkspaceId,
};
use lamba_store::{Change, Outbox, ScopeFilter, StoreError, StoreResult, TenancyRepository, codec};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::scopes::Target;
use crate::scopes::end_scopes;

use super::{
    CHANGES_CHANNEL, PostgresStore, backend, execute_with_outbox, insert_outbox, write_error,
};

/// Announces a change to a project (or its catalog) to every node, at
/// commit of the caller's transaction.
async fn notify_member(
    conn: &mut PgConnection,
    project: ProjectId,
    user: UserId,
) -> StoreResult<()> {
    sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
        .bind(format!("member:{project}:{user}"))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn notify_project(conn: &mut PgConnection, id: ProjectId) -> StoreResult<()> {
    sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
        .bind(format!("project:{id}"))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

const WORKSPACE_COLUMNS: &str = "id, name, insert_instant, last_update_instant";

fn workspace_from_row(row: &PgRow) -> StoreResult<Workspace> {
    lamba_store::rows::workspace(&crate::Pg(row))
}

const PROJECT_COLUMNS: &str = "id, workspace_id, name, state, visibility, environments, \
     insert_instant, last_update_instant";

fn project_from_row(row: &PgRow) -> StoreResult<Project> {
    lamba_store::rows::project(&crate::Pg(row))
}

const ROLE_COLUMNS: &str =
    "id, project_id, name, description, permissions, insert_instant, last_update_instant";

fn role_from_row(row: &PgRow) -> StoreResult<ProjectRole> {
    lamba_store::rows::role(&crate::Pg(row))
}

const MEMBER_COLUMNS: &str =
    "project_id, user_id, roles, locked, insert_instant, last_update_instant";

fn member_from_row(row: &PgRow) -> StoreResult<ProjectMember> {
    lamba_store::rows::member(&crate::Pg(row))
}

#[async_trait]
impl TenancyRepository for PostgresStore {
    async fn add_workspace(&self, workspace: &Workspace) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES ($1, $2, $3, $4)"
        ))
        .bind(Uuid::from(workspace.id))
        .bind(&workspace.name)
        .bind(workspace.insert_instant.as_millis())
        .bind(workspace.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        Ok(())
    }

    async fn lookup_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"
        ))
        .bind(Uuid::from(id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        // COLLATE "C" orders names by code point, as SQLite does.
        let rows = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY name COLLATE \"C\", id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn update_workspace(&self, workspace: &Workspace) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE workspaces SET name = $1, last_update_instant = $2 WHERE id = $3")
                .bind(&workspace.name)
                .bind(workspace.last_update_instant.as_millis())
                .bind(Uuid::from(workspace.id))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(Uuid::from(id))
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "id"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_project(&self, project: &Project) -> StoreResult<()> {
        sqlx::query(&format!(
            "WITH written AS (INSERT INTO projects ({PROJECT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'project:' || id::text) FROM written"
        ))
        .bind(Uuid::from(project.id))
        .bind(Uuid::from(project.workspace_id))
        .bind(&project.name)
        .bind(project.state.as_str())
        .bind(project.visibility.as_str())
        .bind(codec::environments(&project.environments)?)
        .bind(project.insert_instant.as_millis())
        .bind(project.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Project(project.id));
        Ok(())
    }

    async fn lookup_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS}, revision FROM projects WHERE id = $1"
        ))
        .bind(Uuid::from(id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn list_projects(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS}, revision FROM projects WHERE workspace_id = $1 \
             ORDER BY name COLLATE \"C\", id"
        ))
        .bind(Uuid::from(workspace_id))
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE projects SET name = $1, state = $2, visibility = $3, environments = $4, \
             last_update_instant = $5, revision = revision + 1 WHERE id = $6",
        )
        .bind(&project.name)
        .bind(project.state.as_str())
        .bind(project.visibility.as_str())
        .bind(codec::environments(&project.environments)?)
        .bind(project.last_update_instant.as_millis())
        .bind(Uuid::from(project.id))
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
        notify_project(&mut tx, project.id).await?;
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The project's webhooks would go by the cascade unannounced, and
        // every node caches the webhook list: delete them here and say so.
        let webhooks_gone = sqlx::query(&format!(
            "WITH gone AS (DELETE FROM webhooks WHERE project_id = $1 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'webhooks:') FROM gone LIMIT 1"
        ))
        .bind(Uuid::from(id))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            > 0;
        let deleted = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(Uuid::from(id))
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
        notify_project(&mut tx, id).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Project(id));
        if webhooks_gone {
            let _ = self.changes.send(Change::Webhooks);
        }
        self.report_ended(&ended);
        Ok(true)
    }

    async fn add_role(&self, role: &ProjectRole) -> StoreResult<()> {
        sqlx::query(&format!(
            "WITH written AS (INSERT INTO project_roles ({ROLE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING project_id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'project:' || project_id::text) FROM written"
        ))
        .bind(Uuid::from(role.id))
        .bind(Uuid::from(role.project_id))
        .bind(&role.name)
        .bind(&role.description)
        .bind(codec::permissions(&role.permissions)?)
        .bind(role.insert_instant.as_millis())
        .bind(role.last_update_instant.as_millis())
        .execute(&self.pool)
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
            "SELECT {ROLE_COLUMNS} FROM project_roles WHERE project_id = $1 AND id = $2"
        ))
        .bind(Uuid::from(project_id))
        .bind(Uuid::from(id))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(role_from_row).transpose()
    }

    async fn list_roles(&self, project_id: ProjectId) -> StoreResult<Vec<ProjectRole>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM project_roles WHERE project_id = $1 \
             ORDER BY name COLLATE \"C\", id"
        ))
        .bind(Uuid::from(project_id))
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The catalog is part of the project's revision, and taking the
        // project row's lock first orders this after any scope being entered
        // (see add_scoped_session).
        sqlx::query("UPDATE projects SET revision = revision + 1 WHERE id = $1")
            .bind(Uuid::from(role.project_id))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE project_roles SET name = $1, description = $2, permissions = $3, \
             last_update_instant = $4 WHERE project_id = $5 AND id = $6",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(codec::permissions(&role.permissions)?)
        .bind(role.last_update_instant.as_millis())
        .bind(Uuid::from(role.project_id))
        .bind(Uuid::from(role.id))
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
        notify_project(&mut tx, role.project_id).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Project(role.project_id));
        Ok(Some(self.report_ended(&ended)))
    }

    async fn delete_role(&self, project_id: ProjectId, id: RoleId) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (DELETE FROM project_roles WHERE project_id = $1 AND id = $2 \
             RETURNING project_id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'project:' || project_id::text) FROM written"
        ))
        .bind(Uuid::from(project_id))
        .bind(Uuid::from(id))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            let _ = self.changes.send(Change::Project(project_id));
        }
        Ok(deleted)
    }

    async fn add_member(&self, member: &ProjectMember, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO project_members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        );
        let query = sqlx::query(&sql)
            .bind(Uuid::from(member.project_id))
            .bind(Uuid::from(member.user_id))
            .bind(codec::roles(&member.roles)?)
            .bind(member.locked)
            .bind(member.insert_instant.as_millis())
            .bind(member.last_update_instant.as_millis());
        execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "member")).await?;
        Ok(())
    }

    async fn lookup_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members WHERE project_id = $1 AND user_id = $2"
        ))
        .bind(Uuid::from(project_id))
        .bind(Uuid::from(user_id))
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
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members \
             WHERE project_id = $1 AND ($2::uuid IS NULL OR user_id > $2) \
             ORDER BY user_id LIMIT $3"
        ))
        .bind(Uuid::from(project_id))
        .bind(after.map(Uuid::from))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(member_from_row).collect()
    }

    async fn list_memberships(&self, user_id: UserId) -> StoreResult<Vec<ProjectMember>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, revision FROM project_members WHERE user_id = $1 ORDER BY project_id"
        ))
        .bind(Uuid::from(user_id))
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE project_members SET roles = $1, locked = $2, last_update_instant = $3, \
             revision = revision + 1 WHERE project_id = $4 AND user_id = $5 AND revision = $6",
        )
        .bind(codec::roles(&member.roles)?)
        .bind(member.locked)
        .bind(member.last_update_instant.as_millis())
        .bind(Uuid::from(member.project_id))
        .bind(Uuid::from(member.user_id))
        .bind(member.revision)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !updated {
            // Either no such member, or another write got there first.
            let exists =
                sqlx::query("SELECT 1 FROM project_members WHERE project_id = $1 AND user_id = $2")
                    .bind(Uuid::from(member.project_id))
                    .bind(Uuid::from(member.user_id))
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
        notify_member(&mut tx, member.project_id, member.user_id).await?;
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let deleted = sqlx::query(
            "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2 AND revision = $3",
        )
        .bind(Uuid::from(project_id))
        .bind(Uuid::from(user_id))
        .bind(member.revision)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !deleted {
            // Either no such member, or another write got there first.
            let exists =
                sqlx::query("SELECT 1 FROM project_members WHERE project_id = $1 AND user_id = $2")
                    .bind(Uuid::from(project_id))
                    .bind(Uuid::from(user_id))
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
        notify_member(&mut tx, project_id, user_id).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Member(project_id, user_id));
        Ok(Some(self.report_ended(&ended)))
    }
}

#[cfg(test)]
mod tests {
    use lamba_model::ProjectId;
    use lamba_store::Change;
    use uuid::Uuid;

    use super::super::parse_change;

    #[test]
    fn tenancy_changes_round_trip_through_their_payloads() {
        let project = ProjectId::from_uuid(Uuid::new_v4());
        assert_eq!(
            parse_change(&format!("project:{project}")),
            Some(Change::Project(project))
        );
        let scope = Uuid::new_v4();
        assert_eq!(
            parse_change(&format!("scope_ended:{scope}")),
            Some(Change::ScopeEnded(scope))
        );
        let user = lamba_model::UserId::from_uuid(Uuid::new_v4());
        assert_eq!(
            parse_change(&format!("member:{project}:{user}")),
            Some(Change::Member(project, user))
        );
        assert_eq!(parse_change("project:not-a-uuid"), None);
        assert_eq!(parse_change("scope_ended:"), None);
        assert_eq!(parse_change(&format!("member:{project}")), None);
    }
}

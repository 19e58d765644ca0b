//! Workspaces, projects, roles, members and scoped sessions on SQLite.
//!
//! Every write that takes something away from members ends the affected
//! scoped sessions in its own transaction, and reports each after commit.

use async_trait::async_trait;
use lamba_model::{
    Environment, Instant, Project, ProjectId, ProjectMember, ProjectRole, RoleId,
    ScopedRefreshToken, ScopedSession, UserId, Workspace, WorkspaceId,
};
use lamba_store::{
    Change, EndedScope, Outbox, Rotation, ScopeFilter, ScopeGuard, ScopeRepository,
    ScopedRefreshGrant, StoreError, StoreResult, TenancyRepository, codec,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::webhook::insert_outbox;
use super::{SqliteStore, aliased, backend, instant, optional_instant, uuid_column, write_error};
use crate::sessions::{SESSION_COLUMNS, session_from_row};

/// Which active scopes a write ends: a caller's filter, or what only the
/// store itself asks for.
pub(crate) enum Target<'a> {
    Filter(&'a ScopeFilter),
    /// The scopes of a project that hold a role of this name.
    Role(ProjectId, &'a str),
    /// The scopes of a login session.
    Login(Uuid),
}

impl Target<'_> {
    /// The `WHERE` condition and its text arguments; `None` when it names
    /// no scope at all.
    fn condition(&self) -> StoreResult<Option<(&'static str, Vec<String>)>> {
        Ok(Some(match self {
            Target::Filter(ScopeFilter::Project(project)) => {
                ("project_id = ?", vec![project.to_string()])
            }
            Target::Filter(ScopeFilter::Environment(project, environment)) => (
                "project_id = ? AND environment = ?",
                vec![project.to_string(), environment.as_str().to_owned()],
            ),
            Target::Filter(ScopeFilter::Member(project, user, None)) => (
                "project_id = ? AND user_id = ?",
                vec![project.to_string(), user.to_string()],
            ),
            Target::Filter(ScopeFilter::Member(project, user, Some(environment))) => (
                "project_id = ? AND user_id = ? AND environment = ?",
                vec![
                    project.to_string(),
                    user.to_string(),
                    environment.as_str().to_owned(),
                ],
            ),
            Target::Filter(ScopeFilter::Ids(ids)) => {
                if ids.is_empty() {
                    return Ok(None);
                }
                (
                    "id IN (SELECT value FROM json_each(?))",
                    vec![codec::id_list(ids)?],
                )
            }
            Target::Role(project, role) => (
                "project_id = ? AND EXISTS (SELECT 1 FROM json_each(roles) WHERE value = ?)",
                vec![project.to_string(), (*role).to_owned()],
            ),
            Target::Login(login) => ("login_session_id = ?", vec![login.to_string()]),
        }))
    }
}

/// Ends the active scopes `target` names and revokes their refresh tokens,
/// inside the caller's transaction. Returns what it ended, with where each
/// was (for the write's events, [`Outbox::events_for`]); the caller reports
/// them after commit (see [`SqliteStore::report_ended`]).
pub(crate) async fn end_scopes(
    conn: &mut SqliteConnection,
    target: Target<'_>,
    now: Instant,
    reason: &str,
) -> StoreResult<Vec<EndedScope>> {
    let Some((condition, arguments)) = target.condition()? else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "UPDATE scoped_sessions SET ended_instant = ?, end_reason = ? \
         WHERE ended_instant IS NULL AND {condition} \
         RETURNING id, workspace_id, project_id, environment"
    );
    let mut query = sqlx::query(&sql).bind(now.as_millis()).bind(reason);
    for argument in arguments {
        query = query.bind(argument);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(backend)?;
    let ended: Vec<EndedScope> = rows
        .iter()
        .map(ended_scope_from_row)
        .collect::<StoreResult<_>>()?;
    if !ended.is_empty() {
        sqlx::query(
            "UPDATE scoped_refresh_tokens SET revoked_instant = ? WHERE revoked_instant IS NULL \
             AND scoped_session_id IN (SELECT value FROM json_each(?))",
        )
        .bind(now.as_millis())
        .bind(codec::id_list(&EndedScope::ids(&ended))?)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    Ok(ended)
}

fn ended_scope_from_row(row: &SqliteRow) -> StoreResult<EndedScope> {
    let environment: String = row.try_get("environment").map_err(backend)?;
    Ok(EndedScope {
        id: uuid_column(row, "id")?,
        workspace_id: uuid_column(row, "workspace_id")?,
        project_id: uuid_column(row, "project_id")?,
        environment: codec::parse_wire::<Environment>(&environment, "environment")?,
    })
}

impl SqliteStore {
    /// Reports ended scopes on the change feed; call after commit. Returns
    /// their ids, which the write returns.
    pub(crate) fn report_ended(&self, ended: &[EndedScope]) -> Vec<Uuid> {
        for scope in ended {
            let _ = self.changes.send(Change::ScopeEnded(scope.id));
        }
        EndedScope::ids(ended)
    }
}

const WORKSPACE_COLUMNS: &str = "id, name, insert_instant, last_update_instant";

fn workspace_from_row(row: &SqliteRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: uuid_column(row, "id")?,
        name: row.try_get("name").map_err(backend)?,
        insert_instant: instant(row, "insert_instant")?,
        last_update_instant: instant(row, "last_update_instant")?,
    })
}

const PROJECT_COLUMNS: &str = "id, workspace_id, name, state, visibility, environments, \
     insert_instant, last_update_instant";

fn project_from_row(row: &SqliteRow) -> StoreResult<Project> {
    let state: String = row.try_get("state").map_err(backend)?;
    let visibility: String = row.try_get("visibility").map_err(backend)?;
    let environments: String = row.try_get("environments").map_err(backend)?;
    Ok(Project {
        id: uuid_column(row, "id")?,
        workspace_id: uuid_column(row, "workspace_id")?,
        name: row.try_get("name").map_err(backend)?,
        state: codec::parse_wire(&state, "project state")?,
        visibility: codec::parse_wire(&visibility, "visibility")?,
        environments: codec::parse_environments(&environments)?,
        insert_instant: instant(row, "insert_instant")?,
        last_update_instant: instant(row, "last_update_instant")?,
        revision: row.try_get("revision").map_err(backend)?,
    })
}

const ROLE_COLUMNS: &str =
    "id, project_id, name, description, permissions, insert_instant, last_update_instant";

fn role_from_row(row: &SqliteRow) -> StoreResult<ProjectRole> {
    let permissions: String = row.try_get("permissions").map_err(backend)?;
    Ok(ProjectRole {
        id: uuid_column(row, "id")?,
        project_id: uuid_column(row, "project_id")?,
        name: row.try_get("name").map_err(backend)?,
        description: row.try_get("description").map_err(backend)?,
        permissions: codec::parse_permissions(&permissions)?,
        insert_instant: instant(row, "insert_instant")?,
        last_update_instant: instant(row, "last_update_instant")?,
    })
}

const MEMBER_COLUMNS: &str =
    "project_id, user_id, roles, locked, insert_instant, last_update_instant";

fn member_from_row(row: &SqliteRow) -> StoreResult<ProjectMember> {
    let roles: String = row.try_get("roles").map_err(backend)?;
    Ok(ProjectMember {
        project_id: uuid_column(row, "project_id")?,
        user_id: uuid_column(row, "user_id")?,
        roles: codec::parse_roles(&roles)?,
        locked: row.try_get("locked").map_err(backend)?,
        insert_instant: instant(row, "insert_instant")?,
        last_update_instant: instant(row, "last_update_instant")?,
        revision: row.try_get("revision").map_err(backend)?,
    })
}

const SCOPE_COLUMNS: &str = "id, login_session_id, user_id, application_id, workspace_id, \
     project_id, environment, roles, permissions, contract, insert_instant, last_used_instant, \
     ended_instant, end_reason";

fn scope_from_row(row: &SqliteRow, prefix: &str) -> StoreResult<ScopedSession> {
    let column = |name: &str| format!("{prefix}{name}");
    let environment: String = row
        .try_get(column("environment").as_str())
        .map_err(backend)?;
    let roles: String = row.try_get(column("roles").as_str()).map_err(backend)?;
    let permissions: String = row
        .try_get(column("permissions").as_str())
        .map_err(backend)?;
    let contract: String = row.try_get(column("contract").as_str()).map_err(backend)?;
    Ok(ScopedSession {
        id: uuid_column(row, &column("id"))?,
        login_session_id: uuid_column(row, &column("login_session_id"))?,
        user_id: uuid_column(row, &column("user_id"))?,
        application_id: uuid_column(row, &column("application_id"))?,
        workspace_id: uuid_column(row, &column("workspace_id"))?,
        project_id: uuid_column(row, &column("project_id"))?,
        environment: codec::parse_wire::<Environment>(&environment, "environment")?,
        roles: codec::parse_roles(&roles)?,
        permissions: codec::parse_permissions(&permissions)?,
        contract: codec::parse_session_contract(&contract)?,
        insert_instant: instant(row, &column("insert_instant"))?,
        last_used_instant: instant(row, &column("last_used_instant"))?,
        ended_instant: optional_instant(row, &column("ended_instant"))?,
        end_reason: row
            .try_get(column("end_reason").as_str())
            .map_err(backend)?,
    })
}

const SCOPED_REFRESH_COLUMNS: &str = "id, token_digest, scoped_session_id, insert_instant, \
     expires_instant, used_instant, revoked_instant";

fn scoped_refresh_from_row(row: &SqliteRow) -> StoreResult<ScopedRefreshToken> {
    Ok(ScopedRefreshToken {
        id: uuid_column(row, "id")?,
        token_digest: row.try_get("token_digest").map_err(backend)?,
        scoped_session_id: uuid_column(row, "scoped_session_id")?,
        insert_instant: instant(row, "insert_instant")?,
        expires_instant: instant(row, "expires_instant")?,
        used_instant: optional_instant(row, "used_instant")?,
        revoked_instant: optional_instant(row, "revoked_instant")?,
    })
}

async fn insert_scoped_refresh(
    conn: &mut SqliteConnection,
    token: &ScopedRefreshToken,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO scoped_refresh_tokens ({SCOPED_REFRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(token.id.to_string())
    .bind(&token.token_digest)
    .bind(token.scoped_session_id.to_string())
    .bind(token.insert_instant.as_millis())
    .bind(token.expires_instant.as_millis())
    .bind(token.used_instant.map(Instant::as_millis))
    .bind(token.revoked_instant.map(Instant::as_millis))
    .execute(conn)
    .await
    .map_err(|e| write_error(e, "token"))?;
    Ok(())
}

/// The scoped refresh token (unprefixed), its scope (`sc_`) and the
/// scope's login session (`s_`), joined.
static SCOPED_GRANT_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM scoped_refresh_tokens t \
         JOIN scoped_sessions sc ON sc.id = t.scoped_session_id \
         JOIN login_sessions s ON s.id = sc.login_session_id \
         WHERE t.token_digest = ?",
        aliased(SCOPED_REFRESH_COLUMNS, "t", ""),
        aliased(SCOPE_COLUMNS, "sc", "sc_"),
        aliased(SESSION_COLUMNS, "s", "s_"),
    )
});

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
        .execute(&self.writer)
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
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM workspaces WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
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
        .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
            .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        project_id: ProjectId,
        user_id: UserId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let deleted =
            sqlx::query("DELETE FROM project_members WHERE project_id = ? AND user_id = ?")
                .bind(project_id.to_string())
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected()
                == 1;
        if !deleted {
            tx.rollback().await.map_err(backend)?;
            return Ok(None);
        }
        let filter = ScopeFilter::Member(project_id, user_id, None);
        let ended = end_scopes(&mut tx, Target::Filter(&filter), now, "membership_removed").await?;
        insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::Member(project_id, user_id));
        Ok(Some(self.report_ended(&ended)))
    }
}

#[async_trait]
impl ScopeRepository for SqliteStore {
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        // One writer at a time: the guard and the insert are one statement,
        // so no change to the project, membership or login slips between.
        let condition = if guard.is_some() {
            "WHERE EXISTS (SELECT 1 FROM projects p \
             JOIN project_members m ON m.project_id = p.id \
             JOIN login_sessions s ON s.id = ? \
             WHERE p.id = ? AND p.revision = ? AND m.user_id = ? AND m.revision = ? \
             AND m.locked = 0 AND s.ended_instant IS NULL)"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO scoped_sessions ({SCOPE_COLUMNS}) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? {condition}"
        );
        let mut query = sqlx::query(&sql)
            .bind(scope.id.to_string())
            .bind(scope.login_session_id.to_string())
            .bind(scope.user_id.to_string())
            .bind(scope.application_id.to_string())
            .bind(scope.workspace_id.to_string())
            .bind(scope.project_id.to_string())
            .bind(scope.environment.as_str())
            .bind(codec::roles(&scope.roles)?)
            .bind(codec::permissions(&scope.permissions)?)
            .bind(codec::session_contract(&scope.contract)?)
            .bind(scope.insert_instant.as_millis())
            .bind(scope.last_used_instant.as_millis())
            .bind(scope.ended_instant.map(Instant::as_millis))
            .bind(&scope.end_reason);
        if let Some(guard) = guard {
            query = query
                .bind(scope.login_session_id.to_string())
                .bind(scope.project_id.to_string())
                .bind(guard.project_revision)
                .bind(scope.user_id.to_string())
                .bind(guard.member_revision);
        }
        let inserted = query
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "id"))?
            .rows_affected()
            == 1;
        if !inserted {
            tx.rollback().await.map_err(backend)?;
            return Ok(false);
        }
        if let Some(token) = refresh {
            insert_scoped_refresh(&mut tx, token).await?;
        }
        insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn lookup_scoped_session(&self, id: Uuid) -> StoreResult<Option<ScopedSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scoped_sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| scope_from_row(row, "")).transpose()
    }

    async fn list_scoped_sessions(
        &self,
        project_id: ProjectId,
        environment: Environment,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<ScopedSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scoped_sessions \
             WHERE project_id = ? AND environment = ? AND id > ? AND ended_instant IS NULL \
             ORDER BY id LIMIT ?"
        ))
        .bind(project_id.to_string())
        .bind(environment.as_str())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| scope_from_row(row, "")).collect()
    }

    async fn find_scoped_refresh_grant(
        &self,
        token_digest: &[u8],
    ) -> StoreResult<Option<ScopedRefreshGrant>> {
        let row = sqlx::query(&SCOPED_GRANT_SELECT)
            .bind(token_digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ScopedRefreshGrant {
            token: scoped_refresh_from_row(&row)?,
            scope: scope_from_row(&row, "sc_")?,
            login: session_from_row(&row, "s_")?,
        }))
    }

    async fn rotate_scoped_refresh_token(
        &self,
        old_id: Uuid,
        new: &ScopedRefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let claimed = sqlx::query(
            "UPDATE scoped_refresh_tokens SET used_instant = ? \
             WHERE id = ? AND used_instant IS NULL AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(old_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await.map_err(backend)?;
            return Ok(Rotation::AlreadyUsed);
        }
        insert_scoped_refresh(&mut tx, new).await?;
        sqlx::query(
            "UPDATE scoped_sessions SET last_used_instant = ? \
             WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(new.scoped_session_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Rotation::Rotated)
    }

    async fn end_scoped_sessions(
        &self,
        filter: &ScopeFilter,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let ended = end_scopes(&mut tx, Target::Filter(filter), now, reason).await?;
        // Ending nothing took no effect: its events are not stored.
        if !ended.is_empty() {
            insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(self.report_ended(&ended))
    }

    async fn list_scopes_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM scoped_sessions WHERE ended_instant >= ?")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }
}

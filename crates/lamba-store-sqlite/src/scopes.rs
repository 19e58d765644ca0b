//! Scoped sessions and their refresh tokens, and how a write ends the
//! scopes it takes something from.

use async_trait::async_trait;
use lamba_model::{Environment, Instant, ProjectId, ScopedRefreshToken, ScopedSession};
use lamba_store::{
    Change, EndedScope, Outbox, Rotation, ScopeFilter, ScopeGuard, ScopeRepository,
    ScopedRefreshGrant, StoreResult, codec,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::sessions::{SESSION_COLUMNS, session_from_row};

use super::webhook::insert_outbox;
use super::{SqliteStore, aliased, backend, uuid_column, write_error};

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
    lamba_store::rows::ended_scope(&crate::Lite(row))
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

const SCOPE_COLUMNS: &str = "id, login_session_id, user_id, application_id, workspace_id, \
     project_id, environment, roles, permissions, contract, insert_instant, last_used_instant, \
     ended_instant, end_reason";

fn scope_from_row(row: &SqliteRow, prefix: &str) -> StoreResult<ScopedSession> {
    lamba_store::rows::scoped_session(&crate::Lite(row), prefix)
}

const SCOPED_REFRESH_COLUMNS: &str = "id, token_digest, scoped_session_id, insert_instant, \
     expires_instant, used_instant, revoked_instant";

fn scoped_refresh_from_row(row: &SqliteRow) -> StoreResult<ScopedRefreshToken> {
    lamba_store::rows::scoped_refresh_token(&crate::Lite(row))
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
impl ScopeRepository for SqliteStore {
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
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
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
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
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
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

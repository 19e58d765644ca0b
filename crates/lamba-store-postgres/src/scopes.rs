//! Scoped sessions and their refresh tokens, and how a write ends the
//! scopes it takes something from.

use async_trait::async_trait;
use lamba_model::{Environment, Instant, ProjectId, ScopedRefreshToken, ScopedSession};
use lamba_store::{
    Change, EndedScope, Outbox, Rotation, ScopeFilter, ScopeGuard, ScopeRepository,
    ScopedRefreshGrant, StoreResult, codec,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::sessions::{SESSION_COLUMNS, session_from_row};

use super::{
    CHANGES_CHANNEL, PostgresStore, aliased, backend, execute_with_outbox, insert_outbox,
    uuid_column, write_error,
};

/// Which active scopes a write ends: a caller's filter, or what only the
/// store itself asks for.
pub(crate) enum Target<'a> {
    Filter(&'a ScopeFilter),
    /// The scopes of a project that hold a role of this name.
    Role(ProjectId, &'a str),
    /// The scopes of a login session.
    Login(Uuid),
}

/// An argument of a [`Target`]'s condition.
enum Argument {
    Uuid(Uuid),
    Text(String),
    Uuids(Vec<Uuid>),
}

impl Target<'_> {
    /// The `WHERE` condition, whose placeholders start at `$3`, and its
    /// arguments; `None` when it names no scope at all.
    fn condition(&self) -> Option<(&'static str, Vec<Argument>)> {
        Some(match self {
            Target::Filter(ScopeFilter::Project(project)) => (
                "project_id = $3",
                vec![Argument::Uuid(Uuid::from(*project))],
            ),
            Target::Filter(ScopeFilter::Environment(project, environment)) => (
                "project_id = $3 AND environment = $4",
                vec![
                    Argument::Uuid(Uuid::from(*project)),
                    Argument::Text(environment.as_str().to_owned()),
                ],
            ),
            Target::Filter(ScopeFilter::Member(project, user, None)) => (
                "project_id = $3 AND user_id = $4",
                vec![
                    Argument::Uuid(Uuid::from(*project)),
                    Argument::Uuid(Uuid::from(*user)),
                ],
            ),
            Target::Filter(ScopeFilter::Member(project, user, Some(environment))) => (
                "project_id = $3 AND user_id = $4 AND environment = $5",
                vec![
                    Argument::Uuid(Uuid::from(*project)),
                    Argument::Uuid(Uuid::from(*user)),
                    Argument::Text(environment.as_str().to_owned()),
                ],
            ),
            Target::Filter(ScopeFilter::Ids(ids)) => {
                if ids.is_empty() {
                    return None;
                }
                ("id = ANY($3)", vec![Argument::Uuids(ids.clone())])
            }
            Target::Role(project, role) => (
                "project_id = $3 AND roles::jsonb @> jsonb_build_array($4::text)",
                vec![
                    Argument::Uuid(Uuid::from(*project)),
                    Argument::Text((*role).to_owned()),
                ],
            ),
            Target::Login(login) => ("login_session_id = $3", vec![Argument::Uuid(*login)]),
        })
    }
}

/// Ends the active scopes `target` names, revokes their refresh tokens and
/// notifies every node of each, in one statement inside the caller's
/// transaction. Returns what it ended, with where each was (for the write's
/// events, [`Outbox::events_for`]); the caller reports them locally after
/// commit (see [`PostgresStore::report_ended`]).
pub(crate) async fn end_scopes(
    conn: &mut PgConnection,
    target: Target<'_>,
    now: Instant,
    reason: &str,
) -> StoreResult<Vec<EndedScope>> {
    let Some((condition, arguments)) = target.condition() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "WITH ended AS (UPDATE scoped_sessions SET ended_instant = $1, end_reason = $2 \
         WHERE ended_instant IS NULL AND {condition} \
         RETURNING id, workspace_id, project_id, environment), \
         revoked AS (UPDATE scoped_refresh_tokens SET revoked_instant = $1 \
         WHERE revoked_instant IS NULL AND scoped_session_id IN (SELECT id FROM ended)) \
         SELECT id, workspace_id, project_id, environment, \
         pg_notify('{CHANGES_CHANNEL}', 'scope_ended:' || id::text)::text AS notified \
         FROM ended"
    );
    let mut query = sqlx::query(&sql).bind(now.as_millis()).bind(reason);
    for argument in arguments {
        query = match argument {
            Argument::Uuid(value) => query.bind(value),
            Argument::Text(value) => query.bind(value),
            Argument::Uuids(value) => query.bind(value),
        };
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(backend)?;
    rows.iter().map(ended_scope_from_row).collect()
}

fn ended_scope_from_row(row: &PgRow) -> StoreResult<EndedScope> {
    lamba_store::rows::ended_scope(&crate::Pg(row))
}

impl PostgresStore {
    /// Reports ended scopes on this node's change feed; call after commit.
    /// Returns their ids, which the write returns.
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

fn scope_from_row(row: &PgRow, prefix: &str) -> StoreResult<ScopedSession> {
    lamba_store::rows::scoped_session(&crate::Pg(row), prefix)
}

const SCOPED_REFRESH_COLUMNS: &str = "id, token_digest, scoped_session_id, insert_instant, \
     expires_instant, used_instant, revoked_instant";

fn scoped_refresh_from_row(row: &PgRow) -> StoreResult<ScopedRefreshToken> {
    lamba_store::rows::scoped_refresh_token(&crate::Pg(row))
}

/// The scoped refresh token (unprefixed), its scope (`sc_`) and the
/// scope's login session (`s_`), joined.
static SCOPED_GRANT_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM scoped_refresh_tokens t \
         JOIN scoped_sessions sc ON sc.id = t.scoped_session_id \
         JOIN login_sessions s ON s.id = sc.login_session_id \
         WHERE t.token_digest = $1",
        aliased(SCOPED_REFRESH_COLUMNS, "t", ""),
        aliased(SCOPE_COLUMNS, "sc", "sc_"),
        aliased(SESSION_COLUMNS, "s", "s_"),
    )
});

#[async_trait]
impl ScopeRepository for PostgresStore {
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        // One statement, one round trip. The guard takes shared locks on the
        // project, membership and login rows it checks: a concurrent change
        // to one of them either commits first (the guard then fails) or
        // waits for this insert and then ends the new scope with the rest.
        //
        // The commit waits for the WAL flush like every other write: a
        // scope lost in a crash could not be ended by a later revocation,
        // and its token would live until `exp`.
        let guard_index = if refresh.is_some() { 19 } else { 15 };
        let guard_sql = if guard.is_some() {
            format!(
                "SELECT 1 FROM projects p \
                 JOIN project_members m ON m.project_id = p.id \
                 JOIN login_sessions s ON s.id = $2 \
                 WHERE p.id = $6 AND p.revision = ${} AND m.user_id = $3 AND m.revision = ${} \
                 AND NOT m.locked AND s.ended_instant IS NULL \
                 FOR SHARE OF p, m, s",
                guard_index,
                guard_index + 1
            )
        } else {
            "SELECT 1".to_owned()
        };
        let scope_insert = format!(
            "INSERT INTO scoped_sessions ({SCOPE_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
             FROM guard"
        );
        let sql = match refresh {
            Some(_) => format!(
                "WITH guard AS ({guard_sql}), \
                 scope AS ({scope_insert} RETURNING id) \
                 INSERT INTO scoped_refresh_tokens ({SCOPED_REFRESH_COLUMNS}) \
                 SELECT $15, $16, scope.id, $17, $18, NULL, NULL FROM scope"
            ),
            None => format!(
                "WITH guard AS ({guard_sql}) \
                 {scope_insert}"
            ),
        };
        let mut query = sqlx::query(&sql)
            .bind(scope.id)
            .bind(scope.login_session_id)
            .bind(Uuid::from(scope.user_id))
            .bind(Uuid::from(scope.application_id))
            .bind(Uuid::from(scope.workspace_id))
            .bind(Uuid::from(scope.project_id))
            .bind(scope.environment.as_str())
            .bind(codec::roles(&scope.roles)?)
            .bind(codec::permissions(&scope.permissions)?)
            .bind(codec::session_contract(&scope.contract)?)
            .bind(scope.insert_instant.as_millis())
            .bind(scope.last_used_instant.as_millis())
            .bind(scope.ended_instant.map(Instant::as_millis))
            .bind(&scope.end_reason);
        if let Some(token) = refresh {
            query = query
                .bind(token.id)
                .bind(&token.token_digest)
                .bind(token.insert_instant.as_millis())
                .bind(token.expires_instant.as_millis());
        }
        if let Some(guard) = guard {
            query = query
                .bind(guard.project_revision)
                .bind(guard.member_revision);
        }
        // With a refresh token the statement's count is the token's: it is
        // inserted exactly when the scope is.
        let inserted = execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "id"))
            .await?
            .rows_affected();
        Ok(inserted == 1)
    }

    async fn lookup_scoped_session(&self, id: Uuid) -> StoreResult<Option<ScopedSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SCOPE_COLUMNS} FROM scoped_sessions WHERE id = $1"
        ))
        .bind(id)
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
             WHERE project_id = $1 AND environment = $2 AND ($3::uuid IS NULL OR id > $3) \
             AND ended_instant IS NULL ORDER BY id LIMIT $4"
        ))
        .bind(Uuid::from(project_id))
        .bind(environment.as_str())
        .bind(after)
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
        // One statement, as for login refresh tokens: a concurrent rotation
        // waits on the row lock, then finds the token used and inserts
        // nothing.
        let query = sqlx::query(
            "WITH claimed AS (UPDATE scoped_refresh_tokens SET used_instant = $8 \
             WHERE id = $9 AND used_instant IS NULL AND revoked_instant IS NULL RETURNING id), \
             touched AS (UPDATE scoped_sessions SET last_used_instant = $8 \
             WHERE id = $3 AND ended_instant IS NULL AND EXISTS (SELECT 1 FROM claimed)) \
             INSERT INTO scoped_refresh_tokens (id, token_digest, scoped_session_id, \
             insert_instant, expires_instant, used_instant, revoked_instant) \
             SELECT $1, $2, $3, $4, $5, $6, $7 FROM claimed",
        )
        .bind(new.id)
        .bind(&new.token_digest)
        .bind(new.scoped_session_id)
        .bind(new.insert_instant.as_millis())
        .bind(new.expires_instant.as_millis())
        .bind(new.used_instant.map(Instant::as_millis))
        .bind(new.revoked_instant.map(Instant::as_millis))
        .bind(now.as_millis())
        .bind(old_id);
        let inserted = execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "token"))
            .await?
            .rows_affected();
        Ok(if inserted == 1 {
            Rotation::Rotated
        } else {
            Rotation::AlreadyUsed
        })
    }

    async fn end_scoped_sessions(
        &self,
        filter: &ScopeFilter,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>> {
        if outbox.is_empty() {
            // One statement: atomic without an explicit transaction.
            let mut conn = self.pool.acquire().await.map_err(backend)?;
            let ended = end_scopes(&mut conn, Target::Filter(filter), now, reason).await?;
            return Ok(self.report_ended(&ended));
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let ended = end_scopes(&mut tx, Target::Filter(filter), now, reason).await?;
        // Ending nothing is no change, so no event.
        if !ended.is_empty() {
            insert_outbox(&mut tx, &outbox.events_for(&ended)).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(self.report_ended(&ended))
    }

    async fn list_scopes_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM scoped_sessions WHERE ended_instant >= $1")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }
}

//! Login sessions, authorization codes, refresh tokens and revoked access
//! tokens.

use async_trait::async_trait;
use lamba_model::{Instant, UserId};
use lamba_store::{
    AuthorizationCode, Change, CodeConsumption, LoginSession, Outbox, RefreshGrant, RefreshToken,
    Rotation, SessionRepository, StoreResult, codec,
};
use sqlx::Row;
use uuid::Uuid;

use crate::users::USER_COLUMNS;
use crate::users::user_from_row;

use super::{SqliteStore, aliased, backend, instant, uuid_column, write_error};

pub(crate) const SESSION_COLUMNS: &str = "id, user_id, application_id, auth_time, insert_instant, \
     last_used_instant, ended_instant, end_reason, ip_address, user_agent, \
     identity_provider_id";

pub(crate) fn session_from_row(
    row: &sqlx::sqlite::SqliteRow,
    prefix: &str,
) -> StoreResult<LoginSession> {
    lamba_store::rows::login_session(&crate::Lite(row), prefix)
}

const CODE_COLUMNS: &str = "code_digest, application_id, user_id, session_id, redirect_uri, \
     scope, nonce, code_challenge, resource, insert_instant, expires_instant, used_instant";

fn code_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<AuthorizationCode> {
    lamba_store::rows::authorization_code(&crate::Lite(row))
}

const REFRESH_COLUMNS: &str = "id, token_digest, family_id, application_id, user_id, session_id, \
     scope, resource, code_digest, family_insert_instant, insert_instant, expires_instant, \
     used_instant, revoked_instant, client_authentication";

fn refresh_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<RefreshToken> {
    lamba_store::rows::refresh_token(&crate::Lite(row))
}

fn insert_refresh<'q>(
    token: &'q RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
         session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
         expires_instant, used_instant, revoked_instant, client_authentication) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.id.to_string())
    .bind(&token.token_digest)
    .bind(token.family_id.to_string())
    .bind(token.application_id.to_string())
    .bind(token.user_id.to_string())
    .bind(token.session_id.to_string())
    .bind(&token.scope)
    .bind(&token.resource)
    .bind(&token.code_digest)
    .bind(token.family_insert_instant.as_millis())
    .bind(token.insert_instant.as_millis())
    .bind(token.expires_instant.as_millis())
    .bind(token.used_instant.map(Instant::as_millis))
    .bind(token.revoked_instant.map(Instant::as_millis))
    .bind(token.client_authentication.as_str())
}

/// The refresh token (unprefixed), its session (`s_`), user (`u_`) and
/// registration roles (`r_roles`), joined.
static REFRESH_GRANT_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, r.roles AS r_roles FROM refresh_tokens rt \
         JOIN login_sessions s ON s.id = rt.session_id \
         JOIN users u ON u.id = rt.user_id \
         LEFT JOIN registrations r ON r.user_id = rt.user_id AND r.application_id = rt.application_id \
         WHERE rt.token_digest = ?",
        aliased(REFRESH_COLUMNS, "rt", ""),
        aliased(SESSION_COLUMNS, "s", "s_"),
        aliased(USER_COLUMNS, "u", "u_"),
    )
});

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO login_sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let query = sqlx::query(&sql)
            .bind(session.id.to_string())
            .bind(session.user_id.to_string())
            .bind(session.application_id.to_string())
            .bind(session.auth_time.as_millis())
            .bind(session.insert_instant.as_millis())
            .bind(session.last_used_instant.as_millis())
            .bind(session.ended_instant.map(Instant::as_millis))
            .bind(&session.end_reason)
            .bind(&session.ip_address)
            .bind(&session.user_agent)
            .bind(session.identity_provider_id.map(|id| id.to_string()));
        self.execute_with_outbox(query, outbox, |e| write_error(e, "id"))
            .await?;
        Ok(())
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(|row| session_from_row(row, ""))
            .transpose()
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE user_id = ? \
             ORDER BY insert_instant DESC, id DESC"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| session_from_row(row, "")).collect()
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = ? WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn end_login_session(
        &self,
        id: Uuid,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let ended = sqlx::query(
            "UPDATE login_sessions SET ended_instant = ?, end_reason = ? \
             WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if ended {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_instant = ? \
                 WHERE session_id = ? AND revoked_instant IS NULL",
            )
            .bind(now.as_millis())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let ended_scopes = if ended {
            let scopes =
                crate::scopes::end_scopes(&mut tx, crate::scopes::Target::Login(id), now, reason)
                    .await?;
            crate::webhook::insert_outbox(&mut tx, &outbox.events_for(&scopes)).await?;
            scopes
        } else {
            Vec::new()
        };
        tx.commit().await.map_err(backend)?;
        if !ended {
            return Ok(None);
        }
        let _ = self.changes.send(Change::SessionEnded(id));
        Ok(Some(self.report_ended(&ended_scopes)))
    }

    async fn list_sessions_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM login_sessions WHERE ended_instant >= ?")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&code.code_digest)
        .bind(code.application_id.to_string())
        .bind(code.user_id.to_string())
        .bind(code.session_id.to_string())
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(&code.resource)
        .bind(code.insert_instant.as_millis())
        .bind(code.expires_instant.as_millis())
        .bind(code.used_instant.map(Instant::as_millis))
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "code"))?;
        Ok(())
    }

    async fn find_authorization_code(
        &self,
        code_digest: &[u8],
    ) -> StoreResult<Option<AuthorizationCode>> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = ?"
        ))
        .bind(code_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn consume_authorization_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<CodeConsumption> {
        let fresh = sqlx::query(&format!(
            "UPDATE authorization_codes SET used_instant = ? \
             WHERE code_digest = ? AND used_instant IS NULL RETURNING {CODE_COLUMNS}"
        ))
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_optional(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        if let Some(row) = fresh {
            return Ok(CodeConsumption::Fresh(code_from_row(&row)?));
        }
        let used = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = ?"
        ))
        .bind(code_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match used {
            Some(row) => Ok(CodeConsumption::Replayed(code_from_row(&row)?)),
            None => Ok(CodeConsumption::Unknown),
        }
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        insert_refresh(token)
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_digest = ?"
        ))
        .bind(token_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    async fn find_refresh_grant(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>> {
        let row = sqlx::query(&REFRESH_GRANT_SELECT)
            .bind(token_digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let roles: Option<String> = row.try_get("r_roles").map_err(backend)?;
        Ok(Some(RefreshGrant {
            token: refresh_from_row(&row)?,
            session: session_from_row(&row, "s_")?,
            user: user_from_row(&row, "u_")?,
            roles: roles
                .as_deref()
                .map(codec::parse_roles)
                .transpose()?
                .unwrap_or_default(),
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        new: &RefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_instant = ? \
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
        insert_refresh(new)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "token"))?;
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = ? WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(new.session_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        crate::webhook::insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Rotation::Rotated)
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET expires_instant = ? WHERE id = ?")
            .bind(expires.as_millis())
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = ? WHERE id = ? AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = ? \
             WHERE family_id = ? AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(family_id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn list_refresh_family(&self, family_id: Uuid) -> StoreResult<Vec<RefreshToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE family_id = ? \
             ORDER BY insert_instant, id"
        ))
        .bind(family_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(refresh_from_row).collect()
    }

    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = ? WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE code_digest = ?) AND revoked_instant IS NULL \
             RETURNING family_id",
        )
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_all(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let mut families = rows
            .iter()
            .map(|row| uuid_column(row, "family_id"))
            .collect::<StoreResult<Vec<Uuid>>>()?;
        families.sort_unstable();
        families.dedup();
        Ok(families)
    }

    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_instant) VALUES (?, ?) \
             ON CONFLICT (jti) DO UPDATE SET \
             expires_instant = MAX(expires_instant, excluded.expires_instant)",
        )
        .bind(jti.to_string())
        .bind(expires.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let _ = self
            .changes
            .send(Change::AccessTokenRevoked(jti, Some(expires)));
        Ok(())
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<(Uuid, Instant)>> {
        let rows = sqlx::query(
            "SELECT jti, expires_instant FROM revoked_access_tokens WHERE expires_instant > ?",
        )
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| Ok((uuid_column(row, "jti")?, instant(row, "expires_instant")?)))
            .collect()
    }

    async fn is_access_token_revoked(&self, jti: Uuid, now: Instant) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM revoked_access_tokens WHERE jti = ? AND expires_instant > ?",
        )
        .bind(jti.to_string())
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64> {
        let mut pruned = 0;
        for (sql, at) in [
            (
                "DELETE FROM authorization_codes WHERE expires_instant <= ?",
                now,
            ),
            ("DELETE FROM refresh_tokens WHERE expires_instant <= ?", now),
            (
                "DELETE FROM federation_requests WHERE expires_instant <= ?",
                now,
            ),
            (
                "DELETE FROM saml_assertions WHERE expires_instant <= ?",
                now,
            ),
            (
                "DELETE FROM revoked_access_tokens WHERE expires_instant <= ?",
                now,
            ),
            (
                "DELETE FROM login_sessions WHERE ended_instant <= ?",
                ended_before,
            ),
            (
                "DELETE FROM scoped_refresh_tokens WHERE expires_instant <= ?",
                now,
            ),
            // A pruned scope's tokens go with it; they are dead already.
            (
                "DELETE FROM scoped_refresh_tokens WHERE scoped_session_id IN \
                 (SELECT id FROM scoped_sessions WHERE ended_instant <= ?)",
                ended_before,
            ),
            (
                "DELETE FROM scoped_sessions WHERE ended_instant <= ?",
                ended_before,
            ),
        ] {
            pruned += sqlx::query(sql)
                .bind(at.as_millis())
                .execute(&mut *self.writer.lock().await?)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(pruned)
    }
}

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
use crate::webhook::{execute_with_outbox, insert_outbox};

use super::{CHANGES_CHANNEL, PostgresStore, aliased, backend, instant, uuid_column, write_error};

pub(crate) const SESSION_COLUMNS: &str = "id, user_id, application_id, auth_time, insert_instant, \
     last_used_instant, ended_instant, end_reason, ip_address, user_agent, \
     identity_provider_id";

pub(crate) fn session_from_row(
    row: &sqlx::postgres::PgRow,
    prefix: &str,
) -> StoreResult<LoginSession> {
    lamba_store::rows::login_session(&crate::Pg(row), prefix)
}

const CODE_COLUMNS: &str = "code_digest, application_id, user_id, session_id, redirect_uri, \
     scope, nonce, code_challenge, resource, insert_instant, expires_instant, used_instant";

fn code_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<AuthorizationCode> {
    lamba_store::rows::authorization_code(&crate::Pg(row))
}

const REFRESH_COLUMNS: &str = "id, token_digest, family_id, application_id, user_id, session_id, \
     scope, resource, code_digest, family_insert_instant, insert_instant, expires_instant, \
     used_instant, revoked_instant, client_authentication";

fn refresh_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<RefreshToken> {
    lamba_store::rows::refresh_token(&crate::Pg(row))
}

fn insert_refresh<'q>(
    token: &'q RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
         session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
         expires_instant, used_instant, revoked_instant, client_authentication) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(token.id)
    .bind(&token.token_digest)
    .bind(token.family_id)
    .bind(Uuid::from(token.application_id))
    .bind(Uuid::from(token.user_id))
    .bind(token.session_id)
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
         WHERE rt.token_digest = $1",
        aliased(REFRESH_COLUMNS, "rt", ""),
        aliased(SESSION_COLUMNS, "s", "s_"),
        aliased(USER_COLUMNS, "u", "u_"),
    )
});

#[async_trait]
impl SessionRepository for PostgresStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO login_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let query = sqlx::query(&sql)
            .bind(session.id)
            .bind(Uuid::from(session.user_id))
            .bind(Uuid::from(session.application_id))
            .bind(session.auth_time.as_millis())
            .bind(session.insert_instant.as_millis())
            .bind(session.last_used_instant.as_millis())
            .bind(session.ended_instant.map(Instant::as_millis))
            .bind(&session.end_reason)
            .bind(&session.ip_address)
            .bind(&session.user_agent)
            .bind(session.identity_provider_id.map(Uuid::from));
        execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "id")).await?;
        Ok(())
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(|row| session_from_row(row, ""))
            .transpose()
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE user_id = $1 \
             ORDER BY insert_instant DESC, id DESC"
        ))
        .bind(Uuid::from(user_id))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| session_from_row(row, "")).collect()
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = $1 WHERE id = $2 AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let ended = sqlx::query(
            "UPDATE login_sessions SET ended_instant = $1, end_reason = $2 \
             WHERE id = $3 AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if ended {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_instant = $1 \
                 WHERE session_id = $2 AND revoked_instant IS NULL",
            )
            .bind(now.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
                .bind(format!("session_ended:{id}"))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let ended_scopes = if ended {
            let scopes =
                crate::scopes::end_scopes(&mut tx, crate::scopes::Target::Login(id), now, reason)
                    .await?;
            insert_outbox(&mut tx, &outbox.events_for(&scopes)).await?;
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
        let rows = sqlx::query("SELECT id FROM login_sessions WHERE ended_instant >= $1")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&code.code_digest)
        .bind(Uuid::from(code.application_id))
        .bind(Uuid::from(code.user_id))
        .bind(code.session_id)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(&code.resource)
        .bind(code.insert_instant.as_millis())
        .bind(code.expires_instant.as_millis())
        .bind(code.used_instant.map(Instant::as_millis))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "code"))?;
        Ok(())
    }

    async fn find_authorization_code(
        &self,
        code_digest: &[u8],
    ) -> StoreResult<Option<AuthorizationCode>> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = $1"
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
            "UPDATE authorization_codes SET used_instant = $1 \
             WHERE code_digest = $2 AND used_instant IS NULL RETURNING {CODE_COLUMNS}"
        ))
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if let Some(row) = fresh {
            return Ok(CodeConsumption::Fresh(code_from_row(&row)?));
        }
        let used = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = $1"
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
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_digest = $1"
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
        // One statement, one round trip: claim the old token, record the
        // session's use and insert the successor only if the claim won.
        // A concurrent rotation waits on the row lock, then finds the token
        // used and inserts nothing.
        let query = sqlx::query(
            "WITH claimed AS (UPDATE refresh_tokens SET used_instant = $15 \
             WHERE id = $16 AND used_instant IS NULL AND revoked_instant IS NULL RETURNING id), \
             touched AS (UPDATE login_sessions SET last_used_instant = $15 \
             WHERE id = $6 AND ended_instant IS NULL AND EXISTS (SELECT 1 FROM claimed)) \
             INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
             session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
             expires_instant, used_instant, revoked_instant, client_authentication) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $17 FROM claimed",
        )
        .bind(new.id)
        .bind(&new.token_digest)
        .bind(new.family_id)
        .bind(Uuid::from(new.application_id))
        .bind(Uuid::from(new.user_id))
        .bind(new.session_id)
        .bind(&new.scope)
        .bind(&new.resource)
        .bind(&new.code_digest)
        .bind(new.family_insert_instant.as_millis())
        .bind(new.insert_instant.as_millis())
        .bind(new.expires_instant.as_millis())
        .bind(new.used_instant.map(Instant::as_millis))
        .bind(new.revoked_instant.map(Instant::as_millis))
        .bind(now.as_millis())
        .bind(old_id)
        .bind(new.client_authentication.as_str());
        let inserted = execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "token"))
            .await?
            .rows_affected();
        Ok(if inserted == 1 {
            Rotation::Rotated
        } else {
            Rotation::AlreadyUsed
        })
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET expires_instant = $1 WHERE id = $2")
            .bind(expires.as_millis())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = $1 WHERE id = $2 AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = $1 \
             WHERE family_id = $2 AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(family_id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn list_refresh_family(&self, family_id: Uuid) -> StoreResult<Vec<RefreshToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE family_id = $1 \
             ORDER BY insert_instant, id"
        ))
        .bind(family_id)
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
            "UPDATE refresh_tokens SET revoked_instant = $1 WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE code_digest = $2) AND revoked_instant IS NULL \
             RETURNING family_id",
        )
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_instant) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET expires_instant = \
             GREATEST(revoked_access_tokens.expires_instant, EXCLUDED.expires_instant)",
        )
        .bind(jti)
        .bind(expires.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
            .bind(format!(
                "access_token_revoked:{jti}:{}",
                expires.as_millis()
            ))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let _ = self
            .changes
            .send(Change::AccessTokenRevoked(jti, Some(expires)));
        Ok(())
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<(Uuid, Instant)>> {
        let rows = sqlx::query(
            "SELECT jti, expires_instant FROM revoked_access_tokens WHERE expires_instant > $1",
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
            "SELECT 1 FROM revoked_access_tokens WHERE jti = $1 AND expires_instant > $2",
        )
        .bind(jti)
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
                "DELETE FROM authorization_codes WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM refresh_tokens WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM federation_requests WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM saml_assertions WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM revoked_access_tokens WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM login_sessions WHERE ended_instant <= $1",
                ended_before,
            ),
            (
                "DELETE FROM scoped_refresh_tokens WHERE expires_instant <= $1",
                now,
            ),
            // A pruned scope's tokens go with it; they are dead already.
            (
                "DELETE FROM scoped_refresh_tokens WHERE scoped_session_id IN \
                 (SELECT id FROM scoped_sessions WHERE ended_instant <= $1)",
                ended_before,
            ),
            (
                "DELETE FROM scoped_sessions WHERE ended_instant <= $1",
                ended_before,
            ),
        ] {
            pruned += sqlx::query(sql)
                .bind(at.as_millis())
                .execute(&self.pool)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(pruned)
    }
}

#[cfg(test)]
mod change_tests {
    use lamba_model::Instant;
    use lamba_store::Change;
    use uuid::Uuid;

    use super::super::parse_change;

    #[test]
    fn a_revocation_notice_carries_its_expiry_and_older_ones_are_read_too() {
        let jti = Uuid::new_v4();
        assert_eq!(
            parse_change(&format!("access_token_revoked:{jti}:1700000000123")),
            Some(Change::AccessTokenRevoked(
                jti,
                Some(Instant::from_millis(1_700_000_000_123))
            ))
        );
        assert_eq!(
            parse_change(&format!("access_token_revoked:{jti}")),
            Some(Change::AccessTokenRevoked(jti, None)),
            "from a node of the previous version"
        );
        assert_eq!(parse_change("access_token_revoked:nope:1"), None);
        assert_eq!(
            parse_change(&format!("access_token_revoked:{jti}:soon")),
            Some(Change::AccessTokenRevoked(jti, None))
        );
        assert_eq!(
            parse_change("identity_providers:"),
            Some(Change::IdentityProviders)
        );
    }
}

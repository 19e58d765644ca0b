//! Users and their registrations.

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant, ProjectId, Registration, User, UserId};
use lamba_store::{Change, Outbox, StoreError, StoreResult, UserRepository, codec};
use uuid::Uuid;

use crate::webhook::execute_with_outbox;

use super::{CHANGES_CHANNEL, PostgresStore, backend, write_error};

pub(crate) const USER_COLUMNS: &str = "id, email, email_normalized, password_hash, first_name, last_name, \
     data, insert_instant, last_update_instant, username, username_normalized";

pub(crate) fn user_from_row(row: &sqlx::postgres::PgRow, prefix: &str) -> StoreResult<User> {
    lamba_store::rows::user(&crate::Pg(row), prefix)
}

const REGISTRATION_COLUMNS: &str =
    "user_id, application_id, roles, insert_instant, last_update_instant";

fn registration_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Registration> {
    lamba_store::rows::registration(&crate::Pg(row))
}

/// A unique violation on users is the email or the username (the id is
/// random); the message names the index's column either way.
fn user_write_error(error: sqlx::Error) -> StoreError {
    let on_username =
        matches!(&error, sqlx::Error::Database(db) if db.message().contains("username"));
    write_error(error, if on_username { "username" } else { "email" })
}

#[async_trait]
impl UserRepository for PostgresStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1"
        ))
        .bind(User::normalize_email(email))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_normalized = $1"
        ))
        .bind(User::normalize_username(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let query = sqlx::query(&sql)
            .bind(user.id.as_uuid())
            .bind(&user.email)
            .bind(User::normalize_email(&user.email))
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(codec::user_data(&user.data)?)
            .bind(user.insert_instant.as_millis())
            .bind(user.last_update_instant.as_millis())
            .bind(&user.username)
            .bind(user.username.as_deref().map(User::normalize_username));
        execute_with_outbox(&self.pool, query, outbox, user_write_error).await?;
        Ok(())
    }

    /// The stored instant always moves forward, even within one millisecond
    /// or from a node whose clock is behind: a profile edit's guard on the
    /// instant it read can then never match a copy changed since.
    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET email = $1, email_normalized = $2, password_hash = $3, \
             first_name = $4, last_name = $5, data = $6, \
             last_update_instant = GREATEST($7, last_update_instant + 1), \
             username = $9, username_normalized = $10 WHERE id = $8",
        )
        .bind(&user.email)
        .bind(User::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(user.id.as_uuid())
        .bind(&user.username)
        .bind(user.username.as_deref().map(User::normalize_username));
        let done = execute_with_outbox(&self.pool, query, outbox, user_write_error).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_user_profile(
        &self,
        user: &User,
        read_at: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET first_name = $1, last_name = $2, data = $3, \
             last_update_instant = $4 WHERE id = $5 AND last_update_instant = $6",
        )
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(user.id.as_uuid())
        .bind(read_at.as_millis());
        let done = execute_with_outbox(&self.pool, query, outbox, user_write_error).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        // The memberships go with the user (the foreign key would take them
        // too); deleting them first says which, so every node's cache
        // forgets them.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Locked first: a membership added after this point waits for the
        // user row and then fails its foreign key, instead of slipping in
        // between the two deletes and going with the cascade unannounced.
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let projects: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM project_members WHERE user_id = $1 RETURNING project_id",
        )
        .bind(id.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for project in &projects {
            sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
                .bind(format!("member:{project}:{id}"))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            == 1;
        tx.commit().await.map_err(backend)?;
        for project in projects {
            let _ = self
                .changes
                .send(Change::Member(ProjectId::from_uuid(project), id));
        }
        Ok(deleted)
    }

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>> {
        let row = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations \
             WHERE user_id = $1 AND application_id = $2"
        ))
        .bind(user_id.as_uuid())
        .bind(application_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>> {
        // Ordered as text, as SQLite orders its text UUIDs.
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = $1 \
             ORDER BY application_id::text COLLATE \"C\""
        ))
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(registration_from_row).collect()
    }

    async fn add_registration(&self, registration: &Registration) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(registration.user_id.as_uuid())
        .bind(registration.application_id.as_uuid())
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.insert_instant.as_millis())
        .bind(registration.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "registration"))?;
        Ok(())
    }

    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE registrations SET roles = $1, last_update_instant = $2 \
             WHERE user_id = $3 AND application_id = $4",
        )
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.last_update_instant.as_millis())
        .bind(registration.user_id.as_uuid())
        .bind(registration.application_id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM registrations WHERE user_id = $1 AND application_id = $2")
                .bind(user_id.as_uuid())
                .bind(application_id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

//! Users and their registrations.

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant, ProjectId, Registration, User, UserId};
use lamba_store::{Change, Outbox, StoreError, StoreResult, UserRepository, codec};

use super::{SqliteStore, backend, parse_uuid, write_error};

pub(crate) const USER_COLUMNS: &str = "id, email, email_normalized, password_hash, first_name, last_name, \
     data, insert_instant, last_update_instant, username, username_normalized";

pub(crate) fn user_from_row(row: &sqlx::sqlite::SqliteRow, prefix: &str) -> StoreResult<User> {
    lamba_store::rows::user(&crate::Lite(row), prefix)
}

const REGISTRATION_COLUMNS: &str =
    "user_id, application_id, roles, insert_instant, last_update_instant";

fn registration_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Registration> {
    lamba_store::rows::registration(&crate::Lite(row))
}

/// A unique violation on users is the email or the username (the id is
/// random); the message names the index's column either way.
fn user_write_error(error: sqlx::Error) -> StoreError {
    let on_username =
        matches!(&error, sqlx::Error::Database(db) if db.message().contains("username"));
    write_error(error, if on_username { "username" } else { "email" })
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = ?"
        ))
        .bind(User::normalize_email(email))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_normalized = ?"
        ))
        .bind(User::normalize_username(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let query = sqlx::query(&sql)
            .bind(user.id.to_string())
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
        self.execute_with_outbox(query, outbox, user_write_error)
            .await?;
        Ok(())
    }

    /// The stored instant always moves forward, even within one millisecond
    /// or from a node whose clock is behind: a profile edit's guard on the
    /// instant it read can then never match a copy changed since.
    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET email = ?, email_normalized = ?, password_hash = ?, first_name = ?, \
             last_name = ?, data = ?, last_update_instant = MAX(?, last_update_instant + 1), \
             username = ?, username_normalized = ? WHERE id = ?",
        )
        .bind(&user.email)
        .bind(User::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(&user.username)
        .bind(user.username.as_deref().map(User::normalize_username))
        .bind(user.id.to_string());
        let changed = self
            .execute_with_outbox(query, outbox, user_write_error)
            .await?;
        Ok(changed == 1)
    }

    async fn update_user_profile(
        &self,
        user: &User,
        read_at: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET first_name = ?, last_name = ?, data = ?, last_update_instant = ? \
             WHERE id = ? AND last_update_instant = ?",
        )
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(user.id.to_string())
        .bind(read_at.as_millis());
        let changed = self
            .execute_with_outbox(query, outbox, user_write_error)
            .await?;
        Ok(changed == 1)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        // The memberships go with the user (the foreign key would take them
        // too); deleting them first says which, so caches forget them.
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let projects: Vec<String> = sqlx::query_scalar(
            "DELETE FROM project_members WHERE user_id = ? RETURNING project_id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        // Parsed before the commit, so a corrupt id fails the delete whole.
        let projects = projects
            .iter()
            .map(|p| parse_uuid::<ProjectId>(p, "project_id"))
            .collect::<StoreResult<Vec<_>>>()?;
        let deleted = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            == 1;
        tx.commit().await.map_err(backend)?;
        for project in projects {
            let _ = self.changes.send(Change::Member(project, id));
        }
        Ok(deleted)
    }

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>> {
        let row = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = ? AND application_id = ?"
        ))
        .bind(user_id.to_string())
        .bind(application_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>> {
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = ? ORDER BY application_id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(registration_from_row).collect()
    }

    async fn add_registration(&self, registration: &Registration) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(registration.user_id.to_string())
        .bind(registration.application_id.to_string())
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.insert_instant.as_millis())
        .bind(registration.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "registration"))?;
        Ok(())
    }

    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE registrations SET roles = ?, last_update_instant = ? \
             WHERE user_id = ? AND application_id = ?",
        )
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.last_update_instant.as_millis())
        .bind(registration.user_id.to_string())
        .bind(registration.application_id.to_string())
        .execute(&mut *self.writer.lock().await?)
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
            sqlx::query("DELETE FROM registrations WHERE user_id = ? AND application_id = ?")
                .bind(user_id.to_string())
                .bind(application_id.to_string())
                .execute(&mut *self.writer.lock().await?)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

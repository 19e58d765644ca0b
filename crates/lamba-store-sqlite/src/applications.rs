//! Applications (OAuth clients).

use async_trait::async_trait;
use lamba_model::{Application, ApplicationId};
use lamba_store::{ApplicationRepository, Change, StoreResult, codec};

use super::{SqliteStore, backend, write_error};

const APPLICATION_COLUMNS: &str = "id, name, config, client_secret_digest, \
     access_token_populate_id, id_token_populate_id, insert_instant, last_update_instant";

fn application_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Application> {
    lamba_store::rows::application(&crate::Lite(row))
}

#[async_trait]
impl ApplicationRepository for SqliteStore {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(application_from_row).collect()
    }

    async fn add_application(&self, application: &Application) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(application.id.to_string())
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(application.insert_instant.as_millis())
        .bind(application.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(())
    }

    async fn update_application(&self, application: &Application) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE applications SET name = ?, config = ?, client_secret_digest = ?, \
             access_token_populate_id = ?, id_token_populate_id = ?, last_update_instant = ? \
             WHERE id = ?",
        )
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(application.last_update_instant.as_millis())
        .bind(application.id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM applications WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::Application(id));
        Ok(done.rows_affected() == 1)
    }
}

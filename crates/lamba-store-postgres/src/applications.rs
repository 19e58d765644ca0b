//! Applications (OAuth clients).

use async_trait::async_trait;
use lamba_model::{Application, ApplicationId};
use lamba_store::{ApplicationRepository, Change, StoreResult, codec};

use super::{CHANGES_CHANNEL, PostgresStore, backend, write_error};

const APPLICATION_COLUMNS: &str = "id, name, config, client_secret_digest, \
     access_token_populate_id, id_token_populate_id, insert_instant, last_update_instant";

fn application_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Application> {
    lamba_store::rows::application(&crate::Pg(row))
}

#[async_trait]
impl ApplicationRepository for PostgresStore {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY name COLLATE \"C\", id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(application_from_row).collect()
    }

    async fn add_application(&self, application: &Application) -> StoreResult<()> {
        sqlx::query(&format!(
            "WITH written AS (INSERT INTO applications ({APPLICATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(application.id.as_uuid())
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(application.insert_instant.as_millis())
        .bind(application.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(())
    }

    async fn update_application(&self, application: &Application) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (UPDATE applications SET name = $1, config = $2, \
             client_secret_digest = $3, access_token_populate_id = $4, id_token_populate_id = $5, \
             last_update_instant = $6 WHERE id = $7 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(application.last_update_instant.as_millis())
        .bind(application.id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (DELETE FROM applications WHERE id = $1 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Application(id));
        Ok(done.rows_affected() == 1)
    }
}

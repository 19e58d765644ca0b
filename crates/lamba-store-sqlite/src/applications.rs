//! Applications (OAuth clients).

use async_trait::async_trait;
use lamba_model::{
    Application, ApplicationId, Instant, JwtConfiguration, LambdaConfiguration, LambdaId,
    OAuthConfiguration,
};
use lamba_store::{ApplicationRepository, Change, StoreResult, codec};
use sqlx::Row;

use super::{SqliteStore, backend, parse_uuid, write_error};

const APPLICATION_COLUMNS: &str = "id, name, config, client_secret_digest, \
     access_token_populate_id, id_token_populate_id, insert_instant, last_update_instant";

fn application_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Application> {
    let id: String = row.try_get("id").map_err(backend)?;
    let lambda_id = |column: &str| -> StoreResult<Option<LambdaId>> {
        let raw: Option<String> = row.try_get(column).map_err(backend)?;
        raw.as_deref()
            .map(|r| parse_uuid(r, "lambda id"))
            .transpose()
    };
    let mut application = Application {
        id: parse_uuid(&id, "application id")?,
        name: row.try_get("name").map_err(backend)?,
        project_id: None,
        environment: None,
        roles: Vec::new(),
        oauth: OAuthConfiguration {
            client_secret_digest: row.try_get("client_secret_digest").map_err(backend)?,
            client_authentication_policy: lamba_model::ClientAuthenticationPolicy::Required,
            proof_key_for_code_exchange_policy: lamba_model::PkcePolicy::Required,
            authorized_redirect_urls: Vec::new(),
            logout_url: None,
            enabled_grants: Vec::new(),
        },
        jwt: JwtConfiguration::default(),
        lambda: LambdaConfiguration {
            access_token_populate_id: lambda_id("access_token_populate_id")?,
            id_token_populate_id: lambda_id("id_token_populate_id")?,
            failure_policy: lamba_model::FailurePolicy::Closed,
        },
        failed_authentication: lamba_model::FailedAuthenticationConfiguration::default(),
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        last_update_instant: Instant::from_millis(
            row.try_get("last_update_instant").map_err(backend)?,
        ),
    };
    let config: String = row.try_get("config").map_err(backend)?;
    codec::apply_application_config(&mut application, &config)?;
    Ok(application)
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
        .execute(&self.writer)
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
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM applications WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::Application(id));
        Ok(done.rows_affected() == 1)
    }
}

//! Webhooks on SQLite.

use std::str::FromStr;

use async_trait::async_trait;
use lamba_model::{Environment, ProjectId, Webhook, WebhookId};
use lamba_store::{StoreResult, WebhookRepository};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, backend, corrupt, instant, parse_uuid, uuid_column, write_error};

const WEBHOOK_COLUMNS: &str = "id, url, description, event_types, project_id, environment, \
     enabled, secret, secret_sealed, insert_instant, last_update_instant";

fn webhook_from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    let event_types: String = row.try_get("event_types").map_err(backend)?;
    let project_id: Option<String> = row.try_get("project_id").map_err(backend)?;
    let environment: Option<String> = row.try_get("environment").map_err(backend)?;
    Ok(Webhook {
        id: uuid_column(row, "id")?,
        url: row.try_get("url").map_err(backend)?,
        description: row.try_get("description").map_err(backend)?,
        event_types: serde_json::from_str(&event_types)
            .map_err(|e| corrupt(format!("webhook event types: {e}")))?,
        project_id: project_id
            .map(|raw| parse_uuid::<ProjectId>(&raw, "project_id"))
            .transpose()?,
        environment: environment
            .as_deref()
            .map(|e| {
                Environment::from_str(e).map_err(|_| corrupt(format!("webhook environment {e:?}")))
            })
            .transpose()?,
        enabled: row.try_get("enabled").map_err(backend)?,
        secret: row.try_get("secret").map_err(backend)?,
        secret_sealed: row.try_get("secret_sealed").map_err(backend)?,
        insert_instant: instant(row, "insert_instant")?,
        last_update_instant: instant(row, "last_update_instant")?,
    })
}

fn event_types_json(webhook: &Webhook) -> String {
    serde_json::Value::from(webhook.event_types.clone()).to_string()
}

#[async_trait]
impl WebhookRepository for SqliteStore {
    async fn lookup_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY insert_instant, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn add_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(webhook.id.to_string())
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(|p| p.to_string()))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.insert_instant.as_millis())
        .bind(webhook.last_update_instant.as_millis())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        Ok(())
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET url = ?, description = ?, event_types = ?, project_id = ?, \
             environment = ?, enabled = ?, secret = ?, secret_sealed = ?, \
             last_update_instant = ? WHERE id = ?",
        )
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(|p| p.to_string()))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.last_update_instant.as_millis())
        .bind(webhook.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

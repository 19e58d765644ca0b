//! Lambdas.

use std::str::FromStr;

use async_trait::async_trait;
use lamba_model::{Instant, Lambda, LambdaId, LambdaType};
use lamba_store::{Change, LambdaRepository, StoreResult};
use sqlx::Row;

use super::{SqliteStore, backend, corrupt, write_error};

const LAMBDA_COLUMNS: &str =
    "id, name, lambda_type, body, debug, enabled, insert_instant, last_update_instant";

fn lambda_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Lambda> {
    let id: String = row.try_get("id").map_err(backend)?;
    let lambda_type: String = row.try_get("lambda_type").map_err(backend)?;
    Ok(Lambda {
        id: LambdaId::from_str(&id).map_err(|e| corrupt(format!("lambda id {id:?}: {e}")))?,
        name: row.try_get("name").map_err(backend)?,
        lambda_type: LambdaType::from_str(&lambda_type).map_err(corrupt)?,
        body: row.try_get("body").map_err(backend)?,
        debug: row.try_get("debug").map_err(backend)?,
        enabled: row.try_get("enabled").map_err(backend)?,
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        last_update_instant: Instant::from_millis(
            row.try_get("last_update_instant").map_err(backend)?,
        ),
    })
}

#[async_trait]
impl LambdaRepository for SqliteStore {
    async fn lookup_lambda(&self, id: LambdaId) -> StoreResult<Option<Lambda>> {
        let row = sqlx::query(&format!(
            "SELECT {LAMBDA_COLUMNS} FROM lambdas WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(lambda_from_row).transpose()
    }

    async fn list_lambdas(&self, lambda_type: Option<LambdaType>) -> StoreResult<Vec<Lambda>> {
        let rows =
            match lambda_type {
                Some(t) => sqlx::query(&format!(
                    "SELECT {LAMBDA_COLUMNS} FROM lambdas WHERE lambda_type = ? ORDER BY name, id"
                ))
                .bind(t.as_str())
                .fetch_all(&self.pool)
                .await,
                None => {
                    sqlx::query(&format!(
                        "SELECT {LAMBDA_COLUMNS} FROM lambdas ORDER BY name, id"
                    ))
                    .fetch_all(&self.pool)
                    .await
                }
            }
            .map_err(backend)?;
        rows.iter().map(lambda_from_row).collect()
    }

    async fn add_lambda(&self, lambda: &Lambda) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO lambdas ({LAMBDA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(lambda.id.to_string())
        .bind(&lambda.name)
        .bind(lambda.lambda_type.as_str())
        .bind(&lambda.body)
        .bind(lambda.debug)
        .bind(lambda.enabled)
        .bind(lambda.insert_instant.as_millis())
        .bind(lambda.last_update_instant.as_millis())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(())
    }

    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE lambdas SET name = ?, body = ?, debug = ?, enabled = ?, \
             last_update_instant = ? WHERE id = ?",
        )
        .bind(&lambda.name)
        .bind(&lambda.body)
        .bind(lambda.debug)
        .bind(lambda.enabled)
        .bind(lambda.last_update_instant.as_millis())
        .bind(lambda.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM lambdas WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Lambda(id));
        Ok(done.rows_affected() == 1)
    }
}

//! Lambdas.

use async_trait::async_trait;
use lamba_model::{Lambda, LambdaId, LambdaType};
use lamba_store::{Change, LambdaRepository, StoreResult};

use super::{SqliteStore, backend, write_error};

const LAMBDA_COLUMNS: &str =
    "id, name, lambda_type, body, debug, enabled, insert_instant, last_update_instant";

fn lambda_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Lambda> {
    lamba_store::rows::lambda(&crate::Lite(row))
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
        .execute(&mut *self.writer.lock().await?)
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
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM lambdas WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Lambda(id));
        Ok(done.rows_affected() == 1)
    }
}

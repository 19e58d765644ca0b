//! Lambdas.

use async_trait::async_trait;
use lamba_model::{Lambda, LambdaId, LambdaType};
use lamba_store::{Change, LambdaRepository, StoreResult};

use super::{CHANGES_CHANNEL, PostgresStore, backend, write_error};

const LAMBDA_COLUMNS: &str =
    "id, name, lambda_type, body, debug, enabled, insert_instant, last_update_instant";

fn lambda_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Lambda> {
    lamba_store::rows::lambda(&crate::Pg(row))
}

#[async_trait]
impl LambdaRepository for PostgresStore {
    async fn lookup_lambda(&self, id: LambdaId) -> StoreResult<Option<Lambda>> {
        let row = sqlx::query(&format!(
            "SELECT {LAMBDA_COLUMNS} FROM lambdas WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(lambda_from_row).transpose()
    }

    async fn list_lambdas(&self, lambda_type: Option<LambdaType>) -> StoreResult<Vec<Lambda>> {
        // COLLATE "C" orders names by code point, as SQLite does, so both
        // backends list in the same order whatever the database's locale.
        let rows = match lambda_type {
            Some(t) => {
                sqlx::query(&format!(
                    "SELECT {LAMBDA_COLUMNS} FROM lambdas WHERE lambda_type = $1 \
                 ORDER BY name COLLATE \"C\", id"
                ))
                .bind(t.as_str())
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {LAMBDA_COLUMNS} FROM lambdas ORDER BY name COLLATE \"C\", id"
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
            "WITH written AS (INSERT INTO lambdas ({LAMBDA_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'lambda:' || id::text) FROM written"
        ))
        .bind(lambda.id.as_uuid())
        .bind(&lambda.name)
        .bind(lambda.lambda_type.as_str())
        .bind(&lambda.body)
        .bind(lambda.debug)
        .bind(lambda.enabled)
        .bind(lambda.insert_instant.as_millis())
        .bind(lambda.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(())
    }

    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (UPDATE lambdas SET name = $1, body = $2, debug = $3, \
             enabled = $4, last_update_instant = $5 WHERE id = $6 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'lambda:' || id::text) FROM written"
        ))
        .bind(&lambda.name)
        .bind(&lambda.body)
        .bind(lambda.debug)
        .bind(lambda.enabled)
        .bind(lambda.last_update_instant.as_millis())
        .bind(lambda.id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (DELETE FROM lambdas WHERE id = $1 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'lambda:' || id::text) FROM written"
        ))
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Lambda(id));
        Ok(done.rows_affected() == 1)
    }
}

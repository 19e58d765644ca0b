//! Operator API keys.

use async_trait::async_trait;
use lamba_model::{ApiKey, ApiKeyDigest};
use lamba_store::{ApiKeyRepository, StoreResult};

use super::{FIRST_KEY_LOCK, PostgresStore, backend, write_error};

fn api_key_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<ApiKey> {
    lamba_store::rows::api_key(&crate::Pg(row))
}

const API_KEY_COLUMNS: &str = "id, digest, description, is_superuser, insert_instant";

#[async_trait]
impl ApiKeyRepository for PostgresStore {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE digest = $1"
        ))
        .bind(digest.0.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(key.id.as_uuid())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(())
    }

    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        // Under READ COMMITTED two nodes could both see no key and both
        // insert; the transaction-scoped advisory lock makes the check and
        // the insert one step across every node.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_KEY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) SELECT $1, $2, $3, $4, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM api_keys)"
        ))
        .bind(key.id.as_uuid())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "key"))?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (digest) DO NOTHING"
        ))
        .bind(key.id.as_uuid())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(done.rows_affected() == 1)
    }
}

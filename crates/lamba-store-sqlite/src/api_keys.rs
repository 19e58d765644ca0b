//! Operator API keys.

use async_trait::async_trait;
use lamba_model::{ApiKey, ApiKeyDigest};
use lamba_store::{ApiKeyRepository, StoreResult};

use super::{SqliteStore, backend, write_error};

fn api_key_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<ApiKey> {
    lamba_store::rows::api_key(&crate::Lite(row))
}

const API_KEY_COLUMNS: &str = "id, digest, description, is_superuser, insert_instant";

#[async_trait]
impl ApiKeyRepository for SqliteStore {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE digest = ?"
        ))
        .bind(digest.0.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(key.id.to_string())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(())
    }

    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        // One statement is atomic in SQLite: the database-wide write lock
        // serialises it against every other writer, in this process or not.
        let done = sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) SELECT ?, ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM api_keys)"
        ))
        .bind(key.id.to_string())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (digest) DO NOTHING"
        ))
        .bind(key.id.to_string())
        .bind(key.digest.0.as_slice())
        .bind(&key.description)
        .bind(key.is_superuser)
        .bind(key.insert_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(done.rows_affected() == 1)
    }
}

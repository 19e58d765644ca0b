//! Signing keys and server secrets.

use async_trait::async_trait;
use lamba_model::{CertificateKey, CertificateKeyId, Instant, ServerSecret, SigningKeyRecord};
use lamba_store::{Change, KeyRepository, StoreError, StoreResult};
use sqlx::Row;

use super::{SqliteStore, backend, write_error};

const SIGNING_KEY_COLUMNS: &str = "kid, algorithm, private_key, sealed, public_jwk, \
     insert_instant, retired_instant, expires_instant";

fn signing_key_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<SigningKeyRecord> {
    lamba_store::rows::signing_key(&crate::Lite(row))
}

#[async_trait]
impl KeyRepository for SqliteStore {
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, sealed, insert_instant) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&secret.name)
        .bind(&secret.value)
        .bind(secret.sealed)
        .bind(secret.insert_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let row = sqlx::query(
            "SELECT name, value, sealed, insert_instant FROM server_secrets WHERE name = ?",
        )
        .bind(&secret.name)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(ServerSecret {
            name: row.try_get("name").map_err(backend)?,
            value: row.try_get("value").map_err(backend)?,
            sealed: row.try_get("sealed").map_err(backend)?,
            insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        })
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SIGNING_KEY_COLUMNS}, first_signed_instant FROM signing_keys ORDER BY insert_instant DESC, kid DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        // One statement: atomic under SQLite's database-wide write lock.
        let done = sqlx::query(&format!(
            "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = ? AND retired_instant IS NULL)"
        ))
        .bind(&key.kid)
        .bind(key.algorithm.as_str())
        .bind(&key.private_key)
        .bind(key.sealed)
        .bind(&key.public_jwk)
        .bind(key.insert_instant.as_millis())
        .bind(key.retired_instant.map(Instant::as_millis))
        .bind(key.expires_instant.map(Instant::as_millis))
        .bind(key.algorithm.as_str())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "kid"))?;
        let added = done.rows_affected() == 1;
        if added {
            let _ = self.changes.send(Change::SigningKeys);
        }
        Ok(added)
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
        now: Instant,
        expires: Instant,
        not_since: Instant,
    ) -> StoreResult<bool> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        // Writes first (see `webhook.rs`): the transaction holds the write
        // lock from here, so the check below sees every committed rotation.
        sqlx::query(
            "UPDATE signing_keys SET kid = kid WHERE algorithm = ? AND retired_instant IS NULL",
        )
        .bind(key.algorithm.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if recently_rotated(&mut tx, key, not_since).await? {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE signing_keys SET retired_instant = ?, expires_instant = ? \
             WHERE algorithm = ? AND retired_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(expires.as_millis())
        .bind(key.algorithm.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&key.kid)
        .bind(key.algorithm.as_str())
        .bind(&key.private_key)
        .bind(key.sealed)
        .bind(&key.public_jwk)
        .bind(key.insert_instant.as_millis())
        .bind(key.retired_instant.map(Instant::as_millis))
        .bind(key.expires_instant.map(Instant::as_millis))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "kid"))?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::SigningKeys);
        Ok(true)
    }

    async fn mark_signing_key_signed(&self, kid: &str, now: Instant) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET first_signed_instant = ? \
             WHERE kid = ? AND first_signed_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(kid)
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let marked = done.rows_affected() > 0;
        if marked {
            let _ = self.changes.send(Change::SigningKeys);
        }
        Ok(marked)
    }

    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE expires_instant IS NOT NULL AND expires_instant <= ?",
        )
        .bind(now.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        if done.rows_affected() > 0 {
            let _ = self.changes.send(Change::SigningKeys);
        }
        Ok(done.rows_affected())
    }
    async fn add_certificate_key(&self, key: &CertificateKey) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO certificate_keys ({CERTIFICATE_KEY_COLUMNS}, name_normalized) \
             VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(key.id.to_string())
        .bind(&key.name)
        .bind(&key.certificate)
        .bind(key.private_key.as_deref())
        .bind(key.sealed)
        .bind(key.insert_instant.as_millis())
        .bind(key.name.to_lowercase())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(certificate_key_write_error)?;
        Ok(())
    }

    async fn lookup_certificate_key(
        &self,
        id: CertificateKeyId,
    ) -> StoreResult<Option<CertificateKey>> {
        let row = sqlx::query(&format!(
            "SELECT {CERTIFICATE_KEY_COLUMNS} FROM certificate_keys WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(certificate_key_from_row).transpose()
    }

    async fn list_certificate_keys(&self) -> StoreResult<Vec<CertificateKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {CERTIFICATE_KEY_COLUMNS} FROM certificate_keys ORDER BY insert_instant, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(certificate_key_from_row).collect()
    }

    async fn delete_certificate_key(&self, id: CertificateKeyId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM certificate_keys WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(|e| write_error(e, "certificate key"))?;
        Ok(done.rows_affected() > 0)
    }
}

/// Whether a key of `key.algorithm` was retired at or after `not_since`.
async fn recently_rotated(
    tx: &mut sqlx::SqliteConnection,
    key: &SigningKeyRecord,
    not_since: Instant,
) -> StoreResult<bool> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM signing_keys WHERE algorithm = ? AND retired_instant >= ?",
    )
    .bind(key.algorithm.as_str())
    .bind(not_since.as_millis())
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(count > 0)
}

const CERTIFICATE_KEY_COLUMNS: &str = "id, name, certificate, private_key, sealed, insert_instant";

fn certificate_key_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<CertificateKey> {
    lamba_store::rows::certificate_key(&crate::Lite(row))
}

/// A taken name is `Conflict("name")`; any other unique key is the id.
fn certificate_key_write_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // "UNIQUE constraint failed: certificate_keys.name_normalized"
            if db.message().contains("name") {
                StoreError::Conflict("name")
            } else {
                StoreError::Conflict("id")
            }
        }
        _ => backend(error),
    }
}

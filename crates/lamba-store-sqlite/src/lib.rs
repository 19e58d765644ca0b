//! The embedded storage backend: one SQLite file in WAL mode.
//!
//! WAL lets readers run beside the single writer; the busy timeout makes a
//! writer wait for the lock instead of failing when another connection, or
//! another process, holds it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lamba_model::{ApiKey, ApiKeyDigest, ApiKeyId, Instant, Lambda, LambdaId, LambdaType};
use lamba_store::{ApiKeyRepository, Change, LambdaRepository, Store, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::broadcast;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An embedded database has one writer process, so this process's own
/// writes are the whole change feed.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    changes: broadcast::Sender<Change>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only
            // an OS crash can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            // A ping before every checkout doubles the round trips of a point
            // read; a broken connection fails its statement instead, and the
            // pool drops it.
            .test_before_acquire(false)
            .max_connections(4)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let (changes, _) = broadcast::channel(1024);
        Ok(Self { pool, changes })
    }

    /// Applies the migrations this build does not find applied.
    ///
    /// SQLite has no advisory locks; two processes migrating one file at
    /// once make the loser's transaction fail on the winner's table. Each
    /// migration runs in its own transaction, so the loser simply tries
    /// again and finds them applied.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "migration failed, retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(error) => return Err(backend(error)),
            }
        }
    }
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn write_error(error: sqlx::Error, what: &'static str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => backend(error),
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

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

fn api_key_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<ApiKey> {
    let id: String = row.try_get("id").map_err(backend)?;
    let digest: Vec<u8> = row.try_get("digest").map_err(backend)?;
    Ok(ApiKey {
        id: ApiKeyId::from_str(&id).map_err(|e| corrupt(format!("api key id {id:?}: {e}")))?,
        digest: ApiKeyDigest(
            digest
                .try_into()
                .map_err(|_| corrupt("api key digest is not 32 bytes"))?,
        ),
        description: row.try_get("description").map_err(backend)?,
        is_superuser: row.try_get("is_superuser").map_err(backend)?,
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
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
        .execute(&self.pool)
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
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Lambda(lambda.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM lambdas WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::Lambda(id));
        Ok(done.rows_affected() == 1)
    }
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
        .execute(&self.pool)
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
        .execute(&self.pool)
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
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn is_change_feed_live(&self) -> bool {
        true
    }
}

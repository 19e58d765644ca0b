//! The embedded storage backend: one SQLite file in WAL mode.
//!
//! WAL lets readers run beside the single writer; the busy timeout makes a
//! writer wait for the lock instead of failing when another connection, or
//! another process, holds it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lamba_model::Instant;
use lamba_store::{Change, Store, StoreError, StoreResult};
use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, SqlitePool};
use tokio::sync::broadcast;

mod api_keys;
mod applications;
mod audit;
mod event_log;
mod identity_providers;
mod keys;
mod lambdas;
mod scopes;
mod sessions;
mod tenancy;
mod users;
mod webhook;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An embedded database has one writer process, so this process's own
/// writes are the whole change feed.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Reads: several connections, which WAL lets run beside the writer.
    pool: SqlitePool,
    /// Writes: one connection. SQLite has one writer at a time anyway; with
    /// several writing connections a loser waits in SQLite's busy handler,
    /// which sleeps in steps of up to 100 ms (that made switch-context's p99
    /// 73 ms under load), while a writer queued for the single connection
    /// wakes the moment it is free. Another process on the same file still
    /// meets the busy timeout.
    writer: Writer,
    changes: broadcast::Sender<Change>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`).
    ///
    /// Two processes opening one new file at once can find it busy while
    /// the other switches it to WAL, which SQLite reports at once rather
    /// than through the busy timeout: that is tried again, a few times.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut attempt = 0;
        loop {
            match Self::connect_once(url).await {
                Err(StoreError::Unavailable(error)) if attempt < 5 && is_busy(error.as_ref()) => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "the database is busy; opening it again");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn connect_once(url: &str) -> StoreResult<Self> {
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
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let writer = Writer::open(&options).await?;
        let (changes, _) = broadcast::channel(1024);
        Ok(Self {
            pool,
            writer,
            changes,
        })
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

/// The one writing connection, held outside sqlx's pool: a pooled
/// connection is pinged every time it goes back to the pool (sqlx 0.8's
/// `return_to_pool`), which doubles the round trips to SQLite's worker
/// thread of every write, and a federated login writes seven times. A
/// mutex gives the same one-at-a-time order without the ping. A write
/// whose future is dropped still completes on the worker thread before
/// the next one starts (commands are queued), and a dropped transaction
/// queues its rollback the same way.
#[derive(Clone, Debug)]
struct Writer(Arc<tokio::sync::Mutex<Option<SqliteConnection>>>);

impl Writer {
    async fn open(options: &SqliteConnectOptions) -> StoreResult<Self> {
        let connection = options.connect().await.map_err(backend)?;
        Ok(Self(Arc::new(tokio::sync::Mutex::new(Some(connection)))))
    }

    /// The connection, once the writes queued before this one are done.
    /// Waiting longer than the busy timeout is the database being
    /// unavailable, as it was for the pool's acquire timeout.
    async fn lock(&self) -> StoreResult<tokio::sync::MappedMutexGuard<'_, SqliteConnection>> {
        let guard = tokio::time::timeout(BUSY_TIMEOUT, self.0.lock())
            .await
            .map_err(|_| StoreError::Unavailable("the writer was busy for too long".into()))?;
        tokio::sync::MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))
    }

    async fn close(&self) {
        if let Some(connection) = self.0.lock().await.take() {
            let _ = connection.close().await;
        }
    }
}

/// SQLITE_BUSY and its extended codes (recovery, snapshot, timeout).
fn is_busy(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("5" | "261" | "517" | "773"))
        }
        _ => false,
    }
}

/// Failures that say the database is out of reach for now, not that the
/// statement is wrong: no connection in time, a dead connection or worker,
/// or SQLite busy or locked past its busy timeout.
fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<sqlx::Error>() {
        Some(
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed,
        ) => true,
        Some(sqlx::Error::Database(db)) => {
            // SQLITE_LOCKED and SQLITE_LOCKED_SHAREDCACHE, beside BUSY.
            is_busy(error) || matches!(db.code().as_deref(), Some("6" | "262"))
        }
        _ => false,
    }
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    if is_unavailable(&error) {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

fn write_error(error: sqlx::Error, what: &'static str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Reference,
        _ => backend(error),
    }
}

fn parse_uuid<T: FromStr>(raw: &str, what: &str) -> StoreResult<T> {
    T::from_str(raw).map_err(|_| corrupt(format!("{what} {raw:?} is not a UUID")))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn instant(row: &sqlx::sqlite::SqliteRow, column: &str) -> StoreResult<Instant> {
    Ok(Instant::from_millis(row.try_get(column).map_err(backend)?))
}

fn optional_instant(row: &sqlx::sqlite::SqliteRow, column: &str) -> StoreResult<Option<Instant>> {
    let raw: Option<i64> = row.try_get(column).map_err(backend)?;
    Ok(raw.map(Instant::from_millis))
}

fn uuid_column<T: FromStr>(row: &sqlx::sqlite::SqliteRow, column: &str) -> StoreResult<T> {
    let raw: String = row.try_get(column).map_err(backend)?;
    parse_uuid(&raw, column)
}

/// `table.column AS prefixcolumn, ...` for every column in `columns`.
fn aliased(columns: &str, table: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(|c| {
            let c = c.trim();
            format!("{table}.{c} AS {prefix}{c}")
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        self.writer.close().await;
        self.pool.close().await;
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn is_change_feed_live(&self) -> bool {
        true
    }
}

/// A SQLite row as the shared decoders read it: UUIDs are text.
struct Lite<'r>(&'r sqlx::sqlite::SqliteRow);

impl lamba_store::rows::Row for Lite<'_> {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.0.try_get(column).map_err(backend)
    }
    fn optional_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.0.try_get(column).map_err(backend)
    }
    fn integer(&self, column: &str) -> StoreResult<i64> {
        self.0.try_get(column).map_err(backend)
    }
    fn optional_integer(&self, column: &str) -> StoreResult<Option<i64>> {
        self.0.try_get(column).map_err(backend)
    }
    fn flag(&self, column: &str) -> StoreResult<bool> {
        self.0.try_get(column).map_err(backend)
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        self.0.try_get(column).map_err(backend)
    }
    fn optional_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        self.0.try_get(column).map_err(backend)
    }
    fn uuid(&self, column: &str) -> StoreResult<uuid::Uuid> {
        parse_uuid(&self.text(column)?, column)
    }
    fn optional_uuid(&self, column: &str) -> StoreResult<Option<uuid::Uuid>> {
        self.optional_text(column)?
            .map(|raw| parse_uuid(&raw, column))
            .transpose()
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn an_exhausted_or_closed_pool_is_unavailable_not_an_error() {
        for error in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(backend(error), StoreError::Unavailable(_)));
        }
        assert!(matches!(
            backend(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }
}

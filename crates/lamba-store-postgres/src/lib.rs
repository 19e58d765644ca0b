//! The scale-out storage backend: PostgreSQL, shared by every node.
//!
//! Migrations run under sqlx's advisory lock, so any number of nodes may
//! start at once on one database. Every write also sends a `NOTIFY` in the
//! same statement, delivered when it commits; each node `LISTEN`s, which is
//! how caches on every node hear of every other node's writes.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant, LambdaId, UserId};
use lamba_store::{Change, Store, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use uuid::Uuid;

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

use webhook::{execute_with_outbox, insert_outbox};

/// The channel every node's writes are announced on.
const CHANGES_CHANNEL: &str = "lamba_changes";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// An arbitrary constant naming the advisory lock that serialises
/// "add the first API key" across nodes ("lamba" + 1 in ASCII).
const FIRST_KEY_LOCK: i64 = 0x6c61_6d62_6101;
/// The advisory lock that serialises "add the first signing key of an
/// algorithm" and rotations across nodes.
const SIGNING_KEY_LOCK: i64 = 0x6c61_6d62_6102;

#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    changes: broadcast::Sender<Change>,
    live: Arc<AtomicBool>,
    follower: AbortHandle,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let pool = PgPoolOptions::new()
            // A ping before every checkout doubles the round trips of a point
            // read; a broken connection fails its statement instead, and the
            // pool drops it.
            .test_before_acquire(false)
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let (changes, _) = broadcast::channel(1024);
        let live = Arc::new(AtomicBool::new(false));
        let follower = tokio::spawn(follow_changes(pool.clone(), changes.clone(), live.clone()))
            .abort_handle();
        Ok(Self {
            pool,
            changes,
            live,
            follower,
        })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(backend)
    }
}

/// Listens for every node's change announcements and repeats them on
/// `changes`, reporting when the listening connection is lost and back.
async fn follow_changes(pool: PgPool, changes: broadcast::Sender<Change>, live: Arc<AtomicBool>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                listener.eager_reconnect(false);
                if let Err(error) = listener.listen(CHANGES_CHANNEL).await {
                    tracing::warn!(%error, "cannot LISTEN for changes; caches stay off");
                } else {
                    live.store(true, Ordering::SeqCst);
                    let _ = changes.send(Change::Live);
                    // Ok(None): the connection dropped, and what was sent
                    // meanwhile is lost.
                    while let Ok(Some(notification)) = listener.try_recv().await {
                        if let Some(change) = parse_change(notification.payload()) {
                            let _ = changes.send(change);
                        }
                    }
                    live.store(false, Ordering::SeqCst);
                    let _ = changes.send(Change::Lost);
                    tracing::warn!(
                        "lost the change feed connection; caches are off until it is back"
                    );
                }
            }
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "cannot connect the change feed; caches stay off");
            }
        }
        if pool.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn parse_change(payload: &str) -> Option<Change> {
    let (kind, id) = payload.split_once(':')?;
    match kind {
        "lambda" => LambdaId::from_str(id).ok().map(Change::Lambda),
        "application" => ApplicationId::from_str(id).ok().map(Change::Application),
        "signing_keys" => Some(Change::SigningKeys),
        "session_ended" => Uuid::from_str(id).ok().map(Change::SessionEnded),
        // `<jti>:<expires ms>`; a node of an older version sends `<jti>`.
        "access_token_revoked" => {
            let (jti, expires) = match id.split_once(':') {
                Some((jti, ms)) => (jti, ms.parse().ok().map(Instant::from_millis)),
                None => (id, None),
            };
            Uuid::from_str(jti)
                .ok()
                .map(|jti| Change::AccessTokenRevoked(jti, expires))
        }
        "project" => lamba_model::ProjectId::from_str(id)
            .ok()
            .map(Change::Project),
        "scope_ended" => Uuid::from_str(id).ok().map(Change::ScopeEnded),
        "webhooks" => Some(Change::Webhooks),
        "identity_providers" => Some(Change::IdentityProviders),
        "member" => {
            let (project, user) = id.split_once(':')?;
            Some(Change::Member(
                lamba_model::ProjectId::from_str(project).ok()?,
                UserId::from_str(user).ok()?,
            ))
        }
        _ => None,
    }
}

/// Failures that say the database is out of reach for now, not that the
/// statement is wrong: no connection in time, a dead connection, or an
/// SQLSTATE of class 08 (connection exception), 53 (insufficient
/// resources), 57P01–57P03 (shutting down, cannot connect now) or 40001 and
/// 40P01 (serialization failure, deadlock: the same request may pass).
fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<sqlx::Error>() {
        Some(
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed,
        ) => true,
        Some(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }),
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

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn instant(row: &sqlx::postgres::PgRow, column: &str) -> StoreResult<Instant> {
    Ok(Instant::from_millis(row.try_get(column).map_err(backend)?))
}

fn optional_instant(row: &sqlx::postgres::PgRow, column: &str) -> StoreResult<Option<Instant>> {
    let raw: Option<i64> = row.try_get(column).map_err(backend)?;
    Ok(raw.map(Instant::from_millis))
}

fn uuid_column<T: From<Uuid>>(row: &sqlx::postgres::PgRow, column: &str) -> StoreResult<T> {
    let raw: Uuid = row.try_get(column).map_err(backend)?;
    Ok(T::from(raw))
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
impl Store for PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn close(&self) {
        self.follower.abort();
        self.pool.close().await;
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn is_change_feed_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }
}

/// A PostgreSQL row as the shared decoders read it: UUIDs are native.
struct Pg<'r>(&'r sqlx::postgres::PgRow);

impl lamba_store::rows::Row for Pg<'_> {
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
    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        self.0.try_get(column).map_err(backend)
    }
    fn optional_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.0.try_get(column).map_err(backend)
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

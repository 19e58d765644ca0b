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
use lamba_model::{
    ApiKey, ApiKeyDigest, ApiKeyId, Application, ApplicationId, Instant, JwtConfiguration, Lambda,
    LambdaConfiguration, LambdaId, LambdaType, OAuthConfiguration, Registration, ServerSecret,
    SigningKeyRecord, User, UserId,
};
use lamba_store::{
    ApiKeyRepository, ApplicationRepository, AuthorizationCode, Change, CodeConsumption,
    KeyRepository, LambdaRepository, LoginSession, Outbox, RefreshGrant, RefreshToken, Rotation,
    SessionRepository, Store, StoreError, StoreResult, UserRepository, codec,
};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use uuid::Uuid;

mod audit;
mod event_log;
mod tenancy;
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
        "access_token_revoked" => Uuid::from_str(id).ok().map(Change::AccessTokenRevoked),
        "project" => lamba_model::ProjectId::from_str(id)
            .ok()
            .map(Change::Project),
        "scope_ended" => Uuid::from_str(id).ok().map(Change::ScopeEnded),
        "webhooks" => Some(Change::Webhooks),
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

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
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

const LAMBDA_COLUMNS: &str =
    "id, name, lambda_type, body, debug, enabled, insert_instant, last_update_instant";

fn lambda_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Lambda> {
    let lambda_type: String = row.try_get("lambda_type").map_err(backend)?;
    Ok(Lambda {
        id: LambdaId::from_uuid(row.try_get("id").map_err(backend)?),
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

fn api_key_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<ApiKey> {
    let digest: Vec<u8> = row.try_get("digest").map_err(backend)?;
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(row.try_get("id").map_err(backend)?),
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

const APPLICATION_COLUMNS: &str = "id, name, config, client_secret_digest, \
     access_token_populate_id, id_token_populate_id, insert_instant, last_update_instant";

fn application_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Application> {
    let lambda_id = |column: &str| -> StoreResult<Option<LambdaId>> {
        let raw: Option<uuid::Uuid> = row.try_get(column).map_err(backend)?;
        Ok(raw.map(LambdaId::from_uuid))
    };
    let mut application = Application {
        id: ApplicationId::from_uuid(row.try_get("id").map_err(backend)?),
        name: row.try_get("name").map_err(backend)?,
        project_id: None,
        environment: None,
        roles: Vec::new(),
        oauth: OAuthConfiguration {
            client_secret_digest: row.try_get("client_secret_digest").map_err(backend)?,
            client_authentication_policy: lamba_model::ClientAuthenticationPolicy::Required,
            proof_key_for_code_exchange_policy: lamba_model::PkcePolicy::Required,
            authorized_redirect_urls: Vec::new(),
            logout_url: None,
            enabled_grants: Vec::new(),
        },
        jwt: JwtConfiguration::default(),
        lambda: LambdaConfiguration {
            access_token_populate_id: lambda_id("access_token_populate_id")?,
            id_token_populate_id: lambda_id("id_token_populate_id")?,
            failure_policy: lamba_model::FailurePolicy::Closed,
        },
        failed_authentication: lamba_model::FailedAuthenticationConfiguration::default(),
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        last_update_instant: Instant::from_millis(
            row.try_get("last_update_instant").map_err(backend)?,
        ),
    };
    let config: String = row.try_get("config").map_err(backend)?;
    codec::apply_application_config(&mut application, &config)?;
    Ok(application)
}

#[async_trait]
impl ApplicationRepository for PostgresStore {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY name COLLATE \"C\", id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(application_from_row).collect()
    }

    async fn add_application(&self, application: &Application) -> StoreResult<()> {
        sqlx::query(&format!(
            "WITH written AS (INSERT INTO applications ({APPLICATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(application.id.as_uuid())
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(application.insert_instant.as_millis())
        .bind(application.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(())
    }

    async fn update_application(&self, application: &Application) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (UPDATE applications SET name = $1, config = $2, \
             client_secret_digest = $3, access_token_populate_id = $4, id_token_populate_id = $5, \
             last_update_instant = $6 WHERE id = $7 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| *l.as_uuid()),
        )
        .bind(application.last_update_instant.as_millis())
        .bind(application.id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (DELETE FROM applications WHERE id = $1 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'application:' || id::text) FROM written"
        ))
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::Application(id));
        Ok(done.rows_affected() == 1)
    }
}

const USER_COLUMNS: &str = "id, email, email_normalized, password_hash, first_name, last_name, \
     data, insert_instant, last_update_instant";

fn user_from_row(row: &sqlx::postgres::PgRow, prefix: &str) -> StoreResult<User> {
    let data: String = row
        .try_get(format!("{prefix}data").as_str())
        .map_err(backend)?;
    Ok(User {
        id: UserId::from_uuid(
            row.try_get(format!("{prefix}id").as_str())
                .map_err(backend)?,
        ),
        email: row
            .try_get(format!("{prefix}email").as_str())
            .map_err(backend)?,
        password_hash: row
            .try_get(format!("{prefix}password_hash").as_str())
            .map_err(backend)?,
        first_name: row
            .try_get(format!("{prefix}first_name").as_str())
            .map_err(backend)?,
        last_name: row
            .try_get(format!("{prefix}last_name").as_str())
            .map_err(backend)?,
        data: codec::parse_user_data(&data)?,
        insert_instant: Instant::from_millis(
            row.try_get(format!("{prefix}insert_instant").as_str())
                .map_err(backend)?,
        ),
        last_update_instant: Instant::from_millis(
            row.try_get(format!("{prefix}last_update_instant").as_str())
                .map_err(backend)?,
        ),
    })
}

const REGISTRATION_COLUMNS: &str =
    "user_id, application_id, roles, insert_instant, last_update_instant";

fn registration_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Registration> {
    let roles: String = row.try_get("roles").map_err(backend)?;
    Ok(Registration {
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(backend)?),
        application_id: ApplicationId::from_uuid(row.try_get("application_id").map_err(backend)?),
        roles: codec::parse_roles(&roles)?,
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        last_update_instant: Instant::from_millis(
            row.try_get("last_update_instant").map_err(backend)?,
        ),
    })
}

/// A unique violation on users is the email (the id is random).
fn user_write_error(error: sqlx::Error) -> StoreError {
    write_error(error, "email")
}

#[async_trait]
impl UserRepository for PostgresStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1"
        ))
        .bind(User::normalize_email(email))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        let query = sqlx::query(&sql)
            .bind(user.id.as_uuid())
            .bind(&user.email)
            .bind(User::normalize_email(&user.email))
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(codec::user_data(&user.data)?)
            .bind(user.insert_instant.as_millis())
            .bind(user.last_update_instant.as_millis());
        execute_with_outbox(&self.pool, query, outbox, user_write_error).await?;
        Ok(())
    }

    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET email = $1, email_normalized = $2, password_hash = $3, \
             first_name = $4, last_name = $5, data = $6, last_update_instant = $7 WHERE id = $8",
        )
        .bind(&user.email)
        .bind(User::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(user.id.as_uuid());
        let done = execute_with_outbox(&self.pool, query, outbox, user_write_error).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>> {
        let row = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations \
             WHERE user_id = $1 AND application_id = $2"
        ))
        .bind(user_id.as_uuid())
        .bind(application_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>> {
        // Ordered as text, as SQLite orders its text UUIDs.
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = $1 \
             ORDER BY application_id::text COLLATE \"C\""
        ))
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(registration_from_row).collect()
    }

    async fn add_registration(&self, registration: &Registration) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(registration.user_id.as_uuid())
        .bind(registration.application_id.as_uuid())
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.insert_instant.as_millis())
        .bind(registration.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "registration"))?;
        Ok(())
    }

    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE registrations SET roles = $1, last_update_instant = $2 \
             WHERE user_id = $3 AND application_id = $4",
        )
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.last_update_instant.as_millis())
        .bind(registration.user_id.as_uuid())
        .bind(registration.application_id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM registrations WHERE user_id = $1 AND application_id = $2")
                .bind(user_id.as_uuid())
                .bind(application_id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

const SIGNING_KEY_COLUMNS: &str = "kid, algorithm, private_key, sealed, public_jwk, \
     insert_instant, retired_instant, expires_instant";

fn signing_key_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<SigningKeyRecord> {
    let algorithm: String = row.try_get("algorithm").map_err(backend)?;
    let retired: Option<i64> = row.try_get("retired_instant").map_err(backend)?;
    let expires: Option<i64> = row.try_get("expires_instant").map_err(backend)?;
    Ok(SigningKeyRecord {
        kid: row.try_get("kid").map_err(backend)?,
        algorithm: algorithm
            .parse()
            .map_err(|_| corrupt(format!("signing algorithm {algorithm:?}")))?,
        private_key: row.try_get("private_key").map_err(backend)?,
        sealed: row.try_get("sealed").map_err(backend)?,
        public_jwk: row.try_get("public_jwk").map_err(backend)?,
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        retired_instant: retired.map(Instant::from_millis),
        expires_instant: expires.map(Instant::from_millis),
    })
}

impl PostgresStore {
    async fn notify_signing_keys(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> StoreResult<()> {
        sqlx::query(&format!(
            "SELECT pg_notify('{CHANGES_CHANNEL}', 'signing_keys:')"
        ))
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl KeyRepository for PostgresStore {
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, sealed, insert_instant) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&secret.name)
        .bind(&secret.value)
        .bind(secret.sealed)
        .bind(secret.insert_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let row = sqlx::query(
            "SELECT name, value, sealed, insert_instant FROM server_secrets WHERE name = $1",
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
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys \
             ORDER BY insert_instant DESC, kid COLLATE \"C\" DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SIGNING_KEY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query(&format!(
            "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS \
             (SELECT 1 FROM signing_keys WHERE algorithm = $2 AND retired_instant IS NULL)"
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
        let added = done.rows_affected() == 1;
        if added {
            self.notify_signing_keys(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
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
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SIGNING_KEY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_instant = $1, expires_instant = $2 \
             WHERE algorithm = $3 AND retired_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(expires.as_millis())
        .bind(key.algorithm.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
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
        self.notify_signing_keys(&mut tx).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::SigningKeys);
        Ok(())
    }

    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE expires_instant IS NOT NULL AND expires_instant <= $1",
        )
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() > 0 {
            self.notify_signing_keys(&mut tx).await?;
        }
        tx.commit().await.map_err(backend)?;
        if done.rows_affected() > 0 {
            let _ = self.changes.send(Change::SigningKeys);
        }
        Ok(done.rows_affected())
    }
}

const SESSION_COLUMNS: &str = "id, user_id, application_id, auth_time, insert_instant, \
     last_used_instant, ended_instant, end_reason, ip_address, user_agent";

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

fn session_from_row(row: &sqlx::postgres::PgRow, prefix: &str) -> StoreResult<LoginSession> {
    Ok(LoginSession {
        id: uuid_column(row, &format!("{prefix}id"))?,
        user_id: uuid_column(row, &format!("{prefix}user_id"))?,
        application_id: uuid_column(row, &format!("{prefix}application_id"))?,
        auth_time: instant(row, &format!("{prefix}auth_time"))?,
        insert_instant: instant(row, &format!("{prefix}insert_instant"))?,
        last_used_instant: instant(row, &format!("{prefix}last_used_instant"))?,
        ended_instant: optional_instant(row, &format!("{prefix}ended_instant"))?,
        end_reason: row
            .try_get(format!("{prefix}end_reason").as_str())
            .map_err(backend)?,
        ip_address: row
            .try_get(format!("{prefix}ip_address").as_str())
            .map_err(backend)?,
        user_agent: row
            .try_get(format!("{prefix}user_agent").as_str())
            .map_err(backend)?,
    })
}

const CODE_COLUMNS: &str = "code_digest, application_id, user_id, session_id, redirect_uri, \
     scope, nonce, code_challenge, resource, insert_instant, expires_instant, used_instant";

fn code_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_digest: row.try_get("code_digest").map_err(backend)?,
        application_id: uuid_column(row, "application_id")?,
        user_id: uuid_column(row, "user_id")?,
        session_id: uuid_column(row, "session_id")?,
        redirect_uri: row.try_get("redirect_uri").map_err(backend)?,
        scope: row.try_get("scope").map_err(backend)?,
        nonce: row.try_get("nonce").map_err(backend)?,
        code_challenge: row.try_get("code_challenge").map_err(backend)?,
        resource: row.try_get("resource").map_err(backend)?,
        insert_instant: instant(row, "insert_instant")?,
        expires_instant: instant(row, "expires_instant")?,
        used_instant: optional_instant(row, "used_instant")?,
    })
}

const REFRESH_COLUMNS: &str = "id, token_digest, family_id, application_id, user_id, session_id, \
     scope, resource, code_digest, family_insert_instant, insert_instant, expires_instant, \
     used_instant, revoked_instant";

fn refresh_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: uuid_column(row, "id")?,
        token_digest: row.try_get("token_digest").map_err(backend)?,
        family_id: uuid_column(row, "family_id")?,
        application_id: uuid_column(row, "application_id")?,
        user_id: uuid_column(row, "user_id")?,
        session_id: uuid_column(row, "session_id")?,
        scope: row.try_get("scope").map_err(backend)?,
        resource: row.try_get("resource").map_err(backend)?,
        code_digest: row.try_get("code_digest").map_err(backend)?,
        family_insert_instant: instant(row, "family_insert_instant")?,
        insert_instant: instant(row, "insert_instant")?,
        expires_instant: instant(row, "expires_instant")?,
        used_instant: optional_instant(row, "used_instant")?,
        revoked_instant: optional_instant(row, "revoked_instant")?,
    })
}

fn insert_refresh<'q>(
    token: &'q RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
         session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
         expires_instant, used_instant, revoked_instant) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(token.id)
    .bind(&token.token_digest)
    .bind(token.family_id)
    .bind(Uuid::from(token.application_id))
    .bind(Uuid::from(token.user_id))
    .bind(token.session_id)
    .bind(&token.scope)
    .bind(&token.resource)
    .bind(&token.code_digest)
    .bind(token.family_insert_instant.as_millis())
    .bind(token.insert_instant.as_millis())
    .bind(token.expires_instant.as_millis())
    .bind(token.used_instant.map(Instant::as_millis))
    .bind(token.revoked_instant.map(Instant::as_millis))
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

/// The refresh token (unprefixed), its session (`s_`), user (`u_`) and
/// registration roles (`r_roles`), joined.
static REFRESH_GRANT_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, r.roles AS r_roles FROM refresh_tokens rt \
         JOIN login_sessions s ON s.id = rt.session_id \
         JOIN users u ON u.id = rt.user_id \
         LEFT JOIN registrations r ON r.user_id = rt.user_id AND r.application_id = rt.application_id \
         WHERE rt.token_digest = $1",
        aliased(REFRESH_COLUMNS, "rt", ""),
        aliased(SESSION_COLUMNS, "s", "s_"),
        aliased(USER_COLUMNS, "u", "u_"),
    )
});

#[async_trait]
impl SessionRepository for PostgresStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO login_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        let query = sqlx::query(&sql)
            .bind(session.id)
            .bind(Uuid::from(session.user_id))
            .bind(Uuid::from(session.application_id))
            .bind(session.auth_time.as_millis())
            .bind(session.insert_instant.as_millis())
            .bind(session.last_used_instant.as_millis())
            .bind(session.ended_instant.map(Instant::as_millis))
            .bind(&session.end_reason)
            .bind(&session.ip_address)
            .bind(&session.user_agent);
        execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "id")).await?;
        Ok(())
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(|row| session_from_row(row, ""))
            .transpose()
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE user_id = $1 \
             ORDER BY insert_instant DESC, id DESC"
        ))
        .bind(Uuid::from(user_id))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| session_from_row(row, "")).collect()
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = $1 WHERE id = $2 AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn end_login_session(
        &self,
        id: Uuid,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let ended = sqlx::query(
            "UPDATE login_sessions SET ended_instant = $1, end_reason = $2 \
             WHERE id = $3 AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if ended {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_instant = $1 \
                 WHERE session_id = $2 AND revoked_instant IS NULL",
            )
            .bind(now.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
                .bind(format!("session_ended:{id}"))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let ended_scopes = if ended {
            let scopes =
                tenancy::end_scopes(&mut tx, tenancy::Target::Login(id), now, reason).await?;
            insert_outbox(&mut tx, &outbox.events_for(&scopes)).await?;
            scopes
        } else {
            Vec::new()
        };
        tx.commit().await.map_err(backend)?;
        if !ended {
            return Ok(None);
        }
        let _ = self.changes.send(Change::SessionEnded(id));
        Ok(Some(self.report_ended(&ended_scopes)))
    }

    async fn list_sessions_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM login_sessions WHERE ended_instant >= $1")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&code.code_digest)
        .bind(Uuid::from(code.application_id))
        .bind(Uuid::from(code.user_id))
        .bind(code.session_id)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(&code.resource)
        .bind(code.insert_instant.as_millis())
        .bind(code.expires_instant.as_millis())
        .bind(code.used_instant.map(Instant::as_millis))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "code"))?;
        Ok(())
    }

    async fn consume_authorization_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<CodeConsumption> {
        let fresh = sqlx::query(&format!(
            "UPDATE authorization_codes SET used_instant = $1 \
             WHERE code_digest = $2 AND used_instant IS NULL RETURNING {CODE_COLUMNS}"
        ))
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if let Some(row) = fresh {
            return Ok(CodeConsumption::Fresh(code_from_row(&row)?));
        }
        let used = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = $1"
        ))
        .bind(code_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match used {
            Some(row) => Ok(CodeConsumption::Replayed(code_from_row(&row)?)),
            None => Ok(CodeConsumption::Unknown),
        }
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        insert_refresh(token)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_digest = $1"
        ))
        .bind(token_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    async fn find_refresh_grant(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>> {
        let row = sqlx::query(&REFRESH_GRANT_SELECT)
            .bind(token_digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let roles: Option<String> = row.try_get("r_roles").map_err(backend)?;
        Ok(Some(RefreshGrant {
            token: refresh_from_row(&row)?,
            session: session_from_row(&row, "s_")?,
            user: user_from_row(&row, "u_")?,
            roles: roles
                .as_deref()
                .map(codec::parse_roles)
                .transpose()?
                .unwrap_or_default(),
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        new: &RefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        // One statement, one round trip: claim the old token, record the
        // session's use and insert the successor only if the claim won.
        // A concurrent rotation waits on the row lock, then finds the token
        // used and inserts nothing.
        let query = sqlx::query(
            "WITH claimed AS (UPDATE refresh_tokens SET used_instant = $15 \
             WHERE id = $16 AND used_instant IS NULL AND revoked_instant IS NULL RETURNING id), \
             touched AS (UPDATE login_sessions SET last_used_instant = $15 \
             WHERE id = $6 AND ended_instant IS NULL AND EXISTS (SELECT 1 FROM claimed)) \
             INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
             session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
             expires_instant, used_instant, revoked_instant) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM claimed",
        )
        .bind(new.id)
        .bind(&new.token_digest)
        .bind(new.family_id)
        .bind(Uuid::from(new.application_id))
        .bind(Uuid::from(new.user_id))
        .bind(new.session_id)
        .bind(&new.scope)
        .bind(&new.resource)
        .bind(&new.code_digest)
        .bind(new.family_insert_instant.as_millis())
        .bind(new.insert_instant.as_millis())
        .bind(new.expires_instant.as_millis())
        .bind(new.used_instant.map(Instant::as_millis))
        .bind(new.revoked_instant.map(Instant::as_millis))
        .bind(now.as_millis())
        .bind(old_id);
        let inserted = execute_with_outbox(&self.pool, query, outbox, |e| write_error(e, "token"))
            .await?
            .rows_affected();
        Ok(if inserted == 1 {
            Rotation::Rotated
        } else {
            Rotation::AlreadyUsed
        })
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET expires_instant = $1 WHERE id = $2")
            .bind(expires.as_millis())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = $1 WHERE id = $2 AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = $1 \
             WHERE family_id = $2 AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(family_id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = $1 WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE code_digest = $2) AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(code_digest)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_instant) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', $1)"))
            .bind(format!("access_token_revoked:{jti}"))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::AccessTokenRevoked(jti));
        Ok(())
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT jti FROM revoked_access_tokens WHERE expires_instant > $1")
            .bind(now.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "jti")).collect()
    }

    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64> {
        let mut pruned = 0;
        for (sql, at) in [
            (
                "DELETE FROM authorization_codes WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM refresh_tokens WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM revoked_access_tokens WHERE expires_instant <= $1",
                now,
            ),
            (
                "DELETE FROM login_sessions WHERE ended_instant <= $1",
                ended_before,
            ),
            (
                "DELETE FROM scoped_refresh_tokens WHERE expires_instant <= $1",
                now,
            ),
            // A pruned scope's tokens go with it; they are dead already.
            (
                "DELETE FROM scoped_refresh_tokens WHERE scoped_session_id IN \
                 (SELECT id FROM scoped_sessions WHERE ended_instant <= $1)",
                ended_before,
            ),
            (
                "DELETE FROM scoped_sessions WHERE ended_instant <= $1",
                ended_before,
            ),
        ] {
            pruned += sqlx::query(sql)
                .bind(at.as_millis())
                .execute(&self.pool)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(pruned)
    }
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

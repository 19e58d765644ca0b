//! The embedded storage backend: one SQLite file in WAL mode.
//!
//! WAL lets readers run beside the single writer; the busy timeout makes a
//! writer wait for the lock instead of failing when another connection, or
//! another process, holds it.

use std::str::FromStr;
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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::broadcast;
use uuid::Uuid;

mod audit;
mod event_log;
mod tenancy;
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
    /// 73 ms under load), while a writer queued for this pool's single
    /// connection wakes the moment it is free. Another process on the same
    /// file still meets the busy timeout.
    writer: SqlitePool,
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
                Err(StoreError::Backend(error)) if attempt < 5 && is_busy(error.as_ref()) => {
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
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
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

/// SQLITE_BUSY and its extended codes (recovery, snapshot, timeout).
fn is_busy(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("5" | "261" | "517" | "773"))
        }
        _ => false,
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

fn parse_uuid<T: FromStr>(raw: &str, what: &str) -> StoreResult<T> {
    T::from_str(raw).map_err(|_| corrupt(format!("{what} {raw:?} is not a UUID")))
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
        .execute(&self.writer)
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
        .execute(&self.writer)
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
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "key"))?;
        Ok(done.rows_affected() == 1)
    }
}

const APPLICATION_COLUMNS: &str = "id, name, config, client_secret_digest, \
     access_token_populate_id, id_token_populate_id, insert_instant, last_update_instant";

fn application_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Application> {
    let id: String = row.try_get("id").map_err(backend)?;
    let lambda_id = |column: &str| -> StoreResult<Option<LambdaId>> {
        let raw: Option<String> = row.try_get(column).map_err(backend)?;
        raw.as_deref()
            .map(|r| parse_uuid(r, "lambda id"))
            .transpose()
    };
    let mut application = Application {
        id: parse_uuid(&id, "application id")?,
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
impl ApplicationRepository for SqliteStore {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(application_from_row).collect()
    }

    async fn add_application(&self, application: &Application) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(application.id.to_string())
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(application.insert_instant.as_millis())
        .bind(application.last_update_instant.as_millis())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(())
    }

    async fn update_application(&self, application: &Application) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE applications SET name = ?, config = ?, client_secret_digest = ?, \
             access_token_populate_id = ?, id_token_populate_id = ?, last_update_instant = ? \
             WHERE id = ?",
        )
        .bind(&application.name)
        .bind(codec::application_config(application)?)
        .bind(application.oauth.client_secret_digest.as_deref())
        .bind(
            application
                .lambda
                .access_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(
            application
                .lambda
                .id_token_populate_id
                .map(|l| l.to_string()),
        )
        .bind(application.last_update_instant.as_millis())
        .bind(application.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Application(application.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM applications WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::Application(id));
        Ok(done.rows_affected() == 1)
    }
}

const USER_COLUMNS: &str = "id, email, email_normalized, password_hash, first_name, last_name, \
     data, insert_instant, last_update_instant";

fn user_from_row(row: &sqlx::sqlite::SqliteRow, prefix: &str) -> StoreResult<User> {
    let id: String = row
        .try_get(format!("{prefix}id").as_str())
        .map_err(backend)?;
    let data: String = row
        .try_get(format!("{prefix}data").as_str())
        .map_err(backend)?;
    Ok(User {
        id: parse_uuid(&id, "user id")?,
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

fn registration_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Registration> {
    let user_id: String = row.try_get("user_id").map_err(backend)?;
    let application_id: String = row.try_get("application_id").map_err(backend)?;
    let roles: String = row.try_get("roles").map_err(backend)?;
    Ok(Registration {
        user_id: parse_uuid(&user_id, "user id")?,
        application_id: parse_uuid(&application_id, "application id")?,
        roles: codec::parse_roles(&roles)?,
        insert_instant: Instant::from_millis(row.try_get("insert_instant").map_err(backend)?),
        last_update_instant: Instant::from_millis(
            row.try_get("last_update_instant").map_err(backend)?,
        ),
    })
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = ?"
        ))
        .bind(User::normalize_email(email))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(|row| user_from_row(row, "")).transpose()
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let query = sqlx::query(&sql)
            .bind(user.id.to_string())
            .bind(&user.email)
            .bind(User::normalize_email(&user.email))
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(codec::user_data(&user.data)?)
            .bind(user.insert_instant.as_millis())
            .bind(user.last_update_instant.as_millis());
        self.execute_with_outbox(query, outbox, user_write_error)
            .await?;
        Ok(())
    }

    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE users SET email = ?, email_normalized = ?, password_hash = ?, first_name = ?, \
             last_name = ?, data = ?, last_update_instant = ? WHERE id = ?",
        )
        .bind(&user.email)
        .bind(User::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(codec::user_data(&user.data)?)
        .bind(user.last_update_instant.as_millis())
        .bind(user.id.to_string());
        let changed = self
            .execute_with_outbox(query, outbox, user_write_error)
            .await?;
        Ok(changed == 1)
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
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
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = ? AND application_id = ?"
        ))
        .bind(user_id.to_string())
        .bind(application_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>> {
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE user_id = ? ORDER BY application_id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(registration_from_row).collect()
    }

    async fn add_registration(&self, registration: &Registration) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(registration.user_id.to_string())
        .bind(registration.application_id.to_string())
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.insert_instant.as_millis())
        .bind(registration.last_update_instant.as_millis())
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "registration"))?;
        Ok(())
    }

    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE registrations SET roles = ?, last_update_instant = ? \
             WHERE user_id = ? AND application_id = ?",
        )
        .bind(codec::roles(&registration.roles)?)
        .bind(registration.last_update_instant.as_millis())
        .bind(registration.user_id.to_string())
        .bind(registration.application_id.to_string())
        .execute(&self.writer)
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
            sqlx::query("DELETE FROM registrations WHERE user_id = ? AND application_id = ?")
                .bind(user_id.to_string())
                .bind(application_id.to_string())
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

/// A unique violation on users is the email (the id is random).
fn user_write_error(error: sqlx::Error) -> StoreError {
    write_error(error, "email")
}

const SIGNING_KEY_COLUMNS: &str = "kid, algorithm, private_key, sealed, public_jwk, \
     insert_instant, retired_instant, expires_instant";

fn signing_key_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<SigningKeyRecord> {
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
        .execute(&self.writer)
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
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY insert_instant DESC, kid DESC"
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
        .execute(&self.writer)
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
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
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
        Ok(())
    }

    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE expires_instant IS NOT NULL AND expires_instant <= ?",
        )
        .bind(now.as_millis())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        if done.rows_affected() > 0 {
            let _ = self.changes.send(Change::SigningKeys);
        }
        Ok(done.rows_affected())
    }
}

const SESSION_COLUMNS: &str = "id, user_id, application_id, auth_time, insert_instant, \
     last_used_instant, ended_instant, end_reason, ip_address, user_agent";

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

fn session_from_row(row: &sqlx::sqlite::SqliteRow, prefix: &str) -> StoreResult<LoginSession> {
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

fn code_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<AuthorizationCode> {
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

fn refresh_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<RefreshToken> {
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
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, token_digest, family_id, application_id, user_id, \
         session_id, scope, resource, code_digest, family_insert_instant, insert_instant, \
         expires_instant, used_instant, revoked_instant) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.id.to_string())
    .bind(&token.token_digest)
    .bind(token.family_id.to_string())
    .bind(token.application_id.to_string())
    .bind(token.user_id.to_string())
    .bind(token.session_id.to_string())
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
         WHERE rt.token_digest = ?",
        aliased(REFRESH_COLUMNS, "rt", ""),
        aliased(SESSION_COLUMNS, "s", "s_"),
        aliased(USER_COLUMNS, "u", "u_"),
    )
});

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO login_sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let query = sqlx::query(&sql)
            .bind(session.id.to_string())
            .bind(session.user_id.to_string())
            .bind(session.application_id.to_string())
            .bind(session.auth_time.as_millis())
            .bind(session.insert_instant.as_millis())
            .bind(session.last_used_instant.as_millis())
            .bind(session.ended_instant.map(Instant::as_millis))
            .bind(&session.end_reason)
            .bind(&session.ip_address)
            .bind(&session.user_agent);
        self.execute_with_outbox(query, outbox, |e| write_error(e, "id"))
            .await?;
        Ok(())
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(|row| session_from_row(row, ""))
            .transpose()
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM login_sessions WHERE user_id = ? \
             ORDER BY insert_instant DESC, id DESC"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| session_from_row(row, "")).collect()
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = ? WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let ended = sqlx::query(
            "UPDATE login_sessions SET ended_instant = ?, end_reason = ? \
             WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if ended {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_instant = ? \
                 WHERE session_id = ? AND revoked_instant IS NULL",
            )
            .bind(now.as_millis())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let ended_scopes = if ended {
            let scopes =
                tenancy::end_scopes(&mut tx, tenancy::Target::Login(id), now, reason).await?;
            webhook::insert_outbox(&mut tx, &outbox.events_for(&scopes)).await?;
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
        let rows = sqlx::query("SELECT id FROM login_sessions WHERE ended_instant >= ?")
            .bind(since.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| uuid_column(row, "id")).collect()
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&code.code_digest)
        .bind(code.application_id.to_string())
        .bind(code.user_id.to_string())
        .bind(code.session_id.to_string())
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(&code.resource)
        .bind(code.insert_instant.as_millis())
        .bind(code.expires_instant.as_millis())
        .bind(code.used_instant.map(Instant::as_millis))
        .execute(&self.writer)
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
            "UPDATE authorization_codes SET used_instant = ? \
             WHERE code_digest = ? AND used_instant IS NULL RETURNING {CODE_COLUMNS}"
        ))
        .bind(now.as_millis())
        .bind(code_digest)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend)?;
        if let Some(row) = fresh {
            return Ok(CodeConsumption::Fresh(code_from_row(&row)?));
        }
        let used = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_digest = ?"
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
            .execute(&self.writer)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_digest = ?"
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_instant = ? \
             WHERE id = ? AND used_instant IS NULL AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(old_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await.map_err(backend)?;
            return Ok(Rotation::AlreadyUsed);
        }
        insert_refresh(new)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "token"))?;
        sqlx::query(
            "UPDATE login_sessions SET last_used_instant = ? WHERE id = ? AND ended_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(new.session_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        webhook::insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Rotation::Rotated)
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET expires_instant = ? WHERE id = ?")
            .bind(expires.as_millis())
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = ? WHERE id = ? AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_instant = ? \
             WHERE family_id = ? AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(family_id.to_string())
        .execute(&self.writer)
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
            "UPDATE refresh_tokens SET revoked_instant = ? WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE code_digest = ?) AND revoked_instant IS NULL",
        )
        .bind(now.as_millis())
        .bind(code_digest)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_instant) VALUES (?, ?) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti.to_string())
        .bind(expires.as_millis())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        let _ = self.changes.send(Change::AccessTokenRevoked(jti));
        Ok(())
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query("SELECT jti FROM revoked_access_tokens WHERE expires_instant > ?")
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
                "DELETE FROM authorization_codes WHERE expires_instant <= ?",
                now,
            ),
            ("DELETE FROM refresh_tokens WHERE expires_instant <= ?", now),
            (
                "DELETE FROM revoked_access_tokens WHERE expires_instant <= ?",
                now,
            ),
            (
                "DELETE FROM login_sessions WHERE ended_instant <= ?",
                ended_before,
            ),
            (
                "DELETE FROM scoped_refresh_tokens WHERE expires_instant <= ?",
                now,
            ),
            // A pruned scope's tokens go with it; they are dead already.
            (
                "DELETE FROM scoped_refresh_tokens WHERE scoped_session_id IN \
                 (SELECT id FROM scoped_sessions WHERE ended_instant <= ?)",
                ended_before,
            ),
            (
                "DELETE FROM scoped_sessions WHERE ended_instant <= ?",
                ended_before,
            ),
        ] {
            pruned += sqlx::query(sql)
                .bind(at.as_millis())
                .execute(&self.writer)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(pruned)
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

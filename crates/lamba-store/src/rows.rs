//! Row decoding written once for both backends.
//!
//! A backend reads a column as text, an integer, a flag, bytes or a UUID in
//! its own way (PostgreSQL has a `uuid` type, SQLite keeps UUIDs as text);
//! it says how by implementing [`Row`] over its row type. Everything above
//! that (which column feeds which field, how wire names and JSON columns
//! parse) does not depend on the dialect and lives here, so a new column is
//! decoded in one place.

use std::str::FromStr;

use lamba_model::{
    ActorType, ApiKey, ApiKeyDigest, Application, AuditEvent, AuthorizationCode, CertificateKey,
    Environment, EventLog, EventLogType, Instant, JwtConfiguration, Lambda, LambdaConfiguration,
    LambdaType, LoginSession, OAuthConfiguration, Project, ProjectMember, ProjectRole,
    RefreshToken, Registration, ScopedRefreshToken, ScopedSession, SigningKeyRecord, User, Webhook,
    Workspace,
};
use uuid::Uuid;

use crate::{EndedScope, StoreError, StoreResult, codec};

/// One result row, read by column name. Implementations fail with
/// [`StoreError::Backend`] when the column is missing or of another type.
pub trait Row {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn optional_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn integer(&self, column: &str) -> StoreResult<i64>;
    fn optional_integer(&self, column: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn optional_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    fn uuid(&self, column: &str) -> StoreResult<Uuid>;
    fn optional_uuid(&self, column: &str) -> StoreResult<Option<Uuid>>;

    /// A typed id (`UserId`, `ProjectId`, …) or a bare [`Uuid`].
    fn id<T: From<Uuid>>(&self, column: &str) -> StoreResult<T>
    where
        Self: Sized,
    {
        Ok(T::from(self.uuid(column)?))
    }

    fn optional_id<T: From<Uuid>>(&self, column: &str) -> StoreResult<Option<T>>
    where
        Self: Sized,
    {
        Ok(self.optional_uuid(column)?.map(T::from))
    }

    /// Instants are stored as milliseconds since the epoch.
    fn instant(&self, column: &str) -> StoreResult<Instant> {
        Ok(Instant::from_millis(self.integer(column)?))
    }

    fn optional_instant(&self, column: &str) -> StoreResult<Option<Instant>> {
        Ok(self.optional_integer(column)?.map(Instant::from_millis))
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn optional_wire<T: FromStr>(raw: Option<String>, what: &str) -> StoreResult<Option<T>> {
    raw.as_deref()
        .map(|raw| codec::parse_wire(raw, what))
        .transpose()
}

pub fn lambda(row: &impl Row) -> StoreResult<Lambda> {
    let lambda_type = row.text("lambda_type")?;
    Ok(Lambda {
        id: row.id("id")?,
        name: row.text("name")?,
        lambda_type: LambdaType::from_str(&lambda_type).map_err(corrupt)?,
        body: row.text("body")?,
        debug: row.flag("debug")?,
        enabled: row.flag("enabled")?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    })
}

pub fn api_key(row: &impl Row) -> StoreResult<ApiKey> {
    let digest = row.bytes("digest")?;
    Ok(ApiKey {
        id: row.id("id")?,
        digest: ApiKeyDigest(
            digest
                .try_into()
                .map_err(|_| corrupt("api key digest is not 32 bytes"))?,
        ),
        description: row.text("description")?,
        is_superuser: row.flag("is_superuser")?,
        insert_instant: row.instant("insert_instant")?,
    })
}

/// The columns every application row has; the rest of its settings are
/// one JSON column (see [`codec::apply_application_config`]).
pub fn application(row: &impl Row) -> StoreResult<Application> {
    let mut application = Application {
        id: row.id("id")?,
        name: row.text("name")?,
        project_id: None,
        environment: None,
        roles: Vec::new(),
        oauth: OAuthConfiguration {
            client_secret_digest: row.optional_bytes("client_secret_digest")?,
            client_authentication_policy: lamba_model::ClientAuthenticationPolicy::Required,
            proof_key_for_code_exchange_policy: lamba_model::PkcePolicy::Required,
            authorized_redirect_urls: Vec::new(),
            logout_url: None,
            enabled_grants: Vec::new(),
            require_registration: false,
            authorized_resource_uris: Vec::new(),
            allowed_scopes: Vec::new(),
        },
        jwt: JwtConfiguration::default(),
        lambda: LambdaConfiguration {
            access_token_populate_id: row.optional_id("access_token_populate_id")?,
            id_token_populate_id: row.optional_id("id_token_populate_id")?,
            failure_policy: lamba_model::FailurePolicy::Closed,
        },
        failed_authentication: lamba_model::FailedAuthenticationConfiguration::default(),
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    };
    codec::apply_application_config(&mut application, &row.text("config")?)?;
    Ok(application)
}

/// A user whose columns carry `prefix` (empty, or the alias of a join).
pub fn user(row: &impl Row, prefix: &str) -> StoreResult<User> {
    let column = |name: &str| format!("{prefix}{name}");
    Ok(User {
        id: row.id(&column("id"))?,
        email: row.text(&column("email"))?,
        username: row.optional_text(&column("username"))?,
        password_hash: row.optional_text(&column("password_hash"))?,
        first_name: row.optional_text(&column("first_name"))?,
        last_name: row.optional_text(&column("last_name"))?,
        data: codec::parse_user_data(&row.text(&column("data"))?)?,
        insert_instant: row.instant(&column("insert_instant"))?,
        last_update_instant: row.instant(&column("last_update_instant"))?,
    })
}

pub fn registration(row: &impl Row) -> StoreResult<Registration> {
    Ok(Registration {
        user_id: row.id("user_id")?,
        application_id: row.id("application_id")?,
        roles: codec::parse_roles(&row.text("roles")?)?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    })
}

pub fn signing_key(row: &impl Row) -> StoreResult<SigningKeyRecord> {
    let algorithm = row.text("algorithm")?;
    Ok(SigningKeyRecord {
        kid: row.text("kid")?,
        algorithm: algorithm
            .parse()
            .map_err(|_| corrupt(format!("signing algorithm {algorithm:?}")))?,
        private_key: row.bytes("private_key")?,
        sealed: row.flag("sealed")?,
        public_jwk: row.text("public_jwk")?,
        insert_instant: row.instant("insert_instant")?,
        retired_instant: row.optional_instant("retired_instant")?,
        expires_instant: row.optional_instant("expires_instant")?,
        first_signed_instant: row.optional_instant("first_signed_instant")?,
    })
}

pub fn certificate_key(row: &impl Row) -> StoreResult<CertificateKey> {
    Ok(CertificateKey {
        id: row.id("id")?,
        name: row.text("name")?,
        certificate: row.bytes("certificate")?,
        private_key: row.optional_bytes("private_key")?,
        sealed: row.flag("sealed")?,
        insert_instant: row.instant("insert_instant")?,
    })
}

/// A login session whose columns carry `prefix`.
pub fn login_session(row: &impl Row, prefix: &str) -> StoreResult<LoginSession> {
    let column = |name: &str| format!("{prefix}{name}");
    Ok(LoginSession {
        id: row.id(&column("id"))?,
        user_id: row.id(&column("user_id"))?,
        application_id: row.id(&column("application_id"))?,
        auth_time: row.instant(&column("auth_time"))?,
        insert_instant: row.instant(&column("insert_instant"))?,
        last_used_instant: row.instant(&column("last_used_instant"))?,
        ended_instant: row.optional_instant(&column("ended_instant"))?,
        end_reason: row.optional_text(&column("end_reason"))?,
        ip_address: row.optional_text(&column("ip_address"))?,
        user_agent: row.optional_text(&column("user_agent"))?,
        identity_provider_id: row.optional_id(&column("identity_provider_id"))?,
    })
}

pub fn authorization_code(row: &impl Row) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_digest: row.bytes("code_digest")?,
        application_id: row.id("application_id")?,
        user_id: row.id("user_id")?,
        session_id: row.id("session_id")?,
        redirect_uri: row.text("redirect_uri")?,
        scope: row.text("scope")?,
        nonce: row.optional_text("nonce")?,
        code_challenge: row.optional_text("code_challenge")?,
        resource: row.optional_text("resource")?,
        insert_instant: row.instant("insert_instant")?,
        expires_instant: row.instant("expires_instant")?,
        used_instant: row.optional_instant("used_instant")?,
    })
}

pub fn refresh_token(row: &impl Row) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: row.id("id")?,
        token_digest: row.bytes("token_digest")?,
        family_id: row.id("family_id")?,
        application_id: row.id("application_id")?,
        user_id: row.id("user_id")?,
        session_id: row.id("session_id")?,
        scope: row.text("scope")?,
        resource: row.optional_text("resource")?,
        code_digest: row.optional_bytes("code_digest")?,
        family_insert_instant: row.instant("family_insert_instant")?,
        insert_instant: row.instant("insert_instant")?,
        expires_instant: row.instant("expires_instant")?,
        used_instant: row.optional_instant("used_instant")?,
        revoked_instant: row.optional_instant("revoked_instant")?,
        client_authentication: codec::parse_wire(
            &row.text("client_authentication")?,
            "client_authentication",
        )?,
    })
}

pub fn workspace(row: &impl Row) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: row.id("id")?,
        name: row.text("name")?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    })
}

pub fn project(row: &impl Row) -> StoreResult<Project> {
    Ok(Project {
        id: row.id("id")?,
        workspace_id: row.id("workspace_id")?,
        name: row.text("name")?,
        state: codec::parse_wire(&row.text("state")?, "project state")?,
        visibility: codec::parse_wire(&row.text("visibility")?, "visibility")?,
        environments: codec::parse_environments(&row.text("environments")?)?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
        revision: row.integer("revision")?,
    })
}

pub fn role(row: &impl Row) -> StoreResult<ProjectRole> {
    Ok(ProjectRole {
        id: row.id("id")?,
        project_id: row.id("project_id")?,
        name: row.text("name")?,
        description: row.optional_text("description")?,
        permissions: codec::parse_permissions(&row.text("permissions")?)?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    })
}

pub fn member(row: &impl Row) -> StoreResult<ProjectMember> {
    Ok(ProjectMember {
        project_id: row.id("project_id")?,
        user_id: row.id("user_id")?,
        roles: codec::parse_roles(&row.text("roles")?)?,
        locked: row.flag("locked")?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
        revision: row.integer("revision")?,
    })
}

/// A scoped session whose columns carry `prefix`.
pub fn scoped_session(row: &impl Row, prefix: &str) -> StoreResult<ScopedSession> {
    let column = |name: &str| format!("{prefix}{name}");
    Ok(ScopedSession {
        id: row.id(&column("id"))?,
        login_session_id: row.id(&column("login_session_id"))?,
        user_id: row.id(&column("user_id"))?,
        application_id: row.id(&column("application_id"))?,
        workspace_id: row.id(&column("workspace_id"))?,
        project_id: row.id(&column("project_id"))?,
        environment: codec::parse_wire::<Environment>(
            &row.text(&column("environment"))?,
            "environment",
        )?,
        roles: codec::parse_roles(&row.text(&column("roles"))?)?,
        permissions: codec::parse_permissions(&row.text(&column("permissions"))?)?,
        contract: codec::parse_session_contract(&row.text(&column("contract"))?)?,
        insert_instant: row.instant(&column("insert_instant"))?,
        last_used_instant: row.instant(&column("last_used_instant"))?,
        ended_instant: row.optional_instant(&column("ended_instant"))?,
        end_reason: row.optional_text(&column("end_reason"))?,
    })
}

pub fn scoped_refresh_token(row: &impl Row) -> StoreResult<ScopedRefreshToken> {
    Ok(ScopedRefreshToken {
        id: row.id("id")?,
        token_digest: row.bytes("token_digest")?,
        scoped_session_id: row.id("scoped_session_id")?,
        insert_instant: row.instant("insert_instant")?,
        expires_instant: row.instant("expires_instant")?,
        used_instant: row.optional_instant("used_instant")?,
        revoked_instant: row.optional_instant("revoked_instant")?,
    })
}

pub fn ended_scope(row: &impl Row) -> StoreResult<EndedScope> {
    Ok(EndedScope {
        id: row.id("id")?,
        workspace_id: row.id("workspace_id")?,
        project_id: row.id("project_id")?,
        environment: codec::parse_wire::<Environment>(&row.text("environment")?, "environment")?,
    })
}

pub fn audit_event(row: &impl Row) -> StoreResult<AuditEvent> {
    let actor_type = row.text("actor_type")?;
    let data = row.text("data")?;
    Ok(AuditEvent {
        id: row.id("id")?,
        event_type: row.text("event_type")?,
        occurred_at: row.instant("occurred_at")?,
        actor_type: ActorType::parse(&actor_type)
            .ok_or_else(|| corrupt(format!("audit actor type {actor_type:?}")))?,
        actor_id: row.optional_text("actor_id")?,
        user_id: row.optional_id("user_id")?,
        session_id: row.optional_id("session_id")?,
        scope_id: row.optional_id("scope_id")?,
        workspace_id: row.optional_id("workspace_id")?,
        project_id: row.optional_id("project_id")?,
        environment: optional_wire(row.optional_text("environment")?, "audit environment")?,
        reason: row.optional_text("reason")?,
        trace_id: row.optional_text("trace_id")?,
        correlation_id: row.optional_text("correlation_id")?,
        ip_address: row.optional_text("ip_address")?,
        data: serde_json::from_str(&data).map_err(|e| corrupt(format!("audit data: {e}")))?,
    })
}

pub fn event_log(row: &impl Row) -> StoreResult<EventLog> {
    let event_type = row.text("event_type")?;
    Ok(EventLog {
        id: row.integer("id")?,
        insert_instant: row.instant("insert_instant")?,
        event_type: EventLogType::from_str(&event_type)
            .map_err(|_| corrupt(format!("event log type {event_type:?}")))?,
        message: row.text("message")?,
    })
}

pub fn webhook(row: &impl Row) -> StoreResult<Webhook> {
    let event_types = row.text("event_types")?;
    Ok(Webhook {
        id: row.id("id")?,
        url: row.text("url")?,
        description: row.text("description")?,
        event_types: serde_json::from_str(&event_types)
            .map_err(|e| corrupt(format!("webhook event types: {e}")))?,
        project_id: row.optional_id("project_id")?,
        environment: optional_wire(row.optional_text("environment")?, "webhook environment")?,
        enabled: row.flag("enabled")?,
        secret: row.bytes("secret")?,
        secret_sealed: row.flag("secret_sealed")?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    })
}

/// An identity provider: its columns, then its `config` JSON.
pub fn identity_provider(row: &impl Row) -> StoreResult<lamba_model::IdentityProvider> {
    let columns = codec::ProviderColumns {
        id: row.id("id")?,
        name: row.text("name")?,
        provider_type: row.text("provider_type")?,
        enabled: row.flag("enabled")?,
        reconcile_lambda_id: row.optional_id("reconcile_lambda_id")?,
        secrets: row.bytes("secrets")?,
        secrets_sealed: row.flag("secrets_sealed")?,
        insert_instant: row.instant("insert_instant")?,
        last_update_instant: row.instant("last_update_instant")?,
    };
    codec::parse_provider(columns, &row.text("config")?)
}

pub fn identity_provider_link(row: &impl Row) -> StoreResult<lamba_model::IdentityProviderLink> {
    Ok(lamba_model::IdentityProviderLink {
        identity_provider_id: row.id("identity_provider_id")?,
        identity_provider_user_id: row.text("identity_provider_user_id")?,
        user_id: row.id("user_id")?,
        display_name: row.optional_text("display_name")?,
        insert_instant: row.instant("insert_instant")?,
        last_login_instant: row
            .optional_integer("last_login_instant")?
            .map(Instant::from_millis),
    })
}

/// A link (unprefixed columns), its user (`u_`) and the user's
/// registration to `application_id` (`r_`, null when there is none).
pub fn linked_user(
    row: &impl Row,
    application_id: lamba_model::ApplicationId,
) -> StoreResult<crate::LinkedUser> {
    let link = identity_provider_link(row)?;
    let registration = match row.optional_text("r_roles")? {
        Some(roles) => Some(Registration {
            user_id: link.user_id,
            application_id,
            roles: codec::parse_roles(&roles)?,
            insert_instant: row.instant("r_insert_instant")?,
            last_update_instant: row.instant("r_last_update_instant")?,
        }),
        None => None,
    };
    Ok(crate::LinkedUser {
        user: user(row, "u_")?,
        link,
        registration,
    })
}

pub fn federation_request(row: &impl Row) -> StoreResult<lamba_model::FederationRequest> {
    Ok(lamba_model::FederationRequest {
        state_digest: row.bytes("state_digest")?,
        identity_provider_id: row.id("identity_provider_id")?,
        application_id: row.id("application_id")?,
        browser_digest: row.bytes("browser_digest")?,
        authorize_request: row.text("authorize_request")?,
        pending_link: row.optional_text("pending_link")?,
        insert_instant: row.instant("insert_instant")?,
        expires_instant: row.instant("expires_instant")?,
    })
}

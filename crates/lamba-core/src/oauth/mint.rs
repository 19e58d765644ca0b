//! Minting tokens: access tokens in the RFC 9068 JWT profile and OpenID
//! Connect ID tokens.

use lamba_model::{
    Application, Environment, LoginSession, ProjectId, ScopedSession, SigningAlgorithm, User,
    WorkspaceId,
};
use lamba_oidc::hash::token_hash;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{OAuthFailure, OAuthService};
use crate::claims::{CONTEXT_CLAIMS, SCOPED_SID_CLAIM, SCOPED_TOKEN_CLAIMS};
use crate::keys::to_jose;
use crate::lambdas::populate::{PopulateArguments, PopulateError, TokenKind};

/// ID tokens are RS256, the algorithm OIDC requires every client to accept.
pub const ID_TOKEN_ALGORITHM: SigningAlgorithm = SigningAlgorithm::Rs256;

/// Who an access token speaks for.
pub enum Subject<'a> {
    /// A user, in a login session, with the roles of their registration.
    User {
        user: &'a User,
        session: &'a LoginSession,
        roles: &'a [String],
        /// The access token's `jti` when it must be known beforehand: a
        /// code exchange's is derived from the code, so that a replay of
        /// the code can revoke it without it being stored.
        access_jti: Option<Uuid>,
    },
    /// The client itself (client credentials).
    Client,
    /// The client, managing one project environment (`lamba:admin`).
    Management {
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        environment: Environment,
    },
    /// A user in a scoped session; the token lives by the scope's contract
    /// and never past its absolute end.
    Scoped { scope: &'a ScopedSession },
}

/// How a token was asked for: `context.grantType` of a populate lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenGrant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// `POST /v1/sessions/switch-context`.
    SwitchContext,
    /// `POST /v1/sessions/refresh` of a scoped session.
    SessionRefresh,
}

impl TokenGrant {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenGrant::AuthorizationCode => "authorization_code",
            TokenGrant::RefreshToken | TokenGrant::SessionRefresh => "refresh_token",
            TokenGrant::ClientCredentials => "client_credentials",
            TokenGrant::SwitchContext => "switch_context",
        }
    }
}

pub struct Minted {
    pub token: String,
    pub expires_in: i64,
}

impl OAuthService {
    /// An access token of a scoped session, by its contract.
    pub async fn mint_scoped_access_token(
        &self,
        application: &Application,
        scope: &ScopedSession,
        grant: TokenGrant,
    ) -> Result<Minted, OAuthFailure> {
        self.mint_access_token(application, &Subject::Scoped { scope }, "", None, grant)
            .await
    }

    /// Builds the claims, runs the application's access-token populate
    /// lambda on them when it has one, and signs. Without a lambda this is
    /// one `Option` check more than building and signing.
    pub(super) async fn mint_access_token(
        &self,
        application: &Application,
        subject: &Subject<'_>,
        scope: &str,
        resource: Option<&str>,
        grant: TokenGrant,
    ) -> Result<Minted, OAuthFailure> {
        let (claims, ttl) = self.access_claims(application, subject, scope, resource);
        let claims = match self
            .populator
            .runnable(application.lambda.access_token_populate_id)
            .await?
        {
            None => claims,
            Some(lambda) => {
                let arguments = self.populate_arguments(application, subject, grant).await?;
                let protected = match subject {
                    Subject::Scoped { .. } | Subject::Management { .. } => SCOPED_TOKEN_CLAIMS,
                    Subject::User { .. } | Subject::Client => CONTEXT_CLAIMS,
                };
                self.populator
                    .populate(
                        application,
                        &lambda,
                        TokenKind::Access,
                        claims,
                        protected,
                        arguments,
                    )
                    .await?
            }
        };
        let signer = self
            .keys
            .signer(application.jwt.access_token_signing_algorithm)
            .await
            .map_err(signer_failure)?;
        let token = signer
            .sign("at+jwt", &Value::Object(claims))
            .map_err(|error| {
                tracing::error!(%error, "signing an access token failed");
                OAuthFailure::server_error()
            })?;
        Ok(Minted {
            token,
            expires_in: ttl,
        })
    }

    /// An access token's claims before any lambda, and its lifetime.
    fn access_claims(
        &self,
        application: &Application,
        subject: &Subject<'_>,
        scope: &str,
        resource: Option<&str>,
    ) -> (Map<String, Value>, i64) {
        let now = self.now_secs();
        let ttl = match subject {
            Subject::Scoped { scope } => scope
                .contract
                .access_token_time_to_live_in_seconds
                .min(scope.absolute_end().as_millis().div_euclid(1000) - now)
                .max(0),
            _ => application.jwt.access_token_time_to_live_in_seconds,
        };
        let jti = match subject {
            Subject::User {
                access_jti: Some(jti),
                ..
            } => *jti,
            _ => Uuid::new_v4(),
        };
        let client_id = application.id.to_string();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        let sub = match subject {
            Subject::User { user, .. } => user.id.to_string(),
            Subject::Scoped { scope } => scope.user_id.to_string(),
            Subject::Client | Subject::Management { .. } => client_id.clone(),
        };
        claims.insert("sub".into(), json!(sub));
        claims.insert("aud".into(), json!(resource.unwrap_or(&client_id)));
        claims.insert("exp".into(), json!(now + ttl));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        claims.insert("client_id".into(), json!(client_id));
        if !scope.is_empty() {
            claims.insert("scope".into(), json!(scope));
        }
        if let Subject::User { session, roles, .. } = subject {
            claims.insert("sid".into(), json!(session.id));
            claims.insert(
                "auth_time".into(),
                json!(session.auth_time.as_millis().div_euclid(1000)),
            );
            claims.insert("roles".into(), json!(roles));
            federated_claims(session, &mut claims);
        }
        if let Subject::Scoped { scope } = subject {
            claims.insert("sid".into(), json!(scope.login_session_id));
            claims.insert(SCOPED_SID_CLAIM.into(), json!(scope.id));
            claims.insert("workspace_id".into(), json!(scope.workspace_id));
            claims.insert("project_id".into(), json!(scope.project_id));
            claims.insert("environment".into(), json!(scope.environment.as_str()));
            claims.insert("roles".into(), json!(scope.roles));
            claims.insert("permissions".into(), json!(scope.permissions));
        }
        if let Subject::Management {
            workspace_id,
            project_id,
            environment,
        } = subject
        {
            claims.insert("workspace_id".into(), json!(workspace_id));
            claims.insert("project_id".into(), json!(project_id));
            claims.insert("environment".into(), json!(environment.as_str()));
        }
        (claims, ttl)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the ID token's inputs; a struct would only rename them"
    )]
    pub(super) async fn mint_id_token(
        &self,
        application: &Application,
        user: &User,
        session: &LoginSession,
        roles: &[String],
        scopes: &[String],
        nonce: Option<&str>,
        access_token: &str,
        grant: TokenGrant,
    ) -> Result<String, OAuthFailure> {
        let now = self.now_secs();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("aud".into(), json!(application.id));
        claims.insert(
            "exp".into(),
            json!(now + application.jwt.id_token_time_to_live_in_seconds),
        );
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "auth_time".into(),
            json!(session.auth_time.as_millis().div_euclid(1000)),
        );
        claims.insert("sid".into(), json!(session.id));
        federated_claims(session, &mut claims);
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert(
            "at_hash".into(),
            json!(token_hash(to_jose(ID_TOKEN_ALGORITHM), access_token)),
        );
        user_claims(user, scopes, &mut claims);
        if let Some(lambda) = self
            .populator
            .runnable(application.lambda.id_token_populate_id)
            .await?
        {
            let subject = Subject::User {
                user,
                session,
                roles,
                access_jti: None,
            };
            let arguments = self
                .populate_arguments(application, &subject, grant)
                .await?;
            claims = self
                .populator
                .populate(
                    application,
                    &lambda,
                    TokenKind::Id,
                    claims,
                    CONTEXT_CLAIMS,
                    arguments,
                )
                .await?;
        }
        let signer = self
            .keys
            .signer(ID_TOKEN_ALGORITHM)
            .await
            .map_err(signer_failure)?;
        signer.sign("JWT", &Value::Object(claims)).map_err(|error| {
            tracing::error!(%error, "signing an ID token failed");
            OAuthFailure::server_error()
        })
    }

    /// `user`, `registration` and `context` of a populate lambda, as
    /// FusionAuth passes them where it has them: the user as the operator
    /// API shows it (never a password), the registration as
    /// `{applicationId, roles}`; both `null` for client credentials, which
    /// speak for no user. `context` fields that are not known are `null`.
    async fn populate_arguments(
        &self,
        application: &Application,
        subject: &Subject<'_>,
        grant: TokenGrant,
    ) -> Result<PopulateArguments, OAuthFailure> {
        let mut ip_address = None;
        let mut user_agent = None;
        let mut tenancy = None;
        let (user, registration, authentication_method) = match subject {
            Subject::User {
                user,
                session,
                roles,
                ..
            } => {
                ip_address = session.ip_address.clone();
                user_agent = session.user_agent.clone();
                (
                    crate::identity::users::user_json(user),
                    json!({"applicationId": application.id, "roles": roles}),
                    Value::from("password"),
                )
            }
            Subject::Scoped { scope } => {
                tenancy = Some((scope.workspace_id, scope.project_id, scope.environment));
                let user = self
                    .store
                    .lookup_user(scope.user_id)
                    .await?
                    .map_or(Value::Null, |u| crate::identity::users::user_json(&u));
                let roles = self
                    .store
                    .lookup_registration(scope.user_id, application.id)
                    .await?
                    .map(|r| r.roles)
                    .unwrap_or_default();
                (
                    user,
                    json!({"applicationId": application.id, "roles": roles}),
                    Value::from("password"),
                )
            }
            Subject::Management {
                workspace_id,
                project_id,
                environment,
            } => {
                tenancy = Some((*workspace_id, *project_id, *environment));
                (Value::Null, Value::Null, Value::from("client_secret"))
            }
            Subject::Client => (Value::Null, Value::Null, Value::from("client_secret")),
        };
        if tenancy.is_none()
            && let (Some(project_id), Some(environment)) =
                (application.project_id, application.environment)
        {
            let project_id = ProjectId::from_uuid(project_id);
            if let Some(project) = self.store.lookup_project(project_id).await? {
                tenancy = Some((project.workspace_id, project_id, environment));
            }
        }
        let (workspace_id, project_id, environment) = match tenancy {
            Some((w, p, e)) => (json!(w), json!(p), json!(e.as_str())),
            None => (Value::Null, Value::Null, Value::Null),
        };
        Ok(PopulateArguments {
            user,
            registration,
            context: json!({
                "application": {"id": application.id, "name": application.name},
                "grantType": grant.as_str(),
                "ipAddress": ip_address,
                "userAgent": user_agent,
                "authenticationMethod": authentication_method,
                "workspaceId": workspace_id,
                "projectId": project_id,
                "environment": environment,
            }),
        })
    }
}

/// The standard claims the granted scopes release (OIDC Core §5.4).
pub fn user_claims(user: &User, scopes: &[String], claims: &mut Map<String, Value>) {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    if has("email") {
        claims.insert("email".into(), json!(user.email));
        // Lamba does not verify addresses yet; say so rather than claim it.
        claims.insert("email_verified".into(), json!(false));
    }
    if has("profile") {
        if let Some(username) = &user.username {
            claims.insert("preferred_username".into(), json!(username));
        }
        if let Some(given) = &user.first_name {
            claims.insert("given_name".into(), json!(given));
        }
        if let Some(family) = &user.last_name {
            claims.insert("family_name".into(), json!(family));
        }
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !name.is_empty() {
            claims.insert("name".into(), json!(name.join(" ")));
        }
    }
}

impl From<PopulateError> for OAuthFailure {
    fn from(error: PopulateError) -> Self {
        match error {
            // The event log and the server's log already say why.
            PopulateError::Failed => OAuthFailure::server_error(),
            PopulateError::Store(store) => store.into(),
        }
    }
}

/// A key that cannot sign: the store out of reach is a temporary failure
/// (recording a key's first signing is a write), anything else a bug.
fn signer_failure(error: crate::keys::KeyError) -> OAuthFailure {
    match error {
        crate::keys::KeyError::Store(store) => OAuthFailure::from(store),
        other => {
            tracing::error!(error = %other, "no signing key");
            OAuthFailure::server_error()
        }
    }
}

/// A session that came through an upstream provider says which (`idp`, as
/// Entra and IdentityServer name it) and that it was federated (`amr`,
/// OpenID Connect Core §2). Password sessions carry neither, as before.
fn federated_claims(session: &LoginSession, claims: &mut Map<String, serde_json::Value>) {
    if let Some(provider) = session.identity_provider_id {
        claims.insert("idp".into(), json!(provider));
        claims.insert("amr".into(), json!(["fed"]));
    }
}

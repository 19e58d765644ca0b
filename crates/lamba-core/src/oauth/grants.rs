//! The token endpoint's grants: `authorization_code` and
//! `client_credentials` (RFC 6749 §4.1.3, §4.4); `refresh_token` is in
//! `refresh.rs`.

use std::str::FromStr;

use lamba_model::{
    Application, ClientAuthentication, ClientAuthenticationPolicy, CodeConsumption, Environment,
    GrantType, Instant, LoginSession, ProjectId, RefreshToken, User, WorkspaceId,
};
use lamba_oidc::OAuthError;
use uuid::Uuid;

use super::client::{Client, ClientCredentials};
use super::families::code_access_jti;
use super::mint::{Subject, TokenGrant};
use super::resource::authorized_resource;
use super::{OAuthFailure, OAuthService, USER_SCOPES, parse_scope, random_token, token_digest};
use crate::claims::MANAGEMENT_SCOPE;

/// How long after a code's expiry a replay still revokes what the code
/// issued (see `code_replayed`).
const REPLAY_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// A token request's form, as received.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    /// Management tokens (CONTRACTS.md 3): the project environment to
    /// manage, defaulting to the client's own.
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub credentials: ClientCredentials,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl OAuthService {
    pub async fn token(&self, request: TokenRequest) -> Result<TokenResponse, OAuthFailure> {
        let grant = match request.grant_type.as_deref() {
            None | Some("") => {
                return Err(OAuthFailure::invalid_request("grant_type is required."));
            }
            Some("authorization_code") => GrantType::AuthorizationCode,
            Some("refresh_token") => GrantType::RefreshToken,
            Some("client_credentials") => GrantType::ClientCredentials,
            Some(other) => {
                return Err(OAuthFailure::new(
                    OAuthError::UnsupportedGrantType,
                    format!("The grant type {other:?} is not supported."),
                ));
            }
        };
        let client = self.identify_client(&request.credentials).await?;
        if !client.application.has_grant(grant) {
            return Err(OAuthFailure::new(
                OAuthError::UnauthorizedClient,
                format!("This client may not use the {} grant.", grant.as_str()),
            ));
        }
        match grant {
            GrantType::AuthorizationCode => self.exchange_code(client, request).await,
            GrantType::RefreshToken => self.refresh(client, request).await,
            GrantType::ClientCredentials => self.client_credentials(client, request).await,
        }
    }

    async fn client_credentials(
        &self,
        client: Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthFailure> {
        if !client.authenticated {
            return Err(OAuthFailure::invalid_client());
        }
        let scopes = parse_scope(request.scope.as_deref());
        if let Some(user_scope) = scopes.iter().find(|s| USER_SCOPES.contains(&s.as_str())) {
            return Err(OAuthFailure::new(
                OAuthError::InvalidScope,
                format!("The scope {user_scope:?} needs a user; client credentials have none."),
            ));
        }
        let resource = authorized_resource(&client.application, request.resource.as_deref())?;
        if let Some(extra) = scopes.iter().find(|s| {
            *s != MANAGEMENT_SCOPE && !client.application.oauth.allowed_scopes.contains(s)
        }) {
            return Err(OAuthFailure::new(
                OAuthError::InvalidScope,
                format!("The scope {extra:?} is not among this client's allowedScopes."),
            ));
        }
        let wants_management = scopes.iter().any(|s| s == MANAGEMENT_SCOPE)
            || request.workspace_id.is_some()
            || request.project_id.is_some()
            || request.environment.is_some();
        // Lamba's API accepts only tokens whose audience is the client, so a
        // management token for another resource could never be used.
        if wants_management && resource.is_some() {
            return Err(OAuthFailure::new(
                OAuthError::InvalidTarget,
                "A management token is for Lamba's own API; it cannot name a resource.",
            ));
        }
        let (subject, scopes) = if wants_management {
            let subject = self
                .management_subject(&client.application, &request)
                .await?;
            let mut scopes = scopes;
            if !scopes.iter().any(|s| s == MANAGEMENT_SCOPE) {
                scopes.push(MANAGEMENT_SCOPE.to_owned());
            }
            (subject, scopes)
        } else {
            (Subject::Client, scopes)
        };
        let scope = scopes.join(" ");
        let access = self
            .mint_access_token(
                &client.application,
                &subject,
                &scope,
                resource,
                TokenGrant::ClientCredentials,
            )
            .await?;
        Ok(TokenResponse {
            access_token: access.token,
            expires_in: access.expires_in,
            scope,
            id_token: None,
            refresh_token: None,
        })
    }

    /// The project environment a management token may manage: the client's
    /// own. Naming another is refused, so one project's client can never
    /// manage another's members.
    async fn management_subject(
        &self,
        application: &Application,
        request: &TokenRequest,
    ) -> Result<Subject<'static>, OAuthFailure> {
        let refuse = || {
            OAuthFailure::new(
                OAuthError::UnauthorizedClient,
                "This client may not manage that project environment.",
            )
        };
        let Some(project_id) = application.project_id else {
            return Err(OAuthFailure::new(
                OAuthError::UnauthorizedClient,
                "Only an app client of a project may request a management token.",
            ));
        };
        let project_id = ProjectId::from_uuid(project_id);
        if let Some(asked) = request.project_id.as_deref().filter(|p| !p.is_empty())
            && ProjectId::from_str(asked).ok() != Some(project_id)
        {
            return Err(refuse());
        }
        let environment = match request.environment.as_deref().filter(|e| !e.is_empty()) {
            Some(asked) => {
                let asked = Environment::from_str(asked).map_err(|_| {
                    OAuthFailure::invalid_request("environment must be test or prod.")
                })?;
                if application.environment.is_some_and(|own| own != asked) {
                    return Err(refuse());
                }
                asked
            }
            None => application.environment.ok_or_else(|| {
                OAuthFailure::invalid_request("environment is required for this client.")
            })?,
        };
        let Some(project) = self.store.lookup_project(project_id).await? else {
            return Err(refuse());
        };
        if let Some(asked) = request.workspace_id.as_deref().filter(|w| !w.is_empty())
            && WorkspaceId::from_str(asked).ok() != Some(project.workspace_id)
        {
            return Err(refuse());
        }
        Ok(Subject::Management {
            workspace_id: project.workspace_id,
            project_id,
            environment,
        })
    }

    async fn exchange_code(
        &self,
        client: Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthFailure> {
        let code = request
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_request("code is required."))?;
        let now = self.clock.now();
        let digest = token_digest(code);
        let application = &client.application;
        let invalid_code = || OAuthFailure::invalid_grant("The authorization code is invalid.");
        // Everything that can be wrong with the request is checked before
        // the code is consumed: an intercepted code tried by another client
        // or without its verifier is refused and stays good for the real
        // client, whose exchange is then no "replay".
        let Some(code) = self.store.find_authorization_code(&digest).await? else {
            return Err(invalid_code());
        };
        if code.application_id != application.id {
            return Err(OAuthFailure::invalid_grant(
                "The authorization code was issued to another client.",
            ));
        }
        if application.is_confidential() && !client.authenticated {
            let pkce_stands_in = application.oauth.client_authentication_policy
                == ClientAuthenticationPolicy::NotRequiredWhenUsingPkce
                && code.code_challenge.is_some();
            if !pkce_stands_in {
                return Err(OAuthFailure::invalid_client());
            }
        }
        if request.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
            return Err(OAuthFailure::invalid_grant(
                "redirect_uri differs from the authorization request's.",
            ));
        }
        match (&code.code_challenge, request.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) => lamba_oidc::pkce::verify_s256(verifier, challenge)
                .map_err(|_| {
                    OAuthFailure::invalid_grant(
                        "The code_verifier does not match the code_challenge.",
                    )
                })?,
            (Some(_), None) => {
                return Err(OAuthFailure::invalid_grant("code_verifier is required."));
            }
            (None, Some(_)) => {
                return Err(OAuthFailure::invalid_grant(
                    "The authorization request had no code_challenge.",
                ));
            }
            (None, None) => {}
        }
        // Only a presenter that passed every check above (the verifier
        // included) can make a replay revoke anything: a leaked code alone
        // is no way to revoke a user's tokens.
        if code.used_instant.is_some() {
            return Err(self.code_replayed(&code, application, now).await?);
        }
        if now >= code.expires_instant {
            return Err(OAuthFailure::invalid_grant(
                "The authorization code has expired.",
            ));
        }
        // A resource taken off the client's list since the code was issued
        // is refused before the code is spent.
        authorized_resource(application, code.resource.as_deref())?;
        let code = match self.store.consume_authorization_code(&digest, now).await? {
            CodeConsumption::Fresh(code) => code,
            // Two good exchanges at once: the other won; this is the copy.
            CodeConsumption::Replayed(code) => {
                return Err(self.code_replayed(&code, application, now).await?);
            }
            CodeConsumption::Unknown => return Err(invalid_code()),
        };
        let session = self.live_session(code.session_id).await?;
        let user = self.user_of(&session).await?;
        let scopes = parse_scope(Some(&code.scope));
        let refresh = if scopes.iter().any(|s| s == "offline_access")
            && application.has_grant(GrantType::RefreshToken)
        {
            let token = random_token()?;
            let ttl_millis = application
                .jwt
                .refresh_token_time_to_live_in_minutes
                .saturating_mul(60_000);
            self.store
                .add_refresh_token(&RefreshToken {
                    id: Uuid::new_v4(),
                    token_digest: token_digest(&token),
                    family_id: Uuid::new_v4(),
                    application_id: application.id,
                    user_id: user.id,
                    session_id: session.id,
                    scope: code.scope.clone(),
                    resource: code.resource.clone(),
                    code_digest: Some(digest.clone()),
                    family_insert_instant: now,
                    insert_instant: now,
                    expires_instant: Instant::from_millis(
                        now.as_millis().saturating_add(ttl_millis),
                    ),
                    used_instant: None,
                    revoked_instant: None,
                    // What the family may later be refreshed with: never
                    // read from a refresh request.
                    client_authentication: if client.authenticated {
                        client.method
                    } else {
                        ClientAuthentication::None
                    },
                })
                .await?;
            Some(token)
        } else {
            None
        };
        self.issue_user_tokens(
            application,
            &user,
            &session,
            &scopes,
            code.nonce.as_deref(),
            code.resource.as_deref(),
            refresh,
            None,
            TokenGrant::AuthorizationCode,
            Some(code_access_jti(&digest)),
        )
        .await
    }

    /// A used code came back. If it is still within its lifetime plus
    /// [`REPLAY_WINDOW_MILLIS`], someone holds a copy of a code that was
    /// exchanged: what that exchange issued (its refresh-token family and
    /// its access token) is revoked (RFC 6749 §4.1.2; RFC 9700 §4.2.4), and
    /// nothing else of the login session. Later, an old code is only
    /// refused: it must not become a way to revoke a user's tokens at will.
    async fn code_replayed(
        &self,
        code: &lamba_model::AuthorizationCode,
        application: &Application,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        let window_end = code
            .expires_instant
            .as_millis()
            .saturating_add(REPLAY_WINDOW_MILLIS);
        if now.as_millis() < window_end {
            tracing::warn!(session.id = %code.session_id, "authorization code replayed; revoking what it issued");
            // And the access tokens those families' rotations minted.
            for family in self
                .store
                .revoke_refresh_tokens_of_code(&code.code_digest, now)
                .await?
            {
                self.revoke_family_access_tokens(family, now).await?;
            }
            let jti = code_access_jti(&code.code_digest);
            let expires = code.expires_instant.as_millis().saturating_add(
                application
                    .jwt
                    .access_token_time_to_live_in_seconds
                    .saturating_add(super::LEEWAY_SECONDS)
                    .saturating_mul(1000),
            );
            let expires = Instant::from_millis(expires);
            self.store.revoke_access_token(jti, expires).await?;
            self.revocations.note_token_revoked(jti, expires);
        }
        Ok(OAuthFailure::invalid_grant(
            "The authorization code was already used.",
        ))
    }

    /// The session, if it is still active.
    pub(super) async fn live_session(&self, id: Uuid) -> Result<LoginSession, OAuthFailure> {
        match self.store.lookup_login_session(id).await? {
            Some(session) if session.is_active() => Ok(session),
            _ => Err(OAuthFailure::invalid_grant("The login session has ended.")),
        }
    }

    pub(super) async fn user_of(&self, session: &LoginSession) -> Result<User, OAuthFailure> {
        self.store
            .lookup_user(session.user_id)
            .await?
            .ok_or_else(|| OAuthFailure::invalid_grant("The user no longer exists."))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per grant; a struct would only rename them"
    )]
    pub(super) async fn issue_user_tokens(
        &self,
        application: &Application,
        user: &User,
        session: &LoginSession,
        scopes: &[String],
        nonce: Option<&str>,
        resource: Option<&str>,
        refresh_token: Option<String>,
        known_roles: Option<Vec<String>>,
        grant: TokenGrant,
        access_jti: Option<Uuid>,
    ) -> Result<TokenResponse, OAuthFailure> {
        let roles = match known_roles {
            Some(roles) => roles,
            None => self
                .store
                .lookup_registration(user.id, application.id)
                .await?
                .map(|r| r.roles)
                .unwrap_or_default(),
        };
        let scope = scopes.join(" ");
        let access = self
            .mint_access_token(
                application,
                &Subject::User {
                    user,
                    session,
                    roles: &roles,
                    access_jti,
                },
                &scope,
                resource,
                grant,
            )
            .await?;
        let id_token = if scopes.iter().any(|s| s == "openid") {
            Some(
                self.mint_id_token(
                    application,
                    user,
                    session,
                    &roles,
                    scopes,
                    nonce,
                    &access.token,
                    grant,
                )
                .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token: access.token,
            expires_in: access.expires_in,
            scope,
            id_token,
            refresh_token,
        })
    }
}

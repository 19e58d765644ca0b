//! The token endpoint's grants: `authorization_code`, `refresh_token`,
//! `client_credentials` (RFC 6749 §4.1.3, §6, §4.4).

use std::str::FromStr;

use lamba_model::{
    Application, ClientAuthentication, ClientAuthenticationPolicy, CodeConsumption, Environment,
    GrantType, Instant, LoginSession, ProjectId, RefreshExpirationPolicy, RefreshToken,
    RefreshUsagePolicy, Rotation, User, WorkspaceId,
};
use lamba_oidc::OAuthError;
use uuid::Uuid;

use super::client::{Client, ClientCredentials};
use super::mint::{Subject, TokenGrant};
use super::resource::authorized_resource;
use super::{OAuthFailure, OAuthService, USER_SCOPES, parse_scope, random_token, token_digest};
use crate::claims::MANAGEMENT_SCOPE;

/// How long after a code's expiry a replay still revokes what the code
/// issued (see `code_replayed`).
const REPLAY_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// Namespace of [`code_access_jti`].
const CODE_JTI_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6d62_6100_4000_8000_636f_6465_6a74);

/// The `jti` of the access token a code exchange mints, derived from the
/// code's digest (itself a secret's hash), so that a replay can revoke it.
pub(super) fn code_access_jti(code_digest: &[u8]) -> Uuid {
    Uuid::new_v5(&CODE_JTI_NAMESPACE, code_digest)
}

/// The first eight bytes of a reusable family's access-token `jti`s: a
/// digest of the family id, so that the family can be revoked as a whole
/// (see [`crate::keys::revocation::family_mark_of_prefix`]) without storing
/// or publishing which tokens it minted.
fn family_jti_prefix(family_id: Uuid) -> [u8; 8] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(family_id.as_bytes());
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(digest.iter()).take(8) {
        *to = *from;
    }
    // As the version-8 builder leaves them (it sets four bits of byte 6).
    let (prefix, _) = uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .as_u64_pair();
    prefix.to_be_bytes()
}

/// The `jti` of an access token minted by refreshing a reusable token: a
/// version-8 UUID whose first half names the family and whose second half
/// is random, so every token is distinct and all die with their family.
fn family_access_jti(family_id: Uuid) -> Result<Uuid, OAuthFailure> {
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| OAuthFailure::server_error())?;
    let high = u64::from_be_bytes(family_jti_prefix(family_id));
    let low = u64::from_be_bytes(random);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&Uuid::from_u64_pair(high, low).into_bytes());
    Ok(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The revocation entry that kills every [`family_access_jti`] of a family.
fn family_mark(family_id: Uuid) -> Uuid {
    crate::keys::revocation::family_mark_of_prefix(family_jti_prefix(family_id))
}

/// Namespace of [`rotation_access_jti`].
const ROTATION_JTI_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6d62_6100_4000_8000_726f_7461_7465);

/// The `jti` of the access token minted with a rotated refresh token,
/// derived from that token's (random, unpublished) row id, so that revoking
/// the family can revoke it too (RFC 7009 §2.1) without storing it.
pub(super) fn rotation_access_jti(refresh_token_id: Uuid) -> Uuid {
    Uuid::new_v5(&ROTATION_JTI_NAMESPACE, refresh_token_id.as_bytes())
}

impl OAuthService {
    /// Revokes the still-unexpired access tokens a refresh family's
    /// exchanges and rotations minted (their `jti`s are derived, see
    /// [`code_access_jti`] and [`rotation_access_jti`]); those minted by
    /// refreshing a reusable token die by the family's mark
    /// ([`family_access_jti`]).
    pub(super) async fn revoke_family_access_tokens(
        &self,
        family_id: Uuid,
        now: Instant,
    ) -> Result<(), OAuthFailure> {
        // The longest lifetime any application may give an access token:
        // its TTL may have been lowered since these were minted.
        let lifetime_millis = super::applications::MAX_TOKEN_TTL_SECONDS
            .saturating_add(super::LEEWAY_SECONDS)
            .saturating_mul(1000);
        let mark = family_mark(family_id);
        let mark_expires = Instant::from_millis(now.as_millis().saturating_add(lifetime_millis));
        self.store.revoke_access_token(mark, mark_expires).await?;
        self.revocations.note_token_revoked(mark, mark_expires);
        for token in self.store.list_refresh_family(family_id).await? {
            let expires = token
                .insert_instant
                .as_millis()
                .saturating_add(lifetime_millis);
            if expires <= now.as_millis() {
                continue;
            }
            let jti = match &token.code_digest {
                Some(code) => code_access_jti(code),
                None => rotation_access_jti(token.id),
            };
            let expires = Instant::from_millis(expires);
            self.store.revoke_access_token(jti, expires).await?;
            self.revocations.note_token_revoked(jti, expires);
        }
        Ok(())
    }
}

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

    async fn refresh(
        &self,
        client: Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthFailure> {
        let application = &client.application;
        let presented = request
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_request("refresh_token is required."))?;
        let now = self.clock.now();
        let invalid =
            || OAuthFailure::invalid_grant("The refresh token is invalid, expired or revoked.");
        // Token, session, user and roles in one round trip.
        // A client that did not authenticate may refresh only a family that
        // began without a secret, and only while its policy still allows
        // that; how the family began comes from storage, never from this
        // request, so a family begun with the secret needs it for good,
        // even if the application later drops its secret.
        let without_secret = !client.authenticated;
        // Until the token is found, a confidential client without its
        // secret is answered as it always was; a public client has none.
        let refuse = |fallback: OAuthFailure| {
            if without_secret && application.is_confidential() {
                OAuthFailure::invalid_client()
            } else {
                fallback
            }
        };
        let Some(grant) = self
            .store
            .find_refresh_grant(&token_digest(presented))
            .await?
        else {
            return Err(refuse(invalid()));
        };
        let token = grant.token;
        if token.application_id != application.id {
            return Err(refuse(invalid()));
        }
        let is_public_family = token.client_authentication == ClientAuthentication::None;
        if without_secret && !(is_public_family && client.acts_without_secret()) {
            return Err(OAuthFailure::invalid_client());
        }
        if token.revoked_instant.is_some() || now >= token.expires_instant {
            return Err(invalid());
        }
        // A token a client holds without a secret must be sender-constrained
        // or rotated (RFC 9700 §4.14.2): such families always rotate, and a
        // reuse revokes them, whatever the usage policy says.
        let one_time = application.jwt.refresh_token_usage_policy == RefreshUsagePolicy::OneTimeUse
            || is_public_family;
        if one_time && let Some(used) = token.used_instant {
            return Err(self.used_again(&token, used, now).await?);
        }
        // The scope may only narrow (RFC 6749 §6).
        let granted = parse_scope(Some(&token.scope));
        let scopes = match request.scope.as_deref() {
            None | Some("") => granted.clone(),
            Some(raw) => {
                let asked = parse_scope(Some(raw));
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthFailure::new(
                        OAuthError::InvalidScope,
                        format!("The scope {extra:?} was not granted."),
                    ));
                }
                asked
            }
        };
        // A resource taken off the client's list since the family began
        // gets no more tokens.
        authorized_resource(application, token.resource.as_deref())?;
        let session = grant.session;
        if !session.is_active() {
            return Err(invalid());
        }
        let user = grant.user;
        // A registration removed since the family began ends its refreshes
        // where the application requires one.
        if application.oauth.require_registration
            && self
                .store
                .lookup_registration(user.id, application.id)
                .await?
                .is_none()
        {
            return Err(invalid());
        }
        let ttl_millis = application
            .jwt
            .refresh_token_time_to_live_in_minutes
            .saturating_mul(60_000);
        let expires = match application.jwt.refresh_token_expiration_policy {
            RefreshExpirationPolicy::Fixed => token
                .family_insert_instant
                .as_millis()
                .saturating_add(ttl_millis),
            RefreshExpirationPolicy::SlidingWindow => now.as_millis().saturating_add(ttl_millis),
        };
        let expires = Instant::from_millis(expires);
        let mut refreshed = false;
        let access_jti;
        let refresh = if one_time {
            let next = random_token()?;
            let next_id = Uuid::new_v4();
            access_jti = Some(rotation_access_jti(next_id));
            let rotated = RefreshToken {
                id: next_id,
                token_digest: token_digest(&next),
                code_digest: None,
                insert_instant: now,
                expires_instant: expires,
                used_instant: None,
                revoked_instant: None,
                ..token.clone()
            };
            let mut event = self.token_event("session.refreshed", &token);
            event.data = serde_json::json!({ "applicationId": application.id });
            let outbox = self.audit.outbox(&[&event]).await;
            match self
                .store
                .rotate_refresh_token(token.id, &rotated, now, &outbox)
                .await?
            {
                Rotation::Rotated => {
                    // Recorded now: the event is stored, whatever minting does.
                    self.audit.committed([event], &outbox);
                    refreshed = true;
                    next
                }
                // Another request rotated or revoked it first.
                Rotation::AlreadyUsed => return Err(self.lost_rotation(&token, now).await?),
            }
        } else {
            access_jti = Some(family_access_jti(token.family_id)?);
            if expires != token.expires_instant {
                self.store.extend_refresh_token(token.id, expires).await?;
            }
            // A rotation records the session's use itself.
            self.store.touch_login_session(session.id, now).await?;
            presented.to_owned()
        };
        let issued = self
            .issue_user_tokens(
                application,
                &user,
                &session,
                &scopes,
                None,
                token.resource.as_deref(),
                Some(refresh),
                Some(grant.roles),
                TokenGrant::RefreshToken,
                access_jti,
            )
            .await?;
        if !refreshed {
            // A reusable token's refresh changes nothing worth a
            // transaction of its own; its event is stored on its own.
            let mut event = self.token_event("session.refreshed", &token);
            event.data = serde_json::json!({ "applicationId": application.id });
            self.audit.record_with_outbox(vec![event]).await;
        }
        Ok(issued)
    }

    /// An audit event about a refresh token's session and user.
    fn token_event(&self, event_type: &str, token: &RefreshToken) -> lamba_model::AuditEvent {
        let mut event = self.audit.event(event_type);
        event.user_id = Some(token.user_id);
        event.session_id = Some(token.session_id);
        event
    }

    /// A rotation lost to another request: to a revocation (recorded as
    /// that, nothing more), or to a rotation, which is a second use.
    async fn lost_rotation(
        &self,
        token: &RefreshToken,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        let current = self.store.find_refresh_token(&token.token_digest).await?;
        match current {
            Some(current) if current.revoked_instant.is_none() => {
                let used = current.used_instant.unwrap_or(now);
                self.used_again(&current, used, now).await
            }
            _ => Ok(OAuthFailure::invalid_grant(
                "The refresh token is invalid, expired or revoked.",
            )),
        }
    }

    /// A `OneTimeUse` token used again. Within the grace window of its
    /// rotation it is the same client racing itself: refused, and the family
    /// lives on. Later, it is reuse.
    async fn used_again(
        &self,
        token: &RefreshToken,
        used: Instant,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        let since = now.as_millis().saturating_sub(used.as_millis());
        if self.refresh_reuse_grace_millis > 0 && since <= self.refresh_reuse_grace_millis {
            tracing::info!(session.id = %token.session_id, since_ms = since, "refresh token used again within the grace window");
            return Ok(OAuthFailure::invalid_grant(
                "The refresh token was just used; use the one that answer gave.",
            ));
        }
        self.reuse_detected(token, now).await
    }

    /// A rotated refresh token came back: someone holds a copy. The whole
    /// family is revoked, so neither copy works any more.
    async fn reuse_detected(
        &self,
        token: &RefreshToken,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        tracing::warn!(session.id = %token.session_id, "refresh token reused; revoking its family");
        let revoked = self
            .store
            .revoke_refresh_family(token.family_id, now)
            .await?;
        self.revoke_family_access_tokens(token.family_id, now)
            .await?;
        let mut event = self.token_event("refresh_token.reused", token);
        event.reason = Some("refresh_reuse".to_owned());
        event.data = serde_json::json!({
            "applicationId": token.application_id,
            "familyId": token.family_id,
            "revokedTokens": revoked,
        });
        self.audit.record(event);
        Ok(OAuthFailure::invalid_grant(
            "The refresh token was already used.",
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
    async fn issue_user_tokens(
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

#[cfg(test)]
mod family_jti_tests {
    use super::*;
    use crate::keys::revocation::family_mark_of;

    #[test]
    fn a_reusable_familys_jtis_are_distinct_and_answer_to_its_mark() {
        let (family, other) = (Uuid::new_v4(), Uuid::new_v4());
        let a = family_access_jti(family).unwrap_or_default();
        let b = family_access_jti(family).unwrap_or_default();
        assert_ne!(a, b, "each token its own jti");
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(family_mark_of(a), Some(family_mark(family)));
        assert_eq!(family_mark_of(b), Some(family_mark(family)));
        assert_ne!(family_mark_of(a), Some(family_mark(other)));
        // Other jtis answer to no family.
        assert_eq!(family_mark_of(Uuid::new_v4()), None);
        assert_eq!(family_mark_of(rotation_access_jti(family)), None);
    }
}

//! Authorization requests (RFC 6749 §4.1.1, OIDC Core §3.1.2) and the
//! hosted sign-in that answers them.

use std::str::FromStr;

use lamba_model::{
    ActorType, Application, ApplicationId, AuthorizationCode, GrantType, Instant, LoginSession,
    PkcePolicy, User,
};
use lamba_oidc::OAuthError;
use uuid::Uuid;

use super::resource::authorized_resource;
use super::{
    CODE_TTL_MILLIS, OAuthFailure, OAuthService, USER_SCOPES, parse_scope, random_token,
    token_digest,
};
use crate::identity::passwords::Password;

/// The parameters of an authorization request, as received (query string
/// on GET, hidden form fields on the sign-in POST).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub resource: Option<String>,
}

/// A request whose client and redirect URI are known good.
#[derive(Clone, Debug)]
pub struct ValidAuthorizeRequest {
    pub application: Application,
    pub request: AuthorizeRequest,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    max_age_seconds: Option<i64>,
    prompt_login: bool,
    prompt_none: bool,
}

/// What the browser gets.
#[derive(Clone, Debug)]
pub enum AuthorizeOutcome {
    /// The client or redirect URI cannot be trusted: an error page, and
    /// never a redirect (RFC 6749 §4.1.2.1).
    ErrorPage { message: String },
    /// Back to the client with an error.
    RedirectError {
        redirect_uri: String,
        error: OAuthError,
        description: String,
        state: Option<String>,
    },
    /// The sign-in form, with an error to show when a sign-in just failed.
    SignIn {
        request: Box<ValidAuthorizeRequest>,
        error: Option<String>,
    },
    /// Back to the client with a code.
    Code {
        redirect_uri: String,
        code: String,
        state: Option<String>,
    },
}

/// The result of a sign-in form submission: what to show, and the new
/// login session when one was created.
pub struct SignIn {
    pub outcome: AuthorizeOutcome,
    pub session_id: Option<Uuid>,
}

impl OAuthService {
    /// Answers `GET /connect/authorize`. `browser_session` is the login
    /// session the browser's cookie names, if any.
    pub async fn authorize(
        &self,
        request: AuthorizeRequest,
        browser_session: Option<Uuid>,
    ) -> AuthorizeOutcome {
        let valid = match self.validate_authorize(request).await {
            Ok(valid) => valid,
            Err(outcome) => return outcome,
        };
        let session = match browser_session {
            Some(id) => self
                .store
                .lookup_login_session(id)
                .await
                .ok()
                .flatten()
                .filter(LoginSession::is_active),
            None => None,
        };
        let fresh_enough = |session: &LoginSession| match valid.max_age_seconds {
            Some(max_age) => {
                let age_ms = self.clock.now().as_millis() - session.auth_time.as_millis();
                age_ms <= max_age.saturating_mul(1000)
            }
            None => true,
        };
        match session {
            Some(session) if !valid.prompt_login && fresh_enough(&session) => {
                self.issue_code(&valid, &session, true).await
            }
            _ if valid.prompt_none => redirect_error(
                &valid,
                OAuthError::LoginRequired,
                "The user is not signed in.",
            ),
            _ => AuthorizeOutcome::SignIn {
                request: Box::new(valid),
                error: None,
            },
        }
    }

    /// Answers the sign-in form. The caller has checked its CSRF token.
    pub async fn sign_in(
        &self,
        request: AuthorizeRequest,
        email: &str,
        password: &str,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> SignIn {
        self.sign_in_through(request, email, password, None, ip_address, user_agent)
            .await
    }

    /// [`Self::sign_in`], for a session that also came through
    /// `identity_provider` (a pending link proven with the password).
    pub async fn sign_in_through(
        &self,
        request: AuthorizeRequest,
        email: &str,
        password: &str,
        identity_provider: Option<lamba_model::IdentityProviderId>,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> SignIn {
        let valid = match self.validate_authorize(request).await {
            Ok(valid) => valid,
            Err(outcome) => {
                return SignIn {
                    outcome,
                    session_id: None,
                };
            }
        };
        let wrong = |valid: ValidAuthorizeRequest| SignIn {
            outcome: AuthorizeOutcome::SignIn {
                request: Box::new(valid),
                error: Some("The email or password is not correct.".to_owned()),
            },
            session_id: None,
        };
        let user = match self.store.find_user_by_email(email).await {
            Ok(user) => user,
            Err(error) => {
                tracing::error!(%error, "user lookup failed during sign-in");
                return SignIn {
                    outcome: redirect_error(
                        &valid,
                        OAuthError::ServerError,
                        "Sign-in is unavailable.",
                    ),
                    session_id: None,
                };
            }
        };
        let policy = valid.application.failed_authentication;
        let identifier = identifier_digest(email);
        let locked = policy.enabled && self.is_locked(&valid, &identifier).await;
        // The same argon2 work whether or not the account exists or is
        // locked, so that neither the answer nor its timing tells.
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = self
            .passwords
            .verify_or_dummy(Password::new(password), stored)
            .await
            .unwrap_or(false);
        let user = match user {
            Some(user) if verified && !locked => user,
            user => {
                let reason = if locked { "locked" } else { "bad_credentials" };
                tracing::info!(reason, "sign-in failed");
                if policy.enabled && !locked {
                    self.count_failure(&valid, &identifier).await;
                }
                let mut event = self.audit.event("user.login.failed");
                // Only here, never in an answer, does it show whether the
                // email belongs to an account.
                if let Some(user) = &user {
                    event.user_id = Some(user.id);
                    event.actor_type = ActorType::User;
                    event.actor_id = Some(user.id.to_string());
                }
                event.reason = Some(reason.to_owned());
                event.ip_address = ip_address;
                event.data = serde_json::json!({ "applicationId": valid.application.id });
                self.audit.record_with_outbox(vec![event]).await;
                return wrong(valid);
            }
        };
        if policy.enabled
            && let Err(error) = self
                .store
                .clear_login_failures(valid.application.id, &identifier)
                .await
        {
            tracing::warn!(%error, "could not reset the failed sign-in count");
        }
        self.start_session(&valid, &user, identity_provider, ip_address, user_agent)
            .await
    }

    /// Checks a carried authorization request again (a federated login
    /// coming back from its provider): the client, its redirect URI and
    /// every parameter are what they must be now.
    pub async fn resume(
        &self,
        request: AuthorizeRequest,
    ) -> Result<ValidAuthorizeRequest, AuthorizeOutcome> {
        self.validate_authorize(request).await
    }

    /// Signs `user` in for `valid`: a new login session (through
    /// `identity_provider` when given), its `user.login` event, and the code
    /// for the client. The caller has authenticated the user.
    pub async fn start_session(
        &self,
        valid: &ValidAuthorizeRequest,
        user: &User,
        identity_provider: Option<lamba_model::IdentityProviderId>,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> SignIn {
        let now = self.clock.now();
        let session = LoginSession {
            id: Uuid::new_v4(),
            user_id: user.id,
            application_id: valid.application.id,
            auth_time: now,
            insert_instant: now,
            last_used_instant: now,
            ended_instant: None,
            end_reason: None,
            ip_address,
            user_agent,
            identity_provider_id: identity_provider,
        };
        let mut event = self.audit.event("user.login");
        event.actor_type = ActorType::User;
        event.actor_id = Some(user.id.to_string());
        event.user_id = Some(user.id);
        event.session_id = Some(session.id);
        event.ip_address.clone_from(&session.ip_address);
        event.data = match identity_provider {
            Some(provider) => serde_json::json!({
                "applicationId": valid.application.id,
                "identityProviderId": provider,
            }),
            None => serde_json::json!({ "applicationId": valid.application.id }),
        };
        let outbox = self.audit.outbox(&[&event]).await;
        if let Err(error) = self.store.add_login_session(&session, &outbox).await {
            tracing::error!(%error, "could not store the login session");
            return SignIn {
                outcome: redirect_error(valid, OAuthError::ServerError, "Sign-in is unavailable."),
                session_id: None,
            };
        }
        tracing::info!(user.id = %user.id, session.id = %session.id, "signed in");
        self.audit.committed([event], &outbox);
        SignIn {
            // Just written with this use: no touch.
            outcome: self.issue_code(valid, &session, false).await,
            session_id: Some(session.id),
        }
    }

    /// Whether the application's lockout holds this identifier now. A
    /// failed lookup counts as not locked: the password still decides.
    async fn is_locked(&self, valid: &ValidAuthorizeRequest, identifier: &[u8]) -> bool {
        match self
            .store
            .login_locked_until(valid.application.id, identifier)
            .await
        {
            Ok(until) => until.is_some_and(|until| self.clock.now() < until),
            Err(error) => {
                tracing::error!(%error, "could not read the sign-in lockout");
                false
            }
        }
    }

    /// Counts a failed sign-in under the application's policy, and locks
    /// the identifier when the count reaches `tooManyAttempts`.
    async fn count_failure(&self, valid: &ValidAuthorizeRequest, identifier: &[u8]) {
        let policy = valid.application.failed_authentication;
        let now = self.clock.now();
        let window_started_before = Instant::from_millis(
            now.as_millis()
                .saturating_sub(i64::from(policy.reset_count_in_seconds) * 1000),
        );
        let count = match self
            .store
            .add_login_failure(valid.application.id, identifier, now, window_started_before)
            .await
        {
            Ok(count) => count,
            Err(error) => {
                tracing::error!(%error, "could not count a failed sign-in");
                return;
            }
        };
        if count >= u64::from(policy.too_many_attempts) {
            let until = Instant::from_millis(
                now.as_millis()
                    .saturating_add(i64::from(policy.lockout_seconds) * 1000),
            );
            match self
                .store
                .lock_login(valid.application.id, identifier, until)
                .await
            {
                Ok(()) => tracing::warn!(
                    application.id = %valid.application.id,
                    "too many failed sign-ins; the identifier is locked out"
                ),
                Err(error) => tracing::error!(%error, "could not lock out an identifier"),
            }
        }
    }

    async fn issue_code(
        &self,
        valid: &ValidAuthorizeRequest,
        session: &LoginSession,
        touch: bool,
    ) -> AuthorizeOutcome {
        // `requireRegistration`: signed in is not enough, the user must be
        // registered to this application (told only once they proved who
        // they are, so it reveals nothing about accounts).
        if valid.application.oauth.require_registration {
            match self
                .store
                .lookup_registration(session.user_id, valid.application.id)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return redirect_error(
                        valid,
                        OAuthError::AccessDenied,
                        "The user is not registered for this application.",
                    );
                }
                Err(error) => {
                    tracing::error!(%error, "could not read the user's registration");
                    return redirect_error(
                        valid,
                        OAuthError::ServerError,
                        "Could not issue a code.",
                    );
                }
            }
        }
        let Ok(code) = random_token() else {
            return redirect_error(valid, OAuthError::ServerError, "Could not issue a code.");
        };
        let now = self.clock.now();
        let record = AuthorizationCode {
            code_digest: token_digest(&code),
            application_id: valid.application.id,
            user_id: session.user_id,
            session_id: session.id,
            redirect_uri: valid.redirect_uri.clone(),
            scope: valid.scopes.join(" "),
            nonce: valid.request.nonce.clone(),
            code_challenge: valid.request.code_challenge.clone(),
            resource: valid.request.resource.clone().filter(|r| !r.is_empty()),
            insert_instant: now,
            expires_instant: Instant::from_millis(now.as_millis().saturating_add(CODE_TTL_MILLIS)),
            used_instant: None,
        };
        if let Err(error) = self.store.add_authorization_code(&record).await {
            tracing::error!(%error, "could not store the authorization code");
            return redirect_error(valid, OAuthError::ServerError, "Could not issue a code.");
        }
        if touch && let Err(error) = self.store.touch_login_session(session.id, now).await {
            tracing::warn!(%error, "could not record the session's use");
        }
        AuthorizeOutcome::Code {
            redirect_uri: valid.redirect_uri.clone(),
            code,
            state: valid.request.state.clone(),
        }
    }

    async fn validate_authorize(
        &self,
        request: AuthorizeRequest,
    ) -> Result<ValidAuthorizeRequest, AuthorizeOutcome> {
        let page = |message: &str| AuthorizeOutcome::ErrorPage {
            message: message.to_owned(),
        };
        let Some(client_id) = request.client_id.as_deref().filter(|c| !c.is_empty()) else {
            return Err(page("The request names no client (client_id is missing)."));
        };
        let application = match ApplicationId::from_str(client_id) {
            Ok(id) => match self.store.lookup_application(id).await {
                Ok(Some(application)) => application,
                Ok(None) => return Err(page("The request names an unknown client.")),
                Err(error) => {
                    tracing::error!(%error, "application lookup failed");
                    return Err(page("Sign-in is unavailable right now."));
                }
            },
            Err(_) => return Err(page("The request names an unknown client.")),
        };
        let Some(redirect_uri) = request.redirect_uri.clone().filter(|r| !r.is_empty()) else {
            return Err(page("The request has no redirect_uri."));
        };
        if !lamba_oidc::redirect::is_registered(
            &application.oauth.authorized_redirect_urls,
            &redirect_uri,
        ) {
            return Err(page("The redirect_uri is not registered for this client."));
        }
        let mut valid = ValidAuthorizeRequest {
            application,
            scopes: parse_scope(request.scope.as_deref()),
            request,
            redirect_uri,
            max_age_seconds: None,
            prompt_login: false,
            prompt_none: false,
        };
        // From here on, errors go back to the (trusted) redirect URI.
        match valid.request.response_type.as_deref() {
            Some("code") => {}
            None | Some("") => {
                return Err(redirect_error(
                    &valid,
                    OAuthError::InvalidRequest,
                    "response_type is required.",
                ));
            }
            Some(_) => {
                return Err(redirect_error(
                    &valid,
                    OAuthError::UnsupportedResponseType,
                    "Only response_type=code is supported.",
                ));
            }
        }
        if !valid.application.has_grant(GrantType::AuthorizationCode) {
            return Err(redirect_error(
                &valid,
                OAuthError::UnauthorizedClient,
                "This client may not use the authorization_code grant.",
            ));
        }
        if let Some(unknown) = valid
            .scopes
            .iter()
            .find(|s| !USER_SCOPES.contains(&s.as_str()))
        {
            let description = format!("The scope {unknown:?} is not supported.");
            return Err(redirect_error(
                &valid,
                OAuthError::InvalidScope,
                &description,
            ));
        }
        let challenge = valid
            .request
            .code_challenge
            .clone()
            .filter(|c| !c.is_empty());
        match challenge {
            Some(challenge) => {
                if let Err(error) = lamba_oidc::pkce::validate_challenge(
                    &challenge,
                    valid.request.code_challenge_method.as_deref(),
                ) {
                    let description = format!("PKCE: {error}.");
                    return Err(redirect_error(
                        &valid,
                        OAuthError::InvalidRequest,
                        &description,
                    ));
                }
            }
            None => {
                let required = !valid.application.is_confidential()
                    || valid.application.oauth.proof_key_for_code_exchange_policy
                        == PkcePolicy::Required;
                if required {
                    return Err(redirect_error(
                        &valid,
                        OAuthError::InvalidRequest,
                        "PKCE is required: send code_challenge with code_challenge_method=S256.",
                    ));
                }
            }
        }
        let prompts: Vec<&str> = valid
            .request
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        if prompts.contains(&"none") && prompts.len() > 1 {
            return Err(redirect_error(
                &valid,
                OAuthError::InvalidRequest,
                "prompt=none cannot be combined.",
            ));
        }
        valid.prompt_none = prompts.contains(&"none");
        valid.prompt_login = prompts.contains(&"login");
        if let Some(raw) = valid.request.max_age.as_deref().filter(|m| !m.is_empty()) {
            match raw.parse::<i64>() {
                Ok(seconds) if seconds >= 0 => valid.max_age_seconds = Some(seconds),
                _ => {
                    return Err(redirect_error(
                        &valid,
                        OAuthError::InvalidRequest,
                        "max_age must be a number of seconds.",
                    ));
                }
            }
        }
        if let Err(failure) =
            authorized_resource(&valid.application, valid.request.resource.as_deref())
        {
            return Err(redirect_error(&valid, failure.error, &failure.description));
        }
        Ok(valid)
    }
}

/// What the lockout counts by: SHA-256 of the normalised email, so that no
/// email is kept for accounts that do not exist.
fn identifier_digest(email: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(User::normalize_email(email).as_bytes()).to_vec()
}

fn redirect_error(
    valid: &ValidAuthorizeRequest,
    error: OAuthError,
    description: &str,
) -> AuthorizeOutcome {
    AuthorizeOutcome::RedirectError {
        redirect_uri: valid.redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: valid.request.state.clone(),
    }
}

impl From<OAuthFailure> for AuthorizeOutcome {
    fn from(failure: OAuthFailure) -> Self {
        AuthorizeOutcome::ErrorPage {
            message: failure.description,
        }
    }
}

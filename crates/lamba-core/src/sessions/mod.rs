//! Scoped sessions and the runtime API's use cases (CONTRACTS.md 3.1, 4):
//! who a bearer token speaks for, `switch-context`, refresh and logout of
//! sessions, and what `/v1/me/*` and `/v1/admin/*` do.

use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{
    ActorType, ApplicationId, Clock, Environment, EnvironmentState, Instant, LoginSession,
    ProjectId, ProjectMember, ProjectState, ScopedRefreshToken, ScopedSession, User, UserId,
    WorkspaceId,
};
use lamba_store::{DynStore, Rotation, ScopeFilter, ScopeGuard, StoreError};
use serde_json::Value;
use uuid::Uuid;

use crate::claims::MANAGEMENT_SCOPE;
use crate::events::audit::AuditLog;
use crate::keys::revocation::RevocationList;
use crate::oauth::{
    ClientCredentials, OAuthFailure, OAuthService, TokenGrant, TokenRequest, TokenResponse,
    parse_scope,
};
use crate::tenancy::permissions_of;

/// A failure of the session and runtime endpoints; the HTTP surface turns
/// each into a ProblemDetails response with its status.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// 400: the request's shape is wrong.
    #[error("{0}")]
    Invalid(String),
    /// 401: no live session behind the request.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: authenticated, not authorized. The text never says whether
    /// the thing asked for exists.
    #[error("{0}")]
    Forbidden(String),
    /// 403: a login token where a scoped one is needed.
    #[error("this call needs a scoped session: switch context first")]
    ContextRequired,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 409: the target's state forbids this now.
    #[error("{0}")]
    Conflict(String),
    /// 500; the cause is logged where it happened.
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for SessionError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failed");
        SessionError::Internal
    }
}

impl From<OAuthFailure> for SessionError {
    fn from(failure: OAuthFailure) -> Self {
        if failure.error == lamba_oidc::OAuthError::ServerError {
            SessionError::Internal
        } else {
            SessionError::Unauthenticated(failure.description)
        }
    }
}

fn unauthenticated() -> SessionError {
    SessionError::Unauthenticated(
        "The access token is missing, expired, revoked, or was not issued by this server.".into(),
    )
}

/// A project environment: what a scoped session or management token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub environment: Environment,
}

/// Who a live bearer token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A user's login token.
    Login {
        user_id: UserId,
        sid: Uuid,
        client_id: ApplicationId,
    },
    /// A user's scoped session token.
    Scoped {
        user_id: UserId,
        sid: Uuid,
        scope_id: Uuid,
        client_id: ApplicationId,
        context: Context,
        roles: Vec<String>,
        permissions: Vec<String>,
    },
    /// A client's management token for one project environment.
    Management {
        client_id: ApplicationId,
        context: Context,
    },
    /// A client's own token (client credentials without a project).
    Client { client_id: ApplicationId },
}

impl Principal {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::Login { user_id, .. } | Principal::Scoped { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }

    pub fn login_session(&self) -> Option<Uuid> {
        match self {
            Principal::Login { sid, .. } | Principal::Scoped { sid, .. } => Some(*sid),
            _ => None,
        }
    }
}

/// What `switch-context` and a scoped refresh answer.
#[derive(Clone, Debug)]
pub struct ScopedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: ScopedSession,
}

/// What `/v1/sessions/refresh` answers: the same shape as what issued the
/// refresh token.
#[derive(Clone, Debug)]
pub enum Refreshed {
    Scoped(ScopedTokens),
    Login {
        tokens: TokenResponse,
        session_id: Uuid,
    },
}

/// An admin caller's standing in one project environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminContext {
    pub context: Context,
}

pub struct SessionService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    revocations: Arc<RevocationList>,
    audit: Arc<AuditLog>,
}

fn uuid_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<Uuid> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::from_str(s).ok())
}

fn strings_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Vec<String> {
    claims
        .get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn context_claims(claims: &serde_json::Map<String, Value>) -> Option<Context> {
    Some(Context {
        workspace_id: WorkspaceId::from_uuid(uuid_claim(claims, "workspace_id")?),
        project_id: ProjectId::from_uuid(uuid_claim(claims, "project_id")?),
        environment: claims
            .get("environment")
            .and_then(Value::as_str)
            .and_then(|e| Environment::from_str(e).ok())?,
    })
}

/// What the contract says about refreshing a scope now.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    /// 401, nothing else to do (already dead, or not refreshable).
    Refuse,
    /// 401, and the scope ends for this reason.
    EndScope(&'static str),
}

fn refresh_verdict(
    token: &ScopedRefreshToken,
    scope: &ScopedSession,
    login: &LoginSession,
    now: Instant,
    refreshable_now: bool,
) -> Verdict {
    if !scope.is_active() || !login.is_active() || token.revoked_instant.is_some() {
        return Verdict::Refuse;
    }
    if token.used_instant.is_some() {
        return Verdict::EndScope("refresh_reuse");
    }
    if now >= scope.absolute_end() {
        return Verdict::EndScope("absolute_timeout");
    }
    if now >= scope.idle_end() {
        return Verdict::EndScope("idle_timeout");
    }
    if now >= token.expires_instant || !scope.contract.refreshable || !refreshable_now {
        return Verdict::Refuse;
    }
    Verdict::Allow
}

fn after_minutes(start: Instant, minutes: i64) -> Instant {
    Instant::from_millis(
        start
            .as_millis()
            .saturating_add(minutes.saturating_mul(60_000)),
    )
}

impl SessionService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        revocations: Arc<RevocationList>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            clock,
            revocations,
            audit,
        }
    }

    /// Verifies a bearer token (signature, issuer, expiry, revocation of its
    /// token, login session and scope: hash-set lookups in memory) and says
    /// who it speaks for.
    pub async fn authenticate(
        &self,
        oauth: &OAuthService,
        token: Option<&str>,
    ) -> Result<Principal, SessionError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthenticated)?;
        let live = oauth
            .check_access_token(token)
            .await?
            .ok_or_else(unauthenticated)?;
        let claims = &live.claims;
        let client_id = live
            .client_id()
            .and_then(|c| ApplicationId::from_str(c).ok())
            .ok_or_else(unauthenticated)?;
        let sid = live.sid();
        let user_id = sid
            .and_then(|_| live.subject())
            .and_then(|s| UserId::from_str(s).ok());
        // What this request does is recorded as the user's, or the client's.
        match user_id {
            Some(user_id) => crate::request::set_actor(ActorType::User, user_id.to_string()),
            None => crate::request::set_actor(ActorType::Client, client_id.to_string()),
        }
        match (sid, user_id, live.scoped_sid()) {
            (Some(sid), Some(user_id), Some(scope_id)) => Ok(Principal::Scoped {
                user_id,
                sid,
                scope_id,
                client_id,
                context: context_claims(claims).ok_or_else(unauthenticated)?,
                roles: strings_claim(claims, "roles"),
                permissions: strings_claim(claims, "permissions"),
            }),
            (Some(sid), Some(user_id), None) => Ok(Principal::Login {
                user_id,
                sid,
                client_id,
            }),
            (None, _, _) => {
                let management = parse_scope(live.string("scope"))
                    .iter()
                    .any(|s| s == MANAGEMENT_SCOPE);
                match (management, context_claims(claims)) {
                    (true, Some(context)) => Ok(Principal::Management { client_id, context }),
                    _ => Ok(Principal::Client { client_id }),
                }
            }
            _ => Err(unauthenticated()),
        }
    }

    /// `POST /v1/sessions/switch-context`: derives a scoped session for one
    /// project environment from a live login (CONTRACTS.md 3.1).
    ///
    /// Every "no" that could reveal whether a workspace or project exists is
    /// the same 403; the 409s are only ever told to members.
    pub async fn switch_context(
        &self,
        oauth: &OAuthService,
        principal: &Principal,
        target: Context,
    ) -> Result<ScopedTokens, SessionError> {
        let (user_id, sid, client_id) = match principal {
            Principal::Login {
                user_id,
                sid,
                client_id,
            }
            | Principal::Scoped {
                user_id,
                sid,
                client_id,
                ..
            } => (*user_id, *sid, *client_id),
            _ => {
                return Err(SessionError::Unauthenticated(
                    "switch-context needs a user's login token, not a client's.".into(),
                ));
            }
        };
        let forbidden = || {
            SessionError::Forbidden(
                "You are not a member of that project environment, or it does not exist.".into(),
            )
        };
        let project = match self.store.lookup_project(target.project_id).await? {
            Some(project) if project.workspace_id == target.workspace_id => project,
            _ => return Err(forbidden()),
        };
        let member = match self.store.lookup_member(project.id, user_id).await? {
            Some(member) if !member.locked => member,
            _ => return Err(forbidden()),
        };
        let Some(environment) = project.environment(target.environment) else {
            return Err(forbidden());
        };
        let roles: Vec<String> = member
            .roles
            .iter()
            .filter(|r| environment.admits_role(r))
            .cloned()
            .collect();
        if roles.is_empty() {
            return Err(forbidden());
        }
        if project.state == ProjectState::Archived {
            return Err(SessionError::Conflict(
                "The project is archived: it admits no new sessions.".into(),
            ));
        }
        if environment.state == EnvironmentState::Disabled {
            return Err(SessionError::Conflict(format!(
                "The {} environment is disabled: it admits no new sessions.",
                target.environment
            )));
        }
        let application = self
            .store
            .lookup_application(client_id)
            .await?
            .ok_or_else(unauthenticated)?;
        let catalog = self.store.list_roles(project.id).await?;
        let now = self.clock.now();
        let contract = environment.session_contract;
        let scope = ScopedSession {
            id: Uuid::new_v4(),
            login_session_id: sid,
            user_id,
            application_id: client_id,
            workspace_id: project.workspace_id,
            project_id: project.id,
            environment: target.environment,
            permissions: permissions_of(&roles, &catalog),
            roles,
            contract,
            insert_instant: now,
            last_used_instant: now,
            ended_instant: None,
            end_reason: None,
        };
        let refresh = if contract.refreshable {
            let secret = crate::oauth::random_token()?;
            let token = ScopedRefreshToken {
                id: Uuid::new_v4(),
                token_digest: crate::oauth::token_digest(&secret),
                scoped_session_id: scope.id,
                insert_instant: now,
                expires_instant: after_minutes(now, contract.refresh_token_time_to_live_in_minutes)
                    .min(scope.absolute_end()),
                used_instant: None,
                revoked_instant: None,
            };
            Some((secret, token))
        } else {
            None
        };
        // Mint before storing: a signing failure leaves nothing behind.
        let minted = oauth
            .mint_scoped_access_token(&application, &scope, TokenGrant::SwitchContext)
            .await?;
        // Stored only if nothing it was derived from changed meanwhile (the
        // project, its catalog, the membership, the login): otherwise a
        // change that ended every scope could miss this one.
        let guard = ScopeGuard {
            project_revision: project.revision,
            member_revision: member.revision,
        };
        let mut event = self.scope_event("session.created", &scope);
        event.data = serde_json::json!({
            "roles": scope.roles,
            "applicationId": scope.application_id,
        });
        let outbox = self.audit.outbox(&[&event]).await;
        let stored = self
            .store
            .add_scoped_session(
                &scope,
                refresh.as_ref().map(|(_, token)| token),
                Some(&guard),
                &outbox,
            )
            .await?;
        if !stored {
            if self.revocations.is_session_ended(sid).await? {
                return Err(unauthenticated());
            }
            return Err(SessionError::Conflict(
                "The project or your membership changed while entering it; reload and try again."
                    .into(),
            ));
        }
        tracing::info!(
            session.id = %sid,
            scope.id = %scope.id,
            project.id = %scope.project_id,
            environment = %scope.environment,
            "entered a project"
        );
        self.audit.committed([event], &outbox);
        Ok(ScopedTokens {
            access_token: minted.token,
            expires_in: minted.expires_in,
            refresh_token: refresh.map(|(secret, _)| secret),
            scope,
        })
    }

    /// `POST /v1/sessions/refresh`: a scope's refresh token rotates under
    /// its contract; a login's goes through the token endpoint's own rules
    /// (public clients only: a confidential client refreshes at
    /// `/connect/token` with its credentials). Any failure is a 401.
    pub async fn refresh(
        &self,
        oauth: &OAuthService,
        presented: &str,
    ) -> Result<Refreshed, SessionError> {
        let invalid = || {
            SessionError::Unauthenticated(
                "The refresh token is invalid, expired, revoked, or its session may not be refreshed."
                    .into(),
            )
        };
        let token_digest = crate::oauth::token_digest(presented);
        if let Some(grant) = self.store.find_scoped_refresh_grant(&token_digest).await? {
            return self.refresh_scope(oauth, grant, invalid).await;
        }
        let Some(token) = self.store.find_refresh_token(&token_digest).await? else {
            return Err(invalid());
        };
        let Some(application) = self.store.lookup_application(token.application_id).await? else {
            return Err(invalid());
        };
        if application.is_confidential() {
            return Err(SessionError::Unauthenticated(
                "This refresh token belongs to a confidential client: refresh it at the token endpoint with the client's credentials."
                    .into(),
            ));
        }
        let tokens = oauth
            .token(TokenRequest {
                grant_type: Some("refresh_token".into()),
                refresh_token: Some(presented.to_owned()),
                credentials: ClientCredentials {
                    client_id: Some(application.id.to_string()),
                    ..ClientCredentials::default()
                },
                ..TokenRequest::default()
            })
            .await
            .map_err(|failure| match failure.error {
                lamba_oidc::OAuthError::ServerError => SessionError::Internal,
                _ => invalid(),
            })?;
        Ok(Refreshed::Login {
            tokens,
            session_id: token.session_id,
        })
    }

    async fn refresh_scope(
        &self,
        oauth: &OAuthService,
        grant: lamba_store::ScopedRefreshGrant,
        invalid: impl Fn() -> SessionError,
    ) -> Result<Refreshed, SessionError> {
        let now = self.clock.now();
        let (token, scope, login) = (grant.token, grant.scope, grant.login);
        let refreshable_now = self
            .store
            .lookup_project(scope.project_id)
            .await?
            .and_then(|p| p.environment(scope.environment).map(|e| e.session_contract))
            .is_some_and(|c| c.refreshable);
        match refresh_verdict(&token, &scope, &login, now, refreshable_now) {
            Verdict::Allow => {}
            Verdict::Refuse => return Err(invalid()),
            Verdict::EndScope(reason) => {
                // A reused token means someone holds a copy: the scope ends, so
                // neither copy works and the client re-enters the project.
                self.end_scope(&scope, now, reason).await?;
                tracing::warn!(scope.id = %scope.id, reason, "scoped refresh refused; scope ended");
                return Err(invalid());
            }
        }
        let Some(application) = self.store.lookup_application(scope.application_id).await? else {
            return Err(invalid());
        };
        let secret = crate::oauth::random_token()?;
        let next = ScopedRefreshToken {
            id: Uuid::new_v4(),
            token_digest: crate::oauth::token_digest(&secret),
            scoped_session_id: scope.id,
            insert_instant: now,
            expires_instant: after_minutes(
                now,
                scope.contract.refresh_token_time_to_live_in_minutes,
            )
            .min(scope.absolute_end()),
            used_instant: None,
            revoked_instant: None,
        };
        let scope = ScopedSession {
            last_used_instant: now,
            ..scope
        };
        let minted = oauth
            .mint_scoped_access_token(&application, &scope, TokenGrant::SessionRefresh)
            .await?;
        let event = self.scope_event("session.refreshed", &scope);
        let outbox = self.audit.outbox(&[&event]).await;
        match self
            .store
            .rotate_scoped_refresh_token(token.id, &next, now, &outbox)
            .await?
        {
            Rotation::Rotated => {
                self.audit.committed([event], &outbox);
                Ok(Refreshed::Scoped(ScopedTokens {
                    access_token: minted.token,
                    expires_in: minted.expires_in,
                    refresh_token: Some(secret),
                    scope,
                }))
            }
            Rotation::AlreadyUsed => {
                self.end_scope(&scope, now, "refresh_reuse").await?;
                Err(invalid())
            }
        }
    }

    /// Ends one scope for `reason` and records it; a reused refresh token
    /// is recorded as such too.
    async fn end_scope(
        &self,
        scope: &ScopedSession,
        now: Instant,
        reason: &str,
    ) -> Result<(), SessionError> {
        let mut revoked = self.scope_event("session.revoked", scope);
        revoked.reason = Some(reason.to_owned());
        let outbox = self.audit.outbox(&[&revoked]).await;
        let ended = self
            .store
            .end_scoped_sessions(&ScopeFilter::Ids(vec![scope.id]), now, reason, &outbox)
            .await?;
        self.revocations.note_scopes_ended(&ended);
        if reason == "refresh_reuse" {
            let mut event = self.scope_event("refresh_token.reused", scope);
            event.reason = Some(reason.to_owned());
            self.audit.record(event);
        }
        if !ended.is_empty() {
            self.audit.committed([revoked], &outbox);
        }
        Ok(())
    }

    /// An audit event about `scope`, its user, login and project.
    fn scope_event(&self, event_type: &str, scope: &ScopedSession) -> lamba_model::AuditEvent {
        let mut event = self.audit.event(event_type);
        event.user_id = Some(scope.user_id);
        event.session_id = Some(scope.login_session_id);
        event.scope_id = Some(scope.id);
        event.workspace_id = Some(scope.workspace_id);
        event.project_id = Some(scope.project_id);
        event.environment = Some(scope.environment);
        event
    }

    /// `POST /v1/sessions/logout`: ends the login session behind the token
    /// with every scope derived from it and all their refresh tokens.
    pub async fn logout(&self, principal: &Principal) -> Result<(), SessionError> {
        let Some(sid) = principal.login_session() else {
            return Err(SessionError::Forbidden(
                "Only a user's session can log out; this is a client's token.".into(),
            ));
        };
        self.end_login(sid, principal.user_id(), "logout").await
    }

    /// Ends a login session with its scopes, and records `user.logout` and
    /// `session.revoked`.
    async fn end_login(
        &self,
        sid: Uuid,
        user_id: Option<UserId>,
        reason: &str,
    ) -> Result<(), SessionError> {
        crate::identity::login_sessions::end(
            &self.store,
            &self.audit,
            sid,
            user_id,
            reason,
            self.clock.now(),
        )
        .await?;
        self.revocations.note_session_ended(sid);
        tracing::info!(session.id = %sid, reason, "login session ended");
        Ok(())
    }

    // ----- /v1/me -----

    pub async fn me(&self, principal: &Principal) -> Result<User, SessionError> {
        let user_id = principal.user_id().ok_or_else(|| {
            SessionError::Forbidden("This call needs a user's token, not a client's.".into())
        })?;
        self.store
            .lookup_user(user_id)
            .await?
            .ok_or_else(unauthenticated)
    }

    /// Stores the user's own changes to their profile (names and data).
    pub async fn update_profile(&self, user: User) -> Result<User, SessionError> {
        let before = self
            .store
            .lookup_user(user.id)
            .await?
            .ok_or_else(unauthenticated)?;
        let user = User {
            last_update_instant: self.clock.now(),
            ..user
        };
        let event = crate::identity::users::user_event(
            &self.audit,
            "user.updated",
            Some(&before),
            Some(&user),
        );
        let outbox = self.audit.outbox(&[&event]).await;
        if self.store.update_user(&user, &outbox).await? {
            self.audit.committed([event], &outbox);
            Ok(user)
        } else {
            Err(unauthenticated())
        }
    }

    /// The user's memberships with their projects.
    pub async fn memberships(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(ProjectMember, lamba_model::Project)>, SessionError> {
        let mut out = Vec::new();
        for member in self.store.list_memberships(user_id).await? {
            if let Some(project) = self.store.lookup_project(member.project_id).await? {
                out.push((member, project));
            }
        }
        Ok(out)
    }

    /// The user's active login sessions, newest first.
    pub async fn login_sessions(&self, user_id: UserId) -> Result<Vec<LoginSession>, SessionError> {
        Ok(self
            .store
            .list_login_sessions(user_id)
            .await?
            .into_iter()
            .filter(LoginSession::is_active)
            .collect())
    }

    /// Ends one of the user's own login sessions; another's is "not found".
    pub async fn end_own_session(&self, user_id: UserId, id: Uuid) -> Result<(), SessionError> {
        match self.store.lookup_login_session(id).await? {
            Some(session) if session.user_id == user_id && session.is_active() => {
                self.end_login(id, Some(user_id), "revoked_by_user").await
            }
            _ => Err(SessionError::NotFound),
        }
    }

    // ----- /v1/admin -----

    /// The project environment an admin call acts on, if the caller holds
    /// `permission` there (a management token holds every permission).
    pub fn admin_context(
        &self,
        principal: &Principal,
        permissions: &[&str],
    ) -> Result<Context, SessionError> {
        match principal {
            Principal::Management { context, .. } => Ok(*context),
            Principal::Scoped {
                context,
                permissions: held,
                ..
            } => {
                if permissions.iter().any(|p| held.iter().any(|h| h == p)) {
                    Ok(*context)
                } else {
                    Err(SessionError::Forbidden(format!(
                        "This call needs the permission {} in this project.",
                        permissions.join(" or ")
                    )))
                }
            }
            Principal::Login { .. } => Err(SessionError::ContextRequired),
            Principal::Client { .. } => Err(SessionError::Forbidden(
                "This call needs a management token or a scoped session.".into(),
            )),
        }
    }

    /// The project environment an API key names with `X-Lamba-Project` and
    /// `X-Lamba-Environment`.
    pub async fn api_key_context(
        &self,
        project: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Context, SessionError> {
        let project_id = project
            .and_then(|p| ProjectId::from_str(p).ok())
            .ok_or_else(|| {
                SessionError::Invalid("X-Lamba-Project must name a project by its id.".into())
            })?;
        let environment = environment
            .and_then(|e| Environment::from_str(e).ok())
            .ok_or_else(|| {
                SessionError::Invalid("X-Lamba-Environment must be test or prod.".into())
            })?;
        let project = self
            .store
            .lookup_project(project_id)
            .await?
            .ok_or(SessionError::NotFound)?;
        Ok(Context {
            workspace_id: project.workspace_id,
            project_id,
            environment,
        })
    }

    /// Active scopes of the project environment, a page at a time.
    pub async fn admin_sessions(
        &self,
        context: Context,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ScopedSession>, SessionError> {
        Ok(self
            .store
            .list_scoped_sessions(context.project_id, context.environment, after, limit)
            .await?)
    }

    /// Ends a member's scopes in the project environment; how many ended.
    pub async fn admin_revoke(
        &self,
        context: Context,
        user_id: UserId,
    ) -> Result<usize, SessionError> {
        if self
            .store
            .lookup_member(context.project_id, user_id)
            .await?
            .is_none()
        {
            return Err(SessionError::NotFound);
        }
        let mut template = self.audit.event("session.revoked");
        template.user_id = Some(user_id);
        template.workspace_id = Some(context.workspace_id);
        template.project_id = Some(context.project_id);
        template.environment = Some(context.environment);
        template.reason = Some("revoked_by_admin".to_owned());
        let outbox = self.audit.outbox_per_scope(&[], &template).await;
        let ended = self
            .store
            .end_scoped_sessions(
                &ScopeFilter::Member(context.project_id, user_id, Some(context.environment)),
                self.clock.now(),
                "revoked_by_admin",
                &outbox,
            )
            .await?;
        self.revocations.note_scopes_ended(&ended);
        self.audit
            .committed(crate::events::audit::per_scope(&template, &ended), &outbox);
        Ok(ended.len())
    }
}

#[cfg(test)]
mod tests {
    use lamba_model::{ApplicationId, SessionContract};

    use super::*;

    const MINUTE: i64 = 60_000;

    fn at(minutes: i64) -> Instant {
        Instant::from_millis(1_700_000_000_000 + minutes * MINUTE)
    }

    fn fixture() -> (ScopedRefreshToken, ScopedSession, LoginSession) {
        let user_id = UserId::from_uuid(Uuid::new_v4());
        let application_id = ApplicationId::from_uuid(Uuid::new_v4());
        let login = LoginSession {
            id: Uuid::new_v4(),
            user_id,
            application_id,
            auth_time: at(0),
            insert_instant: at(0),
            last_used_instant: at(0),
            ended_instant: None,
            end_reason: None,
            ip_address: None,
            user_agent: None,
        };
        let scope = ScopedSession {
            id: Uuid::new_v4(),
            login_session_id: login.id,
            user_id,
            application_id,
            workspace_id: WorkspaceId::from_uuid(Uuid::new_v4()),
            project_id: ProjectId::from_uuid(Uuid::new_v4()),
            environment: Environment::Test,
            roles: vec!["viewer".into()],
            permissions: vec!["project:read".into()],
            contract: SessionContract {
                refreshable: true,
                access_token_time_to_live_in_seconds: 300,
                refresh_token_time_to_live_in_minutes: 120,
                idle_timeout_in_minutes: 30,
                absolute_timeout_in_minutes: 90,
            },
            insert_instant: at(0),
            last_used_instant: at(0),
            ended_instant: None,
            end_reason: None,
        };
        let token = ScopedRefreshToken {
            id: Uuid::new_v4(),
            token_digest: vec![1; 32],
            scoped_session_id: scope.id,
            insert_instant: at(0),
            expires_instant: at(90),
            used_instant: None,
            revoked_instant: None,
        };
        (token, scope, login)
    }

    #[test]
    fn a_fresh_scope_refreshes() {
        let (token, scope, login) = fixture();
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(10), true),
            Verdict::Allow
        );
    }

    #[test]
    fn idle_and_absolute_timeouts_end_the_scope() {
        let (token, mut scope, login) = fixture();
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(31), true),
            Verdict::EndScope("idle_timeout")
        );
        // Used recently, but past the absolute end.
        scope.last_used_instant = at(80);
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(85), true),
            Verdict::Allow
        );
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(90), true),
            Verdict::EndScope("absolute_timeout")
        );
    }

    #[test]
    fn reuse_ends_the_scope_and_dead_things_refuse() {
        let (mut token, mut scope, mut login) = fixture();
        token.used_instant = Some(at(1));
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), true),
            Verdict::EndScope("refresh_reuse")
        );
        token.used_instant = None;
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), false),
            Verdict::Refuse
        );
        scope.contract.refreshable = false;
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), true),
            Verdict::Refuse
        );
        scope.contract.refreshable = true;
        login.ended_instant = Some(at(1));
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), true),
            Verdict::Refuse
        );
        login.ended_instant = None;
        token.revoked_instant = Some(at(1));
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), true),
            Verdict::Refuse
        );
        token.revoked_instant = None;
        token.expires_instant = at(1);
        assert_eq!(
            refresh_verdict(&token, &scope, &login, at(2), true),
            Verdict::Refuse
        );
    }
}

//! Scoped sessions: switch-context, a scope's refresh (idle and absolute
//! limits, reuse), and logout of a scope or its login.

use lamba_model::{
    EnvironmentState, Instant, LoginSession, ProjectState, ScopedRefreshToken, ScopedSession,
    UserId,
};
use lamba_store::{Rotation, ScopeFilter, ScopeGuard};
use uuid::Uuid;

use crate::oauth::{ClientCredentials, OAuthService, TokenGrant, TokenRequest};
use crate::tenancy::permissions_of;

use super::{
    Context, Principal, Refreshed, ScopedTokens, SessionError, SessionService, unauthenticated,
};

impl SessionService {
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
        // `requireRegistration` holds for scopes too: a login token that
        // outlived its user's registration enters no project.
        if application.oauth.require_registration
            && self
                .store
                .lookup_registration(user_id, client_id)
                .await?
                .is_none()
        {
            return Err(unauthenticated());
        }
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
        // A family begun without a secret refreshes here like a public
        // client's; the token endpoint re-checks that the policy allows it.
        if token.client_authentication != lamba_model::ClientAuthentication::None {
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
                // The server's failure, not the token's: say so.
                lamba_oidc::OAuthError::ServerError
                | lamba_oidc::OAuthError::TemporarilyUnavailable => SessionError::Server(failure),
                _ => invalid(),
            })?;
        Ok(Refreshed::Login {
            tokens,
            session_id: token.session_id,
        })
    }

    pub(super) async fn refresh_scope(
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
        if application.oauth.require_registration
            && self
                .store
                .lookup_registration(scope.user_id, application.id)
                .await?
                .is_none()
        {
            return Err(invalid());
        }
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
    pub(super) async fn end_scope(
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
    pub(super) fn scope_event(
        &self,
        event_type: &str,
        scope: &ScopedSession,
    ) -> lamba_model::AuditEvent {
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
    pub(super) async fn end_login(
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
}

/// What the contract says about refreshing a scope now.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Allow,
    /// 401, nothing else to do (already dead, or not refreshable).
    Refuse,
    /// 401, and the scope ends for this reason.
    EndScope(&'static str),
}

pub(super) fn refresh_verdict(
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

pub(super) fn after_minutes(start: Instant, minutes: i64) -> Instant {
    Instant::from_millis(
        start
            .as_millis()
            .saturating_add(minutes.saturating_mul(60_000)),
    )
}

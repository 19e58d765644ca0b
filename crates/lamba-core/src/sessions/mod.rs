//! Scoped sessions and the runtime API's use cases (CONTRACTS.md 3.1, 4):
//! who a bearer token speaks for, `switch-context`, refresh and logout of
//! sessions, and what `/v1/me/*` and `/v1/admin/*` do.
//!
//! Owns the scoped session's life. The top room: it builds on OAuth,
//! identity and tenancy, and nothing in the core imports it.

mod admin;
mod authenticate;
mod me;
mod scopes;

pub use me::ProfileChange;

use std::sync::Arc;

use lamba_model::{
    ApplicationId, Clock, Environment, ProjectId, ScopedSession, UserId, WorkspaceId,
};
use lamba_store::{DynStore, StoreError};
use uuid::Uuid;

use crate::events::audit::AuditLog;
use crate::keys::revocation::RevocationList;
use crate::oauth::{OAuthFailure, TokenResponse};

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
    /// Storage failed: the surface decides what that is (a 503 when the
    /// database is out of reach for now, a 409 when another write came
    /// first, else a 500) and logs the cause, which is kept here.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OAuth layer failed on the server's side (`server_error`, or
    /// `temporarily_unavailable`: a 503).
    #[error(transparent)]
    Server(OAuthFailure),
}

impl From<OAuthFailure> for SessionError {
    fn from(failure: OAuthFailure) -> Self {
        use lamba_oidc::OAuthError;
        match failure.error {
            OAuthError::ServerError | OAuthError::TemporarilyUnavailable => {
                SessionError::Server(failure)
            }
            OAuthError::InvalidRequest | OAuthError::InvalidScope | OAuthError::InvalidTarget => {
                SessionError::Invalid(failure.description)
            }
            OAuthError::AccessDenied | OAuthError::UnauthorizedClient => {
                SessionError::Forbidden(failure.description)
            }
            _ => SessionError::Unauthenticated(failure.description),
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

    // ----- /v1/me -----

    // ----- /v1/admin -----
}

#[cfg(test)]
mod tests {
    use lamba_model::{ApplicationId, Instant, LoginSession, ScopedRefreshToken, SessionContract};

    use super::scopes::{Verdict, refresh_verdict};
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
            identity_provider_id: None,
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

//! The runtime API's response bodies (`/v1/sessions/*`, `/v1/me/*`,
//! `/v1/admin/*`), typed: each shape is written once here, so two
//! endpoints cannot answer the same thing in two spellings. Members use the
//! core's `MemberView`, the shape the operator API answers too.

use lamba_core::sessions::{Context, ScopedTokens};
use lamba_model::{
    ApplicationId, LoginSession, Project, ProjectId, ProjectMember, ScopedSession, User, UserId,
    WorkspaceId,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A page of a list: `{"items": [...], "nextCursor": ...}`; `nextCursor` is
/// `null` on the last page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Listing<T> {
    /// Every item at once: a list that is never paged.
    pub fn whole(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// A scoped session's project environment. `sessionId` only where the
/// answer has no other place for it (`/v1/me/context`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextView {
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub environment: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

impl From<&Context> for ContextView {
    fn from(context: &Context) -> Self {
        Self {
            workspace_id: context.workspace_id,
            project_id: context.project_id,
            environment: context.environment.as_str(),
            session_id: None,
        }
    }
}

/// `switch-context` and a scoped refresh.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedTokensView<'a> {
    pub access_token: &'a str,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    pub session_id: Uuid,
    pub context: ContextView,
    pub roles: &'a [String],
    pub permissions: &'a [String],
}

impl<'a> From<&'a ScopedTokens> for ScopedTokensView<'a> {
    fn from(tokens: &'a ScopedTokens) -> Self {
        let scope = &tokens.scope;
        Self {
            access_token: &tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.as_deref(),
            session_id: scope.id,
            context: ContextView {
                workspace_id: scope.workspace_id,
                project_id: scope.project_id,
                environment: scope.environment.as_str(),
                session_id: None,
            },
            roles: &scope.roles,
            permissions: &scope.permissions,
        }
    }
}

/// A login (not scoped) refresh at `/v1/sessions/refresh`: `context` is
/// `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginTokensView<'a> {
    pub access_token: &'a str,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: &'a str,
    pub session_id: Uuid,
    pub context: Option<ContextView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<&'a str>,
}

/// `/v1/me/profile`: names and data, never a credential.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub data: &'a serde_json::Map<String, Value>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a User> for ProfileView<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id,
            email: &user.email,
            first_name: user.first_name.as_deref(),
            last_name: user.last_name.as_deref(),
            data: &user.data,
            insert_instant: user.insert_instant.as_millis(),
            last_update_instant: user.last_update_instant.as_millis(),
        }
    }
}

/// One of `/v1/me/memberships`: the project as its member sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipView<'a> {
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub project_name: &'a str,
    pub project_state: &'static str,
    pub roles: &'a [String],
    pub locked: bool,
    pub environments: Vec<EnvironmentStateView>,
}

/// An environment's name and whether it admits sessions.
#[derive(Serialize)]
pub struct EnvironmentStateView {
    pub name: &'static str,
    pub state: &'static str,
}

impl<'a> From<&'a (ProjectMember, Project)> for MembershipView<'a> {
    fn from((member, project): &'a (ProjectMember, Project)) -> Self {
        Self {
            workspace_id: project.workspace_id,
            project_id: project.id,
            project_name: &project.name,
            project_state: project.state.as_str(),
            roles: &member.roles,
            locked: member.locked,
            environments: project
                .environments
                .iter()
                .map(|e| EnvironmentStateView {
                    name: e.name.as_str(),
                    state: e.state.as_str(),
                })
                .collect(),
        }
    }
}

/// One of `/v1/me/sessions`: a live login session of the user.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginSessionView<'a> {
    pub id: Uuid,
    pub application_id: ApplicationId,
    pub auth_time: i64,
    pub insert_instant: i64,
    pub last_used_instant: i64,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Whether the calling token belongs to this session.
    pub current: bool,
}

impl<'a> LoginSessionView<'a> {
    pub fn new(session: &'a LoginSession, current: Option<Uuid>) -> Self {
        Self {
            id: session.id,
            application_id: session.application_id,
            auth_time: session.auth_time.as_millis(),
            insert_instant: session.insert_instant.as_millis(),
            last_used_instant: session.last_used_instant.as_millis(),
            ip_address: session.ip_address.as_deref(),
            user_agent: session.user_agent.as_deref(),
            current: Some(session.id) == current,
        }
    }
}

/// One of `/v1/admin/sessions`: a live scoped session of the project.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeView<'a> {
    pub id: Uuid,
    pub user_id: UserId,
    pub login_session_id: Uuid,
    pub application_id: ApplicationId,
    pub roles: &'a [String],
    pub insert_instant: i64,
    pub last_used_instant: i64,
}

impl<'a> From<&'a ScopedSession> for ScopeView<'a> {
    fn from(scope: &'a ScopedSession) -> Self {
        Self {
            id: scope.id,
            user_id: scope.user_id,
            login_session_id: scope.login_session_id,
            application_id: scope.application_id,
            roles: &scope.roles,
            insert_instant: scope.insert_instant.as_millis(),
            last_used_instant: scope.last_used_instant.as_millis(),
        }
    }
}

/// `/v1/me/authorization`.
#[derive(Serialize)]
pub struct AuthorizationView<'a> {
    pub context: ContextView,
    pub roles: &'a [String],
    pub permissions: &'a [String],
}

/// `/v1/me/authorization/check`.
#[derive(Serialize)]
pub struct CheckView<'a> {
    pub permission: &'a str,
    pub allowed: bool,
}

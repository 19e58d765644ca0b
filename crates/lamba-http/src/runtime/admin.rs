//! `/v1/admin/*` on the api host: a project environment's runtime
//! administration, for a management token, a scoped session holding the
//! permission named, or an API key naming the project (CONTRACTS.md 4).

use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_core::sessions::Context;
use lamba_core::tenancy::{MemberInput, TenancyError};
use lamba_core::{ErrorKind, ValidationErrors};
use lamba_model::{Environment, ProjectMember, UserId, VIEWER_ROLE};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::JsonBody;
use super::auth::AdminCaller;
use super::problem::Problem;
use crate::AppState;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(Deserialize)]
pub struct Page {
    limit: Option<String>,
    cursor: Option<String>,
}

impl Page {
    fn limit(&self) -> Result<u32, Problem> {
        match self.limit.as_deref() {
            None | Some("") => Ok(DEFAULT_PAGE),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                _ => Err(Problem::invalid(format!(
                    "limit must be a number from 1 to {MAX_PAGE}."
                ))),
            },
        }
    }

    /// The cursor is opaque to clients: the last id of the previous page.
    fn after(&self) -> Result<Option<Uuid>, Problem> {
        let Some(cursor) = self.cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| Uuid::from_slice(&bytes).ok())
            .map(Some)
            .ok_or_else(|| Problem::invalid("cursor is not one this server gave out."))
    }
}

fn next_cursor(last: Option<Uuid>, page_len: usize, limit: u32) -> Value {
    match last {
        Some(last) if page_len == limit as usize => json!(URL_SAFE_NO_PAD.encode(last.as_bytes())),
        _ => Value::Null,
    }
}

fn member_json(member: &ProjectMember) -> Value {
    json!({
        "userId": member.user_id,
        "roles": member.roles,
        "locked": member.locked,
        "insertInstant": member.insert_instant.as_millis(),
        "lastUpdateInstant": member.last_update_instant.as_millis(),
    })
}

/// A validation failure of an admin call, as ProblemDetails: the first
/// field error's message is the detail.
fn tenancy_problem(error: TenancyError) -> Problem {
    match error {
        TenancyError::Invalid(errors) => Problem::invalid(describe(&errors)),
        TenancyError::NotFound => Problem::not_found(),
        TenancyError::Store(error) => {
            tracing::error!(%error, "storage failed");
            Problem::internal()
        }
    }
}

fn describe(errors: &ValidationErrors) -> String {
    errors
        .fields
        .values()
        .flatten()
        .chain(errors.general.iter())
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Memberships are project-wide: a role that `prod` admits gives access
/// there, whichever environment the change was made from. A caller bound to
/// `test` may therefore change only what `prod` cannot feel (roles `prod`
/// does not admit); from `prod`, the stricter environment, anything goes.
/// The API key (the operator) is not bound to an environment.
async fn confine_membership_write(
    state: &AppState,
    caller: &AdminCaller,
    context: Context,
    roles: &[String],
) -> Result<(), Problem> {
    if matches!(caller, AdminCaller::ApiKey(_)) || context.environment == Environment::Prod {
        return Ok(());
    }
    let project = state
        .core
        .tenancy
        .get_project(context.workspace_id, context.project_id)
        .await
        .map_err(tenancy_problem)?;
    let Some(prod) = project.environment(Environment::Prod) else {
        return Ok(());
    };
    match roles.iter().find(|role| prod.admits_role(role)) {
        Some(role) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "Memberships are project-wide and prod admits the role {role}: make this change from a prod context."
            ),
        )),
        None => Ok(()),
    }
}

/// The roles a member holds now (404 when they are not a member).
async fn held_roles(
    state: &AppState,
    context: Context,
    user_id: UserId,
) -> Result<Vec<String>, Problem> {
    Ok(state
        .core
        .tenancy
        .get_member(context.project_id, user_id)
        .await
        .map_err(tenancy_problem)?
        .roles)
}

fn path_user(raw: &str) -> Result<UserId, Problem> {
    UserId::from_str(raw).map_err(|_| Problem::not_found())
}

/// `GET /v1/admin/members` (`members:read`).
pub async fn list_members(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["members:read", "members:write"])?;
    let limit = page.limit()?;
    let members = state
        .core
        .tenancy
        .list_members(context.project_id, page.after()?.map(UserId::from), limit)
        .await
        .map_err(tenancy_problem)?;
    let last = members.last().map(|m| *m.user_id.as_uuid());
    Ok(Json(json!({
        "items": members.iter().map(member_json).collect::<Vec<_>>(),
        "nextCursor": next_cursor(last, members.len(), limit),
    })))
}

fn roles_member(body: &serde_json::Map<String, Value>) -> Result<Option<Vec<String>>, Problem> {
    match body.get("roles") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Problem::invalid("roles must be an array of strings."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Problem::invalid("roles must be an array of strings.")),
    }
}

/// `POST /v1/admin/members` `{"userId","roles"}` (`members:write`).
pub async fn add_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let JsonBody(body) = body?;
    let user_id = match body.get("userId") {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Problem::invalid("userId must be a string.")),
    };
    let roles = roles_member(&body)?;
    let granted = roles
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| vec![VIEWER_ROLE.to_owned()]);
    confine_membership_write(&state, &caller, context, &granted).await?;
    let input = MemberInput {
        user_id,
        roles,
        locked: None,
    };
    let member = state
        .core
        .tenancy
        .add_member(context.project_id, input, "")
        .await
        .map_err(|error| match error {
            TenancyError::Invalid(errors)
                if errors.fields.get("userId").is_some_and(|e| {
                    e.iter()
                        .any(|e| e.code == format!("[{}]userId", ErrorKind::Duplicate.as_str()))
                }) =>
            {
                Problem::new(
                    StatusCode::CONFLICT,
                    "CONFLICT",
                    "The user is a member of this project already.",
                )
            }
            other => tenancy_problem(other),
        })?;
    Ok((StatusCode::CREATED, Json(member_json(&member))).into_response())
}

/// `PATCH /v1/admin/members/{userId}` `{"roles"}` (`members:write`): the
/// member's scopes end, so no token keeps roles they no longer have.
pub async fn update_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
    body: Result<JsonBody, Problem>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    let JsonBody(body) = body?;
    let roles = roles_member(&body)?.ok_or_else(|| Problem::invalid("roles is required."))?;
    let mut involved = held_roles(&state, context, user_id).await?;
    involved.extend(roles.iter().cloned());
    confine_membership_write(&state, &caller, context, &involved).await?;
    let member = state
        .core
        .tenancy
        .update_member(context.project_id, user_id, Some(roles), None, "")
        .await
        .map_err(tenancy_problem)?;
    Ok(Json(member_json(&member)))
}

/// `DELETE /v1/admin/members/{userId}` (`members:write`).
pub async fn remove_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    let held = held_roles(&state, context, user_id).await?;
    confine_membership_write(&state, &caller, context, &held).await?;
    state
        .core
        .tenancy
        .remove_member(context.project_id, user_id)
        .await
        .map_err(tenancy_problem)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/admin/sessions`: the project environment's live scoped sessions.
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["sessions:read", "sessions:write"])?;
    let limit = page.limit()?;
    let scopes = state
        .core
        .sessions
        .admin_sessions(context, page.after()?, limit)
        .await?;
    let last = scopes.last().map(|s| s.id);
    let items: Vec<Value> = scopes
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "userId": s.user_id,
                "loginSessionId": s.login_session_id,
                "applicationId": s.application_id,
                "roles": s.roles,
                "insertInstant": s.insert_instant.as_millis(),
                "lastUsedInstant": s.last_used_instant.as_millis(),
            })
        })
        .collect();
    Ok(Json(json!({
        "items": items,
        "nextCursor": next_cursor(last, scopes.len(), limit),
    })))
}

/// `POST /v1/admin/users/{userId}/sessions/revoke` (`sessions:write`).
pub async fn revoke_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["sessions:write"])?;
    let user_id = path_user(&user_id)?;
    let revoked = state.core.sessions.admin_revoke(context, user_id).await?;
    Ok(Json(json!({ "revokedSessions": revoked })))
}

async fn set_locked(
    state: &AppState,
    caller: &AdminCaller,
    user_id: &str,
    locked: bool,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(state, &["sessions:write"])?;
    let user_id = path_user(user_id)?;
    let held = held_roles(state, context, user_id).await?;
    confine_membership_write(state, caller, context, &held).await?;
    let member = state
        .core
        .tenancy
        .update_member(context.project_id, user_id, None, Some(locked), "")
        .await
        .map_err(tenancy_problem)?;
    Ok(Json(member_json(&member)))
}

/// `POST /v1/admin/users/{userId}/lock` (`sessions:write`): the member can
/// no longer enter the project, and their scopes end now.
pub async fn lock(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    set_locked(&state, &caller, &user_id, true).await
}

/// `POST /v1/admin/users/{userId}/unlock` (`sessions:write`).
pub async fn unlock(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    set_locked(&state, &caller, &user_id, false).await
}

//! `/v1/me/*` on the api host: the signed-in user's own profile, context,
//! memberships, authorization and sessions (CONTRACTS.md 4).

use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lamba_core::sessions::{Principal, ProfileChange, SessionError};
use lamba_model::User;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::JsonBody;
use super::auth::Bearer;
use super::problem::Problem;
use super::sessions::context_json;
use crate::AppState;

fn profile_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "data": user.data,
        "insertInstant": user.insert_instant.as_millis(),
        "lastUpdateInstant": user.last_update_instant.as_millis(),
    })
}

/// `GET /v1/me/profile`.
pub async fn profile(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Json<Value>, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    Ok(Json(profile_json(&user)))
}

/// Reads an optional name member: absent keeps, `null` clears; the core
/// trims it and checks its length.
fn name_member(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, Problem> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(Problem::invalid(format!("{key} must be a string or null."))),
    }
}

/// `PATCH /v1/me/profile`: `firstName`, `lastName`, and `data` merged as
/// RFC 7396 says. Email and password are not changed here.
pub async fn update_profile(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
    body: Result<JsonBody, Problem>,
) -> Result<Json<Value>, Problem> {
    let JsonBody(body) = body?;
    for key in body.keys() {
        if !matches!(key.as_str(), "firstName" | "lastName" | "data") {
            return Err(Problem::invalid(format!(
                "{key} cannot be changed here; only firstName, lastName and data can."
            )));
        }
    }
    let change = ProfileChange {
        first_name: name_member(&body, "firstName")?,
        last_name: name_member(&body, "lastName")?,
        data: body.get("data").cloned(),
    };
    let user = state
        .core
        .sessions
        .update_profile(&principal, &change)
        .await?;
    Ok(Json(profile_json(&user)))
}

/// `GET /v1/me/context`: the token's project environment, or `null`.
pub async fn context(Bearer(principal): Bearer) -> Result<Json<Value>, Problem> {
    match &principal {
        Principal::Scoped {
            context, scope_id, ..
        } => {
            let mut body = context_json(context);
            if let Some(object) = body.as_object_mut() {
                object.insert("sessionId".into(), json!(scope_id));
            }
            Ok(Json(json!({ "context": body })))
        }
        Principal::Login { .. } => Ok(Json(json!({ "context": null }))),
        _ => Err(SessionError::Forbidden("This call needs a user's token.".into()).into()),
    }
}

/// `GET /v1/me/memberships`.
pub async fn memberships(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Json<Value>, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    let items: Vec<Value> = state
        .core
        .sessions
        .memberships(user.id)
        .await?
        .iter()
        .map(|(member, project)| {
            json!({
                "workspaceId": project.workspace_id,
                "projectId": project.id,
                "projectName": project.name,
                "projectState": project.state.as_str(),
                "roles": member.roles,
                "locked": member.locked,
                "environments": project.environments.iter().map(|e| json!({
                    "name": e.name.as_str(),
                    "state": e.state.as_str(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "nextCursor": null })))
}

fn scoped_parts(principal: &Principal) -> Result<(Value, &[String], &[String]), Problem> {
    match principal {
        Principal::Scoped {
            context,
            roles,
            permissions,
            ..
        } => Ok((context_json(context), roles, permissions)),
        Principal::Login { .. } => Err(SessionError::ContextRequired.into()),
        _ => Err(SessionError::Forbidden("This call needs a user's scoped session.".into()).into()),
    }
}

/// `GET /v1/me/authorization`: roles and permissions of the scoped session,
/// straight from the verified token. Nothing is read from storage: a role
/// change revokes the scope, so a live token's claims are current.
pub async fn authorization(Bearer(principal): Bearer) -> Result<Json<Value>, Problem> {
    let (context, roles, permissions) = scoped_parts(&principal)?;
    Ok(Json(json!({
        "context": context,
        "roles": roles,
        "permissions": permissions,
    })))
}

/// `POST /v1/me/authorization/check` `{"permission"}` → `{"allowed"}`.
pub async fn check(
    Bearer(principal): Bearer,
    body: Result<JsonBody, Problem>,
) -> Result<Json<Value>, Problem> {
    let (_, _, permissions) = scoped_parts(&principal)?;
    let JsonBody(body) = body?;
    let permission = match body.get("permission") {
        Some(Value::String(p)) if !p.is_empty() => p,
        _ => return Err(Problem::invalid("permission must be a non-empty string.")),
    };
    Ok(Json(json!({
        "permission": permission,
        "allowed": permissions.iter().any(|p| p == permission),
    })))
}

/// `GET /v1/me/sessions`: the user's live login sessions.
pub async fn sessions(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Json<Value>, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    let current = principal.login_session();
    let items: Vec<Value> = state
        .core
        .sessions
        .login_sessions(user.id)
        .await?
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "applicationId": s.application_id,
                "authTime": s.auth_time.as_millis(),
                "insertInstant": s.insert_instant.as_millis(),
                "lastUsedInstant": s.last_used_instant.as_millis(),
                "ipAddress": s.ip_address,
                "userAgent": s.user_agent,
                "current": Some(s.id) == current,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "nextCursor": null })))
}

/// `DELETE /v1/me/sessions/{id}`: ends one of the user's own sessions.
pub async fn end_session(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    let id = Uuid::from_str(&id).map_err(|_| Problem::not_found())?;
    state.core.sessions.end_own_session(user.id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

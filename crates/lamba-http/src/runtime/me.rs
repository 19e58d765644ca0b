//! `/v1/me/*` on the api host: the signed-in user's own profile, context,
//! memberships, authorization and sessions (CONTRACTS.md 4).

use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lamba_core::sessions::{Principal, ProfileChange, SessionError};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::JsonBody;
use super::auth::Bearer;
use super::problem::Problem;
use super::views::{
    AuthorizationView, CheckView, ContextView, Listing, LoginSessionView, MembershipView,
    ProfileView,
};
use crate::AppState;

/// `GET /v1/me/profile`.
pub async fn profile(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Response, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    Ok(Json(ProfileView::from(&user)).into_response())
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
) -> Result<Response, Problem> {
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
    Ok(Json(ProfileView::from(&user)).into_response())
}

#[derive(Serialize)]
struct ContextResponse {
    context: Option<ContextView>,
}

/// `GET /v1/me/context`: the token's project environment, or `null`.
pub async fn context(Bearer(principal): Bearer) -> Result<Response, Problem> {
    match &principal {
        Principal::Scoped {
            context, scope_id, ..
        } => {
            let context = ContextView {
                session_id: Some(*scope_id),
                ..ContextView::from(context)
            };
            Ok(Json(ContextResponse {
                context: Some(context),
            })
            .into_response())
        }
        Principal::Login { .. } => Ok(Json(ContextResponse { context: None }).into_response()),
        _ => Err(SessionError::Forbidden("This call needs a user's token.".into()).into()),
    }
}

/// `GET /v1/me/memberships`.
pub async fn memberships(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Response, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    let memberships = state.core.sessions.memberships(user.id).await?;
    let items = memberships.iter().map(MembershipView::from).collect();
    Ok(Json(Listing::whole(items)).into_response())
}

fn scoped_parts(principal: &Principal) -> Result<(ContextView, &[String], &[String]), Problem> {
    match principal {
        Principal::Scoped {
            context,
            roles,
            permissions,
            ..
        } => Ok((ContextView::from(context), roles, permissions)),
        Principal::Login { .. } => Err(SessionError::ContextRequired.into()),
        _ => Err(SessionError::Forbidden("This call needs a user's scoped session.".into()).into()),
    }
}

/// `GET /v1/me/authorization`: roles and permissions of the scoped session,
/// straight from the verified token. Nothing is read from storage: a role
/// change revokes the scope, so a live token's claims are current.
pub async fn authorization(Bearer(principal): Bearer) -> Result<Response, Problem> {
    let (context, roles, permissions) = scoped_parts(&principal)?;
    Ok(Json(AuthorizationView {
        context,
        roles,
        permissions,
    })
    .into_response())
}

/// `POST /v1/me/authorization/check` `{"permission"}` → `{"allowed"}`.
pub async fn check(
    Bearer(principal): Bearer,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let (_, _, permissions) = scoped_parts(&principal)?;
    let JsonBody(body) = body?;
    let permission = match body.get("permission") {
        Some(Value::String(p)) if !p.is_empty() => p,
        _ => return Err(Problem::invalid("permission must be a non-empty string.")),
    };
    Ok(Json(CheckView {
        permission,
        allowed: permissions.iter().any(|p| p == permission),
    })
    .into_response())
}

/// `GET /v1/me/sessions`: the user's live login sessions.
pub async fn sessions(
    State(state): State<AppState>,
    Bearer(principal): Bearer,
) -> Result<Response, Problem> {
    let user = state.core.sessions.me(&principal).await?;
    let current = principal.login_session();
    let sessions = state.core.sessions.login_sessions(user.id).await?;
    let items = sessions
        .iter()
        .map(|s| LoginSessionView::new(s, current))
        .collect();
    Ok(Json(Listing::whole(items)).into_response())
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

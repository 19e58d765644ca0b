//! `/v1/sessions/*` on the id host: switch-context, refresh, logout
//! (CONTRACTS.md 3.1).

use std::str::FromStr;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use lamba_core::sessions::{Context, Principal, Refreshed};
use lamba_model::{Environment, ProjectId, WorkspaceId};
use serde::Serialize;
use serde_json::{Map, Value};

use super::JsonBody;
use super::auth::{Bearer, ClientIp};
use super::problem::Problem;
use super::views::{LoginTokensView, ScopedTokensView};
use crate::AppState;

/// Token responses are never cached (RFC 6749 §5.1).
fn no_store(body: impl Serialize) -> Response {
    (
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response()
}

/// The per-IP limit of `/v1/sessions/*` (CONTRACTS.md 3.1), as an
/// extractor. Listed first in a handler's arguments, it is taken before
/// the bearer token is verified (axum extracts in order and stops at the
/// first rejection), so a flood from one address is refused before it
/// costs a signature check.
pub struct WithinIpLimit;

impl FromRequestParts<AppState> for WithinIpLimit {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        check(state, &state.limits.limits.sessions_per_ip, &ip.to_string()).await?;
        Ok(WithinIpLimit)
    }
}

/// Per user, once the token says who it is (the IP was counted already).
async fn limit_user(state: &AppState, principal: &Principal) -> Result<(), Problem> {
    match principal.user_id() {
        Some(user) => {
            let user = user.to_string();
            check(state, &state.limits.limits.sessions_per_user, &user).await
        }
        None => Ok(()),
    }
}

async fn check(state: &AppState, quota: &lamba_ratelimit::Quota, key: &str) -> Result<(), Problem> {
    match state
        .limits
        .limiter
        .check(quota, key)
        .await
        .retry_after_secs()
    {
        Some(seconds) => Err(Problem::rate_limited(seconds)),
        None => Ok(()),
    }
}

/// Reads one required string member of a JSON object.
fn required<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, Problem> {
    match body.get(key) {
        None | Some(Value::Null) => Err(Problem::invalid(format!("{key} is required."))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Problem::invalid(format!("{key} must be a string."))),
    }
}

fn parse_target(body: &Map<String, Value>) -> Result<Context, Problem> {
    let workspace_id = WorkspaceId::from_str(required(body, "workspaceId")?)
        .map_err(|_| Problem::invalid("workspaceId must be a UUID."))?;
    let project_id = ProjectId::from_str(required(body, "projectId")?)
        .map_err(|_| Problem::invalid("projectId must be a UUID."))?;
    let environment = Environment::from_str(required(body, "environment")?)
        .map_err(|_| Problem::invalid("environment must be test or prod."))?;
    Ok(Context {
        workspace_id,
        project_id,
        environment,
    })
}

/// `POST /v1/sessions/switch-context`.
pub async fn switch_context(
    State(state): State<AppState>,
    _within_ip_limit: WithinIpLimit,
    bearer: Result<Bearer, Problem>,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let Bearer(principal) = bearer?;
    limit_user(&state, &principal).await?;
    let JsonBody(body) = body?;
    let target = parse_target(&body)?;
    let tokens = state
        .core
        .sessions
        .switch_context(&state.core.oauth, &principal, target)
        .await?;
    Ok(no_store(ScopedTokensView::from(&tokens)))
}

/// `POST /v1/sessions/refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    _within_ip_limit: WithinIpLimit,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let JsonBody(body) = body?;
    let presented = required(&body, "refreshToken")?;
    if presented.is_empty() {
        return Err(Problem::invalid("refreshToken is required."));
    }
    let refreshed = state
        .core
        .sessions
        .refresh(&state.core.oauth, presented)
        .await?;
    Ok(match refreshed {
        Refreshed::Scoped(tokens) => no_store(ScopedTokensView::from(&tokens)),
        Refreshed::Login { tokens, session_id } => no_store(LoginTokensView {
            access_token: &tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            scope: &tokens.scope,
            session_id,
            context: None,
            refresh_token: tokens.refresh_token.as_deref(),
            id_token: tokens.id_token.as_deref(),
        }),
    })
}

/// `POST /v1/sessions/logout`: 204, the login and all its scopes ended.
pub async fn logout(
    State(state): State<AppState>,
    _within_ip_limit: WithinIpLimit,
    bearer: Result<Bearer, Problem>,
) -> Result<Response, Problem> {
    let Bearer(principal) = bearer?;
    state.core.sessions.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

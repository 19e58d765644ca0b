use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::OAuthFailure;
use lamba_core::oauth::TokenRequest;
use lamba_oidc::OAuthError;
use serde::Serialize;

use super::error::{OAuthJson, no_store};
use super::form::{OAuthForm, client_credentials};
use crate::AppState;

/// RFC 6749 §5.1's successful token response.
#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// `POST /connect/token`: the `authorization_code`, `refresh_token` and
/// `client_credentials` grants.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, form: OAuthForm) -> Response {
    let credentials = match client_credentials(&headers, &form) {
        Ok(credentials) => credentials,
        Err(failure) => return OAuthJson(failure).into_response(),
    };
    // One runaway client must not starve the others; keyed by the client
    // the request names (authenticated or not, a name is all there is yet).
    let client_key = credentials
        .basic
        .as_ref()
        .map(|(id, _)| id.as_str())
        .or(credentials.client_id.as_deref())
        .unwrap_or_default()
        .to_owned();
    if let Some(seconds) = state
        .limits
        .limiter
        .check(&state.limits.limits.token_per_client, &client_key)
        .await
        .retry_after_secs()
    {
        let mut response = OAuthJson(OAuthFailure::new(
            OAuthError::TemporarilyUnavailable,
            format!("Too many token requests from this client; retry in {seconds} seconds."),
        ))
        .into_response();
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let request = TokenRequest {
        grant_type: form.get("grant_type"),
        code: form.get("code"),
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        refresh_token: form.get("refresh_token"),
        scope: form.get("scope"),
        resource: form.get("resource"),
        workspace_id: form.get("workspaceId"),
        project_id: form.get("projectId"),
        environment: form.get("environment"),
        credentials,
    };
    match state.core.oauth.token(request).await {
        Ok(issued) => no_store(TokenBody {
            access_token: &issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: &issued.scope,
            id_token: issued.id_token.as_deref(),
            refresh_token: issued.refresh_token.as_deref(),
        }),
        Err(failure) => OAuthJson(failure).into_response(),
    }
}

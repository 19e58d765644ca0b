use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::OAuthFailure;
use lamba_core::oauth::TokenRequest;
use lamba_oidc::OAuthError;
use serde_json::json;

use super::error::{OAuthJson, no_store};
use super::form::{OAuthForm, client_credentials};
use crate::AppState;

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
        Ok(issued) => {
            let mut body = json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope,
            });
            if let Some(object) = body.as_object_mut() {
                if let Some(id_token) = issued.id_token {
                    object.insert("id_token".into(), id_token.into());
                }
                if let Some(refresh_token) = issued.refresh_token {
                    object.insert("refresh_token".into(), refresh_token.into());
                }
            }
            no_store(body)
        }
        Err(failure) => OAuthJson(failure).into_response(),
    }
}

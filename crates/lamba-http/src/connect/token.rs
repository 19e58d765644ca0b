use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::TokenRequest;
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
    let request = TokenRequest {
        grant_type: form.get("grant_type"),
        code: form.get("code"),
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        refresh_token: form.get("refresh_token"),
        scope: form.get("scope"),
        resource: form.get("resource"),
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

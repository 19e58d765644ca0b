use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{OAuthJson, no_store};
use super::form::{OAuthForm, client_credentials};
use crate::AppState;

/// `POST /connect/introspect` (RFC 7662).
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let result = match client_credentials(&headers, &form) {
        Ok(credentials) => {
            state
                .core
                .oauth
                .introspect(&credentials, form.get("token").as_deref())
                .await
        }
        Err(failure) => Err(failure),
    };
    match result {
        Ok(answer) => no_store(Value::Object(answer)),
        Err(failure) => OAuthJson(failure).into_response(),
    }
}

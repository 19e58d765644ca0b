use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::OAuthJson;
use super::form::{OAuthForm, client_credentials};
use crate::AppState;

/// `POST /connect/revocation` (RFC 7009): 200 whether or not the token was
/// known.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let result = match client_credentials(&headers, &form) {
        Ok(credentials) => {
            state
                .core
                .oauth
                .revoke(&credentials, form.get("token").as_deref())
                .await
        }
        Err(failure) => Err(failure),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => OAuthJson(failure).into_response(),
    }
}

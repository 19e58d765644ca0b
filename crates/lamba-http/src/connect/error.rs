//! The one mapping from OAuth failures to responses (RFC 6749 §5.2):
//! `{"error","error_description"}`, 400 (401 for `invalid_client`, with a
//! `WWW-Authenticate` challenge), never cached.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::OAuthFailure;
use lamba_oidc::OAuthError;
use serde_json::json;

pub struct OAuthJson(pub OAuthFailure);

impl From<OAuthFailure> for OAuthJson {
    fn from(failure: OAuthFailure) -> Self {
        OAuthJson(failure)
    }
}

impl IntoResponse for OAuthJson {
    fn into_response(self) -> Response {
        let failure = self.0;
        let status = StatusCode::from_u16(failure.error.token_endpoint_status())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (
            status,
            Json(
                json!({"error": failure.error.as_str(), "error_description": failure.description}),
            ),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        if failure.error == OAuthError::InvalidClient {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"lamba\""),
            );
        }
        response
    }
}

/// A JSON success body that must not be cached (tokens, introspection).
pub fn no_store(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

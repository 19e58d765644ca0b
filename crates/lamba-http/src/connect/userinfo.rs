use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::UserInfo;

use crate::AppState;

/// `GET|POST /connect/userinfo` with `Authorization: Bearer <access token>`.
/// An invalid, expired or revoked token, or one of an ended session, is a
/// 401 with an RFC 6750 challenge.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return challenge("Bearer realm=\"lamba\"");
    };
    match state.core.oauth.userinfo(token).await {
        Ok(Some(UserInfo::Claims(claims))) => Json(claims).into_response(),
        Ok(Some(UserInfo::InsufficientScope)) => {
            let mut response =
                challenge("Bearer realm=\"lamba\", error=\"insufficient_scope\", scope=\"openid\"");
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
        Ok(None) => challenge("Bearer realm=\"lamba\", error=\"invalid_token\""),
        // The database out of reach for a moment: try again, not a fault.
        Err(failure) if failure.error == lamba_oidc::OAuthError::TemporarilyUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn challenge(value: &'static str) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
    response
}

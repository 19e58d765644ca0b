//! The one mapping from OAuth failures to responses (RFC 6749 §5.2):
//! `{"error","error_description"}`, 400 (401 for `invalid_client`, with a
//! `WWW-Authenticate` challenge), never cached.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::OAuthFailure;
use lamba_oidc::OAuthError;
use serde::Serialize;

pub struct OAuthJson(pub OAuthFailure);

/// RFC 6749 §5.2's error object.
#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
}

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
            Json(ErrorBody {
                error: failure.error.as_str(),
                error_description: description_chars(&failure.description),
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        if failure.error == OAuthError::TemporarilyUnavailable {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
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
pub fn no_store(body: impl Serialize) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 §5.2 allows only `%x20-21 / %x23-5B / %x5D-7E` in
/// `error_description`: quotes become apostrophes, anything else outside
/// the set a question mark (descriptions may quote client input).
pub(super) fn description_chars(description: &str) -> String {
    description
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Headers every HTML page of the id host carries: no framing (clickjacking,
/// RFC 6749 §10.13), no caching, no sniffing.
pub(super) fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        axum::http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    );
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_to_retry_not_a_500() {
        let io = std::io::Error::other("connection refused");
        let failure = OAuthFailure::from(lamba_store::StoreError::Unavailable(Box::new(io)));
        let response = OAuthJson(failure).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        assert_eq!(
            description_chars("The grant type \"x\\y\" é\n"),
            "The grant type 'x/y' ??"
        );
    }
}

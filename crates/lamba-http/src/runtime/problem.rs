//! RFC 7807 ProblemDetails, the error body of every `/v1/*` endpoint
//! (CONTRACTS.md 3.1), and the trace headers every response carries.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lamba_core::sessions::SessionError;
use lamba_oidc::OAuthError;
use lamba_store::StoreError;
use serde_json::json;
use tower_http::request_id::RequestId;

pub const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");
pub const CORRELATION_ID_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");
/// Longest correlation id echoed back; a longer one is ignored, not cut.
const MAX_CORRELATION_ID: usize = 128;

/// Marks the empty 500 the panic catcher answers, so that [`trace_headers`]
/// can give it the body its surface documents (the panic's message is never
/// part of it).
#[derive(Clone, Copy, Debug)]
pub struct Panicked;

/// The OAuth endpoints whose every answer is an RFC 6749 §5.2 JSON body.
const OAUTH_JSON_PATHS: [&str; 3] = [
    "/connect/token",
    "/connect/introspect",
    "/connect/revocation",
];

/// A problem, before the trace id is known. [`trace_headers`] writes the
/// body, so that every problem (a handler's or an extractor's) carries the
/// `traceId` of its request.
#[derive(Clone, Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub error_code: &'static str,
    pub detail: String,
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, error_code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", detail)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Nothing here has that id.",
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                format!("Too many requests; try again in {retry_after_secs} seconds."),
            )
        }
    }

    /// 503 with `Retry-After`: the database is out of reach for now. The
    /// contract's error codes have none of its own, so the code stays
    /// `INTERNAL_ERROR` and the status and header tell a client to retry.
    pub fn unavailable() -> Self {
        Self {
            retry_after_secs: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL_ERROR",
                "The server is briefly unable to complete the request; try again shortly.",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "The server could not complete the request.",
        )
    }
}

impl From<SessionError> for Problem {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Invalid(detail) => Problem::invalid(detail),
            SessionError::Unauthenticated(detail) => Problem::unauthenticated(detail),
            SessionError::Forbidden(detail) => {
                Problem::new(StatusCode::FORBIDDEN, "FORBIDDEN", detail)
            }
            SessionError::ContextRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "CONTEXT_REQUIRED",
                "This call needs a scoped session: call /v1/sessions/switch-context first.",
            ),
            SessionError::NotFound => Problem::not_found(),
            SessionError::Conflict(detail) => {
                Problem::new(StatusCode::CONFLICT, "CONFLICT", detail)
            }
            SessionError::Store(error) => error.into(),
            SessionError::Server(failure) => {
                if failure.error == OAuthError::TemporarilyUnavailable {
                    Problem::unavailable()
                } else {
                    Problem::internal()
                }
            }
        }
    }
}

/// The one reading of a storage failure on the runtime API; the cause is
/// logged here, once.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "storage unavailable");
                Problem::unavailable()
            }
            StoreError::Conflict(_) | StoreError::Reference => {
                tracing::info!(%error, "a write lost to a concurrent one");
                Problem::new(
                    StatusCode::CONFLICT,
                    "CONFLICT",
                    "Another change to this came first; read it again and retry.",
                )
            }
            StoreError::Corrupt(_) | StoreError::Backend(_) => {
                tracing::error!(%error, "storage failed");
                Problem::internal()
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a bearer-protected resource names its scheme.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// Sets `X-Trace-Id` (the request id) on every response, echoes a sane
/// `X-Correlation-Id`, and renders pending [`Problem`]s with their trace id.
/// The request runs inside its audit [`lamba_core::request::RequestContext`].
pub async fn trace_headers(request: Request, next: Next) -> Response {
    let trace_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let correlation = request
        .headers()
        .get(&CORRELATION_ID_HEADER)
        .filter(|v| {
            v.len() <= MAX_CORRELATION_ID && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
        })
        .cloned();
    // The audit events this request causes record its ids and peer.
    let context = lamba_core::request::RequestContext::new(
        Some(trace_id.clone()).filter(|t| !t.is_empty()),
        correlation
            .as_ref()
            .and_then(|c| c.to_str().ok())
            .map(str::to_owned),
        request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string()),
    );
    let path = request.uri().path();
    let (is_v1, is_oauth_json) = (path.starts_with("/v1/"), OAUTH_JSON_PATHS.contains(&path));
    let mut response = lamba_core::request::with_request(context, next.run(request)).await;
    if response.extensions_mut().remove::<Panicked>().is_some() {
        if is_v1 {
            response.extensions_mut().insert(Problem::internal());
        } else if is_oauth_json {
            let body = json!({
                "error": "server_error",
                "error_description": "The server could not complete the request.",
            });
            let (mut parts, _) = response.into_parts();
            parts
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response = Response::from_parts(parts, Body::from(body.to_string()));
        }
    }
    // Last line of defence: a 5xx some library wrote as plain text (axum's
    // `Json` when serialising fails, an extractor's rejection) carries its
    // error's text. No surface documents that: drop it, and give /v1 its
    // problem body.
    let plain_text = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if response.status().is_server_error() && plain_text {
        tracing::error!(
            status = response.status().as_u16(),
            "dropped a plain-text 5xx body"
        );
        let status = response.status();
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(CONTENT_TYPE);
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::empty());
        if is_v1 {
            response.extensions_mut().insert(Problem {
                status,
                ..Problem::internal()
            });
        }
    }
    if let Some(problem) = response.extensions_mut().remove::<Problem>() {
        let body = json!({
            "type": "about:blank",
            "title": problem.status.canonical_reason().unwrap_or("Error"),
            "status": problem.status.as_u16(),
            "detail": problem.detail,
            "errorCode": problem.error_code,
            "traceId": trace_id,
        });
        let (mut parts, _) = response.into_parts();
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(body.to_string()));
    }
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }
    if let Some(correlation) = correlation {
        response
            .headers_mut()
            .insert(CORRELATION_ID_HEADER, correlation);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_failure_keeps_its_cause_to_its_status() {
        let io = std::io::Error::other("connection refused");
        let unavailable = Problem::from(SessionError::Store(StoreError::Unavailable(Box::new(io))));
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.retry_after_secs, Some(1));
        let raced = Problem::from(SessionError::Store(StoreError::Conflict("revision")));
        assert_eq!(
            (raced.status, raced.error_code),
            (StatusCode::CONFLICT, "CONFLICT")
        );
        let corrupt = Problem::from(SessionError::Store(StoreError::Corrupt("x".into())));
        assert_eq!(corrupt.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn an_oauth_failure_of_the_caller_is_not_a_401() {
        let scope = lamba_core::oauth::OAuthFailure::new(OAuthError::InvalidScope, "no such scope");
        assert_eq!(
            Problem::from(SessionError::from(scope)).status,
            StatusCode::BAD_REQUEST
        );
        let busy = lamba_core::oauth::OAuthFailure::new(OAuthError::TemporarilyUnavailable, "busy");
        assert_eq!(
            Problem::from(SessionError::from(busy)).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}

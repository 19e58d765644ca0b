//! Extractors that give the operator API its own answers for bad requests.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lamba_model::ApiKey;
use serde_json::Value;

use super::{BODY_LIMIT_BYTES, OperatorError};
use crate::AppState;

/// An authenticated operator: the API key the request presented, as
/// `Authorization: <key>` (FusionAuth's form) or `Authorization: Bearer <key>`.
pub struct Operator {
    #[expect(dead_code, reason = "permissions per key arrive with /api/api-key")]
    pub key: ApiKey,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = OperatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .ok_or(OperatorError::Unauthorized)?;
        let raw = strip_bearer(raw);
        if raw.is_empty() {
            return Err(OperatorError::Unauthorized);
        }
        match state.core.api_keys.authenticate(raw).await {
            Ok(Some(key)) => Ok(Operator { key }),
            Ok(None) => Err(OperatorError::Unauthorized),
            Err(error) => {
                tracing::error!(%error, "API key lookup failed");
                Err(OperatorError::Internal)
            }
        }
    }
}

fn strip_bearer(raw: &str) -> &str {
    match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => raw,
    }
}

/// A JSON object body. Anything else (empty, malformed, too large, not an
/// object) is the operator API's 400 or 413, never a 500.
pub struct JsonObject(pub Value);

impl FromRequest<AppState> for JsonObject {
    type Rejection = OperatorError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    OperatorError::PayloadTooLarge {
                        limit_bytes: BODY_LIMIT_BYTES,
                    }
                } else {
                    OperatorError::general(
                        "[invalidBody]",
                        format!("The request body could not be read: {rejection}."),
                    )
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(OperatorError::general(
                "[invalidJSON]",
                "The request body is empty; a JSON object is required.",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value @ Value::Object(_)) => Ok(JsonObject(value)),
            Ok(_) => Err(OperatorError::general(
                "[invalidJSON]",
                "The request body must be a JSON object.",
            )),
            Err(error) => Err(OperatorError::general(
                "[invalidJSON]",
                format!("The request body is not valid JSON: {error}."),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_bearer;

    #[test]
    fn accepts_raw_and_bearer_keys() {
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer  abc"), "abc");
        assert_eq!(strip_bearer("Basic abc"), "Basic abc");
    }
}

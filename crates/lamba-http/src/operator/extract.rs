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
            Err(error) => Err(error.into()),
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

/// An id type that can appear as a path segment, with the field name a
/// malformed one is reported under.
pub trait NamedId: std::str::FromStr + Send {
    const FIELD: &'static str;
}

impl NamedId for lamba_model::CertificateKeyId {
    const FIELD: &'static str = "keyId";
}

impl NamedId for lamba_model::LambdaId {
    const FIELD: &'static str = "lambdaId";
}

impl NamedId for lamba_model::ApplicationId {
    const FIELD: &'static str = "applicationId";
}

impl NamedId for lamba_model::UserId {
    const FIELD: &'static str = "userId";
}

impl NamedId for lamba_model::WorkspaceId {
    const FIELD: &'static str = "workspaceId";
}

impl NamedId for lamba_model::ProjectId {
    const FIELD: &'static str = "projectId";
}

impl NamedId for lamba_model::RoleId {
    const FIELD: &'static str = "roleId";
}

impl NamedId for lamba_model::IdentityProviderId {
    const FIELD: &'static str = "identityProviderId";
}

impl NamedId for lamba_model::WebhookId {
    const FIELD: &'static str = "webhookId";
}

/// The one `{id}` of a path: only a hyphenated UUID is an id; anything else
/// (not even UTF-8 included) is a 400 naming the field.
pub struct IdPath<T>(pub T);

impl<T: NamedId> FromRequestParts<AppState> for IdPath<T> {
    type Rejection = OperatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid_id(T::FIELD, "The path segment"))?;
        T::from_str(&raw).map(IdPath).map_err(|_| {
            invalid_id(
                T::FIELD,
                &format!("{:?}", raw.chars().take(64).collect::<String>()),
            )
        })
    }
}

/// The `{id}`s of a nested path such as
/// `/workspace/{workspaceId}/project/{projectId}`, in order: each must be a
/// UUID, and every one that is not is reported under its own field.
pub struct IdsPath<T>(pub T);

impl<A: NamedId, B: NamedId> FromRequestParts<AppState> for IdsPath<(A, B)> {
    type Rejection = OperatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((raw_a, raw_b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid_id(A::FIELD, "A path segment"))?;
        let mut errors = lamba_core::ValidationErrors::new();
        let a = parse_segment::<A>(&raw_a, &mut errors);
        let b = parse_segment::<B>(&raw_b, &mut errors);
        match (a, b) {
            (Some(a), Some(b)) => Ok(IdsPath((a, b))),
            _ => Err(errors.into()),
        }
    }
}

impl<A: NamedId, B: NamedId, C: NamedId> FromRequestParts<AppState> for IdsPath<(A, B, C)> {
    type Rejection = OperatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((raw_a, raw_b, raw_c)) =
            axum::extract::Path::<(String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid_id(A::FIELD, "A path segment"))?;
        let mut errors = lamba_core::ValidationErrors::new();
        let a = parse_segment::<A>(&raw_a, &mut errors);
        let b = parse_segment::<B>(&raw_b, &mut errors);
        let c = parse_segment::<C>(&raw_c, &mut errors);
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => Ok(IdsPath((a, b, c))),
            _ => Err(errors.into()),
        }
    }
}

/// One segment of an [`IdsPath`]; a malformed one is noted in `errors`.
fn parse_segment<T: NamedId>(raw: &str, errors: &mut lamba_core::ValidationErrors) -> Option<T> {
    let parsed = T::from_str(raw).ok();
    if parsed.is_none() {
        errors.field(
            T::FIELD,
            lamba_core::ErrorKind::Invalid,
            format!(
                "{:?} is not a UUID.",
                raw.chars().take(64).collect::<String>()
            ),
        );
    }
    parsed
}

fn invalid_id(field: &str, shown: &str) -> OperatorError {
    lamba_core::ValidationErrors::with_field(
        field,
        lamba_core::ErrorKind::Invalid,
        format!("{shown} is not a UUID."),
    )
    .into()
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

//! The one mapping from operator-API failures to responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_core::events::audit::AuditError;
use lamba_core::events::event_log::EventLogError;
use lamba_core::events::webhooks::WebhookError;
use lamba_core::federation::ProviderError;
use lamba_core::federation::certificates::CertificateKeyError;
use lamba_core::identity::users::UserError;
use lamba_core::lambdas::LambdaError;
use lamba_core::oauth::applications::ApplicationError;
use lamba_core::tenancy::TenancyError;
use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug)]
pub enum OperatorError {
    /// No key, or a key that does not exist: 401, empty body.
    Unauthorized,
    /// Unknown id: 404, empty body.
    NotFound,
    /// 400 with FusionAuth's Errors object.
    Invalid(ValidationErrors),
    /// 403 with FusionAuth's Errors object: the caller may not do this.
    Forbidden(ValidationErrors),
    /// 409 with FusionAuth's Errors object: the thing is in a state that
    /// does not allow the request.
    Conflict(ValidationErrors),
    /// 429 with `Retry-After` and FusionAuth's Errors object: the request
    /// may be made again after that many seconds.
    TooManyRequests {
        retry_after_seconds: u64,
        errors: ValidationErrors,
    },
    /// 413 with a general error naming the limit.
    PayloadTooLarge { limit_bytes: usize },
    /// 503 with `Retry-After`, empty body: the database is out of reach
    /// for now.
    Unavailable,
    /// 500, empty body; the cause was logged where it happened.
    Internal,
}

/// The one reading of a storage failure on the operator API; the cause is
/// logged here, once.
impl From<lamba_store::StoreError> for OperatorError {
    fn from(error: lamba_store::StoreError) -> Self {
        use lamba_store::StoreError;
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "storage unavailable");
                OperatorError::Unavailable
            }
            // Only what a use case did not expect reaches here: a write that
            // kept losing to concurrent ones, or a reference that vanished.
            StoreError::Conflict(_) | StoreError::Reference => {
                tracing::info!(%error, "a write lost to a concurrent one");
                let mut errors = ValidationErrors::new();
                errors.general(
                    "[conflict]",
                    "Another change to this came first; read it again and retry.",
                );
                OperatorError::Conflict(errors)
            }
            StoreError::Corrupt(_) | StoreError::Backend(_) => {
                tracing::error!(%error, "storage failed");
                OperatorError::Internal
            }
        }
    }
}

impl OperatorError {
    pub fn general(code: &str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        errors.general(code, message);
        OperatorError::Invalid(errors)
    }
}

impl From<ValidationErrors> for OperatorError {
    fn from(errors: ValidationErrors) -> Self {
        OperatorError::Invalid(errors)
    }
}

impl From<ApplicationError> for OperatorError {
    fn from(error: ApplicationError) -> Self {
        match error {
            ApplicationError::Invalid(errors) => OperatorError::Invalid(errors),
            ApplicationError::NotFound => OperatorError::NotFound,
            ApplicationError::Random => {
                tracing::error!("the system random generator failed");
                OperatorError::Internal
            }
            ApplicationError::Store(store) => store.into(),
        }
    }
}

impl From<UserError> for OperatorError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Invalid(errors) => OperatorError::Invalid(errors),
            UserError::NotFound => OperatorError::NotFound,
            UserError::Store(store) => store.into(),
            UserError::Password(password) => {
                tracing::error!(error = %password, "password hashing failed");
                OperatorError::Internal
            }
        }
    }
}

impl From<LambdaError> for OperatorError {
    fn from(error: LambdaError) -> Self {
        match error {
            LambdaError::Invalid(errors) => OperatorError::Invalid(errors),
            LambdaError::NotFound => OperatorError::NotFound,
            // The operator's own script failed in a test run: what and
            // where is the answer, not an internal detail.
            LambdaError::Run(run) => {
                OperatorError::general("[LambdaError]", format!("The lambda failed: {run}."))
            }
            LambdaError::Store(store) => store.into(),
        }
    }
}

impl From<AuditError> for OperatorError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::Invalid(errors) => OperatorError::Invalid(errors),
            AuditError::Store(store) => store.into(),
        }
    }
}

impl From<EventLogError> for OperatorError {
    fn from(error: EventLogError) -> Self {
        match error {
            EventLogError::Invalid(errors) => OperatorError::Invalid(errors),
            EventLogError::Store(store) => store.into(),
        }
    }
}

impl From<TenancyError> for OperatorError {
    fn from(error: TenancyError) -> Self {
        match error {
            TenancyError::Invalid(errors) => OperatorError::Invalid(errors),
            TenancyError::NotFound => OperatorError::NotFound,
            TenancyError::Forbidden(message) => {
                let mut errors = ValidationErrors::new();
                errors.general("[forbidden]", message);
                OperatorError::Forbidden(errors)
            }
            TenancyError::Store(store) => store.into(),
        }
    }
}

impl From<ProviderError> for OperatorError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::Invalid(errors) => OperatorError::Invalid(errors),
            ProviderError::NotFound => OperatorError::NotFound,
            ProviderError::Sealing(sealing) => {
                tracing::error!(error = %sealing, "identity provider secrets could not be sealed or opened");
                OperatorError::Internal
            }
            ProviderError::Secrets => {
                tracing::error!("identity provider secrets are not readable");
                OperatorError::Internal
            }
            ProviderError::Store(store) => store.into(),
        }
    }
}

impl From<CertificateKeyError> for OperatorError {
    fn from(error: CertificateKeyError) -> Self {
        match error {
            CertificateKeyError::Invalid(errors) => OperatorError::Invalid(errors),
            CertificateKeyError::NotFound => OperatorError::NotFound,
            CertificateKeyError::Sealing(sealing) => {
                tracing::error!(error = %sealing, "a certificate key could not be sealed or opened");
                OperatorError::Internal
            }
            CertificateKeyError::Generation(reason) => {
                tracing::error!(%reason, "a key pair could not be generated");
                OperatorError::Internal
            }
            CertificateKeyError::Store(store) => store.into(),
        }
    }
}

impl From<WebhookError> for OperatorError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Invalid(errors) => OperatorError::Invalid(errors),
            WebhookError::NotFound => OperatorError::NotFound,
            WebhookError::NotFailed(status) => {
                let mut errors = ValidationErrors::new();
                errors.general(
                    "[notFailed]",
                    format!("The delivery is {status}; only a failed delivery can be retried."),
                );
                OperatorError::Conflict(errors)
            }
            WebhookError::Random => {
                tracing::error!("the system random generator failed");
                OperatorError::Internal
            }
            WebhookError::Sealing(sealing) => {
                tracing::error!(error = %sealing, "a webhook secret could not be sealed or opened");
                OperatorError::Internal
            }
            WebhookError::Store(store) => store.into(),
        }
    }
}

/// FusionAuth's Errors object: `{"fieldErrors": {path: [{code, message}]},
/// "generalErrors": [{code, message}]}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorsBody<'a> {
    field_errors: BTreeMap<&'a str, Vec<EntryView<'a>>>,
    general_errors: Vec<EntryView<'a>>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> From<&'a lamba_core::validation::ErrorEntry> for EntryView<'a> {
    fn from(e: &'a lamba_core::validation::ErrorEntry) -> Self {
        Self {
            code: &e.code,
            message: &e.message,
        }
    }
}

fn errors_body(errors: &ValidationErrors) -> ErrorsBody<'_> {
    let entry = EntryView::from;
    ErrorsBody {
        field_errors: errors
            .fields
            .iter()
            .map(|(path, entries)| (path.as_str(), entries.iter().map(entry).collect()))
            .collect(),
        general_errors: errors.general.iter().map(entry).collect(),
    }
}

impl IntoResponse for OperatorError {
    fn into_response(self) -> Response {
        match self {
            OperatorError::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            OperatorError::NotFound => StatusCode::NOT_FOUND.into_response(),
            OperatorError::Invalid(errors) => {
                (StatusCode::BAD_REQUEST, Json(errors_body(&errors))).into_response()
            }
            OperatorError::Forbidden(errors) => {
                (StatusCode::FORBIDDEN, Json(errors_body(&errors))).into_response()
            }
            OperatorError::Conflict(errors) => {
                (StatusCode::CONFLICT, Json(errors_body(&errors))).into_response()
            }
            OperatorError::PayloadTooLarge { limit_bytes } => {
                let mut errors = ValidationErrors::new();
                errors.general(
                    "[tooLarge]",
                    format!("The request body is larger than the limit of {limit_bytes} bytes."),
                );
                (StatusCode::PAYLOAD_TOO_LARGE, Json(errors_body(&errors))).into_response()
            }
            OperatorError::TooManyRequests {
                retry_after_seconds,
                errors,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(
                    axum::http::header::RETRY_AFTER,
                    retry_after_seconds.to_string(),
                )],
                Json(errors_body(&errors)),
            )
                .into_response(),
            OperatorError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "1")],
            )
                .into_response(),
            OperatorError::Internal => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use lamba_store::StoreError;

    use super::*;

    fn status_of(error: StoreError) -> (StatusCode, Option<String>) {
        let response = OperatorError::from(error).into_response();
        let retry = response
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status(), retry)
    }

    #[test]
    fn a_storage_failure_is_not_always_a_500() {
        let io = std::io::Error::other("connection refused");
        assert_eq!(
            status_of(StoreError::Unavailable(Box::new(io))),
            (StatusCode::SERVICE_UNAVAILABLE, Some("1".to_owned()))
        );
        assert_eq!(
            status_of(StoreError::Conflict("revision")).0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(StoreError::Corrupt("x".into())).0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

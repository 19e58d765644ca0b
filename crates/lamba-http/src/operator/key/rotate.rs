use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use lamba_core::ValidationErrors;
use lamba_core::keys::KeyError;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated {
    /// The new active key of each algorithm.
    active_kids: Vec<String>,
}

/// `POST /api/key/rotate`: a new active key for every algorithm. The old
/// keys stop signing now and stay in the JWKS until the longest-lived token
/// any application issues has expired (a minute, for a key that never
/// signed). 429 with `Retry-After` within a minute of the last rotation, or
/// while ten retired keys of one algorithm are still published.
pub async fn rotate(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let kids = state
        .core
        .rotate_keys()
        .await
        .map_err(|error| match error {
            KeyError::Store(store) => OperatorError::from(store),
            KeyError::TooSoon {
                reason,
                retry_after_seconds,
            } => {
                let mut errors = ValidationErrors::new();
                errors.general(
                    "[tooSoon]",
                    format!("{reason}; retry in {retry_after_seconds} s."),
                );
                OperatorError::TooManyRequests {
                    retry_after_seconds,
                    errors,
                }
            }
            other => {
                tracing::error!(error = %other, "key rotation failed");
                OperatorError::Internal
            }
        })?;
    Ok(Json(Rotated { active_kids: kids }).into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_model::ApplicationId;

use super::{parse_input, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::to_json;

/// `PUT /api/application/{applicationId}`: replaces the application.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let replaced = state.core.applications.replace(id, input).await?;
    Ok(Json(wrapped(
        &replaced.application,
        replaced.client_secret.as_deref(),
    ))
    .into_response())
}

/// `PATCH /api/application/{applicationId}`: merges the body into the stored
/// application (RFC 7396) and validates the result as a replacement.
pub async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.applications.get(id).await?;
    let mut merged = to_json(wrapped(&existing, None), "application")?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let replaced = state.core.applications.replace(id, input).await?;
    Ok(Json(wrapped(
        &replaced.application,
        replaced.client_secret.as_deref(),
    ))
    .into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_model::{Application, ApplicationId};

use super::{application_json, parse_input, subject, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::record_change;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// The audit record: both sides without a secret.
fn record_updated(state: &AppState, before: &Application, after: &Application) {
    record_change(
        state,
        "application.updated",
        subject(after),
        Some(application_json(before, None)),
        Some(application_json(after, None)),
    );
}

/// `PUT /api/application/{applicationId}`: replaces the application.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let existing = state.core.applications.get(id).await?;
    let replaced = state.core.applications.replace(id, input).await?;
    record_updated(&state, &existing, &replaced.application);
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
    let mut merged = wrapped(&existing, None);
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let replaced = state.core.applications.replace(id, input).await?;
    record_updated(&state, &existing, &replaced.application);
    Ok(Json(wrapped(
        &replaced.application,
        replaced.client_secret.as_deref(),
    ))
    .into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_model::ApplicationId;

use super::{parse_input, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// `POST /api/application`: creates an application with a random id; the
/// response carries the generated client secret, the only time it is shown.
pub async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let created = state.core.applications.create(None, input).await?;
    Ok(Json(wrapped(
        &created.application,
        created.client_secret.as_deref(),
    ))
    .into_response())
}

/// `POST /api/application/{applicationId}`.
pub async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let created = state.core.applications.create(Some(id), input).await?;
    Ok(Json(wrapped(
        &created.application,
        created.client_secret.as_deref(),
    ))
    .into_response())
}

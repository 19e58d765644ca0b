use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_model::ApplicationId;

use super::{application_json, parse_input, subject, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::record_change;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// The audit record, without the secret the response shows.
fn record_created(state: &AppState, application: &lamba_model::Application) {
    let after = application_json(application, None);
    record_change(
        state,
        "application.created",
        subject(application),
        None,
        Some(after),
    );
}

/// `POST /api/application`: creates an application with a random id; the
/// response carries the generated client secret, the only time it is shown.
pub async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let created = state.core.applications.create(None, input).await?;
    record_created(&state, &created.application);
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
    record_created(&state, &created.application);
    Ok(Json(wrapped(
        &created.application,
        created.client_secret.as_deref(),
    ))
    .into_response())
}

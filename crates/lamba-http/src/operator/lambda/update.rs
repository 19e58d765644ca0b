use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{LambdaResponse, audit_json, parse_input};
use lamba_model::{Lambda, LambdaId};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::{Subject, record_change};
use crate::operator::extract::{IdPath, JsonObject, Operator};

fn record_updated(state: &AppState, before: &Lambda, after: &Lambda) {
    record_change(
        state,
        "lambda.updated",
        Subject::default(),
        audit_json(before),
        audit_json(after),
    );
}

/// `PUT /api/lambda/{lambdaId}`: replaces the lambda's fields.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let existing = state.core.lambdas.get(id).await?;
    let lambda = state.core.lambdas.replace(id, input).await?;
    record_updated(&state, &existing, &lambda);
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

/// `PATCH /api/lambda/{lambdaId}`: merges the body into the lambda (RFC 7396)
/// and validates the result as a replacement.
pub async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.lambdas.get(id).await?;
    let mut merged = serde_json::to_value(LambdaResponse::from(&existing)).map_err(|error| {
        tracing::error!(%error, "could not render a lambda as JSON");
        OperatorError::Internal
    })?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let lambda = state.core.lambdas.replace(id, input).await?;
    record_updated(&state, &existing, &lambda);
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

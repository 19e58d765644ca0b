use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{LambdaResponse, parse_input};
use lamba_model::LambdaId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::to_json;

/// `PUT /api/lambda/{lambdaId}`: replaces the lambda's fields.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let lambda = state.core.lambdas.replace(id, input).await?;
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
    let mut merged = to_json(LambdaResponse::from(&existing), "lambda")?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let lambda = state.core.lambdas.replace(id, input).await?;
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

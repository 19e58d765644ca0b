use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{LambdaResponse, parse_input};
use lamba_model::LambdaId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// `POST /api/lambda`: creates a lambda with a random id.
pub async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let lambda = state.core.lambdas.create(None, input).await?;
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

/// `POST /api/lambda/{lambdaId}`: creates a lambda with the given id.
pub async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let lambda = state.core.lambdas.create(Some(id), input).await?;
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

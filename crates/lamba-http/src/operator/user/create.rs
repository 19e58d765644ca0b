use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{UserResponse, parse_input};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use lamba_model::UserId;

/// `POST /api/user`: creates a user with a random id.
pub async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let user = state.core.users.create(None, input).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

/// `POST /api/user/{userId}`: creates a user with the given id.
pub async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let user = state.core.users.create(Some(id), input).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

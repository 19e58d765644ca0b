use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{UserResponse, parse_input};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::to_json;
use lamba_model::UserId;

/// `PUT /api/user/{userId}`: replaces the user's fields; without a password
/// the current one stays.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let user = state.core.users.replace(id, input).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

/// `PATCH /api/user/{userId}`: merges the body into the user (RFC 7396) and
/// validates the result as a replacement. The stored form has no password,
/// so the current one stays unless the patch brings a new one.
pub async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.users.get(id).await?;
    let mut merged = to_json(UserResponse::from(&existing), "user")?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let user = state.core.users.replace(id, input).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{RegistrationResponse, parse_input};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use lamba_model::UserId;

/// `POST /api/user/registration/{userId}`: registers the user with the
/// application the body names; without roles, the application's defaults.
pub async fn create(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(user_id): IdPath<UserId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let registration = state.core.users.register(user_id, input).await?;
    Ok(Json(RegistrationResponse::from(&registration)).into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{RegistrationPath, RegistrationResponse, parse_input};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{JsonObject, Operator};
use crate::operator::wire::to_json;

/// `PUT /api/user/registration/{userId}/{applicationId}`: replaces the
/// registration's roles; absent roles are the application's defaults.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    RegistrationPath(user_id, application_id): RegistrationPath,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let registration = state
        .core
        .users
        .replace_registration(user_id, application_id, input)
        .await?;
    Ok(Json(RegistrationResponse::from(&registration)).into_response())
}

/// `PATCH /api/user/registration/{userId}/{applicationId}`: merges the body
/// into the registration (RFC 7396; `roles` is replaced whole, as arrays are)
/// and validates the result as a replacement.
pub async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    RegistrationPath(user_id, application_id): RegistrationPath,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state
        .core
        .users
        .get_registration(user_id, application_id)
        .await?;
    let mut merged = to_json(RegistrationResponse::from(&existing), "registration")?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let registration = state
        .core
        .users
        .replace_registration(user_id, application_id, input)
        .await?;
    Ok(Json(RegistrationResponse::from(&registration)).into_response())
}

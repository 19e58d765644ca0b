use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{RegistrationJson, RegistrationPath, RegistrationResponse};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::IdPath;
use crate::operator::extract::Operator;
use lamba_model::UserId;

#[derive(Serialize)]
struct RegistrationsResponse<'a> {
    registrations: Vec<RegistrationJson<'a>>,
}

/// `GET /api/user/registration/{userId}`: the user's registrations, ordered
/// by application id.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(user_id): IdPath<UserId>,
) -> Result<Response, OperatorError> {
    let registrations = state.core.users.list_registrations(user_id).await?;
    let body = RegistrationsResponse {
        registrations: registrations.iter().map(RegistrationJson::from).collect(),
    };
    Ok(Json(body).into_response())
}

/// `GET /api/user/registration/{userId}/{applicationId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    RegistrationPath(user_id, application_id): RegistrationPath,
) -> Result<Response, OperatorError> {
    let registration = state
        .core
        .users
        .get_registration(user_id, application_id)
        .await?;
    Ok(Json(RegistrationResponse::from(&registration)).into_response())
}

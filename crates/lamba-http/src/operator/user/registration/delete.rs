use axum::extract::State;
use axum::http::StatusCode;

use super::RegistrationPath;
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

/// `DELETE /api/user/registration/{userId}/{applicationId}`: 200 with an
/// empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    RegistrationPath(user_id, application_id): RegistrationPath,
) -> Result<StatusCode, OperatorError> {
    state
        .core
        .users
        .delete_registration(user_id, application_id)
        .await?;
    Ok(StatusCode::OK)
}

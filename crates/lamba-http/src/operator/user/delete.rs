use axum::extract::State;
use axum::http::StatusCode;

use super::UserIdPath;
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

/// `DELETE /api/user/{userId}`: deletes the user and their registrations;
/// 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    UserIdPath(id): UserIdPath,
) -> Result<StatusCode, OperatorError> {
    state.core.users.delete(id).await?;
    Ok(StatusCode::OK)
}

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::IdPath;
use crate::operator::extract::Operator;
use lamba_model::UserId;

/// `DELETE /api/user/{userId}`: deletes the user and their registrations;
/// 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
) -> Result<StatusCode, OperatorError> {
    state.core.users.delete(id).await?;
    Ok(StatusCode::OK)
}

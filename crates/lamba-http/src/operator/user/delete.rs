use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::record_change;
use crate::operator::extract::IdPath;
use crate::operator::extract::Operator;
use lamba_model::UserId;

use super::{audit_json, subject};

/// `DELETE /api/user/{userId}`: deletes the user and their registrations;
/// 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
) -> Result<StatusCode, OperatorError> {
    let existing = state.core.users.get(id).await?;
    state.core.users.delete(id).await?;
    record_change(
        &state,
        "user.deleted",
        subject(&existing),
        audit_json(&existing),
        None,
    );
    Ok(StatusCode::OK)
}

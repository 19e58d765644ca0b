use axum::extract::State;
use axum::http::StatusCode;
use lamba_model::ApplicationId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `DELETE /api/application/{applicationId}`: the application and its
/// registrations; 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
) -> Result<StatusCode, OperatorError> {
    state.core.applications.delete(id).await?;
    Ok(StatusCode::OK)
}

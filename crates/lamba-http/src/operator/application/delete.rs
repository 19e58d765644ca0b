use axum::extract::State;
use axum::http::StatusCode;
use lamba_model::ApplicationId;

use super::{application_json, subject};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::record_change;
use crate::operator::extract::{IdPath, Operator};

/// `DELETE /api/application/{applicationId}`: the application and its
/// registrations; 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
) -> Result<StatusCode, OperatorError> {
    let existing = state.core.applications.get(id).await?;
    state.core.applications.delete(id).await?;
    record_change(
        &state,
        "application.deleted",
        subject(&existing),
        Some(application_json(&existing, None)),
        None,
    );
    Ok(StatusCode::OK)
}

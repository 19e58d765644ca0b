use axum::extract::State;
use axum::http::StatusCode;
use lamba_model::IdentityProviderId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `DELETE /api/identity-provider/{identityProviderId}`.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<IdentityProviderId>,
) -> Result<StatusCode, OperatorError> {
    state.core.identity_providers.delete(id).await?;
    Ok(StatusCode::OK)
}

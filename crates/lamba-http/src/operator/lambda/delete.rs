use axum::extract::State;
use axum::http::StatusCode;

use lamba_model::LambdaId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::IdPath;
use crate::operator::extract::Operator;

/// `DELETE /api/lambda/{lambdaId}`: 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
) -> Result<StatusCode, OperatorError> {
    state.core.lambdas.delete(id).await?;
    Ok(StatusCode::OK)
}

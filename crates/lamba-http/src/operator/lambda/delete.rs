use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::parse_id;
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

/// `DELETE /api/lambda/{lambdaId}`: 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, OperatorError> {
    let id = parse_id(&raw_id)?;
    state.core.lambdas.delete(id).await?;
    Ok(StatusCode::OK)
}

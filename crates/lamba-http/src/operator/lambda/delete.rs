use axum::extract::State;
use axum::http::StatusCode;

use lamba_model::LambdaId;

use super::audit_json;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::{Subject, record_change};
use crate::operator::extract::IdPath;
use crate::operator::extract::Operator;

/// `DELETE /api/lambda/{lambdaId}`: 200 with an empty body.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
) -> Result<StatusCode, OperatorError> {
    let existing = state.core.lambdas.get(id).await?;
    state.core.lambdas.delete(id).await?;
    record_change(
        &state,
        "lambda.deleted",
        Subject::default(),
        audit_json(&existing),
        None,
    );
    Ok(StatusCode::OK)
}

//! `DELETE /api/webhook/{webhookId}`.

use axum::extract::State;
use axum::http::StatusCode;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `DELETE /api/webhook/{webhookId}`.
pub(super) async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<StatusCode, OperatorError> {
    state.core.webhooks.delete(id).await?;
    Ok(StatusCode::OK)
}

//! `GET /api/webhook[/{webhookId}]`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::events::webhooks::WebhookView;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

use super::{WebhooksResponse, wrapped};

/// `GET /api/webhook`: every webhook, oldest first.
pub(super) async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let webhooks = state.core.webhooks.list().await?;
    let webhooks = webhooks.iter().map(WebhookView::from).collect();
    Ok(Json(WebhooksResponse { webhooks }).into_response())
}

/// `GET /api/webhook/{webhookId}`.
pub(super) async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Response, OperatorError> {
    let webhook = state.core.webhooks.get(id).await?;
    Ok(wrapped(&webhook))
}

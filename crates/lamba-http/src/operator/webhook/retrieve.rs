//! `GET /api/webhook[/{webhookId}]`.

use axum::Json;
use axum::extract::State;
use lamba_model::WebhookId;
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

use super::{webhook_json, wrapped};

/// `GET /api/webhook`: every webhook, oldest first.
pub(super) async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Json<Value>, OperatorError> {
    let webhooks = state.core.webhooks.list().await?;
    let items: Vec<Value> = webhooks.iter().map(webhook_json).collect();
    Ok(Json(json!({ "webhooks": items })))
}

/// `GET /api/webhook/{webhookId}`.
pub(super) async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Json<Value>, OperatorError> {
    let webhook = state.core.webhooks.get(id).await?;
    Ok(wrapped(&webhook))
}

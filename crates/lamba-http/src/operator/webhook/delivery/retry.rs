//! `POST /api/webhook/{webhookId}/delivery/{deliveryId}/retry`.

use axum::Json;
use axum::extract::State;
use lamba_model::WebhookId;
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdsPath, Operator};

use super::{DeliveryId, detail_json};

/// `POST /api/webhook/{webhookId}/delivery/{deliveryId}/retry`: a failed
/// delivery is attempted again, now, with a fresh allowance of attempts.
/// 409 when it is not failed (pending or delivered).
pub(super) async fn retry_delivery(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((webhook_id, DeliveryId(id))): IdsPath<(WebhookId, DeliveryId)>,
) -> Result<Json<Value>, OperatorError> {
    let detail = state.core.webhooks.retry_delivery(webhook_id, id).await?;
    let mut event = state.core.audit.event("webhook.delivery.retried");
    event.data = json!({ "webhookId": webhook_id, "deliveryId": id });
    state.core.audit.record(event);
    Ok(detail_json(&detail))
}

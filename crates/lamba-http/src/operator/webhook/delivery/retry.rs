//! `POST /api/webhook/{webhookId}/delivery/{deliveryId}/retry`.

use axum::extract::State;
use axum::response::Response;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdsPath, Operator};

use super::{DeliveryId, detail_body};

/// `POST /api/webhook/{webhookId}/delivery/{deliveryId}/retry`: a failed
/// delivery is attempted again, now, with a fresh allowance of attempts.
/// 409 when it is not failed (pending or delivered).
pub(super) async fn retry_delivery(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((webhook_id, DeliveryId(id))): IdsPath<(WebhookId, DeliveryId)>,
) -> Result<Response, OperatorError> {
    let detail = state.core.webhooks.retry_delivery(webhook_id, id).await?;
    Ok(detail_body(&detail))
}

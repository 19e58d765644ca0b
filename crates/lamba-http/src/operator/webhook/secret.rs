//! `POST /api/webhook/{webhookId}/secret`: secret rotation.

use axum::extract::State;
use axum::response::Response;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

use super::with_secret;

/// `POST /api/webhook/{webhookId}/secret`: replaces the secret; the answer
/// holds the new one, which is never shown again. The old one stops
/// signing at once.
pub(super) async fn rotate_secret(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Response, OperatorError> {
    let made = state.core.webhooks.rotate_secret(id).await?;
    Ok(with_secret(&made))
}

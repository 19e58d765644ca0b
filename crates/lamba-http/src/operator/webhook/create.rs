//! `POST /api/webhook[/{webhookId}]`: creates a webhook; the answer holds
//! its secret, which is never shown again.

use axum::extract::State;
use axum::response::Response;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

use super::{parse_input, with_secret};

/// `POST /api/webhook`: creates a webhook with a random id; the answer
/// holds its secret, which is never shown again.
pub(super) async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let made = state.core.webhooks.create(None, input).await?;
    Ok(with_secret(&made))
}

/// `POST /api/webhook/{webhookId}`.
pub(super) async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let made = state.core.webhooks.create(Some(id), input).await?;
    Ok(with_secret(&made))
}

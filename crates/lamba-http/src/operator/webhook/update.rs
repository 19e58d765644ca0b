//! `PUT` and `PATCH /api/webhook/{webhookId}`: the secret stays.

use axum::extract::State;
use axum::response::Response;
use lamba_model::WebhookId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

use super::{merge_base, parse_input, wrapped};

/// `PUT /api/webhook/{webhookId}`: replaces the webhook; the secret stays.
pub(super) async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let webhook = state.core.webhooks.replace(id, input).await?;
    Ok(wrapped(&webhook))
}

/// `PATCH /api/webhook/{webhookId}`: merges the body into the stored
/// webhook (RFC 7396) and validates the result as a replacement.
pub(super) async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.webhooks.get(id).await?;
    let mut merged = merge_base(&existing)?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let webhook = state.core.webhooks.replace(id, input).await?;
    Ok(wrapped(&webhook))
}

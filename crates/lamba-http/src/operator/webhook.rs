//! `/api/webhook[/{webhookId}]`: the endpoints identity events are
//! delivered to (CONTRACTS.md 4). The secret appears in an answer only
//! when it is made: on create and on `POST /api/webhook/{id}/secret`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
use lamba_core::webhooks::{WebhookInput, WithSecret};
use lamba_model::{Environment, Webhook, WebhookId};
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::{Subject, record_change};
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::Fields;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook", get(list).post(create_with_random_id))
        .route(
            "/webhook/{webhook_id}",
            get(retrieve)
                .post(create_with_id)
                .put(replace)
                .patch(merge)
                .delete(delete),
        )
        .route("/webhook/{webhook_id}/secret", post(rotate_secret))
        .route("/webhook/{webhook_id}/test", post(test))
}

/// A webhook on the wire, without its secret.
pub fn webhook_json(webhook: &Webhook) -> Value {
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "description": webhook.description,
        "eventTypes": webhook.event_types,
        "projectId": webhook.project_id,
        "environment": webhook.environment.map(Environment::as_str),
        "enabled": webhook.enabled,
        "insertInstant": webhook.insert_instant.as_millis(),
        "lastUpdateInstant": webhook.last_update_instant.as_millis(),
    })
}

fn wrapped(webhook: &Webhook) -> Json<Value> {
    Json(json!({ "webhook": webhook_json(webhook) }))
}

/// The webhook and, this once, its secret.
fn with_secret(made: &WithSecret) -> Json<Value> {
    Json(json!({
        "webhook": webhook_json(&made.webhook),
        "secret": made.secret.as_str(),
    }))
}

/// Reads `{"webhook": {...}}` into a [`WebhookInput`]. A `secret` in the
/// body is ignored: the server makes every secret.
fn parse_input(body: &Value) -> Result<WebhookInput, ValidationErrors> {
    let webhook = Fields::root(body, "webhook")?;
    let mut errors = ValidationErrors::new();
    let input = WebhookInput {
        url: webhook.string("url", &mut errors),
        description: webhook.string("description", &mut errors),
        event_types: webhook.strings("eventTypes", &mut errors),
        project_id: webhook.string("projectId", &mut errors),
        environment: webhook.string("environment", &mut errors),
        enabled: webhook.bool("enabled", &mut errors),
    };
    errors.into_result().map(|()| input)
}

/// Records a change in the audit log, with both sides in wire JSON (never
/// the secret).
fn record(state: &AppState, event_type: &str, before: Option<&Webhook>, after: Option<&Webhook>) {
    let subject = Subject {
        project_id: after.or(before).and_then(|w| w.project_id),
        ..Subject::default()
    };
    record_change(
        state,
        event_type,
        subject,
        before.map(webhook_json),
        after.map(webhook_json),
    );
}

/// `GET /api/webhook`: every webhook, oldest first.
async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Json<Value>, OperatorError> {
    let webhooks = state.core.webhooks.list().await?;
    let items: Vec<Value> = webhooks.iter().map(webhook_json).collect();
    Ok(Json(json!({ "webhooks": items })))
}

/// `GET /api/webhook/{webhookId}`.
async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Json<Value>, OperatorError> {
    let webhook = state.core.webhooks.get(id).await?;
    Ok(wrapped(&webhook))
}

/// `POST /api/webhook`: creates a webhook with a random id; the answer
/// holds its secret, which is never shown again.
async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, OperatorError> {
    let input = parse_input(&body)?;
    let made = state.core.webhooks.create(None, input).await?;
    record(&state, "webhook.created", None, Some(&made.webhook));
    Ok(with_secret(&made))
}

/// `POST /api/webhook/{webhookId}`.
async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, OperatorError> {
    let input = parse_input(&body)?;
    let made = state.core.webhooks.create(Some(id), input).await?;
    record(&state, "webhook.created", None, Some(&made.webhook));
    Ok(with_secret(&made))
}

/// `PUT /api/webhook/{webhookId}`: replaces the webhook; the secret stays.
async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, OperatorError> {
    let input = parse_input(&body)?;
    let existing = state.core.webhooks.get(id).await?;
    let webhook = state.core.webhooks.replace(id, input).await?;
    record(&state, "webhook.updated", Some(&existing), Some(&webhook));
    Ok(wrapped(&webhook))
}

/// `PATCH /api/webhook/{webhookId}`: merges the body into the stored
/// webhook (RFC 7396) and validates the result as a replacement.
async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    JsonObject(patch): JsonObject,
) -> Result<Json<Value>, OperatorError> {
    let existing = state.core.webhooks.get(id).await?;
    let Json(mut merged) = wrapped(&existing);
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let webhook = state.core.webhooks.replace(id, input).await?;
    record(&state, "webhook.updated", Some(&existing), Some(&webhook));
    Ok(wrapped(&webhook))
}

/// `DELETE /api/webhook/{webhookId}`.
async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<StatusCode, OperatorError> {
    let existing = state.core.webhooks.get(id).await?;
    state.core.webhooks.delete(id).await?;
    record(&state, "webhook.deleted", Some(&existing), None);
    Ok(StatusCode::OK)
}

/// `POST /api/webhook/{webhookId}/secret`: replaces the secret; the answer
/// holds the new one, which is never shown again. The old one stops
/// signing at once.
async fn rotate_secret(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Json<Value>, OperatorError> {
    let made = state.core.webhooks.rotate_secret(id).await?;
    record(&state, "webhook.secret.rotated", None, Some(&made.webhook));
    Ok(with_secret(&made))
}

/// `POST /api/webhook/{webhookId}/test`: sends one signed `webhook.test`
/// event now and answers what happened. A failed delivery is a 200 that
/// says so: the call worked, the endpoint did not.
async fn test(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Json<Value>, OperatorError> {
    let delivery = state.core.webhooks.send_test(id).await?;
    Ok(Json(json!({
        "delivered": delivery.delivered,
        "statusCode": delivery.status_code,
        "error": delivery.error,
        "durationMillis": delivery.duration_millis,
    })))
}

//! `/api/webhook[/{webhookId}]`: the endpoints identity events are
//! delivered to (CONTRACTS.md 4). The secret appears in an answer only
//! when it is made: on create and on `POST /api/webhook/{id}/secret`.

use axum::Json;
use axum::Router;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
use lamba_core::events::webhooks::{DeliveryDetail, WebhookInput, WithSecret};
use lamba_model::{Environment, Webhook, WebhookDelivery, WebhookId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::audit::{Subject, record_change};
use crate::operator::extract::{IdPath, IdsPath, JsonObject, NamedId, Operator};
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
        .route("/webhook/{webhook_id}/delivery", get(deliveries))
        .route(
            "/webhook/{webhook_id}/delivery/{delivery_id}",
            get(delivery),
        )
        .route(
            "/webhook/{webhook_id}/delivery/{delivery_id}/retry",
            post(retry_delivery),
        )
}

/// A delivery's id in a path.
struct DeliveryId(Uuid);

impl std::str::FromStr for DeliveryId {
    type Err = ();

    /// The hyphenated form only, as every other id in a path.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.len() != 36 {
            return Err(());
        }
        Uuid::try_parse(raw).map(DeliveryId).map_err(|_| ())
    }
}

impl NamedId for DeliveryId {
    const FIELD: &'static str = "deliveryId";
}

/// A delivery on the wire: where it stands and how its last attempt went.
fn delivery_json(delivery: &WebhookDelivery) -> Value {
    json!({
        "id": delivery.id,
        "webhookId": delivery.webhook_id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "status": delivery.status.as_str(),
        "attemptCount": delivery.attempts,
        "attemptLimit": delivery.attempt_limit,
        "nextAttemptInstant": delivery.next_attempt_instant.map(|i| i.as_millis()),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "lastAttemptInstant": delivery.last_attempt_instant.map(|i| i.as_millis()),
        "completedInstant": delivery.completed_instant.map(|i| i.as_millis()),
        "insertInstant": delivery.insert_instant.as_millis(),
    })
}

/// A delivery with its attempts and the event as sent.
fn detail_json(detail: &DeliveryDetail) -> Json<Value> {
    let mut delivery = delivery_json(&detail.delivery);
    let attempts: Vec<Value> = detail
        .attempts
        .iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "startedInstant": a.started_instant.as_millis(),
                "statusCode": a.status_code,
                "error": a.error,
                "durationMillis": a.duration_millis,
            })
        })
        .collect();
    if let Some(fields) = delivery.as_object_mut() {
        fields.insert("attempts".into(), Value::Array(attempts));
        fields.insert(
            "event".into(),
            serde_json::from_str(&detail.delivery.body).unwrap_or(Value::Null),
        );
    }
    Json(json!({ "delivery": delivery }))
}

/// `GET /api/webhook/{webhookId}/delivery?status=&cursor=&numberOfResults=`:
/// the webhook's deliveries, newest first, a page at a time.
async fn deliveries(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, OperatorError> {
    let mut status = None;
    let mut cursor = None;
    let mut limit = None;
    let mut errors = ValidationErrors::new();
    for (key, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
    {
        match key.as_ref() {
            "status" => status = Some(value.into_owned()),
            "cursor" => cursor = Some(value.into_owned()),
            "numberOfResults" => match value.parse::<u32>() {
                Ok(n) => limit = Some(n),
                Err(_) => errors.field(
                    "numberOfResults",
                    lamba_core::ErrorKind::Invalid,
                    "numberOfResults must be a whole number.",
                ),
            },
            _ => {}
        }
    }
    errors.into_result()?;
    let page = state
        .core
        .webhooks
        .deliveries(id, status.as_deref(), cursor.as_deref(), limit)
        .await?;
    let items: Vec<Value> = page.deliveries.iter().map(delivery_json).collect();
    Ok(Json(json!({
        "deliveries": items,
        "nextCursor": page.next_cursor,
    })))
}

/// `GET /api/webhook/{webhookId}/delivery/{deliveryId}`: one delivery with
/// every attempt.
async fn delivery(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((webhook_id, DeliveryId(id))): IdsPath<(WebhookId, DeliveryId)>,
) -> Result<Json<Value>, OperatorError> {
    let detail = state.core.webhooks.delivery(webhook_id, id).await?;
    Ok(detail_json(&detail))
}

/// `POST /api/webhook/{webhookId}/delivery/{deliveryId}/retry`: a failed
/// delivery is attempted again, now, with a fresh allowance of attempts.
/// 409 when it is not failed (pending or delivered).
async fn retry_delivery(
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

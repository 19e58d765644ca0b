//! `/api/webhook/{webhookId}/delivery[/{deliveryId}[/retry]]`: a webhook's
//! deliveries, one with its attempts, and a manual retry.

mod retrieve;
mod retry;

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use lamba_core::events::webhooks::DeliveryDetail;
use lamba_model::WebhookDelivery;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::operator::extract::NamedId;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook/{webhook_id}/delivery", get(retrieve::deliveries))
        .route(
            "/webhook/{webhook_id}/delivery/{delivery_id}",
            get(retrieve::delivery),
        )
        .route(
            "/webhook/{webhook_id}/delivery/{delivery_id}/retry",
            post(retry::retry_delivery),
        )
}

/// A delivery's id in a path.
pub(super) struct DeliveryId(Uuid);

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
pub(super) fn delivery_json(delivery: &WebhookDelivery) -> Value {
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
pub(super) fn detail_json(detail: &DeliveryDetail) -> Json<Value> {
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

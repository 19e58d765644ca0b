//! `/api/webhook/{webhookId}/delivery[/{deliveryId}[/retry]]`: a webhook's
//! deliveries, one with its attempts, and a manual retry.

mod retrieve;
mod retry;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lamba_core::events::webhooks::DeliveryDetail;
use lamba_model::{WebhookDelivery, WebhookId};
use serde::Serialize;
use serde_json::Value;
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
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeliveryView<'a> {
    id: Uuid,
    webhook_id: WebhookId,
    event_id: Uuid,
    event_type: &'a str,
    status: &'static str,
    attempt_count: u32,
    attempt_limit: u32,
    next_attempt_instant: Option<i64>,
    last_status_code: Option<u16>,
    last_error: Option<&'a str>,
    last_attempt_instant: Option<i64>,
    completed_instant: Option<i64>,
    insert_instant: i64,
}

impl<'a> From<&'a WebhookDelivery> for DeliveryView<'a> {
    fn from(delivery: &'a WebhookDelivery) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            event_id: delivery.event_id,
            event_type: &delivery.event_type,
            status: delivery.status.as_str(),
            attempt_count: delivery.attempts,
            attempt_limit: delivery.attempt_limit,
            next_attempt_instant: delivery.next_attempt_instant.map(|i| i.as_millis()),
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error.as_deref(),
            last_attempt_instant: delivery.last_attempt_instant.map(|i| i.as_millis()),
            completed_instant: delivery.completed_instant.map(|i| i.as_millis()),
            insert_instant: delivery.insert_instant.as_millis(),
        }
    }
}

/// One attempt of a delivery.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptView<'a> {
    attempt: u32,
    started_instant: i64,
    status_code: Option<u16>,
    error: Option<&'a str>,
    duration_millis: u64,
}

/// A delivery with its attempts and the event as sent.
#[derive(Serialize)]
struct DetailView<'a> {
    #[serde(flatten)]
    delivery: DeliveryView<'a>,
    attempts: Vec<AttemptView<'a>>,
    event: Value,
}

#[derive(Serialize)]
struct DetailResponse<'a> {
    delivery: DetailView<'a>,
}

/// `{"delivery": {...}}` with every attempt and the event as sent.
pub(super) fn detail_body(detail: &DeliveryDetail) -> Response {
    let attempts = detail
        .attempts
        .iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            started_instant: a.started_instant.as_millis(),
            status_code: a.status_code,
            error: a.error.as_deref(),
            duration_millis: a.duration_millis,
        })
        .collect();
    Json(DetailResponse {
        delivery: DetailView {
            delivery: (&detail.delivery).into(),
            attempts,
            // Stored as the exact bytes sent; shown as JSON.
            event: serde_json::from_str(&detail.delivery.body).unwrap_or(Value::Null),
        },
    })
    .into_response()
}

//! `GET /api/webhook/{webhookId}/delivery[/{deliveryId}]`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_model::WebhookId;
use serde::Serialize;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, IdsPath, Operator};

use super::{DeliveryId, DeliveryView, detail_body};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveriesResponse<'a> {
    deliveries: Vec<DeliveryView<'a>>,
    next_cursor: Option<&'a str>,
}

/// `GET /api/webhook/{webhookId}/delivery?status=&cursor=&numberOfResults=`:
/// the webhook's deliveries, newest first, a page at a time.
pub(super) async fn deliveries(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
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
                Err(_) => {
                    errors.unreadable("numberOfResults", "numberOfResults must be a whole number.")
                }
            },
            _ => {}
        }
    }
    let page = state
        .core
        .webhooks
        .deliveries(id, status.as_deref(), cursor.as_deref(), limit, &errors)
        .await?;
    Ok(Json(DeliveriesResponse {
        deliveries: page.deliveries.iter().map(DeliveryView::from).collect(),
        next_cursor: page.next_cursor.as_deref(),
    })
    .into_response())
}

/// `GET /api/webhook/{webhookId}/delivery/{deliveryId}`: one delivery with
/// every attempt.
pub(super) async fn delivery(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((webhook_id, DeliveryId(id))): IdsPath<(WebhookId, DeliveryId)>,
) -> Result<Response, OperatorError> {
    let detail = state.core.webhooks.delivery(webhook_id, id).await?;
    Ok(detail_body(&detail))
}

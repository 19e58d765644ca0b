//! `/api/webhook[/{webhookId}]`: the endpoints identity events are
//! delivered to (CONTRACTS.md 4). The secret appears in an answer only
//! when it is made: on create and on `POST /api/webhook/{id}/secret`.

mod create;
mod delete;
mod delivery;
mod retrieve;
mod secret;
mod test;
mod update;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
use lamba_core::events::webhooks::{WebhookInput, WebhookView, WithSecret};
use lamba_model::Webhook;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::wire::{Fields, to_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhook",
            get(retrieve::list).post(create::create_with_random_id),
        )
        .route(
            "/webhook/{webhook_id}",
            get(retrieve::retrieve)
                .post(create::create_with_id)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
        .route("/webhook/{webhook_id}/secret", post(secret::rotate_secret))
        .route("/webhook/{webhook_id}/test", post(test::test))
        .merge(delivery::routes())
}

#[derive(Serialize)]
struct WebhookResponse<'a> {
    webhook: WebhookView<'a>,
    /// Only when this request made it; never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct WebhooksResponse<'a> {
    pub(super) webhooks: Vec<WebhookView<'a>>,
}

pub(super) fn wrapped(webhook: &Webhook) -> Response {
    Json(WebhookResponse {
        webhook: webhook.into(),
        secret: None,
    })
    .into_response()
}

/// The webhook and, this once, its secret.
pub(super) fn with_secret(made: &WithSecret) -> Response {
    Json(WebhookResponse {
        webhook: (&made.webhook).into(),
        secret: Some(made.secret.as_str()),
    })
    .into_response()
}

/// The webhook as a GET shows it, for a PATCH to merge into.
pub(super) fn merge_base(webhook: &Webhook) -> Result<Value, OperatorError> {
    to_json(
        WebhookResponse {
            webhook: webhook.into(),
            secret: None,
        },
        "webhook",
    )
}

/// Reads `{"webhook": {...}}` into a [`WebhookInput`]. A `secret` in the
/// body is ignored: the server makes every secret.
pub(super) fn parse_input(body: &Value) -> Result<WebhookInput, ValidationErrors> {
    let webhook = Fields::root(body, "webhook")?;
    let mut errors = ValidationErrors::new();
    let input = WebhookInput {
        url: webhook.string("url", &mut errors),
        description: webhook.string("description", &mut errors),
        event_types: webhook.strings("eventTypes", &mut errors),
        project_id: webhook.string("projectId", &mut errors),
        environment: webhook.string("environment", &mut errors),
        enabled: webhook.bool("enabled", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

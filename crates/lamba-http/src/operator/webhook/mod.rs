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
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
pub use lamba_core::events::webhooks::webhook_json;
use lamba_core::events::webhooks::{WebhookInput, WithSecret};
use lamba_model::Webhook;
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::wire::Fields;

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

pub(super) fn wrapped(webhook: &Webhook) -> Json<Value> {
    Json(json!({ "webhook": webhook_json(webhook) }))
}

/// The webhook and, this once, its secret.
pub(super) fn with_secret(made: &WithSecret) -> Json<Value> {
    Json(json!({
        "webhook": webhook_json(&made.webhook),
        "secret": made.secret.as_str(),
    }))
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

//! `POST /api/webhook/{webhookId}/test`: a synchronous test delivery.

use axum::Json;
use axum::extract::State;
use lamba_model::WebhookId;
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `POST /api/webhook/{webhookId}/test`: sends one signed `webhook.test`
/// event now and answers what happened. A failed delivery is a 200 that
/// says so: the call worked, the endpoint did not.
pub(super) async fn test(
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

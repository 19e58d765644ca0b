//! `POST /api/webhook/{webhookId}/test`: a synchronous test delivery.

use axum::Json;
use axum::extract::State;
use lamba_model::WebhookId;
use serde::Serialize;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// What a test delivery did: a failed delivery is a 200 that says so.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TestResult {
    delivered: bool,
    status_code: Option<u16>,
    /// Fixed sentences (the status it answered, "unreachable"): never a
    /// network detail that would let the caller scan the server's network.
    error: Option<String>,
    duration_millis: u64,
}

/// `POST /api/webhook/{webhookId}/test`: sends one signed `webhook.test`
/// event now and answers what happened. A failed delivery is a 200 that
/// says so: the call worked, the endpoint did not.
pub(super) async fn test(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Json<TestResult>, OperatorError> {
    let delivery = state.core.webhooks.send_test(id).await?;
    Ok(Json(TestResult {
        delivered: delivery.delivered,
        status_code: delivery.status_code,
        error: delivery.error,
        duration_millis: delivery.duration_millis,
    }))
}

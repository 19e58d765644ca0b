use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_core::events::audit::AuditSearch;
use lamba_model::AuditEvent;
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{JsonObject, Operator};
use crate::operator::wire::Fields;

/// An audit event on the wire: the webhook envelope's members (`id`,
/// `type`, `occurredAt`, `workspaceId`, `projectId`, `environment`, `data`)
/// and the rest of the record.
fn audit_event_json(event: &AuditEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "occurredAt": event.occurred_at.as_millis(),
        "actorType": event.actor_type.as_str(),
        "actorId": event.actor_id,
        "userId": event.user_id,
        "sessionId": event.session_id,
        "scopeId": event.scope_id,
        "workspaceId": event.workspace_id,
        "projectId": event.project_id,
        "environment": event.environment.map(|e| e.as_str()),
        "reason": event.reason,
        "traceId": event.trace_id,
        "correlationId": event.correlation_id,
        "ipAddress": event.ip_address,
        "data": event.data,
    })
}

/// `POST /api/system/audit-log/search` (API key):
/// `{"search":{"types":[..],"userId","projectId","start","end","cursor","numberOfResults"}}`
/// → `{"auditLogs":[..],"nextCursor":null|".."}`, newest first; `start` is
/// inclusive and `end` exclusive (epoch milliseconds).
pub async fn search(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let search = Fields::root(&body, "search")?;
    let mut errors = ValidationErrors::new();
    let input = AuditSearch {
        types: search.strings("types", &mut errors),
        user_id: search.string("userId", &mut errors),
        project_id: search.string("projectId", &mut errors),
        start: search.integer("start", &mut errors),
        end: search.integer("end", &mut errors),
        cursor: search.string("cursor", &mut errors),
        number_of_results: search.integer("numberOfResults", &mut errors),
        read_errors: errors,
    };
    let page = state.core.audit.search(input).await?;
    Ok(Json(json!({
        "auditLogs": page.events.iter().map(audit_event_json).collect::<Vec<_>>(),
        "nextCursor": page.next_cursor,
    }))
    .into_response())
}

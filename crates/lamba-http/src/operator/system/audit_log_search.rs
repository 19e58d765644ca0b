use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_core::events::audit::AuditSearch;
use lamba_model::{AuditEvent, ProjectId, UserId, WorkspaceId};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{JsonObject, Operator};
use crate::operator::wire::Fields;

/// An audit event on the wire: the webhook envelope's members (`id`,
/// `type`, `occurredAt`, `workspaceId`, `projectId`, `environment`, `data`)
/// and the rest of the record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEventView<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    occurred_at: i64,
    actor_type: &'static str,
    actor_id: Option<&'a str>,
    user_id: Option<UserId>,
    session_id: Option<Uuid>,
    scope_id: Option<Uuid>,
    workspace_id: Option<WorkspaceId>,
    project_id: Option<ProjectId>,
    environment: Option<&'static str>,
    reason: Option<&'a str>,
    trace_id: Option<&'a str>,
    correlation_id: Option<&'a str>,
    ip_address: Option<&'a str>,
    data: &'a Value,
}

impl<'a> From<&'a AuditEvent> for AuditEventView<'a> {
    fn from(event: &'a AuditEvent) -> Self {
        Self {
            id: event.id,
            event_type: &event.event_type,
            occurred_at: event.occurred_at.as_millis(),
            actor_type: event.actor_type.as_str(),
            actor_id: event.actor_id.as_deref(),
            user_id: event.user_id,
            session_id: event.session_id,
            scope_id: event.scope_id,
            workspace_id: event.workspace_id,
            project_id: event.project_id,
            environment: event.environment.map(|e| e.as_str()),
            reason: event.reason.as_deref(),
            trace_id: event.trace_id.as_deref(),
            correlation_id: event.correlation_id.as_deref(),
            ip_address: event.ip_address.as_deref(),
            data: &event.data,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditLogsResponse<'a> {
    audit_logs: Vec<AuditEventView<'a>>,
    next_cursor: Option<&'a str>,
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
    Ok(Json(AuditLogsResponse {
        audit_logs: page.events.iter().map(AuditEventView::from).collect(),
        next_cursor: page.next_cursor.as_deref(),
    })
    .into_response())
}

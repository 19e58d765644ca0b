//! `GET /v1/admin/sessions`: the environment's scoped sessions.

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{Page, next_cursor};

/// `GET /v1/admin/sessions`: the project environment's live scoped sessions.
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["sessions:read", "sessions:write"])?;
    let limit = page.limit()?;
    let scopes = state
        .core
        .sessions
        .admin_sessions(context, page.after()?, limit)
        .await?;
    let last = scopes.last().map(|s| s.id);
    let items: Vec<Value> = scopes
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "userId": s.user_id,
                "loginSessionId": s.login_session_id,
                "applicationId": s.application_id,
                "roles": s.roles,
                "insertInstant": s.insert_instant.as_millis(),
                "lastUsedInstant": s.last_used_instant.as_millis(),
            })
        })
        .collect();
    Ok(Json(json!({
        "items": items,
        "nextCursor": next_cursor(last, scopes.len(), limit),
    })))
}

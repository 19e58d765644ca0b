//! `GET /v1/admin/members`: the project's members, a page at a time.

use axum::Json;
use axum::extract::{Query, State};
use lamba_model::UserId;
use serde_json::{Value, json};

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{Page, member_json, next_cursor, tenancy_problem};

/// `GET /v1/admin/members` (`members:read`).
pub async fn list_members(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["members:read", "members:write"])?;
    let limit = page.limit()?;
    let members = state
        .core
        .tenancy
        .list_members(context.project_id, page.after()?.map(UserId::from), limit)
        .await
        .map_err(tenancy_problem)?;
    let last = members.last().map(|m| *m.user_id.as_uuid());
    Ok(Json(json!({
        "items": members.iter().map(member_json).collect::<Vec<_>>(),
        "nextCursor": next_cursor(last, members.len(), limit),
    })))
}

//! `GET /v1/admin/members`: the project's members, a page at a time.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use lamba_core::tenancy::MemberView;
use lamba_model::UserId;

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{Page, next_cursor, tenancy_problem};
use crate::runtime::views::Listing;

/// `GET /v1/admin/members` (`members:read`).
pub async fn list_members(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:read", "members:write"])?;
    let limit = page.limit()?;
    let members = state
        .core
        .tenancy
        .list_members(context.project_id, page.after()?.map(UserId::from), limit)
        .await
        .map_err(tenancy_problem)?;
    let last = members.last().map(|m| *m.user_id.as_uuid());
    Ok(Json(Listing {
        items: members.iter().map(MemberView::from).collect(),
        next_cursor: next_cursor(last, members.len(), limit),
    })
    .into_response())
}

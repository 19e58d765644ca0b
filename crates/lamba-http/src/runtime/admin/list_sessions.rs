//! `GET /v1/admin/sessions`: the environment's scoped sessions.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{Page, next_cursor};
use crate::runtime::views::{Listing, ScopeView};

/// `GET /v1/admin/sessions`: the project environment's live scoped sessions.
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    Query(page): Query<Page>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["sessions:read", "sessions:write"])?;
    let limit = page.limit()?;
    let scopes = state
        .core
        .sessions
        .admin_sessions(context, page.after()?, limit)
        .await?;
    let last = scopes.last().map(|s| s.id);
    Ok(Json(Listing {
        items: scopes.iter().map(ScopeView::from).collect(),
        next_cursor: next_cursor(last, scopes.len(), limit),
    })
    .into_response())
}

//! `DELETE /v1/admin/members/{userId}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{member_writer, path_user, tenancy_problem};

/// `DELETE /v1/admin/members/{userId}` (`members:write`).
pub async fn remove_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    state
        .core
        .tenancy
        .remove_member(member_writer(&caller, context), context.project_id, user_id)
        .await
        .map_err(tenancy_problem)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! `DELETE /v1/admin/members/{userId}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{confine_membership_write, held_roles, path_user, tenancy_problem};

/// `DELETE /v1/admin/members/{userId}` (`members:write`).
pub async fn remove_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    let held = held_roles(&state, context, user_id).await?;
    confine_membership_write(&state, &caller, context, &held).await?;
    state
        .core
        .tenancy
        .remove_member(context.project_id, user_id)
        .await
        .map_err(tenancy_problem)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

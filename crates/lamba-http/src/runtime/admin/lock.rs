//! `POST /v1/admin/users/{userId}/lock` and `/unlock`: a member's lock.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{member_body, member_writer, path_user, tenancy_problem};

async fn set_locked(
    state: &AppState,
    caller: &AdminCaller,
    user_id: &str,
    locked: bool,
) -> Result<Response, Problem> {
    let context = caller.context(state, &["sessions:write"])?;
    let user_id = path_user(user_id)?;
    let member = state
        .core
        .tenancy
        .update_member(
            member_writer(caller, context),
            context.project_id,
            user_id,
            lamba_core::tenancy::MemberChange {
                locked: Some(locked),
                ..Default::default()
            },
            "",
        )
        .await
        .map_err(tenancy_problem)?;
    Ok(member_body(&member))
}

/// `POST /v1/admin/users/{userId}/lock` (`sessions:write`): the member can
/// no longer enter the project, and their scopes end now.
pub async fn lock(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Response, Problem> {
    set_locked(&state, &caller, &user_id, true).await
}

/// `POST /v1/admin/users/{userId}/unlock` (`sessions:write`).
pub async fn unlock(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Response, Problem> {
    set_locked(&state, &caller, &user_id, false).await
}

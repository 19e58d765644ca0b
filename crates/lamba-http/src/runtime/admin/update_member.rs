//! `PATCH /v1/admin/members/{userId}`: a member's roles.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::AppState;
use crate::runtime::JsonBody;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{
    confine_membership_write, held_roles, member_json, path_user, roles_member, tenancy_problem,
};

/// `PATCH /v1/admin/members/{userId}` `{"roles"}` (`members:write`): the
/// member's scopes end, so no token keeps roles they no longer have.
pub async fn update_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
    body: Result<JsonBody, Problem>,
) -> Result<Json<Value>, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    let JsonBody(body) = body?;
    let roles = roles_member(&body)?.ok_or_else(|| Problem::invalid("roles is required."))?;
    let mut involved = held_roles(&state, context, user_id).await?;
    involved.extend(roles.iter().cloned());
    confine_membership_write(&state, &caller, context, &involved).await?;
    let member = state
        .core
        .tenancy
        .update_member(context.project_id, user_id, Some(roles), None, "")
        .await
        .map_err(tenancy_problem)?;
    Ok(Json(member_json(&member)))
}

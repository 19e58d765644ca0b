//! `PATCH /v1/admin/members/{userId}`: a member's roles.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::AppState;
use crate::runtime::JsonBody;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{member_body, member_writer, path_user, roles_member, tenancy_problem};

/// `PATCH /v1/admin/members/{userId}` `{"roles"}` (`members:write`): the
/// member's scopes end, so no token keeps roles they no longer have.
pub async fn update_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let user_id = path_user(&user_id)?;
    let JsonBody(body) = body?;
    let roles = roles_member(&body)?.ok_or_else(|| Problem::invalid("roles is required."))?;
    let member = state
        .core
        .tenancy
        .update_member(
            member_writer(&caller, context),
            context.project_id,
            user_id,
            lamba_core::tenancy::MemberChange {
                roles: Some(roles),
                ..Default::default()
            },
            "",
        )
        .await
        .map_err(tenancy_problem)?;
    Ok(member_body(&member))
}

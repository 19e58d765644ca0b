//! `POST /v1/admin/users/{userId}/sessions/revoke`: ends a user's scoped
//! sessions in the environment.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use crate::AppState;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::path_user;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedSessions {
    /// How many scoped sessions this call ended.
    revoked_sessions: usize,
}

/// `POST /v1/admin/users/{userId}/sessions/revoke` (`sessions:write`).
pub async fn revoke_sessions(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(user_id): Path<String>,
) -> Result<Json<RevokedSessions>, Problem> {
    let context = caller.context(&state, &["sessions:write"])?;
    let user_id = path_user(&user_id)?;
    let revoked = state.core.sessions.admin_revoke(context, user_id).await?;
    Ok(Json(RevokedSessions {
        revoked_sessions: revoked,
    }))
}

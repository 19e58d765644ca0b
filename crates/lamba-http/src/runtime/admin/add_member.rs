//! `POST /v1/admin/members`: adds a member to the caller's project.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lamba_core::ErrorKind;
use lamba_core::tenancy::{MemberInput, TenancyError};
use serde_json::Value;

use crate::AppState;
use crate::runtime::JsonBody;
use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

use super::{member_body, member_writer, roles_member, tenancy_problem};

/// `POST /v1/admin/members` `{"userId","roles"}` (`members:write`).
pub async fn add_member(
    State(state): State<AppState>,
    caller: AdminCaller,
    body: Result<JsonBody, Problem>,
) -> Result<Response, Problem> {
    let context = caller.context(&state, &["members:write"])?;
    let JsonBody(body) = body?;
    let user_id = match body.get("userId") {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Problem::invalid("userId must be a string.")),
    };
    let roles = roles_member(&body)?;
    let input = MemberInput {
        user_id,
        roles,
        locked: None,
        // This reader answers its first type error itself.
        read_errors: Default::default(),
    };
    let member = state
        .core
        .tenancy
        .add_member(
            member_writer(&caller, context),
            context.project_id,
            input,
            "",
        )
        .await
        .map_err(|error| match error {
            TenancyError::Invalid(errors)
                if errors.fields.get("userId").is_some_and(|e| {
                    e.iter()
                        .any(|e| e.code == format!("[{}]userId", ErrorKind::Duplicate.as_str()))
                }) =>
            {
                Problem::new(
                    StatusCode::CONFLICT,
                    "CONFLICT",
                    "The user is a member of this project already.",
                )
            }
            other => tenancy_problem(other),
        })?;
    Ok((StatusCode::CREATED, member_body(&member)).into_response())
}

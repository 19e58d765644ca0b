//! `/v1/admin/*` on the api host: a project environment's runtime
//! administration, for a management token, a scoped session holding the
//! permission named, or an API key naming the project (CONTRACTS.md 4).

mod add_member;
mod list_members;
mod list_sessions;
mod lock;
mod remove_member;
mod revoke_sessions;
mod update_member;

pub use add_member::add_member;
pub use list_members::list_members;
pub use list_sessions::list_sessions;
pub use lock::{lock, unlock};
pub use remove_member::remove_member;
pub use revoke_sessions::revoke_sessions;
pub use update_member::update_member;

use std::str::FromStr;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_core::ValidationErrors;
use lamba_core::sessions::Context;
use lamba_core::tenancy::{MemberView, MemberWriter, TenancyError};
use lamba_model::{ProjectMember, UserId};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::runtime::auth::AdminCaller;
use crate::runtime::problem::Problem;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(Deserialize)]
pub struct Page {
    limit: Option<String>,
    cursor: Option<String>,
}

impl Page {
    fn limit(&self) -> Result<u32, Problem> {
        match self.limit.as_deref() {
            None | Some("") => Ok(DEFAULT_PAGE),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                _ => Err(Problem::invalid(format!(
                    "limit must be a number from 1 to {MAX_PAGE}."
                ))),
            },
        }
    }

    /// The cursor is opaque to clients: the last id of the previous page.
    fn after(&self) -> Result<Option<Uuid>, Problem> {
        let Some(cursor) = self.cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| Uuid::from_slice(&bytes).ok())
            .map(Some)
            .ok_or_else(|| Problem::invalid("cursor is not one this server gave out."))
    }
}

/// Where the next page starts, unless this one was the last.
pub(super) fn next_cursor(last: Option<Uuid>, page_len: usize, limit: u32) -> Option<String> {
    match last {
        Some(last) if page_len == limit as usize => Some(URL_SAFE_NO_PAD.encode(last.as_bytes())),
        _ => None,
    }
}

/// A member on the wire: the one shape every surface shares.
pub(super) fn member_body(member: &ProjectMember) -> Response {
    Json(MemberView::from(member)).into_response()
}

/// A validation failure of an admin call, as ProblemDetails: the first
/// field error's message is the detail.
pub(super) fn tenancy_problem(error: TenancyError) -> Problem {
    match error {
        TenancyError::Invalid(errors) => Problem::invalid(describe(&errors)),
        TenancyError::NotFound => Problem::not_found(),
        TenancyError::Forbidden(message) => {
            Problem::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
        }
        TenancyError::Store(error) => error.into(),
    }
}

pub(super) fn describe(errors: &ValidationErrors) -> String {
    errors
        .fields
        .values()
        .flatten()
        .chain(errors.general.iter())
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Who the caller is to the membership rules: the API key is the
/// operator, not bound to an environment; anyone else writes from the
/// environment of their context.
pub(super) fn member_writer(caller: &AdminCaller, context: Context) -> MemberWriter {
    match caller {
        AdminCaller::ApiKey(_) => MemberWriter::Operator,
        _ => MemberWriter::Environment(context.environment),
    }
}

pub(super) fn path_user(raw: &str) -> Result<UserId, Problem> {
    UserId::from_str(raw).map_err(|_| Problem::not_found())
}

pub(super) fn roles_member(
    body: &serde_json::Map<String, Value>,
) -> Result<Option<Vec<String>>, Problem> {
    match body.get("roles") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Problem::invalid("roles must be an array of strings."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Problem::invalid("roles must be an array of strings.")),
    }
}

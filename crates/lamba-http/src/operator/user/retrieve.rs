use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::UserResponse;
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};
use lamba_model::UserId;

/// `GET /api/user/{userId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<UserId>,
) -> Result<Response, OperatorError> {
    let user = state.core.users.get(id).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

/// `GET /api/user?email={email}`: the user with this email, in any case;
/// 404 when there is none, `[blank]email` without an email.
pub async fn find_by_email(
    _operator: Operator,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
    let email = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(key, _)| key == "email")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default();
    let user = state.core.users.find_by_email(&email).await?;
    Ok(Json(UserResponse::from(&user)).into_response())
}

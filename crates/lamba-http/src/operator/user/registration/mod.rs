//! `/api/user/registration/{userId}[/{applicationId}]`: a user's
//! registrations with applications and their roles, the `registration` a
//! JWTPopulate lambda sees.

mod create;
mod delete;
mod retrieve;
mod update;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::identity::users::RegistrationInput;
use lamba_model::{ApplicationId, Registration, UserId};
use serde::Serialize;
use serde_json::Value;

use super::{invalid_id, parse_id};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::wire::Fields;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/user/registration/{user_id}",
            get(retrieve::list).post(create::create),
        )
        .route(
            "/user/registration/{user_id}/{application_id}",
            get(retrieve::get_one)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
}

/// A registration on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationJson<'a> {
    application_id: ApplicationId,
    roles: &'a [String],
    insert_instant: i64,
    last_update_instant: i64,
}

impl<'a> From<&'a Registration> for RegistrationJson<'a> {
    fn from(r: &'a Registration) -> Self {
        Self {
            application_id: r.application_id,
            roles: &r.roles,
            insert_instant: r.insert_instant.as_millis(),
            last_update_instant: r.last_update_instant.as_millis(),
        }
    }
}

#[derive(Serialize)]
pub struct RegistrationResponse<'a> {
    registration: RegistrationJson<'a>,
}

impl<'a> From<&'a Registration> for RegistrationResponse<'a> {
    fn from(r: &'a Registration) -> Self {
        Self {
            registration: r.into(),
        }
    }
}

/// `{userId}/{applicationId}` of a path; both must be UUIDs, and both are
/// reported when neither is.
pub struct RegistrationPath(pub UserId, pub ApplicationId);

impl FromRequestParts<AppState> for RegistrationPath {
    type Rejection = OperatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path((raw_user, raw_application)) =
            Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid_id("userId", "A path segment"))?;
        match (
            parse_id::<UserId>(&raw_user, "userId"),
            parse_id::<ApplicationId>(&raw_application, "applicationId"),
        ) {
            (Ok(user_id), Ok(application_id)) => Ok(RegistrationPath(user_id, application_id)),
            (Err(mut errors), Err(more)) => {
                errors.fields.extend(more.fields);
                Err(errors.into())
            }
            (Err(errors), Ok(_)) | (Ok(_), Err(errors)) => Err(errors.into()),
        }
    }
}

/// Reads `{"registration": {...}}` into a [`RegistrationInput`], reporting
/// every field of the wrong JSON type.
pub fn parse_input(body: &Value) -> Result<RegistrationInput, ValidationErrors> {
    let registration = Fields::root(body, "registration")?;
    let mut errors = ValidationErrors::new();
    let input = RegistrationInput {
        application_id: registration.string("applicationId", &mut errors),
        roles: registration.strings("roles", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

#[cfg(test)]
mod tests;

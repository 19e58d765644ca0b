//! `/api/user` and `/api/user/registration`: FusionAuth's Users and
//! Registrations APIs (CONTRACTS.md 2.2). No response carries a password or
//! its hash: the wire types below have no field for either.

mod create;
mod delete;
pub(super) mod registration;
mod retrieve;
mod update;

use std::str::FromStr;

use axum::Router;
use axum::routing::get;
use lamba_core::identity::passwords::Password;
use lamba_core::identity::users::UserInput;
use lamba_core::identity::users::UserView;
use lamba_core::{ErrorKind, ValidationErrors};
use lamba_model::User;
use serde::Serialize;
use serde_json::Value;

use super::OperatorError;
use crate::AppState;
use crate::operator::wire::Fields;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/user",
            get(retrieve::find_by_email).post(create::create_with_random_id),
        )
        .route(
            "/user/{user_id}",
            get(retrieve::get_one)
                .post(create::create_with_id)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
        .merge(registration::routes())
}

#[derive(Serialize)]
pub struct UserResponse<'a> {
    user: UserView<'a>,
}

impl<'a> From<&'a User> for UserResponse<'a> {
    fn from(u: &'a User) -> Self {
        Self { user: u.into() }
    }
}

/// Parses one id of a path, or records `[invalid]{path}`.
fn parse_id<T: FromStr>(raw: &str, path: &str) -> Result<T, ValidationErrors> {
    T::from_str(raw).map_err(|_| {
        ValidationErrors::with_field(
            path,
            ErrorKind::Invalid,
            format!("{:?} is not a UUID.", truncate(raw, 64)),
        )
    })
}

fn invalid_id(path: &str, shown: &str) -> OperatorError {
    ValidationErrors::with_field(path, ErrorKind::Invalid, format!("{shown} is not a UUID.")).into()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// Reads `{"user": {...}}` into a [`UserInput`], reporting every field of
/// the wrong JSON type. Unknown fields are ignored, as FusionAuth does.
pub fn parse_input(body: &Value) -> Result<UserInput, ValidationErrors> {
    let user = Fields::root(body, "user")?;
    let mut errors = ValidationErrors::new();
    let input = UserInput {
        email: user.string("email", &mut errors),
        username: user.string("username", &mut errors),
        password: user.string("password", &mut errors).map(Password::new),
        first_name: user.string("firstName", &mut errors),
        last_name: user.string("lastName", &mut errors),
        data: user.map("data", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

#[cfg(test)]
mod tests;

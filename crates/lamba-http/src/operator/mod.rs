//! The operator API (`/api/...`): what the console calls, FusionAuth-shaped.
//! API-key authentication, FusionAuth's Errors object for 400s, empty
//! bodies for 401 and 404.

mod application;
mod error;
mod extract;
mod identity_provider;
mod key;
mod lambda;
mod system;
mod tenancy;
mod user;
mod webhook;
mod wire;

#[cfg(test)]
mod readers_proptest;

/// Every operator resource's reader on one body, for the fuzz targets and
/// the property tests: each reads it or says why not (a refused root, or
/// the members it could not read, which the use case would report).
pub(crate) fn read_every_resource(
    body: &serde_json::Value,
) -> Vec<Option<lamba_core::ValidationErrors>> {
    use lamba_core::ValidationErrors;
    fn refusal(read: Result<ValidationErrors, ValidationErrors>) -> Option<ValidationErrors> {
        match read {
            Err(errors) => Some(errors),
            Ok(errors) if !errors.is_empty() => Some(errors),
            Ok(_) => None,
        }
    }
    vec![
        refusal(application::parse_input(body).map(|i| i.read_errors)),
        refusal(lambda::parse_input(body).map(|i| i.read_errors)),
        refusal(user::parse_input(body).map(|i| i.read_errors)),
        refusal(user::registration::parse_input(body).map(|i| i.read_errors)),
        refusal(webhook::parse_input(body).map(|i| i.read_errors)),
        refusal(tenancy::workspace::parse_input(body).map(|i| i.read_errors)),
        refusal(tenancy::project::parse_input(body).map(|i| i.read_errors)),
        refusal(tenancy::role::parse_input(body).map(|i| i.read_errors)),
        refusal(tenancy::member::parse_input(body).map(|i| i.read_errors)),
        refusal(identity_provider::parse_input(body).map(|i| i.read_errors)),
        refusal(identity_provider::link::parse_input(body).map(|i| i.read_errors)),
    ]
}

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::OperatorError;

use crate::AppState;

/// The largest request body the operator API reads. Lambda bodies are the
/// largest thing it takes; two megabytes leaves room for a big script even
/// with every character escaped.
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(lambda::routes())
        .merge(application::routes())
        .merge(key::routes())
        .merge(user::routes())
        .merge(tenancy::routes())
        .merge(system::routes())
        .merge(webhook::routes())
        .merge(identity_provider::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

//! `/api/lambda`: seed 004, with CONTRACTS.md 2.1's validation.

mod create;
mod delete;
mod retrieve;
mod test;
mod update;

use axum::Router;
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
use lamba_core::lambdas::LambdaInput;
use lamba_model::{Lambda, LambdaId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::wire::Fields;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/lambda",
            get(retrieve::list).post(create::create_with_random_id),
        )
        .route(
            "/lambda/{lambda_id}",
            get(retrieve::get_one)
                .post(create::create_with_id)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
        .route("/lambda/{lambda_id}/test", post(test::test))
}

/// A lambda on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaJson<'a> {
    id: LambdaId,
    body: &'a str,
    name: &'a str,
    debug: bool,
    enabled: bool,
    insert_instant: i64,
    last_update_instant: i64,
    #[serde(rename = "type")]
    lambda_type: &'static str,
}

impl<'a> From<&'a Lambda> for LambdaJson<'a> {
    fn from(l: &'a Lambda) -> Self {
        Self {
            id: l.id,
            body: &l.body,
            name: &l.name,
            debug: l.debug,
            enabled: l.enabled,
            insert_instant: l.insert_instant.as_millis(),
            last_update_instant: l.last_update_instant.as_millis(),
            lambda_type: l.lambda_type.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct LambdaResponse<'a> {
    lambda: LambdaJson<'a>,
}

impl<'a> From<&'a Lambda> for LambdaResponse<'a> {
    fn from(l: &'a Lambda) -> Self {
        Self { lambda: l.into() }
    }
}

/// Reads `{"lambda": {...}}` into a [`LambdaInput`], reporting every field
/// of the wrong JSON type. Unknown fields are ignored, as FusionAuth does.
/// A lambda as the audit log records it (its wire JSON).
pub fn audit_json(lambda: &Lambda) -> Option<Value> {
    serde_json::to_value(LambdaJson::from(lambda)).ok()
}

pub fn parse_input(body: &Value) -> Result<LambdaInput, ValidationErrors> {
    let lambda = Fields::root(body, "lambda")?;
    let mut errors = ValidationErrors::new();
    let input = LambdaInput {
        name: lambda.string("name", &mut errors),
        body: lambda.string("body", &mut errors),
        lambda_type: lambda.string("type", &mut errors),
        debug: lambda.bool("debug", &mut errors),
        enabled: lambda.bool("enabled", &mut errors),
    };
    errors.into_result().map(|()| input)
}

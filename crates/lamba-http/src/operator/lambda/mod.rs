//! `/api/lambda`: seed 004, with CONTRACTS.md 2.1's validation.

mod create;
mod delete;
mod retrieve;
mod test;
mod update;

use axum::Router;
use axum::routing::{get, post};
use lamba_core::ValidationErrors;
use lamba_core::lambdas::{LambdaInput, LambdaView};
use lamba_model::Lambda;
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

#[derive(Serialize)]
pub struct LambdaResponse<'a> {
    lambda: LambdaView<'a>,
}

impl<'a> From<&'a Lambda> for LambdaResponse<'a> {
    fn from(l: &'a Lambda) -> Self {
        Self { lambda: l.into() }
    }
}

/// Reads `{"lambda": {...}}` into a [`LambdaInput`], reporting every field
/// of the wrong JSON type. Unknown fields are ignored, as FusionAuth does.
pub fn parse_input(body: &Value) -> Result<LambdaInput, ValidationErrors> {
    let lambda = Fields::root(body, "lambda")?;
    let mut errors = ValidationErrors::new();
    let input = LambdaInput {
        name: lambda.string("name", &mut errors),
        body: lambda.string("body", &mut errors),
        lambda_type: lambda.string("type", &mut errors),
        debug: lambda.bool("debug", &mut errors),
        enabled: lambda.bool("enabled", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::lambdas::{LambdaTestInput, LambdaTestOutcome};
use lamba_model::LambdaId;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

#[derive(Serialize)]
struct LogJson<'a> {
    level: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestResponse<'a> {
    result: &'a Value,
    logs: Vec<LogJson<'a>>,
    duration_micros: u128,
    discarded_claims: &'a [String],
}

impl<'a> From<&'a LambdaTestOutcome> for TestResponse<'a> {
    fn from(outcome: &'a LambdaTestOutcome) -> Self {
        Self {
            result: &outcome.result,
            logs: outcome
                .logs
                .iter()
                .map(|line| LogJson {
                    level: line.level.as_str(),
                    message: &line.message,
                })
                .collect(),
            duration_micros: outcome.duration.as_micros(),
            discarded_claims: &outcome.discarded_claims,
        }
    }
}

/// `POST /api/lambda/{lambdaId}/test` (API key): runs the lambda, enabled
/// or not, on the arguments its type takes (`jwt`, `user`, `registration`,
/// `context`, `idToken`, `tokens`, `samlResponse`; absent ones are `{}`,
/// `context` `null`) and answers what it read back, its console output and
/// its duration. A lambda that fails is a 400 `[LambdaError]` whose message
/// names the failure and its line.
pub async fn test(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let argument = |key: &str| body.get(key).cloned();
    let input = LambdaTestInput {
        jwt: argument("jwt"),
        user: argument("user"),
        registration: argument("registration"),
        context: argument("context"),
        id_token: argument("idToken"),
        tokens: argument("tokens"),
        saml_response: argument("samlResponse"),
    };
    let outcome = state.core.lambdas.test(id, input).await?;
    Ok(Json(TestResponse::from(&outcome)).into_response())
}

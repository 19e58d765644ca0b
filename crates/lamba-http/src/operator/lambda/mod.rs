//! `/api/lambda`: seed 004, with CONTRACTS.md 2.1's validation.

mod create;
mod delete;
mod retrieve;
mod update;

use axum::Router;
use axum::routing::get;
use lamba_core::lambdas::LambdaInput;
use lamba_core::{ErrorKind, ValidationErrors};
use lamba_model::{Lambda, LambdaId};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;

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
pub fn parse_input(body: &Value) -> Result<LambdaInput, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let empty = Map::new();
    let object = match body.get("lambda") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.field(
                "lambda",
                ErrorKind::Invalid,
                "lambda must be a JSON object.",
            );
            return Err(errors);
        }
    };
    let input = LambdaInput {
        name: string_field(object, "name", &mut errors),
        body: string_field(object, "body", &mut errors),
        lambda_type: string_field(object, "type", &mut errors),
        debug: bool_field(object, "debug", &mut errors),
        enabled: bool_field(object, "enabled", &mut errors),
    };
    errors.into_result().map(|()| input)
}

fn string_field(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            let path = format!("lambda.{key}");
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!("{path} must be a string, not {}.", json_type(other)),
            );
            None
        }
    }
}

fn bool_field(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut ValidationErrors,
) -> Option<bool> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            let path = format!("lambda.{key}");
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!("{path} must be true or false, not {}.", json_type(other)),
            );
            None
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

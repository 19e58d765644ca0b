use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use lamba_core::lambdas::parse_type_filter;
use serde::Serialize;

use super::LambdaResponse;
use lamba_core::lambdas::LambdaView;
use lamba_model::LambdaId;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

#[derive(Serialize)]
struct LambdasResponse<'a> {
    lambdas: Vec<LambdaView<'a>>,
}

/// `GET /api/lambda` and `GET /api/lambda?type={type}`.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
    let raw_type = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "type")
            .map(|(_, value)| value.into_owned())
    });
    let lambda_type = raw_type.as_deref().map(parse_type_filter).transpose()?;
    let lambdas = state.core.lambdas.list(lambda_type).await?;
    let body = LambdasResponse {
        lambdas: lambdas.iter().map(LambdaView::from).collect(),
    };
    Ok(Json(body).into_response())
}

/// `GET /api/lambda/{lambdaId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<LambdaId>,
) -> Result<Response, OperatorError> {
    let lambda = state.core.lambdas.get(id).await?;
    Ok(Json(LambdaResponse::from(&lambda)).into_response())
}

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::application_view::ApplicationView;
use lamba_model::ApplicationId;

use super::{ApplicationsResponse, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `GET /api/application`.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let applications = state.core.applications.list().await?;
    let applications = applications.iter().map(ApplicationView::from).collect();
    Ok(Json(ApplicationsResponse { applications }).into_response())
}

/// `GET /api/application/{applicationId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<ApplicationId>,
) -> Result<Response, OperatorError> {
    let application = state.core.applications.get(id).await?;
    Ok(Json(wrapped(&application, None)).into_response())
}

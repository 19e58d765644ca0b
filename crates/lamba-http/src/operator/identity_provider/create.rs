use axum::extract::State;
use axum::response::Response;
use lamba_model::IdentityProviderId;

use super::{parse_input, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// `POST /api/identity-provider`: creates a provider with a random id.
pub async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let provider = state.core.identity_providers.create(None, input).await?;
    Ok(wrapped(&state, &provider))
}

/// `POST /api/identity-provider/{identityProviderId}`.
pub async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<IdentityProviderId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let provider = state
        .core
        .identity_providers
        .create(Some(id), input)
        .await?;
    Ok(wrapped(&state, &provider))
}

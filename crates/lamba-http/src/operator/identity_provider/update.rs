use axum::extract::State;
use axum::response::Response;
use lamba_model::IdentityProviderId;

use super::{merge_base, parse_input, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};

/// `PUT /api/identity-provider/{identityProviderId}`: replaces the
/// provider; a client secret left out keeps the stored one.
pub async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<IdentityProviderId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let provider = state.core.identity_providers.replace(id, input).await?;
    Ok(wrapped(&state, &provider))
}

/// `PATCH /api/identity-provider/{identityProviderId}`: merges the body
/// into the stored provider (RFC 7396) and validates the result as a
/// replacement. The stored form has no secret, so the stored ones stay
/// unless the patch brings new ones.
pub async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<IdentityProviderId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.identity_providers.get(id).await?;
    let mut merged = merge_base(&existing)?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let provider = state.core.identity_providers.replace(id, input).await?;
    Ok(wrapped(&state, &provider))
}

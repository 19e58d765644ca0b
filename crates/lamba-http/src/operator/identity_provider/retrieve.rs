use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use lamba_core::federation::ProviderView;
use lamba_model::IdentityProviderId;

use super::{ProvidersResponse, callback_url, wrapped};
use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, Operator};

/// `GET /api/identity-provider` and `GET /api/identity-provider?type=`:
/// every provider (of that type), by name.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
    let wanted = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "type")
            .map(|(_, value)| value.into_owned())
    });
    let providers = state
        .core
        .identity_providers
        .list(wanted.as_deref())
        .await?;
    let callback = callback_url(&state);
    let acs = state.core.federation.saml_acs_url();
    let identity_providers = providers
        .iter()
        .map(|p| {
            let back = if p.samlv2().is_some() {
                &acs
            } else {
                &callback
            };
            ProviderView::new(p, Some(back))
        })
        .collect();
    Ok(Json(ProvidersResponse { identity_providers }).into_response())
}

/// `GET /api/identity-provider/{identityProviderId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<IdentityProviderId>,
) -> Result<Response, OperatorError> {
    let provider = state.core.identity_providers.get(id).await?;
    Ok(wrapped(&state, &provider))
}

//! `/account/links`: a signed-in user's links to upstream identities, and
//! unlinking one (never the last way to sign in). FusionAuth offers only
//! the Links API for this.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::federation::ProviderError;
use lamba_model::{IdentityProviderId, UserId};
use serde_json::json;

use super::form::parse_form;
use super::web::form_is_ours;
use crate::AppState;

/// `GET /account/links`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Some(user) => page(&state, &headers, user, None, None).await,
        None => not_signed_in(&state),
    }
}

/// `POST /account/links`: unlink one.
pub async fn unlink(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(user) = signed_in(&state, &headers).await else {
        return not_signed_in(&state);
    };
    let params = parse_form(&body).unwrap_or_default();
    if !form_is_ours(&state.web, &headers, state.core.oauth.issuer(), &params) {
        let error = "The form expired or did not come from this site. Try again.";
        return page(&state, &headers, user, None, Some(error.to_owned())).await;
    }
    let provider = params
        .get("identityProviderId")
        .and_then(|id| id.parse::<IdentityProviderId>().ok());
    let upstream = params
        .get("identityProviderUserId")
        .cloned()
        .unwrap_or_default();
    let Some(provider) = provider else {
        return page(
            &state,
            &headers,
            user,
            None,
            Some("No such link.".to_owned()),
        )
        .await;
    };
    let providers = &state.core.identity_providers;
    match providers.unlink_own(user, provider, &upstream).await {
        Ok(detail) => {
            let notice = format!("{} is no longer linked.", detail.provider.name);
            page(&state, &headers, user, Some(notice), None).await
        }
        Err(ProviderError::Invalid(errors)) => {
            let message = errors
                .fields
                .values()
                .flatten()
                .chain(errors.general.iter())
                .map(|e| e.message.clone())
                .next()
                .unwrap_or_else(|| "That link cannot be removed.".to_owned());
            page(&state, &headers, user, None, Some(message)).await
        }
        Err(ProviderError::NotFound) => {
            page(
                &state,
                &headers,
                user,
                None,
                Some("No such link.".to_owned()),
            )
            .await
        }
        Err(error) => {
            tracing::error!(%error, "could not unlink an upstream identity");
            let message = "Unlinking is unavailable right now.".to_owned();
            page(&state, &headers, user, None, Some(message)).await
        }
    }
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<UserId> {
    let session = state.web.session_from(headers)?;
    state.core.identity_providers.signed_in_user(session).await
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    user: UserId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let links = match state.core.identity_providers.links_of(user, None).await {
        Ok(links) => links,
        Err(error) => {
            tracing::error!(%error, "could not list a user's links");
            Vec::new()
        }
    };
    let csrf = state.web.csrf_nonce(headers);
    let links: Vec<_> = links
        .iter()
        .map(|d| {
            json!({"provider": d.provider.name, "provider_id": d.provider.id,
                   "upstream_id": d.link.identity_provider_user_id,
                   "display_name": d.link.display_name})
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let html = state.web.render(
        "account_links.html",
        json!({"links": links, "notice": notice, "error": error,
               "csrf_token": state.web.csrf_form_token(&csrf)}),
    );
    state.web.form_page(status, html, &csrf)
}

fn not_signed_in(state: &AppState) -> Response {
    let html = state.web.render(
        "message.html",
        json!({"heading": "Sign in first", "alert": true,
               "message": "Sign in to an application, then come back to manage your linked sign-ins."}),
    );
    let mut response = (StatusCode::UNAUTHORIZED, html).into_response();
    super::error::page_headers(&mut response);
    response
}

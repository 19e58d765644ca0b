//! Lamba as a SAML service provider, over HTTP: its metadata for each
//! SAML identity provider (`GET /samlv2/sp/metadata/{idpId}`) and the one
//! ACS (`POST /samlv2/acs`) every provider posts its responses to. The
//! departure is `/connect/federate`'s, like any provider's.
//!
//! The ACS is reached by a cross-site form post from the IdP, which a
//! browser sends without the SameSite=Lax CSRF cookie that binds the
//! sign-in to the browser that left. So a post without the cookie is
//! answered with a page that posts the same fields again from this
//! site, which brings the cookie; the core still refuses a post whose
//! browser is not the one that left.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::federation::{AcsPost, SamlMetadataError};
use lamba_model::IdentityProviderId;
use serde_json::json;

use super::authorize::error_page;
use super::federate::finish;
use super::form::parse_form;
use super::web::{cookie_value, user_agent};
use crate::AppState;

/// The field the page that posts again adds, so it is done once.
const RESUBMITTED: &str = "lambaResubmitted";

/// `GET /samlv2/sp/metadata/{idpId}`.
pub async fn metadata(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<IdentityProviderId>() else {
        return (
            StatusCode::NOT_FOUND,
            "No SAML v2 identity provider has this id.\n",
        )
            .into_response();
    };
    match state.core.federation.saml_sp_metadata(id).await {
        Ok(xml) => {
            let mut response = (StatusCode::OK, xml).into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            response
        }
        Err(SamlMetadataError::NotFound) => (
            StatusCode::NOT_FOUND,
            "No SAML v2 identity provider has this id.\n",
        )
            .into_response(),
        Err(SamlMetadataError::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The metadata is unavailable right now.\n",
        )
            .into_response(),
    }
}

/// `POST /samlv2/acs`.
pub async fn acs(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(params) = parse_form(&body) else {
        return error_page(
            &state,
            "The identity provider's answer is malformed (a field is repeated or badly encoded).",
        );
    };
    let browser = cookie_value(&headers, state.web.csrf_cookie());
    let post = AcsPost {
        saml_response: params.get("SAMLResponse").cloned(),
        relay_state: params.get("RelayState").cloned(),
    };
    if browser.is_none() && !params.contains_key(RESUBMITTED) {
        return post_again(&state, &post);
    }
    let outcome = state
        .core
        .federation
        .acs(
            &state.core.oauth,
            post,
            browser.as_deref(),
            Some(peer.ip().to_string()),
            user_agent(&headers),
        )
        .await;
    finish(&state, &headers, outcome).await
}

/// The page that posts the response again, from this site.
fn post_again(state: &AppState, post: &AcsPost) -> Response {
    let mut fields = vec![(RESUBMITTED.to_owned(), "1".to_owned())];
    if let Some(response) = &post.saml_response {
        fields.push(("SAMLResponse".to_owned(), response.clone()));
    }
    if let Some(relay) = &post.relay_state {
        fields.push(("RelayState".to_owned(), relay.clone()));
    }
    let html = state.web.render(
        "federate.html",
        json!({"action": state.core.federation.saml_acs_url(), "fields": fields}),
    );
    let mut response = (StatusCode::OK, html).into_response();
    super::error::page_headers(&mut response);
    response
}

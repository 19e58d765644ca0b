//! Federated sign-in over HTTP: `POST /connect/federate` (a provider's
//! button on the sign-in page) sends the browser upstream, and `GET
//! /connect/callback` takes it back.
//!
//! The browser is bound to its trip by its CSRF cookie (HttpOnly,
//! SameSite=Lax, so a top-level redirect back from the provider brings it):
//! the core stores its digest with the state and compares on return.

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::federation::{Callback, CallbackOutcome, Departure, PendingLinkPage};
use lamba_core::oauth::ValidAuthorizeRequest;
use lamba_model::IdentityProviderId;
use serde_json::json;

use super::authorize::{error_page, request_from, respond};
use super::form::parse_form;
use super::web::{cookie_value, form_is_ours, new_csrf_token, user_agent};
use crate::AppState;

/// `POST /connect/federate`.
pub async fn federate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(params) = parse_form(&body) else {
        return error_page(&state, "The sign-in form is malformed.");
    };
    if !form_is_ours(&state.web, &headers, state.core.oauth.issuer(), &params) {
        return error_page(
            &state,
            "The sign-in form expired or did not come from this site. Go back and try again.",
        );
    }
    let valid = match state.core.oauth.resume(request_from(&params)).await {
        Ok(valid) => valid,
        Err(outcome) => return respond(&state, &headers, outcome, None, None).await,
    };
    let provider = params
        .get("identityProviderId")
        .and_then(|id| id.parse::<IdentityProviderId>().ok())
        .unwrap_or_else(|| IdentityProviderId::from_uuid(uuid::Uuid::nil()));
    depart(&state, &headers, &valid, provider).await
}

/// Sends the browser to `provider`, setting a CSRF cookie first if it has
/// none (an `idp_hint` skips the page that would have set it).
pub(super) async fn depart(
    state: &AppState,
    headers: &HeaderMap,
    valid: &ValidAuthorizeRequest,
    provider: IdentityProviderId,
) -> Response {
    let existing = cookie_value(headers, state.web.csrf_cookie()).filter(|c| c.len() >= 32);
    let (browser, new_cookie) = match existing {
        Some(value) => (value, None),
        None => match new_csrf_token() {
            Some(value) => (value.clone(), Some(value)),
            None => return error_page(state, "Sign-in is unavailable right now."),
        },
    };
    let departure = state
        .core
        .federation
        .depart(valid, provider, &browser)
        .await;
    let mut response = match departure {
        Departure::Redirect { url } => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(&url) {
                Ok(location) => {
                    response.headers_mut().insert(LOCATION, location);
                }
                Err(_) => return error_page(state, "Sign-in is unavailable right now."),
            }
            response
        }
        Departure::Post { url, fields } => {
            let html = state
                .web
                .render("federate.html", json!({"action": url, "fields": fields}));
            (StatusCode::OK, html).into_response()
        }
        Departure::Stay(outcome) => {
            // Its own page sets the CSRF cookie.
            return respond(state, headers, outcome, None, None).await;
        }
    };
    if let Some(value) = new_cookie
        && let Ok(cookie) =
            HeaderValue::from_str(&state.web.cookie(state.web.csrf_cookie(), &value, None))
    {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    super::error::page_headers(&mut response);
    response
}

/// `GET /connect/callback`.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(params) = parse_form(query.unwrap_or_default().as_bytes()) else {
        return error_page(
            &state,
            "The identity provider's answer is malformed (a parameter is repeated or badly encoded).",
        );
    };
    let get = |name: &str| params.get(name).cloned();
    let callback = Callback {
        state: get("state"),
        code: get("code"),
        error: get("error"),
        error_description: get("error_description"),
        iss: get("iss"),
    };
    let browser = cookie_value(&headers, state.web.csrf_cookie());
    let user_agent = user_agent(&headers);
    let signed_in = state
        .core
        .federation
        .callback(
            &state.core.oauth,
            callback,
            browser.as_deref(),
            Some(peer.ip().to_string()),
            user_agent,
        )
        .await;
    finish(&state, &headers, signed_in).await
}

/// `POST /connect/link`: the "sign in to link" form of `CreatePendingLink`.
pub async fn link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(params) = parse_form(&body) else {
        return error_page(&state, "The form is malformed.");
    };
    if !form_is_ours(&state.web, &headers, state.core.oauth.issuer(), &params) {
        return error_page(
            &state,
            "The form expired or did not come from this site. Go back and try again.",
        );
    }
    let email = params.get("email").cloned().unwrap_or_default();
    if let Some(refused) = super::authorize::signin_limited(&state, peer.ip(), &email).await {
        return refused;
    }
    let user_agent = user_agent(&headers);
    let outcome = state
        .core
        .federation
        .complete_pending_link(
            &state.core.oauth,
            params.get("token").map(String::as_str).unwrap_or_default(),
            cookie_value(&headers, state.web.csrf_cookie()).as_deref(),
            &email,
            params
                .get("password")
                .map(String::as_str)
                .unwrap_or_default(),
            Some(peer.ip().to_string()),
            user_agent,
        )
        .await;
    finish(&state, &headers, outcome).await
}

pub(super) async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    outcome: CallbackOutcome,
) -> Response {
    match outcome {
        CallbackOutcome::Done(signed_in) => {
            let session_cookie = signed_in.session_id.map(|id| {
                state.web.cookie(
                    state.web.session_cookie(),
                    &state.web.session_cookie_value(id),
                    None,
                )
            });
            respond(state, headers, signed_in.outcome, session_cookie, None).await
        }
        CallbackOutcome::LinkPending(page) => link_page(state, headers, page),
    }
}

/// "Sign in to your existing account to link it."
fn link_page(state: &AppState, headers: &HeaderMap, page: PendingLinkPage) -> Response {
    let csrf = state.web.csrf_nonce(headers);
    let status = if page.error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let html = state.web.render(
        "link_pending.html",
        json!({
            "application": page.request.application.name,
            "provider": page.provider,
            "token": page.token,
            "email": page.email.unwrap_or_default(),
            "error": page.error,
            "csrf_token": state.web.csrf_form_token(&csrf),
        }),
    );
    state.web.form_page(status, html, &csrf)
}
